"""The outbox as a coordinator sees it: a message the server refuses for good never holds up the
others, is given up after a few attempts, told to the coordinators once, counted, and can be
retried or dropped with /dast outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ShiftBot

from dastbot.kernel.models import OutMessage
from dastbot.outbox.sender import REFUSED_ATTEMPTS
from dastbot.store import Store

KNOWN = "my task is exhausted what does it mean"


async def test_a_refused_message_is_dead_lettered_and_never_blocks_the_others(
    shiftbot: ShiftBot,
) -> None:
    bot = shiftbot
    bot.chat.refused_channels.add("adc-cloud-xx")
    escalation = OutMessage("adc-cloud-xx", "an escalation", key="escalation:E9")
    bot.store.enqueue(escalation, bot.clock.now())

    [answer] = await bot.say("alice", KNOWN, post_id="q1")  # queued after it, delivered at once
    assert answer.root_id == "q1"

    for _ in range(REFUSED_ATTEMPTS - 1):
        assert bot.store.count_dead_letters() == 0
        bot.clock.advance(timedelta(minutes=2))
        await bot.router.flush()
    assert bot.store.count_dead_letters() == 1
    assert bot.store.pending() == []
    [notice] = [m for _, m in bot.chat.sent if m.key.startswith("dead-letter:")]
    assert notice.channel_id == "dast-coordinators"
    assert "adc-cloud-xx" in notice.message and "/dast outbox retry" in notice.message
    registry = bot.router.metrics.registry
    assert registry.get_sample_value("dastbot_dead_letters_total", {"kind": "refused"}) == 1

    bot.clock.advance(timedelta(hours=1))
    await bot.router.flush()  # told once, never retried again
    assert len([m for _, m in bot.chat.sent if m.key.startswith("dead-letter:")]) == 1

    listing = await bot.command("cora", "outbox")
    assert "Undelivered messages** (1" in listing.text and "adc-cloud-xx" in listing.text
    refused = await bot.command("sam", "outbox")
    assert "needs the coordinator role" in refused.text

    bot.chat.refused_channels.clear()  # the bot was invited to the channel
    [row] = bot.store.dead_letters()
    retry = await bot.command("cora", f"outbox retry {row.pending.id}")
    assert retry.text == f"Message #{row.pending.id} will be sent again at the next sweep."
    await bot.router.flush()
    assert bot.chat.sent[-1][1].key == "escalation:E9"
    assert (await bot.command("cora", "outbox")).text.startswith("Nothing is stuck")


async def test_a_message_that_keeps_failing_holds_up_only_its_own_thread(
    shiftbot: ShiftBot,
) -> None:
    bot = shiftbot
    now = bot.clock.now()
    bot.chat.refused_channels.add("gone")
    bot.store.enqueue(OutMessage("gone", "first in t1", "t1", key="a"), now)
    bot.store.enqueue(OutMessage("dast-help", "second in t1", "t1", key="b"), now)
    bot.store.enqueue(OutMessage("dast-help", "in t2", "t2", key="c"), now)
    assert await bot.router.flush() == 1
    assert [m.key for _, m in bot.chat.sent] == ["c"]  # t1's second waits behind its first

    bot.clock.advance(timedelta(minutes=5))
    await bot.router.flush()
    bot.clock.advance(timedelta(minutes=5))
    await bot.router.flush()  # "a" is given up: "b" may go now, in order
    assert [m.key for _, m in bot.chat.sent if not m.key.startswith("dead-letter:")] == ["c", "b"]


async def test_outbox_drop_and_bad_arguments(shiftbot: ShiftBot) -> None:
    bot = shiftbot
    bot.chat.refused_channels.add("gone")
    bot.store.enqueue(OutMessage("gone", "x" * 10, key="x"), bot.clock.now())
    for _ in range(REFUSED_ATTEMPTS):
        await bot.router.flush()
        bot.clock.advance(timedelta(minutes=2))
    [row] = bot.store.dead_letters()
    assert (await bot.command("cora", "outbox drop 99999999999999999999")).text.startswith("Usage")
    assert (await bot.command("cora", "outbox retry")).text.startswith("Usage")
    assert "no undelivered message #4242" in (await bot.command("cora", "outbox drop 4242")).text
    assert (await bot.command("cora", f"outbox drop #{row.pending.id}")).text.endswith("dropped.")
    assert bot.store.count_dead_letters() == 0


def test_dastbot_outbox_lists_retries_and_drops_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dastbot.cli import main

    db = tmp_path / "bot.db"
    store = Store.open(db)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    first = store.enqueue(OutMessage("gone", "lost post", key="a"), now)
    second = store.enqueue(OutMessage("gone", "another", key="b"), now)
    store.dead_letter(first, "403 not a member", now)
    store.dead_letter(second, "403 not a member", now)
    store.close()
    assert main(["outbox", "--db", str(db)]) == 0
    assert "**Undelivered messages** (2, newest first)" in capsys.readouterr().out
    assert main(["outbox", "retry", str(first), "--db", str(db)]) == 0
    assert main(["outbox", "drop", str(second), "--db", str(db)]) == 0
    assert main(["outbox", "drop", "999", "--db", str(db)]) == 1
    assert "There is no undelivered message #999." in capsys.readouterr().out
    assert main(["outbox", "--db", str(db)]) == 0
    assert "Nothing is stuck" in capsys.readouterr().out
    assert main(["outbox", "retry", "--db", str(db)]) == 2
