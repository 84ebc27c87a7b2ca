"""The store: migrations, dedupe of incoming posts, the outbox, the audit trail, job runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dastbot.kernel.models import Button, OutMessage
from dastbot.store import Store, iso
from dastbot.store.schema import MIGRATIONS

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


def test_migrations_run_once_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "bot.db"
    store = Store.open(path)
    assert store.schema_version() == len(MIGRATIONS)
    store.claim_post("p1", NOW)
    store.close()

    again = Store.open(path)
    assert again.schema_version() == len(MIGRATIONS)
    assert again.seen("p1")
    assert not again.claim_post("p1", NOW)


def test_a_post_is_claimed_once(store: Store) -> None:
    assert store.claim_post("p1", NOW)
    assert not store.claim_post("p1", NOW + timedelta(minutes=1))
    assert store.last_seen_at() == NOW


def test_the_outbox_records_an_intent_once_and_keeps_it_until_sent(store: Store) -> None:
    msg = OutMessage("c1", "hello", root_id="t1", key="answer:t1", buttons=(Button("ok", "OK"),))
    first = store.enqueue(msg, NOW)
    assert store.enqueue(msg, NOW) == first
    [pending] = store.pending()
    assert pending.created_at == NOW
    assert pending.message == OutMessage(
        "c1", "hello", root_id="t1", key="answer:t1", buttons=(Button("ok", "OK", {}, "default"),)
    )
    store.note_attempt(first)
    store.mark_sent(first, "post9", NOW)
    assert store.pending() == []
    sent = store.sent("answer:t1")
    assert sent is not None
    assert (sent["post_id"], sent["attempts"]) == ("post9", 1)


def test_events_are_an_append_only_trail_with_data(store: Store) -> None:
    store.record("answered", NOW, "t1", "dastbot", entry="x", score=0.8)
    store.record("resolved", NOW, "t1", "alice")
    store.record("answered", NOW, "t2", "dastbot", entry="y", score=0.7)
    assert [e["kind"] for e in store.events("t1")] == ["answered", "resolved"]
    assert store.events(kind="answered")[1]["data"] == {"entry": "y", "score": 0.7}


def test_questions_are_listed_oldest_first_by_state(store: Store) -> None:
    for i, state in enumerate(["waiting", "resolved", "answered"]):
        store.add_question(
            thread_id=f"t{i}",
            channel_id="c",
            author_id="u",
            author_name="alice",
            text="q",
            now=NOW + timedelta(minutes=i),
            entry_id=None,
            score=None,
            state=state,
        )
    assert [q["thread_id"] for q in store.questions(("waiting", "answered"))] == ["t0", "t2"]
    store.update_question("t0", NOW + timedelta(hours=1), state="claimed", claimed_by="bob")
    row = store.question("t0")
    assert row is not None
    assert (row["state"], row["claimed_by"], row["updated_at"]) == (
        "claimed",
        "bob",
        iso(NOW + timedelta(hours=1)),
    )


def test_times_are_stored_in_utc(store: Store) -> None:
    from zoneinfo import ZoneInfo

    zurich = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Zurich"))
    assert iso(zurich) == "2026-03-29T01:30:00.000+00:00"


def test_job_runs_are_remembered(store: Store) -> None:
    assert store.last_due("weekly") is None
    store.mark_job_ran("weekly", NOW, NOW + timedelta(seconds=3))
    assert store.last_due("weekly") == NOW


def test_a_file_store_is_writable(tmp_path: Path) -> None:
    assert Store.open(tmp_path / "x.db").writable()


def test_named_values_are_kept_and_replaced(store: Store) -> None:
    assert store.get_meta("cursor") is None
    store.set_meta("cursor", "1")
    store.set_meta("cursor", "2")
    assert store.get_meta("cursor") == "2"


def test_outbox_keeps_attachments_until_sent(store: Store) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    store.enqueue(OutMessage("c", "weekly", key="report:1", files=(("chart.png", png),)), NOW)
    [pending] = store.pending()
    assert pending.message.files == (("chart.png", png),)


def test_a_sent_post_tells_which_escalation_it_belongs_to(store: Store) -> None:
    from dastbot.kernel.models import Escalation

    store.save_escalation(Escalation("E1", "t1", "cloud-de", "open", NOW, "sam", "why"))
    for key, post in (("escalation:E1", "p1"), ("escalation:E1:1", "p2"), ("answer:t1", "p3")):
        store.mark_sent(store.enqueue(OutMessage("c", "x", key=key), NOW), post, NOW)
    assert [e.id if e else None for e in map(store.escalation_by_post, ["p1", "p2", "p3"])] == [
        "E1",
        "E1",
        None,
    ]
    assert store.key_of_post("p3") == "answer:t1"


def test_a_database_from_a_newer_version_is_refused_with_both_versions(tmp_path: Path) -> None:
    import pytest

    from dastbot.store import SchemaTooNew

    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.db.execute("INSERT INTO _migrations (version, applied_at) VALUES (42, '2030-01-01')")
    store.close()
    with pytest.raises(SchemaTooNew) as refused:
        Store.open(path)
    assert "schema version 42" in str(refused.value)
    assert f"versions up to {len(MIGRATIONS)}" in str(refused.value)


def test_the_health_probe_writes_to_the_file_and_fails_when_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Store.open(path)
    assert store.writable()
    assert store.get_meta("health.probe") is not None
    store.db.execute("PRAGMA query_only = ON")  # as a full disk or read-only file would
    assert not store.writable()
