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

LIST = "hn-atlas-dist-analysis-help@cern.ch"
LIST_TAG = "[DAST-help]"
FOOTER_UNTIL = 2015  # the old list added a footer and a subject tag until then
START = datetime(2008, 10, 6, 8, 0, tzinfo=UTC)
END = datetime(2026, 2, 27, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    name: str
    address: str
    charset: str = "utf-8"
    institute: str = "CERN"


USERS = (
    Person("Jörg Müller", "joerg.mueller@physik.uni-example.de", "iso-8859-1", "Uni Example"),
    Person("François Lefèvre", "f.lefevre@lpnhe-example.fr", "iso-8859-1", "LPNHE (example)"),
    Person("Ana Peña", "ana.pena@ific-example.es", "windows-1252", "IFIC (example)"),
    Person("Иван Петров", "ivan.petrov@jinr-example.ru", "koi8-r", "JINR (example)"),
    Person("田中 由紀", "y.tanaka@kek-example.jp", "shift_jis", "KEK (example)"),
    Person("Priya Raman", "priya.raman@example.edu", institute="Example State University"),
    Person("Tom Becker", "tom.becker@example.ac.uk", institute="Example College London"),
    Person("Lucia Rossi", "lucia.rossi@infn-example.it", "iso-8859-1", "INFN (example)"),
    Person("Kwame Mensah", "kmensah@example.org", institute="Example Institute"),
    Person("Sara Lindqvist", "sara.lindqvist@example.se", "iso-8859-1", "Example University"),
    Person("Miguel Ortiz", "mortiz@example.cl", "windows-1252", "UTFSM (example)"),
    Person("Chen Wei", "chen.wei@example.cn", institute="Example Academy"),
    Person("Emily Carter", "ecarter@example-lab.gov", institute="Example National Lab"),
    Person("Noah Schmidt", "noah.schmidt@example.ch", institute="Example ETH"),
    Person("Aylin Demir", "aylin.demir@example.edu.tr", institute="Example Technical University"),
    Person("Olivier Dubois", "odubois@example.ca", "iso-8859-1", "Example Université"),
)
SHIFTERS = (
    Person("Anna Shifter", "anna.shifter@cern.example"),
    Person("Bruno Helper", "bruno.helper@cern.example"),
    Person("Chiara DAST", "chiara.dast@cern.example"),
    Person("Dmitri Expert", "dmitri.expert@cern.example"),
    Person("Grace Night", "grace.night@bnl.example"),
)
SITES = ("BNL-ATLAS", "CERN-PROD", "DESY-HH", "TOKYO-LCG2", "INFN-T1", "TRIUMF-LCG2", "IN2P3-CC")
RELEASES = ("AnalysisBase,21.2.{n}", "Athena,22.0.{n}", "AthAnalysis,24.2.{n}", "17.2.{n}.1")
DATASETS = (
    "mc16_13TeV.410470.PhPy8EG_A14_ttbar_hdamp258p75_nonallhad.deriv.DAOD_PHYS.e6337_s3126_r10201_p4172",
    "data18_13TeV.00348885.physics_Main.deriv.DAOD_PHYS.r11969_r11784_p4072_p4296",
    "mc20_13TeV.700320.Sh_2211_Zee_maxHTpTV2_BFilter.deriv.DAOD_PHYS.e8351_s3681_r13144_p5631",
    "user.{nick}.analysis.v{n}_output.root",
)


@dataclass(frozen=True)
class Topic:
    name: str
    covered: bool  # the shipped knowledge base has an entry for it
    subjects: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    weight: float = 1.0
    years: tuple[int, int] = (2008, 2026)


TOPICS = (
    Topic(
        "exhausted",
        True,
        (
            "Task {task} exhausted",
            "my task went to exhausted, what now?",
            "prun task stuck in exhausted state",
            "pathena task {task} exhausted",
        ),
        (
            "my task {task} went to exhausted after {n} attempts and does not progress. "
            "The monitor says 'action=set_exhausted since reason=many_attempts'. What should I do?",
            "Since yesterday my task {task} shows task status exhausted. Do I need to resubmit?",
        ),
        (
            "Exhausted means JEDI gave up retrying. Look at the errors of the failed jobs in "
            "BigPanDA, fix the cause and retry the task with pbook: pbook then retry({task}).",
        ),
        weight=3.0,
    ),
    Topic(
        "proxy",
        True,
        (
            "voms-proxy-init fails",
            "cannot create grid proxy",
            "Problem with voms-proxy-init -voms atlas",
        ),
        (
            "voms-proxy-init -voms atlas fails with 'Error: VOMS extension not found'. "
            "My certificate was renewed last week. Any idea?",
            "I cannot create a proxy: voms-proxy-init says my certificate is not valid.",
        ),
        (
            "Your new certificate has a new DN: register it in VOMS (the ATLAS VO page) and wait "
            "for the change to propagate, then run voms-proxy-init -voms atlas again.",
        ),
        weight=2.5,
    ),
    Topic(
        "rucio-download",
        True,
        (
            "rucio download fails",
            "rucio download gives errors for {ds_short}",
            "cannot download my output with rucio",
        ),
        (
            "rucio download {ds} fails for some files with 'Cannot download file'. "
            "Is the site broken?",
            "When I run rucio download on my task output, all files fail to download.",
        ),
        (
            "Some replicas are on a site with storage problems. Try --rses with another site, "
            "or make a replication rule to a disk you can read and download from there.",
        ),
        weight=2.5,
    ),
    Topic(
        "asetup",
        True,
        ("asetup cannot find release", "asetup {release} not found", "setting up release fails"),
        (
            "asetup {release} says the release cannot be found. I did setupATLAS first. "
            "What am I doing wrong?",
        ),
        (
            "That release is not installed for your OS any more: use a container, "
            "setupATLAS -c centos7, then asetup inside it.",
        ),
        weight=1.5,
    ),
    Topic(
        "heartbeat",
        True,
        ("jobs failed with lost heartbeat", "lost heartbeat at {site}", "many jobs lost heartbeat"),
        (
            "Half of the jobs of task {task} failed with 'lost heartbeat' at {site}. "
            "Is this my fault?",
        ),
        (
            "Lost heartbeat means the pilot stopped reporting, usually a site or node problem, not "
            "your code. Retry the task; if it repeats at one site, exclude it with --excludedSite.",
        ),
        weight=1.5,
    ),
    Topic(
        "memory",
        True,
        (
            "job killed for memory",
            "Job killed: exceeded memory limit",
            "task {task} jobs killed for using too much memory",
        ),
        (
            "My jobs are killed with 'job killed by signal 9: memory exceeded' at {site}. "
            "They use about 3 GB locally.",
        ),
        (
            "Ask for more memory per job with --memory (in MB), or split the input into smaller "
            "jobs with --nFilesPerJob.",
        ),
    ),
    Topic(
        "site-downtime",
        True,
        ("jobs failing at {site}", "is {site} in downtime?", "problems at {site} today"),
        (
            "All my jobs at {site} fail with stage-in errors since this morning. "
            "Is the site in downtime?",
        ),
        (
            "{site} is in an unscheduled downtime (see the downtime calendar). Your jobs will be "
            "retried elsewhere; you can exclude the site with --excludedSite {site}.",
        ),
        weight=2.0,
    ),
    Topic(
        "build-job",
        True,
        (
            "build job failed",
            "buildJob failed, upstream job failed",
            "all run jobs closed after build failure",
        ),
        ("My task {task} failed: buildJob failed and all run jobs say 'upstream job failed'.",),
        (
            "Open the build job's log in BigPanDA: the compilation error is there. Usually a file "
            "is missing from the sandbox or the release differs from your local one.",
        ),
    ),
    Topic(
        "quota",
        True,
        (
            "rucio rule refused: InsufficientAccountLimit",
            "no quota for replication rule",
            "cannot make a rule to LOCALGROUPDISK",
        ),
        (
            "rucio add-rule fails with InsufficientAccountLimit for the LOCALGROUPDISK of "
            "{site}. How do I get quota?",
        ),
        (
            "Your account has no quota on that RSE. Ask the site's group disk manager, or use "
            "SCRATCHDISK with a lifetime shorter than 15 days.",
        ),
    ),
    Topic(
        "outds",
        True,
        (
            "outDS name rejected",
            "output dataset name not allowed",
            "pathena complains about the outDS",
        ),
        (
            "prun refuses my --outDS user.{nick}.my analysis output: it says the name is not "
            "allowed.",
        ),
        (
            "An outDS must start with user.<nickname>. and may not contain spaces; keep it short "
            "(under about 130 characters).",
        ),
    ),
    Topic(
        "nickname",
        True,
        ("Could not get nickname from voms proxy", "nickname missing in VOMS"),
        ("pathena stops with 'Could not get nickname from voms proxy'. I just joined ATLAS.",),
        (
            "Set your nickname in your ATLAS VO membership (the VOMS admin page). It takes a "
            "few hours to propagate.",
        ),
    ),
    Topic(
        "activated",
        True,
        (
            "jobs stuck in activated",
            "jobs queued for days",
            "my jobs have been in assigned state for hours",
        ),
        ("The jobs of task {task} have been in activated state at {site} for two days.",),
        (
            "Activated means waiting for a free slot; the site is busy. PanDA will rebroker "
            "them, or kill and retry to let brokerage choose another site.",
        ),
    ),
    # Not in the knowledge base: what the archive should point at.
    Topic(
        "eos-quota",
        False,
        (
            "EOS quota exceeded",
            "my EOS user area is full",
            "how to increase EOS quota?",
            "no space left on EOS",
        ),
        (
            "My EOS user area is full (quota exceeded) and I cannot write my ntuples any more. "
            "How can I get a bigger EOS quota?",
            "Writing to /eos/user fails with 'Disk quota exceeded'. Who can increase it?",
        ),
        (
            "Personal EOS quota is raised through the CERNBox / EOS service request form, not by "
            "DAST. For analysis outputs, use your group's EOS space instead.",
        ),
        weight=3.0,
        years=(2013, 2026),
    ),
    Topic(
        "swan",
        False,
        (
            "SWAN session does not start",
            "Jupyter notebook on SWAN fails",
            "SWAN cannot find the ATLAS software",
        ),
        (
            "My SWAN session hangs at 'starting' and then fails. I picked the LCG 104 software "
            "stack. Is SWAN down?",
            "In a SWAN notebook I cannot import the ATLAS python modules, what software stack "
            "should I choose?",
        ),
        (
            "SWAN problems go to the SWAN service desk ticket queue. For ATLAS software in SWAN "
            "use a recent LCG stack and do not mix it with asetup.",
        ),
        weight=2.5,
        years=(2016, 2026),
    ),
    Topic(
        "gpu",
        False,
        (
            "GPU resources for machine learning",
            "How to get GPU nodes for training",
            "running on GPUs on the grid",
        ),
        (
            "I need GPUs to train a graph neural network for flavour tagging. Are there GPU "
            "queues on the grid or on lxplus I can use?",
        ),
        (
            "There are a few GPU PanDA queues: submit with prun --architecture '&nvidia'. For "
            "interactive work ask for lxplus-gpu access.",
        ),
        weight=2.0,
        years=(2018, 2026),
    ),
    Topic(
        "condor-held",
        False,
        (
            "lxplus batch jobs held",
            "HTCondor jobs go on hold",
            "condor_submit jobs stay idle on lxbatch",
        ),
        (
            "My HTCondor jobs on lxplus batch go to held state with 'Error from slot: "
            "disk quota exceeded'. The same script works interactively.",
        ),
        (
            "Held jobs on lxbatch are a batch-service question: check condor_q -hold for the "
            "reason; usually the job writes to AFS. Write to the job's local scratch instead.",
        ),
        weight=2.0,
        years=(2016, 2026),
    ),
    Topic(
        "x11",
        False,
        (
            "TBrowser very slow over ssh",
            "X11 forwarding slow from lxplus",
            "root TBrowser does not open remotely",
        ),
        (
            "Opening a TBrowser on lxplus over ssh -X takes minutes. Is there a faster way to "
            "look at my histograms remotely?",
        ),
        (
            "X11 over a long distance is slow; copy the file locally or use ROOT's web "
            "browser (root --web) with an ssh tunnel.",
        ),
        weight=1.2,
    ),
    Topic(
        "account",
        False,
        (
            "How do I get a CERN computing account",
            "new user: no lxplus account",
            "registration as external user",
        ),
        (
            "I am a new PhD student and I do not have a CERN computing account yet. How do I "
            "register to get lxplus access?",
        ),
        (
            "Accounts come with your CERN registration (users office), not from DAST; your "
            "team leader starts it.",
        ),
        weight=1.2,
    ),
)
CLOSINGS = (
    "Cheers,\n{first}",
    "Best regards,\n{first}",
    "Thanks a lot,\n{first}",
    "Thanks,\n{first}",
    "Many thanks,\n{first}",
    "{first}",
)
GREETINGS = ("Hi,", "Hello,", "Dear DAST,", "Dear experts,", "Hi all,", "Hello DAST team,")
HOMELY = {
    "koi8-r": "Добрый день!",
    "shift_jis": "お世話になっております。",
    "iso-8859-1": "Grüße / Salut à tous,",
    "windows-1252": "¡Hola! Quick question —",
}
FOLLOWUPS = (
    "Thanks, I tried that but it still fails with the same error. Task {task}.",
    "I did what you said and retried; now some jobs finish but others still fail.",
    "Sorry, here is the full log: attached.",
)
THANKS = (
    "Thanks, that solved it!",
    "It works now, thank you very much.",
    "Great, problem solved. Thanks for the quick help.",
)
FOOTER = ("\n_______________________________________________\n"
          "hn-atlas-dist-analysis-help mailing list\n" + LIST + "\n"
          "https://lists.cern.example/mailman/listinfo/hn-atlas-dist-analysis-help\n")  # fmt: skip


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
