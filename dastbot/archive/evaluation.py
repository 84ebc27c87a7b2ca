"""``dastbot archive eval``: what the current knowledge base would answer of the archive.

* ``judge(threads, matcher)``: the matcher's verdict on every archived question (the thread's
  subject and first mail's own text; orphans, whose question is missing, are left out).
* ``summarise(verdicts, titles)`` -> ``ArchiveEval``: per year (UTC year asked) and overall,
  questions, *answered* (the matcher's best entry clears the threshold and margin, exactly as in
  the channel), *abstained*, and the entries it would use most. ``to_text`` and ``to_json``
  render it; both are stable: years ascending, entries by count then id.
* ``sample_sheet``: N answered questions drawn with a seeded generator (the same seed, archive
  and knowledge base give the same sheet), as YAML a shifter fills in: each item has the
  question, the entry the bot would answer with (id, title, score, the answer's first lines),
  the first reply the forum gave, and a blank ``verdict``.
* ``read_labels`` / ``precision``: the filled sheet -> measured precision: ``right`` / (``right``
  + ``wrong``), ``skip`` and blank verdicts left out, with a 95 % Wilson interval; items whose
  entry the current knowledge base would no longer choose are counted apart (``stale``).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dastbot.answering.knowledge import KnowledgeBase
from dastbot.answering.matcher import Matcher
from dastbot.kernel.yamlsource import YamlSyntaxError, parse_file

SCHEMA = "dastbot.archive-eval/1"
TOP_PER_YEAR = 3
TOP_OVERALL = 10
VERDICTS = ("right", "wrong", "skip")


@dataclass(frozen=True)
class Verdict:
    thread_id: str
    year: int
    asked_at: str
    entry_id: str | None  # None: the bot would abstain
    best: str  # best-ranked entry even when abstaining
    score: float


@dataclass(frozen=True)
class Row:
    label: str  # a year, or "all"
    questions: int
    answered: int
    top: tuple[tuple[str, int], ...]

    @property
    def abstained(self) -> int:
        return self.questions - self.answered

    @property
    def share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0


@dataclass(frozen=True)
class ArchiveEval:
    threshold: float
    entries: int
    first: str
    last: str
    years: tuple[Row, ...]
    overall: Row
    titles: Mapping[str, str]


def judge(threads: Sequence[Mapping[str, Any]], matcher: Matcher) -> list[Verdict]:
    out: list[Verdict] = []
    for t in threads:
        ranking = matcher.rank(str(t["question"] or ""), top=1)
        best = ranking.matches[0] if ranking.matches else None
        out.append(
            Verdict(
                thread_id=str(t["thread_id"]),
                year=int(t["year"]),
                asked_at=str(t["asked_at"]),
                entry_id=None if ranking.abstain or best is None else best.entry_id,
                best=best.entry_id if best else "",
                score=best.score if best else 0.0,
            )
        )
    return out


def _row(label: str, verdicts: Sequence[Verdict], top: int) -> Row:
    used = Counter(v.entry_id for v in verdicts if v.entry_id)
    ranked = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return Row(label, len(verdicts), sum(used.values()), tuple(ranked))


def summarise(verdicts: Sequence[Verdict], kb: KnowledgeBase, threshold: float) -> ArchiveEval:
    by_year: dict[int, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_year[v.year].append(v)
    return ArchiveEval(
        threshold=threshold,
        entries=len(kb),
        first=min((v.asked_at for v in verdicts), default="")[:10],
        last=max((v.asked_at for v in verdicts), default="")[:10],
        years=tuple(_row(str(y), by_year[y], TOP_PER_YEAR) for y in sorted(by_year)),
        overall=_row("all", verdicts, TOP_OVERALL),
        titles={e.id: e.title for e in kb},
    )


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def to_text(result: ArchiveEval) -> str:
    o = result.overall
    lines = [
        f"archive: {o.questions} questions from {result.first} to {result.last}; knowledge base: "
        f"{result.entries} entries; threshold {result.threshold:.2f}",
        "",
        f"{'year':<6}{'questions':>10}{'answered':>10}{'abstained':>11}{'answered %':>12}  "
        "most used entries",
    ]
    for r in (*result.years, o):
        used = ", ".join(f"{e} ({n})" for e, n in r.top) if r.label != "all" else ""
        lines.append(
            f"{r.label:<6}{r.questions:>10}{r.answered:>10}{r.abstained:>11}"
            f"{_pct(r.share):>12}  {used}".rstrip()
        )
    if o.top:
        lines += ["", "most used entries overall:"]
        width = max(len(e) for e, _ in o.top)
        for i, (entry, n) in enumerate(o.top, 1):
            share = _pct(n / o.answered) if o.answered else ""
            title = result.titles.get(entry, "")
            lines.append(f"{i:>3}. {entry:<{width}}  {n:>6} ({share} of answers)  {title}")
    return "\n".join(lines) + "\n"


def to_json(result: ArchiveEval) -> dict[str, Any]:
    """``{schema, threshold, kb_entries, first, last, questions, answered, abstained, years:
    [{year, questions, answered, abstained, top: [{id, count}]}], top: [{id, title, count}]}``"""
    o = result.overall
    return {
        "schema": SCHEMA,
        "threshold": result.threshold,
        "kb_entries": result.entries,
        "first": result.first,
        "last": result.last,
        "questions": o.questions,
        "answered": o.answered,
        "abstained": o.abstained,
        "years": [
            {
                "year": int(r.label),
                "questions": r.questions,
                "answered": r.answered,
                "abstained": r.abstained,
                "top": [{"id": e, "count": n} for e, n in r.top],
            }
            for r in result.years
        ],
        "top": [{"id": e, "title": result.titles.get(e, ""), "count": n} for e, n in o.top],
    }


# --- the labelling sheet ---------------------------------------------------------------------


class _Block(str):
    """A string YAML writes as a literal block (``|``)."""


def _block(dumper: yaml.SafeDumper, value: _Block) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, _block)

SHEET_HEADER = """\
# Labelling sheet from `dastbot archive eval --sample {n} --seed {seed}`.
# Each item is an archived question the bot would answer today, with its answer and the first
# reply the forum gave. Set `verdict` to one of:
#   right  the bot's answer would have solved it (or sent the user the right way)
#   wrong  it would not have helped
#   skip   you cannot tell
# Then measure: dastbot archive eval --labels {name}
"""


def _lines(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def sample_sheet(
    threads: Mapping[str, Mapping[str, Any]],
    verdicts: Sequence[Verdict],
    kb: KnowledgeBase,
    first_replies: Mapping[str, str],
    n: int,
    seed: int,
    name: str,
) -> str:
    """YAML for ``n`` answered questions (all of them when fewer), oldest first."""
    answered = [v for v in verdicts if v.entry_id]
    chosen = random.Random(seed).sample(answered, min(n, len(answered)))
    chosen.sort(key=lambda v: (v.asked_at, v.thread_id))
    items = []
    for v in chosen:
        entry = kb.get(v.entry_id or "")
        items.append(
            {
                "thread": v.thread_id,
                "asked": v.asked_at[:10],
                "question": _Block(_lines(str(threads[v.thread_id]["question"]), 1200)),
                "entry": v.entry_id,
                "title": entry.title if entry else "",
                "score": v.score,
                "answer": _Block(_lines(entry.answer, 600) if entry else ""),
                "forum_reply": _Block(_lines(first_replies.get(v.thread_id, ""), 600)),
                "verdict": None,
            }
        )
    body = yaml.dump(items, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return SHEET_HEADER.format(n=n, seed=seed, name=name) + body


@dataclass(frozen=True)
class Label:
    thread_id: str
    entry_id: str
    verdict: str | None


class LabelError(ValueError):
    pass


def read_labels(path: Path) -> list[Label]:
    """The items of a filled sheet; every bad item is named with its file and line."""
    try:
        located = parse_file(path)
    except YamlSyntaxError as exc:
        raise LabelError(str(exc)) from None
    if not isinstance(located.data, list):
        raise LabelError(f"{path}:1: expected the list of items of a labelling sheet")
    out: list[Label] = []
    errors: list[str] = []
    for i, raw in enumerate(located.data):
        if not isinstance(raw, dict) or not raw.get("thread") or not raw.get("entry"):
            errors.append(f"{located.where((i,))}: an item needs 'thread' and 'entry'")
            continue
        verdict = raw.get("verdict")
        if verdict is not None and str(verdict).strip().lower() not in VERDICTS:
            errors.append(
                f"{located.where((i, 'verdict'))}: verdict {verdict!r} is not one of "
                f"{', '.join(VERDICTS)} (or blank)"
            )
            continue
        value = None if verdict is None else str(verdict).strip().lower()
        out.append(Label(str(raw["thread"]), str(raw["entry"]), value))
    if errors:
        raise LabelError("\n".join(errors))
    return out


@dataclass(frozen=True)
class Precision:
    labelled: int
    right: int
    wrong: int
    skipped: int
    blank: int
    stale: int  # labelled items whose entry the current matcher would no longer answer with
    low: float
    high: float
    by_entry: tuple[tuple[str, int, int], ...]  # (entry, right, wrong), most wrong first

    @property
    def value(self) -> float | None:
        judged = self.right + self.wrong
        return self.right / judged if judged else None


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def precision(labels: Sequence[Label], current: Mapping[str, str | None]) -> Precision:
    """``current``: thread -> the entry the current matcher answers with (None: abstains)."""
    counts: Counter[str] = Counter(label.verdict or "blank" for label in labels)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    stale = 0
    for label in labels:
        if label.verdict in ("right", "wrong"):
            per[label.entry_id][label.verdict] += 1
            stale += current.get(label.thread_id) != label.entry_id
    low, high = wilson(counts["right"], counts["right"] + counts["wrong"])
    by_entry = sorted(
        ((e, c["right"], c["wrong"]) for e, c in per.items()), key=lambda x: (-x[2], x[1], x[0])
    )
    return Precision(
        labelled=len(labels),
        right=counts["right"],
        wrong=counts["wrong"],
        skipped=counts["skip"],
        blank=counts["blank"],
        stale=stale,
        low=low,
        high=high,
        by_entry=tuple(by_entry),
    )


def precision_text(p: Precision, path: str) -> str:
    judged = p.right + p.wrong
    if p.value is None:
        head = f"{path}: no item has a right/wrong verdict yet ({p.labelled} items)"
        return head + "\n"
    lines = [
        f"{path}: measured precision {_pct(p.value)} ({p.right} right of {judged} judged; "
        f"95% interval {_pct(p.low)} to {_pct(p.high)})",
        f"items: {p.labelled}; skipped {p.skipped}; blank {p.blank}",
    ]
    if p.stale:
        lines.append(
            f"note: the current knowledge base answers {p.stale} of the judged questions with "
            "another entry or abstains; sample again to measure it as it is now"
        )
    wrong = [x for x in p.by_entry if x[2]]
    if wrong:
        lines.append("entries judged wrong:")
        lines += [f"  {e}: {w} wrong, {r} right" for e, r, w in wrong]
    return "\n".join(lines) + "\n"
