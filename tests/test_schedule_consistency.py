"""A schedule that stays consistent: only rostered people of the right level hold a slot, trainee-
only slots are pinged and exported, two shifts in a day are pointed out, both people of a swap
hear of it, and CERN's own days off come ready-made.

The roster (conftest): sam and nick are shifters (EU, NA), tina a trainee, cora and nora the
coordinators. The clock starts on Monday 2 March 2026, 09:00 UTC (10:00 in Geneva, the EU slot).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import ShiftBot
from test_cli import run

from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config
from dastbot.kernel.settings import ShiftSettings
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.closures import cern_day_off
from dastbot.store import Store

WEATHER = "what is the weather in Rabat tomorrow?"


# --- who may hold a slot -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("ghost", "ghost is not in the shifter roster"),
        ("@channel", "@channel is not a person: a shift goes to one person from the roster"),
        ("@here", "@here is not a person: a shift goes to one person from the roster"),
        (
            "tina",
            "tina is a trainee in the roster, so cannot be the slot's shifter; book them as "
            "trainee with `/dast shift book DATE SLOT tina`",
        ),
    ],
)
async def test_a_swap_to_someone_who_cannot_hold_the_slot_is_refused_with_the_reason(
    shiftbot: ShiftBot, target: str, why: str
) -> None:
    shiftbot.book("2026-03-04", "EU", "sam")
    for user in ("sam", "cora"):  # the shifter asking, or a coordinator doing it at once
        reply = await shiftbot.command(user, f"shift swap 2026-03-04 EU {target}")
        assert reply.text == f"Cannot hand EU on 2026-03-04 to {target.lstrip('@')}: {why}."
    assert shiftbot.store.assignment(date(2026, 3, 4), "EU").shifter == "sam"  # type: ignore[union-attr]
    assert shiftbot.store.pending_swaps() == []
    refusals = shiftbot.store.events(kind="command_refused")
    assert [(r["actor"], r["data"]["command"]) for r in refusals] == [
        ("sam", "shift swap"),
        ("cora", "shift swap"),
    ]


async def test_booking_someone_outside_the_roster_is_refused(shiftbot: ShiftBot) -> None:
    reply = await shiftbot.command("cora", "shift book 2026-03-04 EU @channel")
    assert reply.text == (
        "Cannot book: @channel is not a person: a shift goes to one person from the roster."
    )
    reply = await shiftbot.command("cora", "shift book 2026-03-04 EU ghost")
    assert reply.text == "Cannot book: ghost is not in the shifter roster."


# --- swaps tell both people --------------------------------------------------------------------


async def test_approving_a_swap_tells_the_requester_and_the_new_holder(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-04", "EU", "sam")
    await shiftbot.command("sam", "shift swap 2026-03-04 EU nick")
    before = len(shiftbot.chat.sent)
    reply = await shiftbot.command("cora", "shift approve 1")
    assert reply.text == "Swap #1 done: nick now holds EU on 2026-03-04."
    sent = {m.channel_id: m.message for _, m in shiftbot.chat.sent[before:]}
    assert sent == {
        "@sam": "cora approved swap #1: nick now holds EU on Wed 04 Mar 2026 instead of you.",
        "@nick": "cora approved swap #1: you now hold EU on Wed 04 Mar 2026 (it was sam's). "
        "`/dast shift list` shows your shifts.",
    }


async def test_a_coordinators_own_swap_tells_both_shifters(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-04", "EU", "sam")
    before = len(shiftbot.chat.sent)
    await shiftbot.command("cora", "shift swap 2026-03-04 EU nick")
    assert sorted(m.channel_id for _, m in shiftbot.chat.sent[before:]) == ["@nick", "@sam"]


# --- two shifts in one day ---------------------------------------------------------------------


async def test_booking_eu_and_na_on_one_day_warns(shiftbot: ShiftBot) -> None:
    assert (await shiftbot.command("sam", "shift book 2026-03-04 EU")).text == (
        "Booked sam as shifter for EU on Wed 04 Mar 2026."
    )
    assert (await shiftbot.command("sam", "shift book 2026-03-04 NA")).text == (
        "Booked sam as shifter for NA on Wed 04 Mar 2026. Note: sam is also booked for EU on "
        "2026-03-04, so that is 2 shifts in one day; release one if that was not meant."
    )
    booked = shiftbot.store.assignments(date(2026, 3, 4), date(2026, 3, 4))
    assert {slot for _, slot in booked} == {"EU", "NA"}  # a warning, not a refusal


# --- a trainee-only slot -----------------------------------------------------------------------


async def test_on_a_trainee_only_slot_the_trainee_is_asked_and_nobody_says_no_one_is_there(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", None, "tina")
    shiftbot.book("2026-03-02", "NA", "nick")
    [reply] = await shiftbot.say("alice", WEATHER, post_id="q1")
    assert "Nobody is on shift" not in reply.message
    assert reply.message.endswith(
        "@tina, could you take this one? (No 1st-level shifter on this shift; the next one "
        "starts Monday 2 March, 15:00 UTC (in 6 hours).)"
    )
    question = shiftbot.store.question("q1")
    assert question is not None
    assert question["pinged_at"] == "2026-03-02T09:00:00.000+00:00"
    assert question["waiting_for"] == "2026-03-02T15:00:00.000+00:00"
    oncall = await shiftbot.command("alice", "oncall")
    assert oncall.text.startswith("On shift now (EU): trainee @tina, no 1st-level shifter.")


async def test_a_trainee_alone_for_weeks_is_asked_and_the_coordinators_are_told(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-02", "EU", None, "tina")
    [reply] = await shiftbot.say("alice", WEATHER, post_id="q1")
    assert reply.message.endswith(
        "@tina, could you take this one? (No 1st-level shifter on this shift, nor in the coming "
        "weeks, so the coordinators are told too.)"
    )
    question = shiftbot.store.question("q1")
    assert question is not None
    assert question["coordinator_due"] == "2026-03-02T09:00:00.000+00:00"


def test_trainee_only_bookings_are_exported_as_yaml_and_icalendar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DASTBOT_CONFIG", "DASTBOT_KB", "DASTBOT_DB"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "bot.yaml").write_text(
        "roster:\n  - {user: sam, zone: EU}\n  - {user: tina, zone: EU, level: trainee}\n"
    )
    (tmp_path / "rota.yaml").write_text(
        "- {date: 2026-03-30, slot: EU, trainee: tina}\n"
        "- {date: 2026-03-30, slot: NA, shifter: sam}\n"
    )
    common = ["--config", str(tmp_path / "bot.yaml"), "--db", str(tmp_path / "s.db")]
    code, out, _ = run(["shifts", "import", str(tmp_path / "rota.yaml"), *common], capsys)
    assert (code, out.split(" into ")[0]) == (0, "imported 2 assignment(s)")
    code, out, _ = run(["shifts", "export", "--from", "2026-03-30", "--days", "1", *common], capsys)
    assert out == (
        "- date: 2026-03-30\n  slot: EU\n  trainee: tina\n"
        "- date: 2026-03-30\n  slot: NA\n  shifter: sam\n"
    )
    code, out, _ = run(["shifts", "export", "--ics", "--from", "2026-03-30", *common], capsys)
    assert "SUMMARY:DAST EU shift: trainee tina only (no 1st-level shifter)" in out
    assert "SUMMARY:DAST NA shift: sam" in out


# --- CERN's own days off -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2026-05-01", "CERN official holiday: 1 May"),
        ("2026-12-24", "CERN official holiday: Christmas Eve"),
        ("2026-12-28", "CERN end-of-year closure"),
        ("2027-01-01", "CERN official holiday: New Year's Day"),
        ("2027-01-02", "CERN end-of-year closure"),
        ("2026-04-03", "CERN official holiday: Good Friday"),
        ("2026-05-14", "CERN official holiday: Ascension Day"),
        ("2026-05-25", "CERN official holiday: Whit Monday"),
        ("2026-09-10", "CERN official holiday: Jeûne genevois"),
        ("2024-09-05", "CERN official holiday: Jeûne genevois"),
        ("2026-12-23", None),
        ("2027-01-04", None),
        ("2026-08-01", None),  # the Swiss National Day is not a CERN holiday
    ],
)
def test_cern_days_off_follow_the_staff_rules(day: str, reason: str | None) -> None:
    assert cern_day_off(date.fromisoformat(day)) == reason


def test_the_cern_preset_takes_the_days_off_out_of_the_rota_without_typing_them() -> None:
    plain = Calendar(ShiftSettings(holidays_country=""))
    cern = Calendar(ShiftSettings(holidays_country="", closures_preset="cern"))
    assert plain.is_working_day(date(2026, 5, 1))
    assert not cern.is_working_day(date(2026, 5, 1))
    assert cern.off_reason(date(2026, 5, 1)) == "CERN official holiday: 1 May"
    assert [d.day for d in _working_days(cern, date(2026, 12, 21), date(2027, 1, 8))] == [
        21, 22, 23, 4, 5, 6, 7, 8,
    ]  # fmt: skip
    with_geneva = Calendar(ShiftSettings(closures_preset="cern"))
    assert with_geneva.off_reason(date(2026, 12, 25)) == "public holiday: Christmas Day"


def test_the_preset_is_checked_and_read_from_the_environment() -> None:
    from dastbot.kernel.config import ConfigError, load_config

    assert load_config(None, {"DASTBOT_SHIFTS_CLOSURES_PRESET": "CERN"}).shifts.closures_preset == (
        "cern"
    )
    with pytest.raises(ConfigError, match="unknown closures preset 'desy': use cern"):
        load_config(None, {"DASTBOT_SHIFTS_CLOSURES_PRESET": "desy"})


async def test_a_shift_cannot_be_booked_on_a_cern_holiday(config: Config, store: Store) -> None:
    cern = config.model_copy(
        update={"shifts": config.shifts.model_copy(update={"closures_preset": "cern"})}
    )
    bot = ShiftBot(cern, store, FakeClock(datetime(2026, 4, 27, 9, 0, tzinfo=UTC)))
    reply = await bot.command("sam", "shift book 2026-05-01 EU")
    assert reply.text == (
        "Cannot book: there are no shifts on 2026-05-01 (CERN official holiday: 1 May)."
    )


def _working_days(calendar: Calendar, first: date, last: date) -> list[date]:
    from dastbot.shifts.calendar import local_days

    return [d for d in local_days(first, last) if calendar.is_working_day(d)]
