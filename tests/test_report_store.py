"""The report's read-only connection: it cannot write, it sees one moment of the database while
the bot keeps writing, and only a database file has one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dastbot.kernel.models import Assignment
from dastbot.store import ReportReader, Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ask(store: Store, thread: str) -> None:
    store.add_question(
        thread_id=thread,
        channel_id="chan-help",
        author_id="id-alice",
        author_name="alice",
        text="what is the weather in Rabat tomorrow?",
        now=NOW,
        entry_id=None,
        score=0.2,
        state="waiting",
    )


def test_the_report_reader_cannot_write(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    reader = ReportReader.open_read_only(tmp_path / "bot.db")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.set_assignment(Assignment(date(2026, 3, 2), "EU", "sam", None), "test", NOW)
    assert store.assignments(date(2026, 3, 2), date(2026, 3, 2)) == {}
    reader.close()
    store.close()


def test_a_snapshot_does_not_see_what_the_bot_writes_meanwhile(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    ask(store, "q1")
    reader = ReportReader.open_read_only(tmp_path / "bot.db")
    with reader.snapshot():
        assert reader.question_count() == 1
        ask(store, "q2")
        assert store.question_count() == 2
        assert reader.question_count() == 1
    assert reader.question_count() == 2
    reader.close()
    store.close()


def test_only_a_database_file_can_be_read_from_another_connection(tmp_path: Path) -> None:
    assert Store.memory().database_file() is None
    store = Store.open(tmp_path / "bot.db")
    assert store.database_file() == tmp_path / "bot.db"
    store.close()
