"""Team transcripts: a month of bookings, swaps and releases and the credit it earns, load
against the sustainable rate in /dast shift load, the weekly summary and the coverage alert, a
trainee's promotion, and a newcomer's onboarding checklist, with the clock moved by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from conftest import ROSTER, ShiftBot

from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.team_settings import PromotionThreshold, TeamSettings
from dastbot.shifts.credits import COLUMNS, ledger, to_csv, zones_of
from dastbot.store import Store

COORDINATORS = "dast-coordinators"
WEATHER = "what is the weather in Rabat tomorrow?"
SITE_QUESTION = "my jobs at FZK-LCG2 all fail with stage-in errors"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def said(bot: ShiftBot, user: str, command: str, expected: str, thread: str = "") -> None:
    reply = await bot.command(user, command, thread=thread)
    assert expected in reply.text, reply.text


async def a_month_of_shifts(bot: ShiftBot) -> None:
    """March 2026 (CET, then CEST from the 29th); EU 08-16 and NA 16-24 Zurich time."""
    bot.clock.set(utc("2026-03-01T12:00:00"))
    for day in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-30"):
        await said(bot, "sam", f"shift book {day} EU", "Booked sam as shifter")
    for day, slot in (("2026-03-02", "EU"), ("2026-03-03", "EU"), ("2026-03-05", "NA")):
        await said(bot, "tina", f"shift book {day} {slot}", "Booked tina as trainee")
    for day in ("2026-03-02", "2026-03-03"):
        await said(bot, "nick", f"shift book {day} NA", "Booked nick as shifter")
    # A swap approved before the slot starts: Tue 3 NA counts for nora.
    bot.clock.set(utc("2026-03-02T12:00:00"))
    await said(bot, "nick", "shift swap 2026-03-03 NA nora", "Swap request #1 sent")
    await said(bot, "nora", "shift approve 1", "Swap #1 done: nora now holds NA on 2026-03-03")
    # A swap an hour after the slot started: Mon 2 NA still counts for nick.
    bot.clock.set(utc("2026-03-02T16:00:00"))
    await said(bot, "nora", "shift swap 2026-03-02 NA nora", "Swap #2 done")
    # During Tue 3 EU: sam takes and resolves one question and escalates another, then
    # releases the slot he is serving (it still counts for him: he held it at the start).
    bot.clock.set(utc("2026-03-03T08:00:00"))
    await bot.say("alice", WEATHER, post_id="q1")
    await said(bot, "sam", "take", "Done: the question is now claimed.", thread="q1")
    await said(bot, "sam", "resolve", "Done: the question is now resolved.", thread="q1")
    await bot.say("bob", SITE_QUESTION, post_id="q2")
    await said(bot, "sam", "escalate FZK-LCG2 all jobs fail there", "E1 opened", thread="q2")
    await said(bot, "sam", "shift release 2026-03-03 EU", "Released sam from EU")
    # A release before the slot starts, and a coordinator books it: Wed 4 EU counts for cora.
    await said(bot, "sam", "shift release 2026-03-04 EU", "Released sam from EU")
    await said(bot, "cora", "shift book 2026-03-04 EU", "Booked cora as shifter")
    # Tina's trainee-only slot on Thu 5 NA counts half for her; nobody else is booked.
    bot.clock.set(utc("2026-04-01T09:00:00"))


async def test_a_month_of_bookings_swaps_and_releases_earns_the_credit_counted_by_hand(
    shiftbot: ShiftBot,
) -> None:
    await a_month_of_shifts(shiftbot)
    reply = await shiftbot.command("cora", "shift credits 2026-03")
    lines = reply.text.splitlines()
    assert lines[0] == "**Shift credit 2026-03-01 to 2026-03-31** (served slots; credit by level)"
    assert lines[3:] == [
        "| sam | shifter | 3 | 0 | 3 | 0 | 3 | 1 | 1 | 1 |",
        "| tina | trainee | 2 | 1 | 0 | 3 | 1.5 | 0 | 0 | 0 |",
        "| cora | shifter | 1 | 0 | 1 | 0 | 1 | 0 | 0 | 0 |",
        "| nick | shifter | 0 | 1 | 1 | 0 | 1 | 0 | 0 | 0 |",
        "| nora | shifter | 0 | 1 | 1 | 0 | 1 | 0 | 0 | 0 |",
    ]
    assert lines[1] == (
        "| person | level | EU shifts | NA shifts | as shifter | as trainee | credit | taken "
        "| resolved | escalations |"
    )


async def test_a_shifter_sees_only_their_own_credit_and_a_bad_period_is_a_sentence(
    shiftbot: ShiftBot,
) -> None:
    await a_month_of_shifts(shiftbot)
    reply = await shiftbot.command("tina", "shift credits 2026-03")
    assert reply.text.splitlines()[3:] == ["| tina | trainee | 2 | 1 | 0 | 3 | 1.5 | 0 | 0 | 0 |"]
    reply = await shiftbot.command("cora", "shift credits March")
    assert reply.text == (
        "Cannot count credit: `March` is not a period: use a month `2026-03`, a week `2026-W10`, "
        "a day `2026-03-02`, a range `2026-03-01..2026-03-31`, `this-month` or `last-month`."
    )
    reply = await shiftbot.command("cora", "shift credits 2026-03-31..2026-03-01")
    assert reply.text == (
        "Cannot count credit: the period ends (2026-03-01) before it starts (2026-03-31)."
    )
    reply = await shiftbot.command("alice", "shift credits")
    assert reply.text.startswith("`/dast shift credits` needs the trainee role; you are a user.")


async def test_only_slots_that_ended_count(shiftbot: ShiftBot) -> None:
    await a_month_of_shifts(shiftbot)
    shiftbot.clock.set(utc("2026-04-01T09:00:00"))
    before = await shiftbot.command("cora", "shift credits 2026-03-02..2026-03-04")
    assert "| sam | shifter | 2 | 0 | 2 | 0 | 2 | 1 | 1 | 1 |" in before.text
    await said(shiftbot, "sam", "shift book 2026-04-02 EU", "Booked sam")
    reply = await shiftbot.command("sam", "shift credits 2026-04")
    assert reply.text.splitlines()[3:] == ["| sam | shifter | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |"]


async def test_the_csv_has_the_documented_columns_and_round_trips(
    shiftbot: ShiftBot, store: Store
) -> None:
    await a_month_of_shifts(shiftbot)
    config = shiftbot.app.config
    calendar = shiftbot.app.router.duty.calendar
    rows = ledger(
        store,
        calendar,
        shiftbot.app.router.duty.roster,
        config.people.credit,
        date(2026, 3, 1),
        date(2026, 3, 31),
        shiftbot.clock.now(),
    )
    text = to_csv(rows, zones_of(calendar))
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == [*COLUMNS, "shifts_EU", "shifts_NA"]
    read = {row["person"]: row for row in reader}
    assert read["tina"] == {
        "person": "tina",
        "zone": "EU",
        "level": "trainee",
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "shifter_shifts": "0",
        "trainee_shifts": "3",
        "credit": "1.5",
        "taken": "0",
        "resolved": "0",
        "escalations": "0",
        "shifts_EU": "2",
        "shifts_NA": "1",
    }
    assert {p: float(r["credit"]) for p, r in read.items()} == {
        "sam": 3.0,
        "tina": 1.5,
        "cora": 1.0,
        "nick": 1.0,
        "nora": 1.0,
    }
    assert (read["sam"]["taken"], read["sam"]["resolved"], read["sam"]["escalations"]) == (
        "1",
        "1",
        "1",
    )


async def test_credit_weights_come_from_bot_yaml(config: Config, store: Store) -> None:
    clock = FakeClock(utc("2026-03-01T12:00:00"))
    people = TeamSettings.model_validate({"credit": {"shifter": 1.0, "trainee": 0.25}})
    bot = ShiftBot(config.model_copy(update={"people": people}), store, clock)
    await said(bot, "tina", "shift book 2026-03-02 EU", "Booked tina as trainee")
    clock.set(utc("2026-03-03T00:00:00"))
    reply = await bot.command("tina", "shift credits 2026-03-02")
    assert "| tina | trainee | 1 | 0 | 0 | 1 | 0.25 | 0 | 0 | 0 |" in reply.text
