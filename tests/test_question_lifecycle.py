"""Every question's life ends: a bot answer nobody rated closes itself after the configured time,
saying so in its thread, and a reply there brings a shifter in."""

from __future__ import annotations

from datetime import timedelta

from conftest import ShiftBot

from dastbot.report.stats import build_report, week_label

KNOWN = "my task is exhausted what does it mean"


async def test_an_unrated_answer_closes_after_three_days_and_a_reply_reopens_it(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.start()
    [answer] = await shiftbot.say("alice", KNOWN, post_id="q1")
    assert answer.root_id == "q1"
    assert shiftbot.store.question("q1")["state"] == "answered"  # type: ignore[index]

    assert [m for m in await shiftbot.wait(timedelta(hours=71)) if m.root_id == "q1"] == []
    [closed] = [m for m in await shiftbot.wait(timedelta(hours=2)) if m.root_id == "q1"]
    assert closed.message.startswith("Nobody said whether this answer helped")
    assert "after 3 days" in closed.message and "did not help" in closed.message
    assert shiftbot.store.question("q1")["state"] == "resolved"  # type: ignore[index]
    kinds = [e["kind"] for e in shiftbot.store.events("q1")]
    assert kinds[-1] == "closed_no_feedback"

    shiftbot.book("2026-03-05", "EU", "sam")
    [reply] = await shiftbot.say("alice", "sorry, it did not help", thread="q1")
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]
    assert "@sam" in reply.message


async def test_the_weekly_report_counts_a_closed_unrated_answer_as_no_feedback(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.start()
    await shiftbot.say("alice", KNOWN, post_id="q1")
    week = week_label(shiftbot.clock.now().date())
    await shiftbot.wait(timedelta(days=4))
    report = build_report(shiftbot.store, week, shiftbot.router.duty.calendar)
    assert report.this.questions.bot_no_feedback == 1
    assert report.this.questions.outcomes["bot_no_feedback"] == 1
    assert report.this.questions.open_at_end == 0
