"""Generate a realistic, synthetic DAST mail archive (nothing in it is copied from a real one).

Threads on the forum's recurring topics, some the shipped knowledge base answers and some it
does not (the gaps `dastbot archive gaps` should find), from 2008 to 2026, with what real
archives hold: replies that quote above (top posting, Outlook's ``-----Original Message-----``
and ``From: / Sent:`` blocks) or below (``On ... wrote:``) or inline; signatures and mailing-list
footers; HTML alternatives and HTML-only mails; Latin-1, Windows-1252, KOI8-R and Shift-JIS
texts and raw 8-bit headers from old clients; attached logs and screenshots; questions forwarded
to the list (inline and as an attached message); replies whose subject changed; replies without
``References`` (subject only) or with ``In-Reply-To`` only; mails without a Message-ID, a few
duplicates, and body lines starting with ``From`` (escaped in the mbox).

    python bench/make_archive.py --messages 20000 --out /tmp/dast.mbox
    python bench/make_archive.py --messages 200 --seed 9 --out tests/fixtures/archive/sample.mbox
    python bench/make_archive.py --messages 300 --format maildir --out /tmp/dast-maildir

The same seed and options give the same bytes. ``--format eml`` writes one .eml file per mail.
Each mail carries ``X-Sample-Thread: N``, the thread the generator meant it for: the ground truth
that tests compare the importer's thread reconstruction with (the importer ignores it).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime
from io import BytesIO
from pathlib import Path

from archive_topics import (
    CLOSINGS,
    DATASETS,
    FOLLOWUPS,
    FOOTER,
    GREETINGS,
    HOMELY,
    LIST,
    RELEASES,
    SHIFTERS,
    SITES,
    THANKS,
    TOPICS,
    USERS,
    Person,
)

LIST_TAG = "[DAST-help]"
FOOTER_UNTIL = 2015  # the old list added a footer and a subject tag until then
START = datetime(2008, 10, 6, 8, 0, tzinfo=UTC)
END = datetime(2026, 2, 27, 18, 0, tzinfo=UTC)


@dataclass
class Sent:
    """A mail of the archive as the generator remembers it (to reply to it)."""

    message_id: str
    subject: str
    sender: Person
    date: datetime
    text: str
    refs: tuple[str, ...]
    own: str = ""  # what the sender wrote themselves (no quote), for replies that trim quotes


@dataclass
class Generator:
    rng: random.Random
    start: datetime
    end: datetime
    mails: list[tuple[datetime, int, bytes]] = field(default_factory=list)
    counter: int = 0
    thread_number: int = 0

    values: dict[str, object] = field(default_factory=dict)

    def new_values(self) -> None:
        """The task, site, release and dataset one thread talks about."""
        r = self.rng
        n = r.randint(1, 40)
        nick = r.choice(("jmueller", "flefevre", "apena", "ipetrov", "praman", "tbecker"))
        ds = r.choice(DATASETS).format(nick=nick, n=n)
        self.values = {
            "task": r.randint(10_000_000, 45_000_000),
            "n": n,
            "site": r.choice(SITES),
            "release": r.choice(RELEASES).format(n=n),
            "ds": ds,
            "ds_short": ds.split(".")[0] + "..." + ds.split(".")[-1],
            "nick": nick,
            "first": "{first}",
        }

    def fill(self, text: str) -> str:
        return text.format(**self.values)

    def message_id(self, when: datetime, host: str) -> str:
        self.counter += 1
        return f"<{when:%Y%m%d%H%M%S}.{self.counter}.{self.rng.getrandbits(32):08x}@{host}>"

    # --- one thread -------------------------------------------------------------------------

    def thread(self, when: datetime) -> None:
        r = self.rng
        year = when.year
        topics = [t for t in TOPICS if t.years[0] <= year <= t.years[1]]
        topic = r.choices(topics, weights=[t.weight for t in topics])[0]
        self.new_values()
        self.thread_number += 1
        user = r.choice(USERS)
        subject = self.fill(r.choice(topic.subjects))
        if year < FOOTER_UNTIL:
            subject = f"{LIST_TAG} {subject}"
        greeting = HOMELY.get(user.charset, r.choice(GREETINGS)) if r.random() < 0.4 else ""
        greeting = greeting or r.choice(GREETINGS)
        question = self.fill(r.choice(topic.questions))
        if r.random() < 0.15:
            question += "\n\nFrom the log:\n  ERROR: " + self.fill("transfer failed at {site}")
        if r.random() < 0.05:
            question += "\nFrom what I understand the input dataset is fine."
        body = f"{greeting}\n\n{question}\n\n{self.signature(user)}"
        if r.random() < 0.07:
            sent = self.forwarded(when, user, subject, body)
        else:
            sent = self.send(when, user, subject, body, (), question=True)
        history = [sent]
        replies = r.choices((0, 1, 2, 3, 4), weights=(10, 35, 25, 20, 10))[0]
        t = when
        for i in range(replies):
            t += timedelta(minutes=r.randint(20, 60 * 30))
            if t > self.end:
                break
            if i % 2 == 0:
                shifter = r.choice(SHIFTERS)
                text = self.fill(r.choice(topic.answers))
                if i > 0:
                    text = "If it still fails after that: " + text
                history.append(self.reply(t, shifter, history[-1], text))
            else:
                text = self.fill(r.choice(THANKS if i == replies - 1 else FOLLOWUPS))
                history.append(self.reply(t, user, history[-1], text))

    def signature(self, person: Person) -> str:
        first = person.name.split()[0]
        r = self.rng
        closing = r.choice(CLOSINGS).format(first=first)
        if r.random() < 0.4:
            closing += f"\n\n-- \n{person.name}\n{person.institute}"
        if r.random() < 0.1:
            closing += "\n\nSent from my iPhone"
        return closing

    # --- sending ----------------------------------------------------------------------------

    def send(
        self,
        when: datetime,
        sender: Person,
        subject: str,
        text: str,
        refs: tuple[str, ...],
        question: bool = False,
        in_reply_to: str | None = None,
        references: bool = True,
        own: str = "",
    ) -> Sent:
        r = self.rng
        host = sender.address.split("@")[1]
        message_id = self.message_id(when, host)
        if when.year < FOOTER_UNTIL:
            text += "\n" + FOOTER
        style = r.random()
        if when.year < 2012 and sender.charset != "utf-8" and style < 0.3:
            data = self.legacy(when, sender, subject, text, message_id, in_reply_to)
        else:
            msg = EmailMessage(policy=policy.SMTP)
            msg["From"] = f"{sender.name} <{sender.address}>"
            msg["To"] = LIST
            msg["Subject"] = subject
            msg["Date"] = format_datetime(when.astimezone(_zone(r)))
            if r.random() > 0.01:
                msg["Message-ID"] = message_id
            if in_reply_to:
                msg["In-Reply-To"] = in_reply_to
            if refs and references:
                msg["References"] = " ".join(refs)
            msg["X-Sample-Thread"] = str(self.thread_number)
            self.body(msg, text, sender, style, question)
            data = _bytes(msg, self.rng)
        self.mails.append((when, self.counter, data))
        if r.random() < 0.004:
            self.mails.append((when, self.counter, data))  # the same mail archived twice
        return Sent(message_id, subject, sender, when, text, refs, own or text)

    def body(self, msg: EmailMessage, text: str, sender: Person, style: float, q: bool) -> None:
        r = self.rng
        charset = sender.charset if _fits(text, sender.charset) else "utf-8"
        if style < 0.1:
            msg.set_content(_html(text), subtype="html", charset="utf-8")
        elif style < 0.3:
            msg.set_content(text, charset=charset)
            msg.add_alternative(_html(text), subtype="html", charset="utf-8")
        else:
            cte = "base64" if r.random() < 0.1 else None
            msg.set_content(text, charset=charset, cte=cte)
        if q and r.random() < 0.15:
            log = (
                "\n".join(f"{i:05d} INFO athena event loop {i}" for i in range(r.randint(20, 60)))
                + "\nERROR: payload failed with exit code 65\n"
            )
            msg.add_attachment(log.encode(), maintype="text", subtype="plain",
                               filename="payload.log")  # fmt: skip
        elif q and r.random() < 0.05:
            png = b"\x89PNG\r\n\x1a\n" + bytes(r.getrandbits(8) for _ in range(300))
            msg.add_attachment(png, maintype="image", subtype="png", filename="screenshot.png")

    def legacy(
        self,
        when: datetime,
        sender: Person,
        subject: str,
        text: str,
        message_id: str,
        in_reply_to: str | None,
    ) -> bytes:
        """An old client: raw 8-bit headers and body in the sender's charset, no MIME header."""
        lines = [
            f"From: {sender.name} <{sender.address}>",
            f"To: {LIST}",
            f"Subject: {subject}",
            f"Date: {format_datetime(when)}",
            f"Message-ID: {message_id}",
        ]
        if in_reply_to:
            lines.append(f"In-Reply-To: {in_reply_to}")
        lines.append(f"X-Sample-Thread: {self.thread_number}")
        head = "\r\n".join(lines).encode(sender.charset, "replace")
        return head + b"\r\n\r\n" + text.replace("\n", "\r\n").encode(sender.charset, "replace")

    def reply(self, when: datetime, sender: Person, to: Sent, new: str) -> Sent:
        r = self.rng
        subject = "Re: " + to.subject.removeprefix("Re: ")
        if r.random() < 0.05:
            subject = f"{new.split('.')[0][:40]} (was: {to.subject})"  # changed subject
        quoted_style = r.random()
        attribution = f"On {format_datetime(to.date)}, {to.sender.name} wrote:"
        earlier = to.text if r.random() < 0.5 else to.own  # half the repliers trim the quote
        quoted = "\n".join("> " + line if line else ">" for line in earlier.split("\n"))
        signature = self.signature(sender)
        if quoted_style < 0.35:  # top posting, Gmail style
            text = f"{new}\n\n{signature}\n\n{attribution}\n{quoted}\n"
        elif quoted_style < 0.55:  # top posting, Outlook style
            text = (
                f"{new}\n\n{signature}\n\n-----Original Message-----\n"
                f"From: {to.sender.name} [mailto:{to.sender.address}]\n"
                f"Sent: {format_datetime(to.date)}\nTo: {LIST}\nSubject: {to.subject}\n\n{to.text}"
            )
        elif quoted_style < 0.85:  # bottom posting
            text = f"{attribution}\n{quoted}\n\n{new}\n\n{signature}\n"
        else:  # inline
            first, _, rest = to.text.strip().partition("\n\n")
            text = f"Hi,\n\n> {first}\n\n{new}\n\n> {rest.splitlines()[0] if rest else ''}\n\n"
            text += f"{signature}\n"
        refs = (*to.refs, to.message_id)
        own = f"{new}\n\n{signature}"
        kind = r.random()
        if kind < 0.06:  # a client that keeps only the subject
            subject = "Re: " + to.subject.removeprefix("Re: ")
            return self.send(when, sender, subject, text, (), own=own)
        if kind < 0.12:  # In-Reply-To only
            return self.send(when, sender, subject, text, refs, False, to.message_id, False, own)
        return self.send(when, sender, subject, text, refs, False, to.message_id, own=own)

    def forwarded(self, when: datetime, user: Person, subject: str, body: str) -> Sent:
        """A shifter forwards a question a user sent them privately."""
        r = self.rng
        shifter = r.choice(SHIFTERS)
        asked = when - timedelta(hours=r.randint(1, 20))
        note = "Forwarding this question to the list, so that it is tracked."
        if r.random() < 0.5:
            text = (
                f"{note}\n\n---------- Forwarded message ---------\n"
                f"From: {user.name} <{user.address}>\nDate: {format_datetime(asked)}\n"
                f"Subject: {subject}\nTo: {shifter.address}\n\n{body}\n"
            )
            return self.send(when, shifter, "Fwd: " + subject, text, (), question=True)
        inner = EmailMessage(policy=policy.SMTP)
        inner["From"] = f"{user.name} <{user.address}>"
        inner["Subject"] = subject
        inner["Date"] = format_datetime(asked)
        inner.set_content(body)
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = f"{shifter.name} <{shifter.address}>"
        msg["To"] = LIST
        msg["Subject"] = "Fwd: " + subject
        msg["Date"] = format_datetime(when)
        message_id = self.message_id(when, shifter.address.split("@")[1])
        msg["Message-ID"] = message_id
        msg["X-Sample-Thread"] = str(self.thread_number)
        msg.set_content(note + " The question is attached.\n\n" + self.signature(shifter))
        msg.add_attachment(inner)
        self.mails.append((when, self.counter, _bytes(msg, r)))
        return Sent(message_id, "Fwd: " + subject, shifter, when, body, ())


