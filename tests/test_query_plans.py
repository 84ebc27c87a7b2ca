"""Nothing on a hot path scans a table that grows with history.

Every statement the bot runs for the weekly report, the sweep, ``/dast status``, ``/dast
escalations``, a question, a shifter's reply, a take, the asker's feedback and ``/healthz`` is
recorded (the connection's trace callback) and checked with ``EXPLAIN QUERY PLAN``: a ``SCAN`` of
questions, events, outbox or escalations fails the test. The database is small (a week of
demo history): SQLite's plans depend on the schema, not on the rows, while it has no statistics.
A search whose only constraint is an upper bound (``(created_at<?)``: everything before an
instant) walks all history just the same and fails too. A scan of a partial index is allowed: it
holds only live rows (e.g. the unsent messages).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from conftest import ShiftBot

from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config, load_config
from dastbot.report.demo import fill_demo
from dastbot.report.stats import build_report
from dastbot.report.weeks import last_complete_week
from dastbot.store import Store

END = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Monday 16 March 00:00 in Zurich
GROWING = ("questions", "events", "outbox", "escalations")
SCAN = re.compile(rf"^SCAN ({'|'.join(GROWING)})\b")
BEFORE = re.compile(rf"^SEARCH ({'|'.join(GROWING)}) .*\(\w+<\?\)$")
STATEMENT = re.compile(r"^\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b", re.IGNORECASE)


def scans(store: Store, statements: list[str]) -> dict[str, list[str]]:
    """Each statement whose plan scans a growing table, with those plan lines."""
    partial = {
        str(name)
        for name, sql in store.db.execute("SELECT name, sql FROM sqlite_master WHERE type='index'")
        if sql and " WHERE " in sql.upper()
    }
    found: dict[str, list[str]] = {}
    for sql in dict.fromkeys(statements):
        if not STATEMENT.match(sql):
            continue
        plan = [row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        bad = [
            line
            for line in plan
            if (SCAN.match(line) and line.split(" INDEX ")[-1].split()[0] not in partial)
            or BEFORE.match(line)
        ]
        if bad:
            found[sql[:300]] = bad
    return found


async def test_the_hot_paths_read_through_indexes(config: Config) -> None:
    store = Store.memory()
    fill_demo(store, 1, END, 3, load_config(None, {}))
    clock = FakeClock(END + timedelta(hours=8, minutes=1))  # Monday 09:01 in Zurich
    bot = ShiftBot(config, store, clock)
    await bot.start()
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)

    clock.advance(timedelta(seconds=30))
    await bot.app.tick()
    build_report(
        store,
        last_complete_week(clock.now(), bot.router.duty.calendar.zone),
        bot.router.duty.calendar,
    )
    await bot.command("sam", "status")
    await bot.command("alice", "status")
    await bot.command("sam", "escalations")
    [answer] = await bot.say("alice", "How do I renew my grid proxy?", post_id="q1")
    await bot.react("alice", bot.post_id_of(answer), "-1")
    await bot.say("carol", "My job on some site failed, what now?", post_id="q2")
    await bot.command("sam", "take", thread="q2")
    await bot.say("sam", "Which task id is it?", thread="q2")
    await bot.say("carol", "task 12345", thread="q2")
    assert store.writable()
    clock.advance(timedelta(seconds=30))
    await bot.app.tick()

    store.db.conn.set_trace_callback(None)
    assert len(statements) > 50  # the trace saw the work
    assert scans(store, statements) == {}
