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


async def test_a_person_above_the_rate_is_flagged_in_load_the_weekly_summary_and_gaps(
    shiftbot: ShiftBot,
) -> None:
    for day in range(2, 7):
        shiftbot.book(f"2026-03-{day:02d}", "EU", "sam")
    shiftbot.book("2026-03-02", "NA", "nick")
    shiftbot.clock.set(utc("2026-03-02T06:00:00"))
    await shiftbot.start()
    posted = await shiftbot.wait(timedelta(days=7, hours=2, minutes=30))

    load = await shiftbot.command("cora", "shift load")
    assert load.text.splitlines()[:4] == [
        "**Load** (shifts served; sustainable: 2 per 4 weeks, 6 per 12 weeks)",
        "- EU: 5 of 19 slots staffed in the last 4 weeks (26%); 2 1st-level shifter(s) on the "
        "roster, 9.5 slots each, 1 under the rate",
        "- NA: 1 of 19 slots staffed in the last 4 weeks (5%); 2 1st-level shifter(s) on the "
        "roster, 9.5 slots each, 2 under the rate",
        "**Above the rate: sam.**",
    ]
    assert "| sam | EU | shifter | 5 | 5 | **above the rate** |" in load.text
    assert "| nick | NA | shifter | 1 | 1 | under the rate |" in load.text

    [summary] = [m for m in posted if m.key == "weekly-report:2026-W10"]
    assert "**Above the rate: sam.**" in summary.message
    assert "| sam | EU | shifter | 5 | 5 | **above the rate** |" in summary.message

    alerts = {m.key: m for m in posted if m.key.startswith("coverage:")}
    assert alerts["coverage:2026-03-02"].channel_id == COORDINATORS
    assert (
        "Under the rate of 2 shifts in 4 weeks in EU: cora (0 in 4 weeks), sam (0 in 4 weeks)."
        in alerts["coverage:2026-03-02"].message.splitlines()
    )
    assert (
        "Under the rate of 2 shifts in 4 weeks in EU: cora (0 in 4 weeks)."
        in alerts["coverage:2026-03-09"].message.splitlines()
    )


async def test_load_is_for_coordinators(shiftbot: ShiftBot) -> None:
    reply = await shiftbot.command("sam", "shift load")
    assert reply.text.startswith(
        "`/dast shift load` needs the coordinator role; you are a shifter."
    )
    reply = await shiftbot.command("cora", "shift load now")
    assert reply.text == "Usage: `/dast shift load` (no arguments)."


def promotable(config: Config, store: Store, clock: FakeClock) -> ShiftBot:
    people = TeamSettings(promotion=PromotionThreshold(shifts=2, threads=1))
    return ShiftBot(config.model_copy(update={"people": people}), store, clock)


