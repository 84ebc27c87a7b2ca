"""Numbers that mean something after their cue word: jediTaskIDs, PandaIDs and error codes
(``pilot error 1099``, ``exeErrorCode: 65``), including lists (``tasks 1, 2 and 3``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dastbot.answering.extract.base import ASCII, NUM_END, Cand, cand

ERROR_CODE_KINDS = (
    "pilot",
    "exe",
    "trans",
    "ddm",
    "sup",
    "taskbuffer",
    "jobdispatcher",
    "brokerage",
    "other",
)
"""First element of the ``Identifiers.error_codes`` pairs; ``other`` is a bare "error code N"
that is not in the pilot range (1000-1399)."""

_CUE_FILLER = r"[ \t:=#(\[]{0,4}(?:(?:is|was|number|num|nr|no)\.?[ \t:=#]{1,3})?"  # low

# Task and job ids after a cue word (low).
_ID_CUE_RES = (
    (
        re.compile(
            r"task(?:(?<![\w]task)|(?<=jeditask)|(?<=jedi[ _-]task))s?(?:[ _-]?ids?)?"
            + _CUE_FILLER
            + r"([0-9]{7,9})"
            + NUM_END,
            ASCII,
        ),
        "task_id",
        7,
        9,
    ),
    (
        re.compile(
            r"job(?:(?<![\w]job)|(?<=pandajob))s?(?:[ _-]?ids?)?"
            + _CUE_FILLER
            + r"([0-9]{10,11})"
            + NUM_END,
            ASCII,
        ),
        "job_id",
        10,
        11,
    ),
    (
        re.compile(
            r"panda(?<![\w]panda)[ _-]?ids?" + _CUE_FILLER + r"([0-9]{10,11})" + NUM_END, ASCII
        ),
        "job_id",
        10,
        11,
    ),
)
_LIST_NEXT_RE = re.compile(
    r"[ \t]{0,3}(?:,|/|&|\+|and\b|or\b)?[ \t]{0,3}([0-9]{1,12})" + NUM_END, ASCII
)  # low
_MAX_LIST = 50

# Error codes (low).
_CODE_WORDS = {
    "pilot": "pilot",
    "exe": "exe",
    "trans": "trans",
    "trf": "trans",
    "transform": "trans",
    "transformation": "trans",
    "athena": "trans",
    "ddm": "ddm",
    "sup": "sup",
    "taskbuffer": "taskbuffer",
    "jobdispatcher": "jobdispatcher",
    "brokerage": "brokerage",
}
_CODE_WORD_ALT = "|".join(sorted(_CODE_WORDS, key=len, reverse=True))
_CODE_TAIL = r"[ \t]{0,3}[:=#]?[ \t]{0,3}(?:(?:is|was|of)[ \t]{1,3})?(?P<code>[0-9]{1,5})" + NUM_END
_CODE_RES = tuple(
    re.compile(
        word + r"(?P<pl1>s?)[ \t_-]{0,2}(?:(?P<cw>code)(?P<pl2>s?)|status)?" + _CODE_TAIL, ASCII
    )
    for word in ("error", "exit")
)
_CODE_KIND_BEFORE_RE = re.compile(rf"(?<![a-z0-9])({_CODE_WORD_ALT})[ \t_-]{{0,2}}\Z", ASCII)
_CODE_CONTEXT_RE = re.compile(rf"(?<![a-z0-9])({_CODE_WORD_ALT})", ASCII)
_CODE_PAIR_RE = re.compile(r":(?<=[a-z]:)[ \t]?(?P<code>[0-9]{1,5})" + NUM_END, ASCII)
_CODE_PAIR_KIND_RE = re.compile(
    r"(?<![a-z0-9])(pilot|exe|trans|ddm|sup|taskbuffer|jobdispatcher|brokerage)\Z", ASCII
)


def code_cands(low: str) -> Iterator[Cand]:
    for regex in _CODE_RES:
        for m in regex.finditer(low):
            code, start = m.group("code"), m.start()
            named = _CODE_KIND_BEFORE_RE.search(low, max(0, start - 20), start)
            if named is not None:
                kind = _CODE_WORDS[named.group(1)]
            elif m.group("cw"):
                kind = _generic_code_kind(low, start, code, low.startswith("error", start))
            else:
                continue
            if kind:
                yield cand("error_code", m.start("code"), m.end("code"), f"{kind}:{code}")
                if m.group("pl1") or m.group("pl2"):
                    yield from _more_numbers(low, m.end(), 1, 5, "error_code", f"{kind}:")
    for m in _CODE_PAIR_RE.finditer(low):
        named = _CODE_PAIR_KIND_RE.search(low, max(0, m.start() - 15), m.start())
        if named is not None:
            code = f"{_CODE_WORDS[named.group(1)]}:{m.group('code')}"
            yield cand("error_code", m.start("code"), m.end("code"), code)


def _generic_code_kind(low: str, start: int, code: str, is_error: bool) -> str:
    """Kind of "error code N" / "exit code N" from a kind word earlier in the same clause."""
    window = max(0, start - 40)  # "trf exit code 65, error code 1099": the clause only
    clause = max(window, *(low.rfind(c, window, start) + 1 for c in "\n,;.!?|"))
    before = _CODE_CONTEXT_RE.findall(low, clause, start)
    if before:
        return _CODE_WORDS[before[-1]]
    if not is_error:
        return ""  # a bare "exit code 1" says nothing about the grid
    return "pilot" if len(code) == 4 and 1000 <= int(code) <= 1399 else "other"


def split_code(value: str) -> tuple[str, str]:
    kind, _, code = value.partition(":")
    return kind, code


def id_cands(low: str) -> Iterator[Cand]:
    for regex, kind, lo, hi in _ID_CUE_RES:
        for m in regex.finditer(low):
            yield cand(kind, m.start(1), m.end(1), m.group(1))
            yield from _more_numbers(low, m.end(), lo, hi, kind, "")


def _more_numbers(low: str, pos: int, lo: int, hi: int, kind: str, prefix: str) -> Iterator[Cand]:
    """Continue a list after a cue: ``tasks 40211133, 40211134 and 40211135``."""
    for _ in range(_MAX_LIST):
        m = _LIST_NEXT_RE.match(low, pos)
        if m is None or not lo <= len(m.group(1)) <= hi:
            return
        yield cand(kind, m.start(1), m.end(1), prefix + m.group(1))
        pos = m.end()
