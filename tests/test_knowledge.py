"""Knowledge-base loading and validation: every error at once, each with file, line and id."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import FIXTURES, shared_dir

from dastbot.answering.knowledge import KnowledgeError, load_knowledge, load_text

REPO = Path(__file__).resolve().parent.parent


def test_a_folder_of_files_loads_in_file_order() -> None:
    kb = load_knowledge(FIXTURES / "kb")
    assert [e.id for e in kb] == [
        "proxy-expired",
        "rucio-download-failed",
        "task-exhausted",
        "memory-exceeded",
    ]
    entry = kb.get("task-exhausted")
    assert entry is not None
    assert entry.ask_for == ("task_id",)
    assert entry.links[0].url.startswith("https://")
    assert entry.source.endswith("panda.yaml:1")


def test_the_shipped_knowledge_base_is_valid_and_large_enough() -> None:
    kb = load_knowledge(REPO / "knowledge")
    assert len(kb) >= 40
    categories = {e.category for e in kb}
    assert {"panda", "rucio", "grid-auth", "athena", "site", "ami", "containers"} <= categories
    for entry in kb:
        assert "<DOC" not in entry.answer
        assert all(link.url.startswith("https://") for link in entry.links)


def test_every_error_is_listed_with_file_line_and_entry() -> None:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(FIXTURES / "broken")
    a, b = FIXTURES / "broken" / "a.yaml", FIXTURES / "broken" / "b.yaml"
    assert info.value.errors == [
        f"{a}:7: entry 'no-answer': missing required field 'answer'",
        f"{b}:1: entry 'dup-entry': duplicate id (first defined at {a}:1)",
        f"{b}:3: entry 'dup-entry': unknown category 'weather' (panda, rucio, grid-auth, athena, "
        "conditions, site, monitoring, ami, containers, other)",
        f"{b}:6: entry 'dup-entry': unknown escalation target 'the-moon' (ami-team, "
        "cloud-support, none, panda-experts, rucio-experts, site-support)",
        f"{b}:4: entry 'dup-entry': patterns must not be empty",
    ]


def test_syntax_errors_and_wrong_shapes_never_end_in_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- id: x\n  title: [unclosed\n")
    (tmp_path / "b.yaml").write_text("just: a mapping\n")
    (tmp_path / "c.yaml").write_text("- plain string\n")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tmp_path)
    errors = info.value.errors
    assert errors[0].startswith(f"{tmp_path / 'a.yaml'}:3: invalid YAML")
    assert errors[1] == f"{tmp_path / 'b.yaml'}:1: expected a list of entries"
    assert errors[2] == f"{tmp_path / 'c.yaml'}:1: entry #1: an entry must be a mapping of fields"


def test_missing_path_and_empty_folder_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="no such file or folder"):
        load_knowledge(tmp_path / "nope")
    with pytest.raises(KnowledgeError, match=r"no \.yaml files"):
        load_knowledge(tmp_path)


def test_unknown_fields_and_facts_are_reported() -> None:
    text = (
        "- id: a\n  title: t\n  category: panda\n  patterns: [p]\n  answer: x\n"
        "  escalate_to: none\n  ask_for: [task_id, shoe_size]\n  colour: blue\n"
    )
    with pytest.raises(KnowledgeError) as info:
        load_text(text, "kb.yaml")
    assert info.value.errors == [
        "kb.yaml:8: entry 'a': unknown field 'colour'",
        "kb.yaml:7: entry 'a': unknown fact 'shoe_size' in ask_for (task_id, job_id, error, "
        "dataset, site, release, log)",
    ]


def test_the_shared_eval_knowledge_base_loads_unchanged() -> None:
    folder = shared_dir("DASTBOT_EVAL_DIR")
    kb = load_knowledge(folder / "knowledge.yaml")
    assert len(kb) == 49
    assert os.path.basename(kb.origin) == "knowledge.yaml"