def _zone(r: random.Random) -> timezone:
    return timezone(timedelta(hours=r.choice((1, 2, -5, 9, 0))))


def _fits(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _html(text: str) -> str:
    import html

    out = []
    for line in text.split("\n"):
        if line.startswith(">"):
            out.append(f"<blockquote>{html.escape(line.lstrip('> '))}</blockquote>")
        else:
            out.append(f"<div>{html.escape(line) or '<br>'}</div>")
    return "<html><body>" + "\n".join(out) + "</body></html>"


def _bytes(msg: EmailMessage, r: random.Random) -> bytes:
    for part in msg.walk():
        if part.is_multipart():
            part.set_boundary(f"==b{r.getrandbits(48):012x}")
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy.SMTP).flatten(msg)
    return out.getvalue().replace(b"\r\n", b"\n")


def generate(messages: int, seed: int, start: datetime = START, end: datetime = END) -> list[bytes]:
    """About ``messages`` mails (exactly that many), oldest first."""
    gen = Generator(random.Random(seed), start, end)
    span = (end - start).total_seconds()
    threads = max(1, messages // 3)
    times = sorted(start + timedelta(seconds=gen.rng.random() * span) for _ in range(threads))
    for when in times:
        gen.thread(when)
    while len(gen.mails) < messages:
        gen.thread(start + timedelta(seconds=gen.rng.random() * span))
    ordered = sorted(gen.mails, key=lambda m: (m[0], m[1]))[:messages]
    return [data for _, _, data in ordered]


def _envelope(data: bytes) -> bytes:
    return b"From archive@lists.cern.example " + _asctime(data) + b"\n"


def _asctime(data: bytes) -> bytes:
    from email.parser import BytesHeaderParser
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(str(BytesHeaderParser().parsebytes(data)["Date"]))
    except (TypeError, ValueError):
        when = START
    return when.astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y").encode()


def write_mbox(mails: list[bytes], out: Path) -> None:
    with out.open("wb") as handle:
        for data in mails:
            handle.write(_envelope(data))
            for line in data.split(b"\n"):
                if line.lstrip(b">").startswith(b"From "):
                    line = b">" + line  # mboxrd escaping
                handle.write(line + b"\n")
            handle.write(b"\n")


def write_files(mails: list[bytes], out: Path, maildir: bool) -> None:
    folder = out / "cur" if maildir else out
    folder.mkdir(parents=True, exist_ok=True)
    if maildir:
        (out / "new").mkdir(exist_ok=True)
        (out / "tmp").mkdir(exist_ok=True)
    for i, data in enumerate(mails):
        name = f"{i:07d}.archive:2,S" if maildir else f"{i:07d}.eml"
        (folder / name).write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("mbox", "maildir", "eml"), default="mbox")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    mails = generate(args.messages, args.seed)
    if args.format == "mbox":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_mbox(mails, args.out)
    else:
        write_files(mails, args.out, args.format == "maildir")
    print(f"wrote {len(mails)} mails to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
