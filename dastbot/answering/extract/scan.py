"""The public scanners: all identifier spans of a message, the ``Identifiers`` found, masking."""

from __future__ import annotations

from collections.abc import Collection

from dastbot.answering.extract.base import KINDS, Cand, Identifiers, Span, lower, resolve
from dastbot.answering.extract.dids import add_did, did_cands
from dastbot.answering.extract.errors import error_lines
from dastbot.answering.extract.numbers import code_cands, id_cands, split_code
from dastbot.answering.extract.releases import release_cands
from dastbot.answering.extract.sites import site_cands
from dastbot.answering.extract.urls import nested_spans, url_cands


def spans(text: str) -> list[Span]:
    """All identifiers in ``text`` as non-overlapping spans sorted by start.

    When candidates overlap, the kind earlier in :data:`KINDS` wins: a task id inside a BigPanda
    URL is part of that ``url`` span here (:func:`extract` and :func:`mask` still see it).
    """
    return _top_spans(text, lower(text))


def extract(text: str) -> Identifiers:
    """Every identifier in ``text``, deduplicated, in order of first appearance."""
    low = lower(text)
    top = _top_spans(text, low)
    urls = [s for s in top if s.kind == "url"]
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    seen: set[tuple[str, str]] = set()
    did_slot: dict[str, int] = {}
    for s in sorted(top + nested_spans(urls), key=lambda s: (s.start, -s.end)):
        if s.kind == "did":
            add_did(found["did"], did_slot, s.value)
        elif (s.kind, s.value) not in seen:
            seen.add((s.kind, s.value))
            found[s.kind].append(s.value)
    return Identifiers(
        task_ids=tuple(found["task_id"]),
        job_ids=tuple(found["job_id"]),
        dids=tuple(found["did"]),
        rses=tuple(found["rse"]),
        sites=tuple(found["site"]),
        releases=tuple(found["release"]),
        error_codes=tuple(split_code(v) for v in found["error_code"]),
        error_lines=error_lines(text, low, urls),
        urls=tuple(found["url"]),
    )


def mask(text: str, kinds: Collection[str] = KINDS, replacement: str = " ") -> str:
    """``text`` with every span of the given kinds replaced by ``replacement``.

    Identifiers inside URLs count too: masking only ``task_id`` blanks the id in
    ``https://bigpanda.cern.ch/task/40211133/`` and leaves the rest of the link.
    """
    wanted = _checked_kinds(kinds)
    if not wanted:
        return text
    top = _top_spans(text, lower(text))
    nested = nested_spans([s for s in top if s.kind == "url"])
    chosen = sorted((s for s in top + nested if s.kind in wanted), key=lambda s: (s.start, -s.end))
    out: list[str] = []
    pos = 0
    for s in chosen:
        if s.start < pos:  # inside a span already replaced (an id inside a masked URL)
            continue
        out += [text[pos : s.start], replacement]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def _top_spans(text: str, low: str) -> list[Span]:
    cands: list[Cand] = []
    cands += url_cands(text, low)
    cands += did_cands(text)
    cands += release_cands(text, low)
    cands += code_cands(low)
    cands += id_cands(low)
    cands += site_cands(text, low)
    return resolve(cands, len(text))


def _checked_kinds(kinds: Collection[str]) -> frozenset[str]:
    if isinstance(kinds, str):
        raise TypeError("kinds must be a collection of kind names, not a single string")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown span kinds {sorted(unknown)}; expected some of {KINDS}")
    return frozenset(kinds)
