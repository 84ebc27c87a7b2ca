"""Pasted error lines and pastes: which lines of a message are errors, not the user's prose."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dastbot.answering.extract.base import ASCII, Span

MAX_ERROR_LINES = 20
MAX_ERROR_LINE_CHARS = 300
_MAX_HINTED_LINES = 3000  # lines examined for errors: bounds the work on pathological pastes

# A cheap literal pass over the lower-cased text finds lines that may be errors
# (_ERROR_HINT_RE); only those lines are classified by the precise patterns below. Every
# alternative of the precise patterns contains one of the hint words (tests check this).
RUCIO_EXCEPTIONS = (
    "DataIdentifierNotFound",
    "DataIdentifierAlreadyExists",
    "RSEWriteBlocked",
    "RSEBlacklisted",
    "RSENotFound",
    "RSEOverQuota",
    "RSEProtocolNotSupported",
    "RSEOperationNotSupported",
    "AccessDenied",
    "CannotAuthenticate",
    "CannotAuthorize",
    "DuplicateRule",
    "DuplicateContent",
    "RuleNotFound",
    "RuleReplaceFailed",
    "ReplicaNotFound",
    "SourceNotFound",
    "ScopeNotFound",
    "AccountNotFound",
    "InsufficientAccountLimit",
    "InsufficientTargetRSEs",
    "InvalidRSEExpression",
    "InvalidObject",
    "InvalidPath",
    "FileAlreadyExists",
    "FileReplicaAlreadyExists",
    "NoFilesDownloaded",
    "NotAllFilesDownloaded",
    "NoFilesUploaded",
    "NotAllFilesUploaded",
    "ServiceUnavailable",
    "UnsupportedOperation",
    "StagingAreaRuleRequiresLifetime",
)
_ERROR_HINT_WORDS = (
    "error",
    "fatal",
    "critical",
    "fail",
    "abort",
    "exception",
    "traceback",
    "segmentation",
    "dumped",
    "bad_alloc",
    "such",
    "denied",
    "voms",
    "proxy",
    "found",
    "timeout",
    "timed",
    "time out",
    "time-out",
    "killed",
    "exceeded",
    "crash",
    "expired",
    "cannot",
    "could",
    "unable",
    "invalid",
    "refused",
    "unreachable",
    "insufficient",
    "exhausted",
    "exit",
    "blocked",
    "blacklisted",
    "overquota",
    "notsupported",
    "duplicate",
    "alreadyexists",
    "nofiles",
    "notallfiles",
    "unavailable",
    "unsupported",
    "requireslifetime",
)


def _literal_alternation(words: Iterable[str]) -> str:
    """``a(?:bc|d)|x(?:y)``: alternatives grouped by first letter, so the engine tries few."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        by_first.setdefault(word[0], []).append(re.escape(word[1:]))
    return "|".join(f"{re.escape(c)}(?:{'|'.join(rests)})" for c, rests in by_first.items())


