"""A knowledge-base entry drafted from a solved thread, for a person to review (``/dast kb
propose``): which reply solved it, a clean title, patterns from the question's distinctive
sentences and error lines, and the YAML a reviewer pastes into ``knowledge/``.

Nothing that names one user's case goes into the draft: URLs, task and job ids, dataset names,
sites, releases, paths, e-mail addresses, dates and long numbers are masked with the answering
package's identifier extraction (an RSE keeps only its space token, ``SCRATCHDISK``). Pure: text
and audit-trail rows in, YAML out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import yaml

from dastbot.answering.extract import extract, is_error_line, spans
from dastbot.answering.focus import parts
from dastbot.answering.textnorm import mask_identifiers, terms
from dastbot.kernel.events import EventKind
from dastbot.questions.feedback import feedback_in

TITLE_CHARS = 80
PATTERN_CHARS = 120
MOST_PATTERNS = 5
_MIN_TERMS = 2
_PATH = re.compile(r"(?<![\w/])~?/[\w.+@-]+(?:/[\w.+@-]+)+/?|\b[\w.+-]+(?:/[\w.+-]+){2,}/?")
_LOG_PREFIX = re.compile(
    r"^(?:\s*(?:\d{4}-\d\d-\d\d[ T]?|\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?|\[[^\]]{1,40}\]|[|:-]|"
    r"(?:INFO|DEBUG|WARNING|WARN|ERROR|FATAL|CRITICAL|VERBOSE)\b:?|[$%>]\s))+\s*"
)
_BOILERPLATE = re.compile(
    r"^(?:Traceback \(most recent call last\):?|File \".*\", line \d+.*|at [\w.$]+\(.*\)|"
    r"Error:?|ERROR:?|Exception:?)$"
)
_SPACES = re.compile(r"\s+")
_REPEATED_WORD = re.compile(r"\b(\w+)(?:\s+\1\b)+", re.IGNORECASE)
_DANGLING = re.compile(r"\s+(?:at|on|in|from|with|for|to|of|by)(?=[.?!]?$)", re.IGNORECASE)
_GREETING = re.compile(r"^(?:hi|hello|hey|dear)\b[^,:;!\n]{0,30}[,:;!]\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z\"'(])")
_QUOTED = re.compile(r'"([^"]{12,})"')
_HINTS = frozenset(terms("dataset site release"))
_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")
_CLAUSE_END = re.compile(r"[:;,(]\s")
_REPLACE = {"url": "", "task_id": "", "job_id": "", "did": "dataset", "site": "site"}


def mask_case(text: str) -> str:
    """``text`` without what names one user's case (see the module docstring), spaces folded."""
    out: list[str] = []
    pos = 0
    for span in spans(text):
        if span.kind == "error_code":
            continue
        if span.kind == "rse":
            token = span.value.rsplit("_", 1)[-1] if "_" in span.value else ""
            replacement = token.upper() if token.isalpha() else "RSE"
        elif span.kind == "release":
            replacement = "release"
        else:
            replacement = _REPLACE.get(span.kind, "")
        before = " " if span.start > 0 and text[span.start - 1].isalnum() else ""
        after = " " if span.end < len(text) and text[span.end].isalnum() else ""
        out += [text[pos : span.start], f"{before}{replacement}{after}"]
        pos = span.end
    out.append(text[pos:])
    masked = mask_identifiers(_PATH.sub(" ", "".join(out)), hints=True)
    masked = _REPEATED_WORD.sub(r"\1", _SPACES.sub(" ", masked))
    masked = _DANGLING.sub("", _BEFORE_PUNCT.sub(r"\1", masked).strip(" '\"`"))
    return masked.strip()


