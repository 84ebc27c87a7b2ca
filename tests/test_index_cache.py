"""The indexed knowledge base kept beside the database: a restart reuses it, any change to the
knowledge files or settings builds it again, and a damaged or unwritable file only costs time."""

from __future__ import annotations

from pathlib import Path

import pytest

from dastbot.answering import index_cache
from dastbot.answering.index_cache import cache_path, load_indexed
from dastbot.answering.knowledge import KnowledgeError
from dastbot.answering.rebuild import Loaded

ENTRY = """\
- id: {id}
  title: {title}
  category: {category}
  escalate_to: none
  patterns: ["{pattern}"]
  answer: "{answer}"
"""

PROXY = ENTRY.format(
    id="proxy-expired",
    category="grid-auth",
    title="My grid proxy expired",
    pattern="voms-proxy-init says my proxy expired",
    answer="Run voms-proxy-init -voms atlas again.",
)
QUOTA = ENTRY.format(
    id="rucio-quota",
    category="rucio",
    title="Rucio quota exceeded on the scratch disk",
    pattern="rucio says quota exceeded when I replicate",
    answer="Ask for a rule on LOCALGROUPDISK.",
)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The knowledge bases actually built (not taken from the cache)."""
    built: list[Path] = []
    real = index_cache.build

    def counting(path: Path, threshold: float, margin: float) -> Loaded:
        built.append(path)
        return real(path, threshold, margin)

    monkeypatch.setattr(index_cache, "build", counting)
    return built


def best(loaded: Loaded, question: str) -> str | None:
    match = loaded.matcher.rank(question).best
    return match.entry_id if match else None


def test_a_restart_reuses_the_index_and_answers_the_same(
    tmp_path: Path, builds: list[Path]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(PROXY + QUOTA)
    cache = cache_path(tmp_path / "dastbot.db")
    assert cache == tmp_path / "dastbot.db.knowledge-index"

    first = load_indexed(kb, 0.5, 0.03, cache)
    second = load_indexed(kb, 0.5, 0.03, cache)

    assert builds == [kb]
    assert [e.id for e in second.kb] == ["proxy-expired", "rucio-quota"]
    question = "voms-proxy-init tells me the proxy expired, what now?"
    assert best(first, question) == best(second, question) == "proxy-expired"


def test_an_edited_knowledge_file_or_a_new_threshold_builds_again(
    tmp_path: Path, builds: list[Path]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(PROXY)
    cache = cache_path(tmp_path / "dastbot.db")
    assert [e.id for e in load_indexed(kb, 0.5, 0.03, cache).kb] == ["proxy-expired"]

    kb.write_text(PROXY + QUOTA)
    after_edit = load_indexed(kb, 0.5, 0.03, cache)
    assert best(after_edit, "rucio: quota exceeded on replicate") == "rucio-quota"

    assert load_indexed(kb, 0.6, 0.03, cache).matcher.threshold == 0.6
    assert len(builds) == 3


def test_a_damaged_index_is_ignored_and_replaced(tmp_path: Path, builds: list[Path]) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(PROXY)
    cache = tmp_path / "dastbot.db.knowledge-index"
    load_indexed(kb, 0.5, 0.03, cache)
    cache.write_bytes(cache.read_bytes()[:200])  # cut short, e.g. by a full disk

    assert best(load_indexed(kb, 0.5, 0.03, cache), "my grid proxy expired") == "proxy-expired"
    assert best(load_indexed(kb, 0.5, 0.03, cache), "my grid proxy expired") == "proxy-expired"
    assert len(builds) == 2  # built at first, again after the damage, then reused


def test_without_a_writable_folder_or_a_database_file_the_index_is_built_each_time(
    tmp_path: Path, builds: list[Path]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(PROXY)
    nowhere = tmp_path / "missing folder" / "dastbot.db.knowledge-index"
    assert len(load_indexed(kb, 0.5, 0.03, nowhere).kb) == 1
    assert len(load_indexed(kb, 0.5, 0.03, cache_path(Path(":memory:"))).kb) == 1
    assert len(builds) == 2
    assert not nowhere.parent.exists()


def test_a_broken_knowledge_base_is_reported_and_not_kept(tmp_path: Path) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(PROXY.replace("  title: My grid proxy expired\n", ""))
    cache = tmp_path / "dastbot.db.knowledge-index"
    with pytest.raises(KnowledgeError, match="title"):
        load_indexed(kb, 0.5, 0.03, cache)
    assert not cache.exists()