async def test_a_trainee_reaching_the_threshold_is_announced_once_and_promoted_with_an_audit(
    config: Config, store: Store, clock: FakeClock
) -> None:
    bot = promotable(config, store, clock)
    bot.book("2026-03-02", "EU", "sam", "tina")
    bot.book("2026-03-03", "EU", "sam", "tina")
    await bot.start()
    await bot.say("alice", WEATHER, post_id="q1")
    await bot.say("tina", "I am looking at it.", thread="q1")
    record = await bot.command("tina", "roster record")
    assert record.text == (
        "Trainee records:\n- tina (EU): 0 of 2 shifts served as trainee, 1 of 1 question "
        "threads handled, 0 escalation(s) opened"
    )

    posted = await bot.wait(timedelta(days=1, hours=6))
    [notice] = [m for m in posted if m.key == "promotion-ready:tina"]
    assert notice.channel_id == COORDINATORS
    assert notice.message == (
        "@cora: trainee **tina** (EU) has reached the promotion threshold: 2 of 2 shifts served "
        "as trainee, 1 of 1 question threads handled, 0 escalation(s) opened. Promote with "
        "`/dast roster promote tina`."
    )
    bot.book("2026-03-04", "EU", "sam", "tina")
    posted = await bot.wait(timedelta(days=3))
    assert [m for m in posted if m.key.startswith("promotion-ready")] == []
    assert len(store.events(kind=EventKind.PROMOTION_READY)) == 1

    refused = await bot.command("sam", "roster promote tina")
    assert refused.text.startswith("`/dast roster promote` needs the coordinator role")
    bot.clock.advance(timedelta(minutes=5))
    done = await bot.command("cora", "roster promote @Tina")
    assert done.text == (
        "tina is now a 1st-level shifter (promoted by cora; `/dast roster history` shows the "
        "change)."
    )
    assert bot.router.roles.role_of("tina", "tina") == "shifter"
    again = await bot.command("cora", "roster promote tina")
    assert again.text == "Cannot promote: tina is already a 1st-level shifter."
    nobody = await bot.command("cora", "roster promote zed")
    assert nobody.text == "Cannot promote: zed is not on the roster."
    [change] = [c for c in store.roster_changes("tina") if c["change"] == "promoted"]
    assert (change["actor"], change["level"], change["detail"]) == (
        "cora",
        "shifter",
        {"was": "trainee"},
    )
    history = await bot.command("cora", "roster history tina")
    assert history.text == (
        "Roster changes, newest first:\n- 2026-03-06 15:05 UTC: tina promoted (EU, shifter) by cora"
    )
    booked = await bot.command("tina", "shift book 2026-03-09 NA")
    assert booked.text.startswith("Booked tina as shifter for NA on Mon 09 Mar 2026.")


NEWCOMER: dict[str, object] = {"user": "newt", "zone": "EU", "level": "trainee"}


async def test_a_newcomer_gets_one_checklist_and_ticking_every_item_stops_the_reminders(
    config: Config, store: Store, clock: FakeClock
) -> None:
    first = ShiftBot(config, store, clock)
    assert [m for m in await first.start() if m.key.startswith("onboarding")] == []

    clock.advance(timedelta(hours=1))
    joined = ShiftBot(config, store, clock, roster=[*ROSTER, NEWCOMER])
    [checklist] = [m for m in await joined.start() if m.key.startswith("onboarding")]
    assert checklist.channel_id == "@cora"
    assert checklist.message.splitlines() == [
        "@cora: **onboarding checklist for newt**, who joined the roster (EU, trainee). Tick "
        "each item when it is done (the buttons, or `/dast roster tick newt N`); open items are "
        "reminded weekly.",
        "1. activate the talk nomination in GLANCE (open)",
        "2. grant the channel permissions (open)",
        "3. send the introductory guide link (open)",
    ]
    assert [b.id for b in checklist.buttons] == ["tick1", "tick2", "tick3"]

    again = ShiftBot(config, store, clock, roster=[*ROSTER, NEWCOMER])
    assert [m for m in await again.start() if m.key.startswith("onboarding")] == []
    assert len(store.roster_changes("newt")) == 1

    post_id = joined.post_id_of(checklist)
    assert await joined.click("sam", post_id, "tick1") == (
        "Only coordinators can tick onboarding items."
    )
    assert await joined.click("cora", post_id, "tick1") == (
        "Ticked for newt: activate the talk nomination in GLANCE. 2 open item(s) left."
    )
    assert await joined.click("cora", post_id, "tick1") == (
        "Nothing to tick: every item 1 of newt's checklist is done."
    )

    posted = await joined.wait(timedelta(days=7))
    [reminder] = [m for m in posted if m.key.startswith("onboarding-reminder:newt")]
    assert reminder.channel_id == "@cora"
    assert reminder.message.splitlines() == [
        "@cora: reminder, the onboarding of **newt** has 2 open item(s) (checklist sent Mon 02 "
        "Mar 2026):",
        "2. grant the channel permissions (open)",
        "3. send the introductory guide link (open)",
    ]
    assert [b.id for b in reminder.buttons] == ["tick2", "tick3"]

    ticked = await joined.command("cora", "roster tick newt all")
    assert ticked.text == (
        "Ticked for newt: grant the channel permissions; send the introductory guide link. "
        "All done: no more reminders."
    )
    posted = await joined.wait(timedelta(days=21))
    assert [m for m in posted if m.key.startswith("onboarding")] == []
    checklist_now = await joined.command("cora", "roster checklist")
    assert checklist_now.text == "No onboarding checklist has open items."