_ERROR_HINT_RE = re.compile(_literal_alternation(_ERROR_HINT_WORDS), ASCII)  # low
_STRONG_ERROR_RE = re.compile(
    r"\b(?:ERROR|FATAL|CRITICAL|FAILED|FAILURE|ABORTED|EXCEPTION)\b"
    r"|[Ee]rror[ \t]{0,3}:|Exception\b|\bTraceback\b|^[ \t>*`]{0,8}Error\b"
    r"|\b(?:" + "|".join(RUCIO_EXCEPTIONS) + r")\b",
    ASCII,
)
_STRONG_ERROR_LOW_RE = re.compile(
    r"segmentation[ \t]+(?:fault|violation)|core[ \t]+dumped|bad_alloc"
    r"|no[ \t]+such[ \t]+file[ \t]+or[ \t]+directory|permission[ \t]+denied"
    r"|error[ _]?(?:diag|dialog|code)|pilot[ _]?error"
    r"|voms-proxy-[a-z]+[ \t]{0,3}:|could[ \t]+not[ \t]+find[ \t]+a[ \t]+valid[ \t]+proxy"
    r"|proxy[ \t]+(?:has|is)[ \t]+expired|no[ \t]+valid[ \t]+proxy|\bvoms[ \t]+server\b",
    ASCII,
)
_WEAK_ERROR_LOW_RE = re.compile(
    r"\b(?:fail(?:ed|s|ure|ures|ing)?|errors?|not[ \t]+found|timed?[ -]?out|denied|killed"
    r"|exceeded|crash(?:ed|es)?|abort(?:ed|ing)?|expired|cannot|could[ \t]+not|couldn't"
    r"|unable[ \t]+to|invalid|refused|unreachable|insufficient|exhausted|exit[ _]?code)\b",
    ASCII,
)
_PROSE_RE = re.compile(r"\bI(?:'m|'ve|'d|'ll)?\s|\?\s*$", ASCII)
_PROSE_LOW_RE = re.compile(
    r"\b(?:my|me|we|our|us|you|your|please|pls|hi|hello|hey|dear|thanks|thank|cheers|regards"
    r"|help)\b",
    ASCII,
)
QUOTED_RE = re.compile('"[^"\\n]{8,}"|\u201c[^\u201d\\n]{8,}\u201d|(?m:^[ \\t]{0,8}>[ \\t]?\\S)')


def error_lines(text: str, low: str, urls: list[Span]) -> tuple[str, ...]:
    """Lines that look like pasted errors, stripped and cut to MAX_ERROR_LINE_CHARS.

    URLs are blanked first (same length, so offsets hold): a BigPanda ``/errors/`` link is not
    an error message. Weak hints ("failed", "error") only count on lines that do not read like
    the user's own prose ("my job failed?").
    """
    if urls:
        pieces: list[str] = []
        pos = 0
        for s in urls:
            pieces += [low[pos : s.start], " " * (s.end - s.start)]
            pos = s.end
        pieces.append(low[pos:])
        low = "".join(pieces)
    found: list[str] = []
    size = len(low)
    pos = 0
    for _ in range(_MAX_HINTED_LINES):
        if pos >= size or len(found) >= MAX_ERROR_LINES:
            break
        m = _ERROR_HINT_RE.search(low, pos)
        if m is None:
            break
        start = low.rfind("\n", 0, m.start()) + 1
        end = low.find("\n", m.end())
        end = size if end < 0 else end
        pos = end + 1
        if _is_error_line(text[start:end], low[start:end]):
            shown = text[start:end].strip()
            if len(shown) > MAX_ERROR_LINE_CHARS:
                shown = shown[: MAX_ERROR_LINE_CHARS - 1] + "\u2026"
            if shown not in found:
                found.append(shown)
    return tuple(found)


def is_error_line(line: str, strong: bool = False) -> bool:
    """Whether one line of a message reads as a pasted error rather than the user's prose; with
    ``strong`` only by the unambiguous markers (``ERROR``, ``Exception``, ``errorDiag`` ...), not by
    words such as "failed" that a sentence of prose may use too."""
    low = line.lower()
    if strong:
        return bool(_STRONG_ERROR_RE.search(line) or _STRONG_ERROR_LOW_RE.search(low))
    return _is_error_line(line, low)


def _is_error_line(line: str, low_line: str) -> bool:
    if _STRONG_ERROR_RE.search(line) or _STRONG_ERROR_LOW_RE.search(low_line):
        return True
    return bool(_WEAK_ERROR_LOW_RE.search(low_line)) and not _is_prose(line, low_line)


def _is_prose(line: str, low_line: str) -> bool:
    return bool(_PROSE_RE.search(line) or _PROSE_LOW_RE.search(low_line))


def has_paste(text: str) -> bool:
    """A fenced block of 3+ lines, or 3+ non-blank lines that do not read like prose."""
    for block in text.split("```")[1::2]:
        if sum(1 for line in block.splitlines() if line.strip()) >= 3:
            return True
    pasted = 0
    for line in text.splitlines():
        if line.strip() and not _is_prose(line, line.lower()):
            pasted += 1
            if pasted >= 3:
                return True
    return False
