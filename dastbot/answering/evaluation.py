"""Measuring the matcher on a labelled question file (the format of the shared eval set).

A question has ``id``, ``text`` and ``gold`` (an entry id, or null when no entry should answer),
and optionally ``alt``, entries that answer the question acceptably too (the second problem of a
post with several), and ``kind``, a free label for null questions (``uncovered`` for on-topic
questions the knowledge base does not cover, ``off-topic`` for the rest) reported separately.
An answer is correct when it is the gold entry or one of ``alt``; top-1 and top-3 accept them too.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dastbot.answering.knowledge import KnowledgeBase
from dastbot.answering.matcher import Matcher
from dastbot.kernel.yamlsource import YamlSyntaxError, parse_file


class QuestionFileError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: str | None
    alt: tuple[str, ...] = ()
    kind: str = ""

    @property
    def accepted(self) -> frozenset[str]:
        """The entries counted as a right answer."""
        return frozenset((self.gold, *self.alt)) if self.gold is not None else frozenset()


@dataclass(frozen=True)
class EvalResult:
    n: int
    answerable: int
    top1: float
    top3: float
    nulls: int
    null_abstained: int
    overall: float
    threshold: float
    p50_ms: float
    p99_ms: float
    alt_accepted: int  # questions counted right only because the answer was one of their ``alt``
    null_kinds: dict[str, tuple[int, int]]  # kind -> (abstained, null questions of that kind)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    question: Question
    ranked: tuple[str, ...]
    answered: str | None
    correct: bool


def load_questions(path: Path, kb: KnowledgeBase) -> list[Question]:
    try:
        located = parse_file(path)
    except YamlSyntaxError as exc:
        raise QuestionFileError(str(exc)) from None
    if not isinstance(located.data, list):
        raise QuestionFileError(f"{path}:1: expected a list of questions")
    out: list[Question] = []
    errors: list[str] = []
    for i, raw in enumerate(located.data):
        where = located.where((i,))
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            errors.append(f"{where}: a question needs 'text'")
            continue
        gold = raw.get("gold")
        alt = raw.get("alt") or []
        if not isinstance(alt, list) or not all(isinstance(a, str) for a in alt):
            errors.append(f"{where}: 'alt' must be a list of entry ids")
            continue
        unknown = [str(e) for e in (gold, *alt) if e is not None and kb.get(str(e)) is None]
        if unknown:
            errors.append(f"{where}: gold {unknown[0]!r} is not an entry of the knowledge base")
            continue
        if alt and gold is None:
            errors.append(f"{where}: 'alt' needs a gold entry")
            continue
        out.append(
            Question(
                str(raw.get("id", i)),
                raw["text"],
                None if gold is None else str(gold),
                tuple(alt),
                str(raw.get("kind") or ""),
            )
        )
    if errors:
        raise QuestionFileError("\n".join(errors))
    return out


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def evaluate(matcher: Matcher, questions: list[Question]) -> tuple[EvalResult, list[Outcome]]:
    outcomes: list[Outcome] = []
    latencies: list[float] = []
    top1 = top3 = null_abstained = correct = alt_accepted = 0
    kinds: dict[str, list[int]] = {}
    if questions:
        matcher.rank(questions[0].text, top=3)  # warm-up: latency is the steady state
    for q in questions:
        start = time.perf_counter()
        ranking = matcher.rank(q.text, top=3)
        latencies.append((time.perf_counter() - start) * 1000)
        ranked = tuple(m.entry_id for m in ranking.matches)
        answered = ranking.best.entry_id if ranking.best else None
        if q.gold is None:
            ok = answered is None
            null_abstained += ok
            tally = kinds.setdefault(q.kind or "null", [0, 0])
            tally[0] += ok
            tally[1] += 1
        else:
            top1 += bool(ranked) and ranked[0] in q.accepted
            top3 += bool(q.accepted.intersection(ranked))
            ok = answered in q.accepted
            alt_accepted += ok and answered != q.gold
        correct += ok
        outcomes.append(Outcome(q, ranked, answered, ok))
    answerable = sum(q.gold is not None for q in questions)
    nulls = len(questions) - answerable
    result = EvalResult(
        n=len(questions),
        answerable=answerable,
        top1=round(top1 / answerable, 4) if answerable else 0.0,
        top3=round(top3 / answerable, 4) if answerable else 0.0,
        nulls=nulls,
        null_abstained=null_abstained,
        overall=round(correct / len(questions), 4) if questions else 0.0,
        threshold=matcher.threshold,
        p50_ms=round(_percentile(latencies, 50), 3),
        p99_ms=round(_percentile(latencies, 99), 3),
        alt_accepted=alt_accepted,
        null_kinds={k: (v[0], v[1]) for k, v in sorted(kinds.items())},
    )
    return result, outcomes
