"""What part of a chat post the matcher should judge it by: its question and its error lines.

A post can be one line or an e-mail: a greeting, some context, the question (or several), a pasted
log, a signature. ``parts`` splits it into weighted pieces so that the matcher weighs the words the
user asks with and the error lines they paste, not every word of the surrounding context or of the
log:

* greetings and sign-offs (``Dear experts,`` ... ``Many thanks, Giulia``) weigh nothing: they say
  nothing about the problem, and the names in them are words the knowledge base never uses;
* pasted lines (timestamps, log levels, shell prompts, stack frames, fenced blocks) weigh fully when
  they read as errors (``dastbot.answering.extract.is_error_line``) and ``log`` otherwise;
* prose is joined into paragraphs (mail clients wrap lines) and split into sentences; when some
  sentence asks something (a question mark, or how/what/can/is there ... at its start), the asking
  sentences weigh fully and the others ``context``; a post that asks nothing weighs all its prose;
* the first sentence of the prose (after the greeting) weighs fully too: it is the post's subject
  line ("build job on the grid fails, but it compiles fine on lxplus"), and the question that
  follows often names nothing ("any idea why?").

Pure text rules, no I/O; the weights are parameters of the caller (``Tuning`` in the matcher).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dastbot.answering.extract import is_error_line

__all__ = ["Part", "parts"]

# A line that starts like machine output: a date or clock time, a bracketed tag, a shell or Python
# prompt, a stack frame, a traceback line, or a log level.
_PASTED_START = re.compile(
    r"^\s*(?:\d{4}-\d\d-\d\d|\d\d:\d\d(?::\d\d)?|\[[^\]]{1,80}\]|[$%>]\s|>>>|#\d+\s|"
    r"File \"|Traceback|at [\w.$]+\(|(?:INFO|DEBUG|WARNING|WARN|ERROR|FATAL|CRITICAL|VERBOSE)\b)"
)
# A log level or a component tag inside the line ("Py:Athena  INFO", "| pilot |").
_LOG_TOKEN = re.compile(r"\b(?:INFO|DEBUG|WARNING|WARN|ERROR|FATAL|CRITICAL|VERBOSE)\b|\s\|\s")
_WORD = re.compile(r"[A-Za-z]{2,}")
_SENTENCE_END = re.compile(r"(?<=[?!])\s+|(?<=[.])\s+(?=[A-Z(\"'])")
# Salutations and closings of letters and chat posts, in any case.
_GREETING = re.compile(
    r"^(?:hi|hello|hallo|hey|dear|good\s+(?:morning|afternoon|evening)|greetings)\b"
    r"(?:[^,:;!?\n]{0,30}[,:;!]|[^,:;!?\n]{0,30}$)\s*",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(?:(?:many\s+|thanks?\s+|thank\s+you\s+)?(?:thanks|thank\s+you)(?:\s+(?:a\s+lot|in\s+advance|"
    r"very\s+much|for\s+(?:your|any)\s+help))?|cheers|best(?:\s+(?:regards|wishes))?|"
    r"(?:kind|warm|best)\s+regards|regards|all\s+the\s+best|ciao|br)\b[\s,.!]*",
    re.IGNORECASE,
)
_ASKING = re.compile(
    r"^(?:how|what|why|where|when|which|who|whom|whose|is\s+there|are\s+there|is\s+it|"
    r"can|could|should|would|will|do|does|did|is|are|am|any\s+idea|any\s+hint|"
    r"please\s+(?:help|advise|tell|explain))\b",
    re.IGNORECASE,
)
_LIST_MARK = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|[-*\u2022])\s*")
_SIGNATURE_WORDS = 4  # a short line after a closing is a name or a team
_SHORT_PASTE = 5  # a paste of up to this many lines was chosen by the user, not dumped
_KEY_VALUE = re.compile(r"\w=[^\s=]")
_PROSE_MARK = re.compile(r"\b(?:I|I'm|I've|my|we|our|you|your|please|thanks?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """A piece of a post with the weight its words get; ``kind`` says why."""

    text: str
    weight: float
    kind: str  # "question", "subject", "context", "prose", "pasted", "error", "log"


def parts(text: str, context: float = 0.5, log: float = 0.25) -> list[Part]:
    """``text`` as weighted pieces: asking sentences, the first sentence and error lines 1, other
    prose and short pastes ``context`` (1 when nothing is asked), other lines of long pastes
    ``log``; greetings and signatures dropped."""
    blocks = _blocks(_lines(text))
    pieces: list[tuple[str, str]] = []  # (kind, text): error, pasted, long-paste, prose
    for kind, lines in blocks:
        if kind == "prose":
            joined = " ".join(lines)
            pieces.extend(("prose", s) for s in _SENTENCE_END.split(joined) if s.strip())
            continue
        for line in lines:
            if is_error_line(line):
                pieces.append(("error", line))
            else:
                pieces.append(("log" if len(lines) > _SHORT_PASTE else "pasted", line))
    asking = any(kind == "prose" and _asks(s) for kind, s in pieces)
    subject = next((n for n, (kind, _) in enumerate(pieces) if kind == "prose"), -1)
    out: list[Part] = []
    for n, (kind, piece) in enumerate(pieces):
        if n == subject and asking and not _asks(piece):
            out.append(Part(piece, 1.0, "subject"))
        elif kind == "error":
            out.append(Part(piece, 1.0, "error"))
        elif kind == "log":
            out.append(Part(piece, log, "log"))
        elif not asking:
            out.append(Part(piece, 1.0, "prose" if kind == "prose" else "pasted"))
        elif kind == "prose" and _asks(piece):
            out.append(Part(piece, 1.0, "question"))
        else:
            out.append(Part(piece, context, "context"))
    return out


def _blocks(lines: list[tuple[bool, str]]) -> list[tuple[str, list[str]]]:
    """Consecutive lines grouped as ``prose`` paragraphs or ``pasted`` blocks; greetings,
    closings and signatures left out."""
    blocks: list[tuple[str, list[str]]] = []
    closed = False
    quoting = False  # after a line ending in ':' the next lines are what was quoted
    for fenced, line in lines:
        stripped = line.strip()
        if not stripped:
            quoting = False
            blocks.append(("break", []))
            continue
        if fenced or _pasted(stripped) or (quoting and not _prose_marked(stripped)):
            _add(blocks, "pasted", stripped)
            quoting = quoting or stripped.endswith(":")
            continue
        if closed and len(_WORD.findall(stripped)) <= _SIGNATURE_WORDS:
            continue  # the name or team under a closing line
        rest = _without_salutation(stripped)
        closing = _CLOSING.match(rest)
        if closing and len(_WORD.findall(rest[closing.end() :])) <= _SIGNATURE_WORDS:
            closed = True
            blocks.append(("break", []))
            continue
        closed = False
        quoting = stripped.endswith(":")
        if rest:
            _add(blocks, "prose", rest)
    return [(kind, lines) for kind, lines in blocks if kind != "break"]


def _add(blocks: list[tuple[str, list[str]]], kind: str, line: str) -> None:
    if blocks and blocks[-1][0] == kind:
        blocks[-1][1].append(line)
    else:
        blocks.append((kind, [line]))


def _lines(text: str) -> list[tuple[bool, str]]:
    """Lines with whether they sit inside a ``` fence (the fence markers themselves dropped)."""
    out: list[tuple[bool, str]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            inline = line.strip().strip("`")
            if inline:
                out.append((True, inline))
            continue
        out.append((fenced, line))
    return out


def _pasted(line: str) -> bool:
    if _PASTED_START.match(line) or is_error_line(line, strong=True):
        return True
    if len(_KEY_VALUE.findall(line)) >= 2:
        return True  # action=... reason=..., /DC=ch/DC=cern/CN=...
    words = _WORD.findall(line)
    letters = sum(len(w) for w in words)
    visible = sum(1 for c in line if not c.isspace())
    if visible >= 12 and letters < 0.5 * visible:
        return True  # mostly digits, paths and punctuation
    return bool(_LOG_TOKEN.search(line)) and not line.rstrip().endswith("?")


def _prose_marked(line: str) -> bool:
    return bool(_PROSE_MARK.search(line)) or _asks(line)


def _without_salutation(line: str) -> str:
    m = _GREETING.match(line)
    return line[m.end() :].strip() if m else line


def _asks(sentence: str) -> bool:
    s = _LIST_MARK.sub("", sentence).strip()
    return s.endswith("?") or bool(_ASKING.match(s))


def _flush(paragraph: list[str], pieces: list[tuple[str, str]]) -> None:
    if paragraph:
        pieces.append(("prose", " ".join(paragraph)))
        paragraph.clear()
