"""A knowledge base too large to load quickly is refused with a message that names the file and
the limit, before it is parsed; a reload runs in a child process while the old base keeps
answering, and swaps the new one in whole."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from textwrap import indent
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, Bot

from dastbot.answering import knowledge
from dastbot.answering.answers import LiveKnowledge
from dastbot.answering.knowledge import (
    MAX_ANSWER_CHARS,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_PATTERN_CHARS,
    MAX_PATTERNS,
    KnowledgeError,
    load_knowledge,
)
from dastbot.kernel.config import load_config


def entry(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "title": f"entry {i}",
        "category": "other",
        "patterns": [f"pattern {i}"],
        "answer": "an answer",
        "escalate_to": "none",
        **fields,
    }


def flow_file(path: Path, first: int, count: int) -> None:
    """``count`` entries, one per line, each a copy of the first (a YAML merge key) with its own
    id: about 20 bytes an entry, as a careless or hostile generator would write them."""
    lines = [
        f"- &base {{id: e{first}, title: t, category: other, patterns: [p], answer: a, "
        "escalate_to: none}"
    ]
    lines += [f"- {{<<: *base, id: e{i}}}" for i in range(first + 1, first + count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plain_yaml(rows: list[dict[str, Any]]) -> str:
    """Entries of plain words as block YAML, written directly: PyYAML's emitter takes seconds
    over the megabyte-sized strings these tests need."""
    out = []
    for row in rows:
        lines = [f"- id: {row['id']}"]
        for key, value in row.items():
            if key == "id":
                continue
            if isinstance(value, list):
                lines.append(f"  {key}:")
                lines += [f"  - {item}" for item in value]
            else:
                lines.append(f"  {key}: {value}")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def refused(path: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(path)
    return info.value.errors


def test_fifty_thousand_entries_in_one_file_are_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    flow_file(big, 0, 50_000)
    assert big.stat().st_size < MAX_FILE_BYTES  # so it is the count, not the size, that stops it

    def never(text: str, file: str) -> Any:
        raise AssertionError("the file was parsed in full")

    monkeypatch.setattr(knowledge, "parse", never)
    assert refused(big) == [
        f"{big}:5001: the knowledge base reaches entry 5,001 here; at most 5,000 entries in all "
        "(a larger one makes every reload slow): remove entries or merge similar ones"
    ]


def test_the_entry_limit_counts_across_files_and_the_entries_form(tmp_path: Path) -> None:
    flow_file(tmp_path / "a.yaml", 0, 3000)
    rows = [entry(i) for i in range(3000, 3000 + MAX_ENTRIES - 2999)]
    (tmp_path / "b.yaml").write_text("entries:\n" + indent(plain_yaml(rows), "  "), "utf-8")
    [error] = refused(tmp_path)
    assert error.startswith(f"{tmp_path / 'b.yaml'}:")
    assert "reaches entry 5,001 here" in error


def test_exactly_the_limit_loads(tmp_path: Path) -> None:
    flow_file(tmp_path / "a.yaml", 0, MAX_ENTRIES)
    assert len(load_knowledge(tmp_path)) == MAX_ENTRIES


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text(plain_yaml([entry(1, patterns=["x" * (MAX_FILE_BYTES + 10)])]), "utf-8")
    assert refused(tmp_path) == [
        f"{huge}: 4.0 MB; a knowledge file may hold at most 4.0 MB: split it into several files"
    ]


def test_the_folder_as_a_whole_has_a_size_limit(tmp_path: Path) -> None:
    chunk = plain_yaml([entry(1, answer="y" * (MAX_FILE_BYTES - 1000))])
    for i in range(5):
        (tmp_path / f"part{i}.yaml").write_text(chunk, encoding="utf-8")
    [error] = refused(tmp_path)
    assert error == f"{tmp_path}: the knowledge files hold 20.0 MB; at most 16.0 MB in all"


def test_long_patterns_many_patterns_and_long_answers_are_named(tmp_path: Path) -> None:
    rows = [
        entry(1, patterns=["short", "p" * (MAX_PATTERN_CHARS + 1)]),
        entry(2, patterns=[f"p{j}" for j in range(MAX_PATTERNS + 1)]),
        entry(3, answer="a" * (MAX_ANSWER_CHARS + 1)),
    ]
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(rows, width=10_000), encoding="utf-8")
    errors = refused(path)
    assert errors[0].startswith(f"{path}:")
    assert "entry 'e1': pattern 2 has 2,001 characters; at most 2,000" in errors[0]
    assert "entry 'e2': 101 patterns; at most 100 per entry: split the entry" in errors[1]
    assert "entry 'e3': the answer has 10,001 characters; at most 10,000 fit a post" in errors[2]
    assert len(errors) == 3


async def test_a_reload_answers_with_the_old_base_until_the_new_one_is_in(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", kb_dir)
    live = LiveKnowledge.load(kb_dir, load_config(None, {}))
    before = live.current
    (kb_dir / "extra.yaml").write_text(
        yaml.safe_dump([entry(1, title="Cafeteria menu", patterns=["what is on the menu"])]),
        encoding="utf-8",
    )
    reloading = asyncio.ensure_future(live.reload_async())
    await asyncio.sleep(0)  # the reload has started: the old base still answers
    assert live.current is before
    assert live.rank("what is on the menu today").abstain

    kb = await asyncio.wait_for(reloading, timeout=30)
    assert len(kb) == 5 and live.kb is kb and live.matcher.kb is kb
    assert live.rank("what is on the menu today").matches[0].entry_id == "e1"


async def test_a_failed_reload_keeps_the_base_and_names_the_problem(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", kb_dir)
    live = LiveKnowledge.load(kb_dir, load_config(None, {}))
    before = live.current
    flow_file(kb_dir / "flood.yaml", 0, MAX_ENTRIES + 10)
    with pytest.raises(KnowledgeError, match="reaches entry 5,001"):
        await asyncio.wait_for(live.reload_async(), timeout=30)
    assert live.current is before


async def test_kb_reload_of_a_huge_file_answers_with_the_limit(bot: Bot, tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", kb_dir)
    bot.knowledge.path = kb_dir
    bot.router.roles.role_of = lambda _id, name: "coordinator" if name == "carol" else "user"
    flow_file(kb_dir / "huge.yaml", 100, 50_000)

    reply = await bot.command("carol", "kb reload")
    assert reply.text.startswith("The knowledge base has 1 error(s); the old one (4 entries)")
    assert "at most 5,000 entries in all" in reply.text
    assert len(bot.knowledge.kb) == 4
