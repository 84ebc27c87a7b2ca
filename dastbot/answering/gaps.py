"""Knowledge-gap clustering: group short texts (questions the bot could not answer) by topic.

``cluster_texts`` is greedy leader clustering in the given order: a text joins the first cluster
whose first text scores at least ``CLUSTER_THRESHOLD`` against it (rapidfuzz ``token_set_ratio``
on lower-cased words without common English stop words, which would otherwise make every "how do
I ..." alike) and starts a new cluster otherwise; clusters come back largest first, ties in the
order their first text came. The weekly report clusters the week's abstentions with it; any
other feature may cluster its own texts the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

CLUSTER_THRESHOLD = 70
"""Minimum rapidfuzz token_set_ratio (0-100) for a text to join a cluster."""
# fmt: off
_STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for",
    "from", "have", "how", "i", "if", "in", "is", "it", "me", "my", "of", "on", "or", "please",
    "so", "that", "the", "there", "this", "to", "was", "we", "what", "when", "where", "which",
    "why", "will", "with", "would", "you", "hi", "hello", "dear", "thanks", "thank", "any",
    "anyone",
))
# fmt: on


@dataclass(frozen=True)
class GapCluster:
    """A topic: its first text (one line, at most 200 characters), how many texts it holds and
    their ids in the order given."""

    text: str
    count: int
    thread_ids: tuple[str, ...]


def _normalise(text: str) -> str:
    words = re.findall(r"[a-z0-9][a-z0-9_.\-/]*", text.lower())
    kept = [w for w in words if w not in _STOP_WORDS]
    return " ".join(kept or words)[:400]


def cluster_texts(
    items: Sequence[tuple[str, str]], threshold: int = CLUSTER_THRESHOLD
) -> list[GapCluster]:
    """Greedy leader clustering of (thread_id, text) in the given order; largest first."""
    leaders: list[str] = []
    members: list[list[tuple[str, str]]] = []
    for thread, text in items:
        key = _normalise(text)
        found = process.extractOne(
            key, leaders, scorer=fuzz.token_set_ratio, score_cutoff=threshold
        )
        if found is None:
            leaders.append(key)
            members.append([(thread, text)])
        else:
            members[found[2]].append((thread, text))
    clusters = [
        GapCluster(" ".join(group[0][1].split())[:200], len(group), tuple(t for t, _ in group))
        for group in members
    ]
    order = sorted(range(len(clusters)), key=lambda i: (-clusters[i].count, i))
    return [clusters[i] for i in order]
