"""Scoring the matcher on labelled questions: an acceptable second answer (``alt``) counts as right,
null questions are reported by kind, and bad labels are refused with their place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dastbot.answering.evaluation import QuestionFileError, evaluate, load_questions
from dastbot.answering.knowledge import KnowledgeBase, load_text
from dastbot.answering.matcher import Matcher

KB = """
- id: memory
  title: Job killed for exceeding memory
  category: panda
  patterns: [Payload exceeded maximum allowed memory, pilot error 1235]
  answer: Reduce --nFilesPerJob or ask for more with --memory.
  escalate_to: none
- id: walltime
  title: Job hit the batch system time limit
  category: panda
  patterns: [Reached batch system time limit, pilot error 1213]
  answer: Make jobs shorter with --nFilesPerJob or --maxWalltime.
  escalate_to: none
- id: quota
  title: Not enough quota on the RSE
  category: rucio
  patterns: [There is not enough quota left to fulfil the operation, InsufficientAccountLimit]
  answer: Check rucio list-account-limits and delete rules you no longer need.
  escalate_to: none
"""


@pytest.fixture
def kb() -> KnowledgeBase:
    return load_text(KB, "inline")


def questions(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.yaml"
    path.write_text(text)
    return path


def test_an_alternative_answer_counts_as_right(kb: KnowledgeBase, tmp_path: Path) -> None:
    asked = "Payload exceeded maximum allowed memory, pilot error 1235"
    strict = load_questions(questions(tmp_path, f"- {{id: a, text: '{asked}', gold: quota}}\n"), kb)
    lenient = load_questions(
        questions(tmp_path, f"- {{id: a, text: '{asked}', gold: quota, alt: [memory]}}\n"), kb
    )
    matcher = Matcher(kb)
    assert evaluate(matcher, strict)[0].overall == 0.0
    result, outcomes = evaluate(matcher, lenient)
    assert (result.top1, result.top3, result.overall, result.alt_accepted) == (1.0, 1.0, 1.0, 1)
    assert outcomes[0].answered == "memory" and outcomes[0].correct


def test_null_questions_are_counted_by_kind(kb: KnowledgeBase, tmp_path: Path) -> None:
    text = (
        "- {id: a, text: 'How do I run MPI jobs on several nodes?', gold: null, kind: uncovered}\n"
        "- {id: b, text: 'best pizza near CERN?', gold: null, kind: off-topic}\n"
        "- {id: c, text: 'Reached batch system time limit', gold: walltime}\n"
    )
    result, _ = evaluate(Matcher(kb), load_questions(questions(tmp_path, text), kb))
    assert result.null_kinds == {"off-topic": (1, 1), "uncovered": (1, 1)}
    assert result.null_abstained == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("- {id: a, text: x, gold: memory, alt: [nope]}", "gold 'nope' is not an entry"),
        ("- {id: a, text: x, gold: null, alt: [memory]}", "'alt' needs a gold entry"),
        ("- {id: a, text: x, gold: memory, alt: memory}", "'alt' must be a list"),
    ],
)
def test_bad_alternatives_are_refused_with_their_place(
    kb: KnowledgeBase, tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(QuestionFileError, match=message) as caught:
        load_questions(questions(tmp_path, line + "\n"), kb)
    assert "q.yaml:1" in str(caught.value)


def test_the_realistic_dev_set_loads_against_the_shipped_knowledge_base() -> None:
    from dastbot.answering.knowledge import load_knowledge

    root = Path(__file__).resolve().parent.parent
    kb = load_knowledge(root / "knowledge")
    loaded = load_questions(root / "bench" / "eval" / "realistic-dev.yaml", kb)
    assert len(loaded) >= 100
    covered = {q.gold for q in loaded if q.gold}
    assert covered == {e.id for e in kb.entries}, "every entry has a dev question"
    assert {q.kind for q in loaded if q.gold is None} == {"uncovered", "off-topic"}


def test_the_second_realistic_set_loads_and_mixes_covered_and_uncovered_posts() -> None:
    from dastbot.answering.knowledge import load_knowledge

    root = Path(__file__).resolve().parent.parent
    kb = load_knowledge(root / "knowledge")
    loaded = load_questions(root / "bench" / "eval" / "realistic-dev-2.yaml", kb)
    kinds = [q.kind for q in loaded if q.gold is None]
    assert len(loaded) >= 40
    assert kinds.count("uncovered") >= 10 and "off-topic" in kinds
    assert all(q.kind == "" for q in loaded if q.gold is not None)


def test_the_third_realistic_set_loads_with_its_uncovered_posts_labelled() -> None:
    from dastbot.answering.knowledge import load_knowledge

    root = Path(__file__).resolve().parent.parent
    kb = load_knowledge(root / "knowledge")
    loaded = load_questions(root / "bench" / "eval" / "realistic-dev-3.yaml", kb)
    kinds = [q.kind for q in loaded if q.gold is None]
    assert len(loaded) >= 24
    assert kinds.count("uncovered") >= 12 and "off-topic" in kinds
    assert all(q.gold in {e.id for e in kb.entries} for q in loaded if q.gold is not None)


def test_the_fourth_realistic_set_loads_as_a_check_set_spread_over_the_knowledge_base() -> None:
    from dastbot.answering.knowledge import load_knowledge

    root = Path(__file__).resolve().parent.parent
    kb = load_knowledge(root / "knowledge")
    loaded = load_questions(root / "bench" / "eval" / "realistic-dev-4.yaml", kb)
    golds = [q.gold for q in loaded if q.gold is not None]
    kinds = [q.kind for q in loaded if q.gold is None]
    assert len(loaded) >= 70
    assert len(set(golds)) >= 30, "covered posts are spread over at least 30 entries"
    assert max(golds.count(g) for g in set(golds)) <= 2
    assert kinds.count("uncovered") >= 20 and kinds.count("off-topic") >= 5
    assert len({q.id for q in loaded}) == len(loaded)


def test_the_realistic_dev_figures_stay_above_a_floor() -> None:
    from dastbot.answering.knowledge import load_knowledge

    root = Path(__file__).resolve().parent.parent
    kb = load_knowledge(root / "knowledge")
    loaded = load_questions(root / "bench" / "eval" / "realistic-dev.yaml", kb)
    result, _ = evaluate(Matcher(kb), loaded)
    assert result.top1 >= 0.95
    assert result.top3 >= 0.98
    assert result.overall >= 0.85
    abstained, uncovered = result.null_kinds["uncovered"]
    assert abstained / uncovered >= 0.5
