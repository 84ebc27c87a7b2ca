"""One archived mail's bytes -> ``Mail``: ids, date, sender, subject and its text.

The standard library's parser reads the mail (``compat32`` policy: eight times faster than the
modern one on archives, and as lenient); headers are decoded from RFC 2047 words or, when a
client sent raw 8-bit bytes, as UTF-8 or else Latin-1. The text is the first ``text/plain``
part that is not an attachment, or else the first ``text/html`` part turned into text; each
part is decoded with its declared charset, falling back to UTF-8 and Latin-1 when the charset is
unknown or wrong (old archives are full of both).

A mail is *malformed* (a ``Problem``, not imported) when it has no header at all, no sender, or
no usable date (the Date header, else the mbox envelope line's date). A mail without a
Message-ID gets one made from a hash of its bytes, so importing it again still finds it.
"""

from __future__ import annotations

import email.parser
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from dastbot.archive.clean import html_to_text
from dastbot.archive.sources import Problem, Raw

_PARSER = email.parser.BytesParser(policy=policy.compat32)
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"^\s*([^<>\s@]+@[^<>\s@]+)\s*$")
MIN_YEAR = 1990


@dataclass(frozen=True)
class Mail:
    message_id: str
    date: datetime
    sender: str  # lower-case address
    subject: str
    refs: tuple[str, ...]  # References in order, then In-Reply-To; each once
    text: str  # the whole text of the mail (quotes and signature still in)
    html: bool
    attachments: int
    source: str
    offset: int | None


def header_text(value: object) -> str:
    """A header as text: RFC 2047 words decoded; raw 8-bit bytes as UTF-8, else Latin-1."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    try:
        text = str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        text = value
    if any("\udc80" <= c <= "\udcff" for c in text):
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return " ".join(text.split())


def message_ids(value: object) -> list[str]:
    """The ids in a References / In-Reply-To header (``<a@b>``), bare ``a@b`` accepted."""
    text = "" if value is None else str(value)
    found = _MSG_ID.findall(text)
    if not found and (bare := _BARE_ID.match(text)):
        found = [bare.group(1)]
    return [f"<{x}>" for x in found]


def decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset() or ""
    for charset in (declared, "utf-8", "cp1252", "latin-1"):
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # pragma: no cover (latin-1 decodes any bytes)


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    return disposition == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "multipart"
    )


def _parts(msg: Message) -> Iterator[Message]:
    """The leaf parts of ``msg``, not descending into attached mails (message/rfc822)."""
    if msg.get_content_maintype() == "message" or not msg.is_multipart():
        yield msg
        return
    for part in msg.get_payload():
        if isinstance(part, Message):
            yield from _parts(part)


def body_text(msg: Message, depth: int = 0) -> tuple[str, bool, int]:
    """(text, whether it came from HTML, number of attachments). A mail attached to it (a
    forward as attachment) is appended as a forwarded block, so forwards read alike."""
    plain: str | None = None
    html: str | None = None
    attachments = 0
    forwards: list[str] = []
    for part in _parts(msg):
        if part.get_content_type() == "message/rfc822" and depth < 3:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                forwards.append(_forward_block(inner[0], depth))
                continue
        if _is_attachment(part):
            attachments += 1
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = decode_part(part)
        elif kind == "text/html" and html is None:
            html = decode_part(part)
    from_html = not (plain and plain.strip()) and html is not None
    text = html_to_text(html or "") if from_html else plain or ""
    return "\n\n".join([text, *forwards]).strip("\n"), from_html, attachments


def _forward_block(inner: Message, depth: int) -> str:
    text, _, _ = body_text(inner, depth + 1)
    head = "\n".join(
        f"{name}: {header_text(inner.get(name))}"
        for name in ("From", "Date", "Subject")
        if inner.get(name)
    )
    return f"---------- Forwarded message ---------\n{head}\n\n{text}"


def _date(msg: Message, envelope: bytes) -> datetime | None:
    for candidate in (msg.get("Date"), _envelope_date(envelope)):
        if not candidate:
            continue
        try:
            when = parsedate_to_datetime(header_text(candidate))
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if when is None:
            continue
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        if when.year >= MIN_YEAR:
            return when
    return None


def _envelope_date(envelope: bytes) -> str:
    """The date of an mbox ``From sender date`` line."""
    parts = envelope.decode("latin-1").split(None, 2)
    return parts[2] if len(parts) == 3 else ""


def _sender(msg: Message) -> str:
    for name in ("From", "Sender", "Reply-To"):
        value = msg.get(name)
        if value:
            for _, address in getaddresses([header_text(value)]):
                if "@" in address:
                    return address.strip().lower()
    return ""


def _made_up_id(data: bytes) -> str:
    return f"<{hashlib.sha1(data).hexdigest()[:24]}@no-message-id.invalid>"


def parse(raw: Raw) -> Mail | Problem:
    """``raw`` as a ``Mail``, or the ``Problem`` that makes it unusable."""
    msg = _PARSER.parsebytes(raw.data)
    if not msg.keys():
        return Problem(raw.source, raw.offset, "no mail headers (binary data or not a mail)")
    sender = _sender(msg)
    if not sender:
        return Problem(raw.source, raw.offset, "no sender address (From)")
    date = _date(msg, raw.envelope)
    if date is None:
        return Problem(raw.source, raw.offset, "no usable date (Date header)")
    ids = message_ids(msg.get("Message-ID"))
    refs: list[str] = []
    for value in (*msg.get_all("References", []), *msg.get_all("In-Reply-To", [])):
        refs += [r for r in message_ids(value) if r not in refs]
    message_id = ids[0] if ids else _made_up_id(raw.data)
    text, html, attachments = body_text(msg)
    return Mail(
        message_id=message_id,
        date=date,
        sender=sender,
        subject=header_text(msg.get("Subject")),
        refs=tuple(r for r in refs if r != message_id),
        text=text,
        html=html,
        attachments=attachments,
        source=raw.source,
        offset=raw.offset,
    )