def _cut(text: str, limit: int, at_clause: bool) -> str:
    """``text`` at most ``limit`` characters, cut at a clause end (with ``at_clause``) or a
    space, never mid-word nor inside a quotation; a cut at a space ends with an ellipsis."""
    if len(text) <= limit:
        return text

    def closed(at: int) -> bool:
        return text[:at].count('"') % 2 == 0

    head = text[: limit + 1]
    if at_clause:
        ends = [m.start() for m in _CLAUSE_END.finditer(head) if m.start() >= limit // 3]
        ends = [at for at in ends if closed(at)]
        if ends:
            return head[: ends[-1]].rstrip()
    spaces = [i for i, c in enumerate(head) if c == " " and i >= limit // 3]
    cut = next((i for i in reversed(spaces) if closed(i)), spaces[-1] if spaces else limit)
    shortened = text[:cut].rstrip(" ,;:-")
    return shortened + ("…" if closed(cut) else '…"')


def _content(text: str) -> int:
    """How many index terms ``text`` has besides the words masking left (dataset, site ...)."""
    return sum(1 for term in terms(text) if term not in _HINTS)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def _clean(text: str) -> str:
    return mask_case(_GREETING.sub("", _LOG_PREFIX.sub("", text.strip())))


def title_and_patterns(question: str) -> tuple[str, list[str]]:
    """A title (the first error line, else the first sentence with some content) and up to
    ``MOST_PATTERNS`` patterns: the error lines, then the asking sentences, then the others."""
    found: dict[str, list[str]] = {"error": [], "question": [], "prose": [], "context": []}
    for part in parts(question):
        pieces = _sentences(part.text) if part.kind == "error" else [part.text]
        for piece in pieces:
            text = _clean(piece)
            if _BOILERPLATE.match(text) or _content(text) < _MIN_TERMS:
                continue
            if part.kind == "error" and is_error_line(piece):
                found["error"].append(text)
            elif part.kind == "error":
                found["question" if piece.rstrip().endswith("?") else "prose"].append(text)
            elif part.kind in ("question", "prose"):
                found[part.kind].append(text)
            else:
                found["context"].append(text)
    patterns: list[str] = []
    seen: set[str] = set()
    for text in [*found["error"], *found["question"], *found["prose"], *found["context"]]:
        pattern = _cut(text.rstrip(" .,;:"), PATTERN_CHARS, at_clause=False).rstrip("…")
        key = " ".join(terms(pattern))
        if key not in seen:
            seen.add(key)
            patterns.append(pattern)
    quoted = [q for e in found["error"] for q in _QUOTED.findall(e) if is_error_line(q)]
    statements = [*quoted, *found["error"], *found["prose"], *found["context"]]
    candidates = [s for s in statements if _content(s) >= 3] or found["question"] or patterns
    first = candidates[0] if candidates else "Untitled"
    title = _cut(first.rstrip(" .,;:?!"), TITLE_CHARS, at_clause=True)
    return title[:1].upper() + title[1:], patterns[:MOST_PATTERNS]


def solution(events: Sequence[Mapping[str, Any]], marked: Collection[str] = ()) -> str | None:
    """The reply that solved a thread, from its audit trail (oldest first): the human reply
    named in ``marked`` (by post id), else the last one before the asker said it helped, else
    the last one before the question was resolved, else the last one; None without any."""
    replies = [
        (i, e)
        for i, e in enumerate(events)
        if e["kind"] == EventKind.HUMAN_REPLY and str(e["data"].get("text", "")).strip()
    ]
    if not replies:
        return None
    for _, event in replies:
        if event["data"].get("post_id") in marked:
            return str(event["data"]["text"])
    confirmed = [
        i
        for i, e in enumerate(events)
        if e["kind"] == EventKind.FEEDBACK_HELPED
        or (
            e["kind"] == EventKind.ASKER_REPLY
            and feedback_in(str(e["data"].get("text", ""))) == "helped"
        )
    ]
    resolved = [i for i, e in enumerate(events) if e["kind"] == EventKind.RESOLVE]
    for moments in (confirmed, resolved):
        for moment in reversed(moments):
            before = [e for i, e in replies if i < moment]
            if before:
                return str(before[-1]["data"]["text"])
    return str(replies[-1][1]["data"]["text"])


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:6]
    return "-".join(words) or "entry"


def draft_entry(question: str, answer: str | Sequence[str]) -> str:
    """A YAML knowledge-base entry drafted from a solved question and the reply that solved it
    (several replies are joined, blank-line separated, for the reviewer to pick from)."""
    if not isinstance(answer, str):
        answer = "\n\n".join(a.strip() for a in answer)
    ids = extract(question)
    title, patterns = title_and_patterns(question)
    ask_for = [
        fact
        for fact, present in (
            ("task_id", bool(ids.task_ids or ids.job_ids)),
            ("error", bool(ids.error_lines or ids.error_codes)),
            ("dataset", bool(ids.dids)),
            ("site", bool(ids.sites or ids.rses)),
        )
        if present
    ]
    entry: dict[str, Any] = {
        "id": f"proposed-{_slug(title)}",
        "title": title,
        "category": "other",
        "patterns": patterns or [title],
        "answer": answer.strip(),
        "escalate_to": "none",
    }
    if ask_for:
        entry["ask_for"] = ask_for
    return yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=100)
