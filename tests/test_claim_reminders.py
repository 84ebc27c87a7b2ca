"""Taken questions whose taker goes quiet: a reminder in the thread after two working days, the
coordinator after four, counted again from the taker's next word; weekends, Geneva's holidays and
the change to summer time included. The clock is moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import ShiftBot

from dastbot.kernel.events import EventKind
from dastbot.kernel.models import OutMessage

WEATHER = "what is the weather in Rabat tomorrow?"
COORDINATORS = "dast-coordinators"


def about_q1(posted: list[OutMessage]) -> list[str]:
    """What was said in q1's thread, and what the coordinators heard about it (not handovers)."""
    return [
        m.message
        for m in posted
        if m.root_id == "q1" or (m.channel_id == COORDINATORS and "was taken by" in m.message)
    ]


async def taken_by_sam(shiftbot: ShiftBot, at: datetime) -> None:
    shiftbot.clock.set(at)
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    await shiftbot.command("sam", "take", thread="q1")


async def test_a_quiet_taker_is_reminded_after_two_working_days_then_the_coordinator_is_told(
    shiftbot: ShiftBot,
) -> None:
    await taken_by_sam(shiftbot, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # Monday

    assert about_q1(await shiftbot.wait(timedelta(days=2) - timedelta(minutes=1))) == []
    assert about_q1(await shiftbot.wait(timedelta(minutes=1))) == [
        "@sam: you took this question and have written nothing here for 2 d. Answer alice, "
        "give it back with `@dastbot release` so that the shifter on duty takes it, or close it "
        "with `@dastbot resolve` if it is solved."
    ]
    assert about_q1(await shiftbot.wait(timedelta(days=2) - timedelta(minutes=1))) == []
    [told] = about_q1(await shiftbot.wait(timedelta(minutes=1)))  # Friday 09:00 UTC
    assert told == (
        "@cora: [a question](https://chat.test/atlas/pl/q1) by alice was taken by sam, who has "
        "written nothing there for 4 d (4 working days; asked 4 d ago). Ask them, or take it over."
    )
    assert about_q1(await shiftbot.wait(timedelta(days=14))) == []  # once each
    trail = [e["kind"] for e in shiftbot.store.events("q1")]
    assert trail.count(EventKind.CLAIM_REMINDED) == 1
    assert trail.count(EventKind.CLAIM_COORDINATOR_TOLD) == 1


async def test_the_weekend_does_not_count_and_a_word_from_the_taker_starts_again(
    shiftbot: ShiftBot,
) -> None:
    await taken_by_sam(shiftbot, datetime(2026, 3, 6, 14, 0, tzinfo=UTC))  # Friday

    posted = await shiftbot.wait(timedelta(days=4) - timedelta(minutes=1))
    assert about_q1(posted) == []  # Saturday and Sunday are not working days
    [reminder] = about_q1(await shiftbot.wait(timedelta(minutes=1)))  # Tuesday 14:00 UTC
    assert reminder.startswith("@sam: you took this question and have written nothing here for 4 d")

    shiftbot.clock.advance(timedelta(hours=1))
    await shiftbot.say("sam", "Still on it, waiting for the site admins.", thread="q1")
    posted = await shiftbot.wait(timedelta(days=2) - timedelta(minutes=1))
    assert about_q1(posted) == []  # the coordinator's Thursday is gone with the reply
    [again] = about_q1(await shiftbot.wait(timedelta(minutes=1)))  # Thursday 15:00 UTC
    assert again.startswith("@sam: you took this question and have written nothing here for 2 d")


async def test_another_supporters_reply_counts_but_the_askers_does_not(shiftbot: ShiftBot) -> None:
    await taken_by_sam(shiftbot, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    shiftbot.clock.advance(timedelta(days=1))
    await shiftbot.say("alice", "any news?", thread="q1")
    shiftbot.clock.advance(timedelta(hours=2))
    await shiftbot.say("tina", "sam asked me to look: try another site.", thread="q1")

    posted = await shiftbot.wait(timedelta(days=2) - timedelta(minutes=1))
    assert about_q1(posted) == []
    [reminder] = about_q1(await shiftbot.wait(timedelta(minutes=1)))  # Thursday 11:00 UTC
    assert reminder.startswith("@sam: you took this question")


async def test_easter_holidays_in_geneva_and_summer_time_are_counted_right(
    shiftbot: ShiftBot,
) -> None:
    # Taken on Thursday 2 April 2026 at 10:00 in Geneva (CEST). Good Friday and Easter Monday are
    # public holidays there: the two working days are Tuesday 7 and Wednesday 8 April.
    await taken_by_sam(shiftbot, datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    posted = await shiftbot.wait(timedelta(days=6) - timedelta(minutes=1))
    assert about_q1(posted) == []
    assert len(about_q1(await shiftbot.wait(timedelta(minutes=1)))) == 1


async def test_across_the_change_to_summer_time_the_local_hour_is_kept(shiftbot: ShiftBot) -> None:
    # Taken on Friday 27 March 2026 at 10:00 in Geneva (CET, 09:00 UTC); summer time starts on
    # Sunday 29 March, so Tuesday 31 March at 10:00 in Geneva is 08:00 UTC.
    await taken_by_sam(shiftbot, datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    posted = await shiftbot.wait(timedelta(days=4) - timedelta(hours=1) - timedelta(minutes=1))
    assert about_q1(posted) == []
    assert len(about_q1(await shiftbot.wait(timedelta(minutes=1)))) == 1
    assert shiftbot.clock.now() == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)


async def test_a_resolved_question_is_not_chased(shiftbot: ShiftBot) -> None:
    await taken_by_sam(shiftbot, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await shiftbot.command("sam", "resolve", thread="q1")
    assert about_q1(await shiftbot.wait(timedelta(days=10))) == []
