"""``dastbot archive gaps``: what the archive asks that the knowledge base cannot answer.

The questions the matcher abstains on are grouped with the weekly report's knowledge-gap
grouping (``dastbot.answering.gaps.cluster_texts``: greedy leader clustering in the order asked,
rapidfuzz ``token_set_ratio`` >= ``CLUSTER_THRESHOLD`` on the text without stop words). Each
cluster is ranked by its *weight*: the sum over its questions of 0.5 ** (age / ``HALF_LIFE``
years), the age counted back from the archive's newest question, so a topic asked often and
lately comes before one asked as often ten years ago; ties by size, then by first asked.

For each of the top clusters: its size, weight, first and last asked, ``REPRESENTATIVES``
questions (the cluster's first, then the most recent others), and a knowledge-base entry drafted
by ``kb propose``'s ``draft_entry`` from the first question and the replies other people sent in
its thread (or in the cluster's most answered thread, when the first got none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dastbot.answering.gaps import cluster_texts
from dastbot.archive.evaluation import Verdict
from dastbot.questions.kb_draft import draft_entry

SCHEMA = "dastbot.archive-gaps/1"
HALF_LIFE = 2.0
REPRESENTATIVES = 3
NO_ANSWER = "TODO: nobody answered these questions in the archive; write the answer here."


@dataclass(frozen=True)
class Example:
    thread_id: str
    asked: str
    subject: str


@dataclass(frozen=True)
class Gap:
    rank: int
    size: int
    weight: float
    first_asked: str
    last_asked: str
    examples: tuple[Example, ...]
    draft: str  # YAML: a one-entry list, as `kb propose` posts it


@dataclass(frozen=True)
class Gaps:
    abstained: int
    clusters: int
    first: str
    last: str
    top: tuple[Gap, ...]


def _years(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 31_557_600


def find_gaps(
    threads: Sequence[Mapping[str, Any]],
    verdicts: Sequence[Verdict],
    replies: Callable[[str, str], list[str]],
    top: int = 10,
) -> Gaps:
    """``threads`` in the order asked; ``replies(thread_id, asker)`` the others' texts."""
    abstained = {v.thread_id for v in verdicts if v.entry_id is None}
    rows = [t for t in threads if t["thread_id"] in abstained]
    by_id = {str(t["thread_id"]): t for t in rows}
    newest = max((str(t["asked_at"]) for t in threads), default="")
    clusters = cluster_texts([(str(t["thread_id"]), str(t["question"] or "")) for t in rows])
    scored = []
    for c in clusters:
        asked = [str(by_id[m]["asked_at"]) for m in c.thread_ids]
        weight = sum(0.5 ** (_years(a, newest) / HALF_LIFE) for a in asked)
        scored.append((weight, c, asked))
    scored.sort(key=lambda x: (-round(x[0], 9), -x[1].count, min(x[2])))
    out: list[Gap] = []
    for rank, (weight, cluster, asked) in enumerate(scored[:top], 1):
        members = [by_id[m] for m in cluster.thread_ids]
        leader, others = members[0], members[1:]
        others.sort(key=lambda t: (str(t["asked_at"]), str(t["thread_id"])), reverse=True)
        examples = tuple(
            Example(str(t["thread_id"]), str(t["asked_at"])[:10], str(t["subject"] or ""))
            for t in (leader, *others)[:REPRESENTATIVES]
        )
        out.append(
            Gap(
                rank=rank,
                size=cluster.count,
                weight=round(weight, 2),
                first_asked=min(asked)[:10],
                last_asked=max(asked)[:10],
                examples=examples,
                draft=_draft(leader, members, replies),
            )
        )
    return Gaps(
        abstained=len(rows),
        clusters=len(clusters),
        first=min((str(t["asked_at"]) for t in rows), default="")[:10],
        last=max((str(t["asked_at"]) for t in rows), default="")[:10],
        top=tuple(out),
    )


def _draft(
    leader: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    replies: Callable[[str, str], list[str]],
) -> str:
    answers = replies(str(leader["thread_id"]), str(leader["asker"]))
    if not answers:
        answered = [t for t in members if t["replies"]]
        answered.sort(key=lambda t: (-int(t["replies"]), str(t["asked_at"])))
        for t in answered[:5]:
            answers = replies(str(t["thread_id"]), str(t["asker"]))
            if answers:
                break
    return draft_entry(str(leader["question"] or ""), answers or [NO_ANSWER])


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.rstrip().split("\n"))


def to_text(gaps: Gaps) -> str:
    lines = [
        f"archive gaps: {gaps.abstained} questions the knowledge base does not answer "
        f"({gaps.first} to {gaps.last}), in {gaps.clusters} clusters; the top {len(gaps.top)} "
        f"by weight (each question counts 0.5 ** (age / {HALF_LIFE:g} years))",
    ]
    for g in gaps.top:
        lines += [
            "",
            f"{g.rank}. {g.size} questions, weight {g.weight:.2f}, asked {g.first_asked} to "
            f"{g.last_asked}",
        ]
        lines += [f"   {e.asked}  {e.thread_id}  {e.subject}" for e in g.examples]
        lines += ["   draft entry:", _indent(g.draft, "     ")]
    return "\n".join(lines) + "\n"


def to_json(gaps: Gaps) -> dict[str, Any]:
    """``{schema, abstained, clusters, first, last, top: [{rank, size, weight, first_asked,
    last_asked, examples: [{thread, asked, subject}], draft}]}``"""
    return {
        "schema": SCHEMA,
        "abstained": gaps.abstained,
        "clusters": gaps.clusters,
        "first": gaps.first,
        "last": gaps.last,
        "top": [
            {
                "rank": g.rank,
                "size": g.size,
                "weight": g.weight,
                "first_asked": g.first_asked,
                "last_asked": g.last_asked,
                "examples": [
                    {"thread": e.thread_id, "asked": e.asked, "subject": e.subject}
                    for e in g.examples
                ],
                "draft": g.draft,
            }
            for g in gaps.top
        ],
    }


def drafts_file(gaps: Gaps) -> str:
    """Every draft as one YAML list, each after a comment naming its cluster."""
    parts = [
        "# Knowledge-base drafts from `dastbot archive gaps`: edit the title, patterns, answer\n"
        "# and category of each, then move it into a file under knowledge/.\n"
    ]
    for g in gaps.top:
        parts.append(
            f"\n# {g.rank}. {g.size} questions ({g.first_asked} to {g.last_asked}), e.g. "
            f"{g.examples[0].thread_id}: {g.examples[0].subject[:70]}\n{g.draft}"
        )
    return "".join(parts)