async def test_roster_add_sends_the_zone_coordinator_one_checklist(shiftbot: ShiftBot) -> None:
    await shiftbot.start()
    added = await shiftbot.command("nora", "roster add @Nadia NA trainee")
    assert added.text == (
        "Added nadia to the roster (NA, trainee). The zone's coordinator got the onboarding "
        "checklist. Add them to `roster:` in bot.yaml too, so the file stays the reference."
    )
    [checklist] = [m for _, m in shiftbot.chat.sent if m.key == "onboarding:nadia"]
    assert checklist.channel_id == "@nora"
    assert shiftbot.router.roles.role_of("nadia", "nadia") == "trainee"
    booked = await shiftbot.command("nadia", "shift book 2026-03-09 NA")
    assert booked.text.startswith("Booked nadia as trainee")
    twice = await shiftbot.command("nora", "roster add nadia NA")
    assert twice.text == "Cannot add: nadia is already on the roster."
    for bad, why in (
        ("roster add bob XX", "Cannot add: `XX` is not a zone (EU, NA)."),
        ("roster add bob EU boss", "Cannot add: `boss` is not a level (shifter or trainee)."),
        ("roster add @channel EU", "Cannot add: `@\u200bchannel` is not a Mattermost username."),
        ("roster add bob", "Usage: `/dast roster add USER ZONE [shifter|trainee]`."),
    ):
        assert (await shiftbot.command("nora", bad)).text == why
    assert (await shiftbot.command("nora", "roster tick nadia 9")).text == (
        "`9` is not an item of nadia's checklist: give 1 to 3 or all."
    )
    assert (await shiftbot.command("nora", "roster tick zed 1")).text == (
        "zed has no onboarding checklist."
    )


async def test_with_bound_accounts_a_promotion_and_an_added_person_count_at_once(
    shiftbot: ShiftBot, store: Store
) -> None:
    roles = shiftbot.router.roles
    ids = {name: name for name in ("sam", "tina", "nick", "cora", "nora")}  # the test's ids
    assert roles.bind(ids, shiftbot.clock.now()) == []
    assert roles.role_of("tina", "tina") == "trainee"
    await said(shiftbot, "cora", "roster promote tina", "tina is now a 1st-level shifter")
    assert roles.role_of("tina", "tina") == "shifter"
    await said(shiftbot, "cora", "roster add newt EU trainee", "Added newt to the roster")
    assert roles.role_of("id-newt", "newt") == "trainee", "bound at the next start"
    assert roles.role_of("id-impostor", "cora") == "user", "a name bound at start stays bound"


async def test_the_weekly_summary_counts_credit_with_the_configured_weights(
    config: Config, store: Store, clock: FakeClock
) -> None:
    people = TeamSettings.model_validate({"credit": {"shifter": 2.0, "trainee": 0.25}})
    bot = ShiftBot(config.model_copy(update={"people": people}), store, clock)
    bot.book("2026-03-02", "EU", "sam", "tina")
    bot.clock.set(utc("2026-03-09T10:00:00"))
    reply = await bot.command("sam", "report 2026-W10")
    lines = reply.text.splitlines()
    assert "| sam | 1 | 0 | 2 | 0 |" in lines
    assert "| tina | 0 | 1 | 0.25 | 0 |" in lines
    assert "| tina | EU | trainee | 1 | 1 | under the rate |" in lines
