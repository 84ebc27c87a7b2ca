"""A mail's own words: quoted text, signatures, disclaimers and list footers taken out.

Kept libraries do the work:

* ``mail-parser-reply`` splits a body at the headers mail clients put above quoted mail (``On
  ... wrote:``, Outlook's ``From: / Sent:`` block, ``-----Original Message-----``, in English,
  German, French and more) and finds signatures (``--``, ``Sent from my ...``, sign-offs) and
  disclaimers. Its English sign-offs are ``SIGN_OFFS``, each alone on its line (see
  ``_Message``).
* ``quotequail`` recognises a forwarded mail (``---------- Forwarded message ---------``,
  Outlook's forward block) and gives its text: a question forwarded to the list is the
  forwarded text, with the forwarder's note above it.
* ``html2text`` turns an HTML-only mail into text (``<blockquote>`` becomes ``>`` lines, which
  are then dropped like any quote).

Three rules remain hand-written, because no library covers them: lines starting with ``>`` are
quotes wherever they are, and go first (bottom posting and inline replies leave them inside
the new text, and the library would take a quoted ``> --`` for the start of a signature); a
mailing-list footer (a line of underscores followed within three lines by ``mailing list``,
``listinfo`` or ``unsubscribe``) ends the text; and a first line of at most
``GREETING_WORDS`` words ending in ``,``, ``!`` or ``。`` followed by more text is a
greeting (``Hi all,``, ``Dear DAST,``, ``Добрый день!``) and goes. Addresses left in the text
are replaced by ``[address]`` unless addresses are kept.
"""

from __future__ import annotations

import re

import html2text
import quotequail
from mailparser_reply.parser import EmailMessage

LANGUAGES = ("en", "de", "fr", "it", "es")
SIGN_OFFS = (
    "Best regards",
    "Kind regards",
    "Regards",
    "Best wishes",
    "All the best",
    "Best",
    "Cheers",
    "Thanks",
    "Thank you",
    "Many thanks",
    "Thanks a lot",
    "Thanks in advance",
    "Thank you in advance",
    "Thanks again",
    "Greetings",
    "Ciao",
)
GREETING_WORDS = 5
_GREETING = re.compile(r"[,!。]\s*$")
_FOOTER_RULE = re.compile(r"^_{10,}\s*$")
_FOOTER_TEXT = re.compile(r"mailing list|listinfo|unsubscribe", re.IGNORECASE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|wg|tr|fw)\s*:", re.IGNORECASE)


class _Message(EmailMessage):  # type: ignore[misc]
    """mail-parser-reply's parser whose English sign-offs must stand alone on their line.

    The library ends the text at any line *starting* with ``Thanks,`` or ``Best,``, which cuts
    "Thanks, I tried that but it still fails" and all that follows; a sign-off line here is
    the closing words alone (a name follows on the next line)."""

    def _get_language_regex(self, language: str, regex_key: str) -> str:
        found: str = super()._get_language_regex(language, regex_key)
        if regex_key == "signatures" and language == "en":
            return "|".join(rf"(?:{words})[ \t,.!]*$" for words in SIGN_OFFS)
        return found


def html_to_text(html: str) -> str:
    """HTML as text: one line per block, ``>`` before quoted blocks, Markdown escapes undone."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.single_line_break = True
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    try:
        text = str(converter.handle(html))
    except (AssertionError, ValueError, IndexError):  # html2text on badly broken markup
        return re.sub(r"<[^>]*>", " ", html)
    return _MD_ESCAPE.sub(r"\1", text)


def _cut_footer(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _FOOTER_RULE.match(line) and any(
            _FOOTER_TEXT.search(following) for following in lines[i + 1 : i + 4]
        ):
            return "\n".join(lines[:i])
    return text


def _unquoted(text: str) -> str:
    """``text`` without its quoted (``>``) lines."""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def _tidy(text: str) -> str:
    """Drop runs of empty lines and trailing spaces; strip the ends."""
    kept = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def own_text(body: str) -> str:
    """What the sender wrote in this mail: no quotes, signature, disclaimer or list footer."""
    body = _cut_footer(_unquoted(body.replace("\r\n", "\n").replace("\r", "\n")))
    parsed = _Message(text=body, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    for reply in parsed.replies:
        text = _tidy(reply.body)
        if text:
            return _without_greeting(text)
    return ""


def _without_greeting(text: str) -> str:
    """``text`` without a first line that only greets (``Hi all,``, ``Dear DAST,``, ...)."""
    first, sep, rest = text.partition("\n")
    if sep and rest.strip() and len(first.split()) <= GREETING_WORDS and _GREETING.search(first):
        return rest.strip()
    return text


def forwarded_question(subject: str, body: str) -> str | None:
    """For a mail forwarding someone's question: the forwarder's note and the forwarded text."""
    if not _FORWARD_SUBJECT.match(subject) and "forward" not in body.lower():
        return None
    try:
        found = quotequail.unwrap(body.replace("\r\n", "\n"))
    except (ValueError, IndexError, AttributeError):
        return None
    if not found or found.get("type") != "forward":
        return None
    note = own_text(str(found.get("text_top") or ""))
    inner = own_text(str(found.get("text") or ""))
    return "\n\n".join(p for p in (note, inner) if p)


def hide_addresses(text: str) -> str:
    return _ADDRESS.sub("[address]", text)
