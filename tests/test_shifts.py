"""The DAST shift rota as a specification: slots, duty, staffed time, coverage and the schedule.

Shifts run Monday-Friday, EU 08:00-16:00 and NA 16:00-24:00 Geneva time (Europe/Zurich), except on
Geneva public holidays and CERN closures. All expectations are exact and written in UTC; in 2026
Europe/Zurich changes to summer time on Sunday 29 March and back on Sunday 25 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from pydantic import ValidationError

from dastbot.kernel.models import Assignment
from dastbot.kernel.settings import Person, ShiftSettings, SlotSpec
from dastbot.shifts.calendar import Calendar, SlotInstance, staffed_by
from dastbot.shifts.roster import check_roster, credit, role_of
from dastbot.shifts.schedule_file import parse_schedule, schedule_ics, schedule_yaml
from dastbot.shifts.staffing import (
    OnDuty,
    add_staffed_minutes,
    coverage_gaps,
    coverage_grid,
    next_boundary,
    no_reply_due,
    on_duty,
    slot_boundaries,
    staffed_minutes_between,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shifts"
GENEVA = ZoneInfo("Europe/Zurich")

ROSTER = [
    Person(user="carol", zone="EU", roles=["coordinator"]),
    Person(user="alice", zone="EU"),
    Person(user="bob", zone="EU", level="trainee"),
    Person(user="frank", zone="NA", roles=["coordinator", "panda-experts"]),
    Person(user="dave", zone="NA", roles=["panda-experts"]),
    Person(user="erin", zone="NA", level="trainee"),
]


def utc(text: str) -> datetime:
    """'2026-03-30 06:00' read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> datetime:
    """'2026-03-30 08:00' read as Geneva wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=GENEVA)


def d(text: str) -> date:
    return date.fromisoformat(text)


def assign(*rows: tuple[str, str, str | None, str | None]) -> dict[tuple[date, str], Assignment]:
    out = {}
    for when, slot, shifter, trainee in rows:
        a = Assignment(day=d(when), slot=slot, shifter=shifter, trainee=trainee)
        out[a.key] = a
    return out


def fully_staffed(first: str, last: str) -> dict[tuple[date, str], Assignment]:
    """alice on every EU slot and dave on every NA slot from ``first`` to ``last``."""
    out = {}
    current = d(first)
    while current <= d(last):
        for slot, shifter in (("EU", "alice"), ("NA", "dave")):
            out[(current, slot)] = Assignment(current, slot, shifter, None)
        current += timedelta(days=1)
    return out


def fixture_schedule() -> dict[tuple[date, str], Assignment]:
    parsed = parse_schedule((FIXTURES / "schedule.yaml").read_text(), "schedule.yaml", ROSTER)
    assert parsed.errors == [] and parsed.warnings == []
    return parsed.assignments


CAL = Calendar(ShiftSettings())


def span(slot: SlotInstance) -> tuple[str, str, str]:
    return (slot.name, slot.start.strftime("%Y-%m-%d %H:%M"), slot.end.strftime("%Y-%m-%d %H:%M"))


def name_at(calendar: Calendar, instant: datetime) -> str | None:
    slot = calendar.slot_at(instant)
    return slot.name if slot is not None else None


# --- configuration ---------------------------------------------------------------------------


def test_the_default_settings_are_the_dast_rota() -> None:
    settings = ShiftSettings()
    assert settings.model_dump() == {
        "timezone": "Europe/Zurich",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "slots": [
            {"name": "EU", "start": "08:00", "end": "16:00", "zone": "EU"},
            {"name": "NA", "start": "16:00", "end": "24:00", "zone": "NA"},
        ],
        "holidays_country": "CH",
        "holidays_subdivision": "GE",
        "closures": [],
        "closures_preset": "",
        "no_reply_minutes": 60,
        "ping_quiet_minutes": 30,
        "handover": "channel",
        "claim_reminder_days": 2,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Europe/Geneva"}, "unknown time zone 'Europe/Geneva'"),
        ({"timezone": "../etc/passwd"}, "unknown time zone"),
        ({"days": ["mon", "fri", "funday"]}, "unknown weekday(s) ['funday']"),
        ({"days": []}, "needs at least one weekday"),
        ({"holidays_country": "XX"}, "does not know country 'XX'"),
        ({"holidays_subdivision": "ZZ"}, "country CH has no subdivision 'ZZ'"),
        ({"closures": ["2026-12-24..2026-12-20"]}, "the range ends before it starts"),
        ({"closures": ["24.12.2026"]}, "neither YYYY-MM-DD nor YYYY-MM-DD..YYYY-MM-DD"),
        ({"closures": ["2026-02-30"]}, "day is out of range for month"),
        ({"no_reply_minutes": 0}, "greater than or equal to 1"),
        ({"ping_quiet_minutes": 0}, "greater than or equal to 1"),
        ({"handover": "email"}, "'channel' or 'dm'"),
        ({"slots": []}, "at least 1 item"),
        (
            {"slots": [{"name": "EU", "start": "08:00", "end": "16:00", "zone": "EU"}] * 2},
            "slot names must be unique: EU",
        ),
        (
            {
                "slots": [
                    {"name": "EU", "start": "08:00", "end": "17:00", "zone": "EU"},
                    {"name": "NA", "start": "16:00", "end": "24:00", "zone": "NA"},
                ]
            },
            "slots EU and NA overlap",
        ),
        ({"weekend": True}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_rejected_with_a_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ShiftSettings.model_validate(fields)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("16:00", "08:00", "start 16:00 is not before end 08:00"),
        ("08:00", "08:00", "start 08:00 is not before end 08:00"),
        ("8:00", "16:00", "'8:00' is not a time HH:MM"),
        ("08:00", "24:30", "'24:30' is not a time between 00:00 and 24:00"),
        ("08:60", "16:00", "'08:60' is not a time between 00:00 and 24:00"),
    ],
)
def test_a_slot_runs_forward_within_one_day(start: str, end: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlotSpec(name="EU", start=start, end=end, zone="EU")
    assert message in str(caught.value)


def test_settings_normalise_what_people_write() -> None:
    settings = ShiftSettings.model_validate(
        {
            "days": ["Friday", "mon", "TUE"],
            "holidays_country": "ch",
            "holidays_subdivision": "",
            "closures": [" 2026-12-21..2027-01-04 "],
        }
    )
    assert settings.days == ["mon", "tue", "fri"]
    assert settings.holidays_country == "CH"
    assert settings.holidays_subdivision is None
    assert settings.closure_ranges == [(d("2026-12-21"), d("2027-01-04"))]


def test_a_person_is_a_lower_case_username_with_a_level_and_roles() -> None:
    person = Person(user="@Alice", zone="EU")
    assert (person.user, person.level, person.roles) == ("alice", "shifter", [])
    with pytest.raises(ValidationError):
        Person(user="alice", zone="EU", level="expert")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Person(user="al ice", zone="EU")


def test_roster_check_names_duplicates_unknown_zones_and_roles_and_missing_coordinators() -> None:
    clean = check_roster(ROSTER, ShiftSettings(), groups=["panda-experts"])
    assert (clean.errors, clean.warnings) == ([], [])
    roster = [
        *ROSTER[1:],
        Person(user="alice", zone="APAC"),
        Person(user="dave", zone="NA"),
        Person(user="zoe", zone="NA", roles=["coord"]),
    ]
    check = check_roster(roster, ShiftSettings(), groups=["panda-experts", "rucio-experts"])
    assert check.errors == [
        "roster.5: alice is listed twice with another zone (EU at roster.0, APAC here); "
        "a person belongs to one zone",
        "roster.5: alice: zone 'APAC' is not the zone of any slot (EU, NA)",
        "roster.6: dave is listed twice (first at roster.3)",
        "roster.7: zoe: unknown role 'coord' (known roles: coordinator, panda-experts, "
        "rucio-experts); a misspelt role gives no rights",
    ]
    assert check.warnings == [
        "roster: slot zone EU has no coordinator, so its alerts mention nobody; give someone "
        "in zone EU `roles: [coordinator]`"
    ]
    assert check_roster([], ShiftSettings()).warnings[0].startswith("roster: empty")


def test_a_misspelt_coordinator_role_is_refused_when_the_configuration_loads() -> None:
    with pytest.raises(ValidationError, match="unknown role 'coordinatr': did you mean"):
        Person(user="cora", zone="EU", roles=["coordinatr"])
    assert Person(user="cora", zone="EU", roles=[" Coordinator "]).roles == ["coordinator"]


# --- working days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2026-03-27", None),
        ("2026-03-28", "weekend"),
        ("2026-03-29", "weekend"),
        ("2026-01-01", "public holiday: New Year's Day"),
        ("2026-04-03", "public holiday: Good Friday"),
        ("2026-04-06", "public holiday: Easter Monday"),
        ("2026-05-14", "public holiday: Ascension Day"),
        ("2026-08-01", "weekend"),  # Swiss National Day falls on a Saturday in 2026
        ("2026-09-10", "public holiday: Genevan Fast"),  # Jeune genevois, Geneva only
        ("2026-12-25", "public holiday: Christmas Day"),
        ("2026-12-31", "public holiday: Restoration Day"),  # Restauration, Geneva only
        ("2026-12-24", "closure"),
        ("2026-12-18", "closure"),
        ("2027-01-04", "closure"),
        ("2027-01-05", None),
        ("2026-12-17", None),
    ],
)
def test_shifts_run_on_weekdays_that_are_no_geneva_holiday_and_no_closure(
    when: str, reason: str | None
) -> None:
    calendar = Calendar(ShiftSettings(closures=["2026-12-18", "2026-12-21..2027-01-04"]))
    assert calendar.off_reason(d(when)) == reason
    assert calendar.is_working_day(d(when)) is (reason is None)
    assert (calendar.slots_on(d(when)) == []) is (reason is not None)


def test_holiday_names_come_from_the_country_and_subdivision() -> None:
    assert CAL.holiday_name(d("2026-09-10")) == "Genevan Fast"
    assert CAL.holiday_name(d("2026-09-11")) is None
    national = Calendar(ShiftSettings(holidays_subdivision=None))
    assert national.holiday_name(d("2026-09-10")) is None
    assert national.is_working_day(d("2026-09-10"))
    assert national.holiday_name(d("2026-12-25")) == "Christmas Day"
    none = Calendar(ShiftSettings(holidays_country=""))
    assert none.is_working_day(d("2026-12-25"))


def test_slots_stay_at_local_wall_clock_time_across_daylight_saving_changes() -> None:
    assert [span(s) for s in CAL.slots_on(d("2026-03-23"))] == [
        ("EU", "2026-03-23 07:00", "2026-03-23 15:00"),
        ("NA", "2026-03-23 15:00", "2026-03-23 23:00"),
    ]
    assert [span(s) for s in CAL.slots_on(d("2026-03-30"))] == [
        ("EU", "2026-03-30 06:00", "2026-03-30 14:00"),
        ("NA", "2026-03-30 14:00", "2026-03-30 22:00"),
    ]
    assert [span(s) for s in CAL.slots_on(d("2026-10-23"))] == [
        ("EU", "2026-10-23 06:00", "2026-10-23 14:00"),
        ("NA", "2026-10-23 14:00", "2026-10-23 22:00"),  # 24:00 local is midnight CEST
    ]
    assert [span(s) for s in CAL.slots_on(d("2026-10-26"))] == [
        ("EU", "2026-10-26 07:00", "2026-10-26 15:00"),
        ("NA", "2026-10-26 15:00", "2026-10-26 23:00"),
    ]
    slot = CAL.slots_on(d("2026-03-30"))[0]
    assert slot.key == (d("2026-03-30"), "EU")
    assert slot.zone == "EU"
    assert slot.start.tzinfo is UTC


def test_a_slot_spanning_the_change_is_one_hour_shorter_in_march_and_longer_in_october() -> None:
    every_day = ShiftSettings(
        days=list(("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        slots=[
            SlotSpec(name="NIGHT", start="00:00", end="08:00", zone="APAC"),
            SlotSpec(name="EU", start="08:00", end="16:00", zone="EU"),
            SlotSpec(name="NA", start="16:00", end="24:00", zone="NA"),
        ],
        holidays_country="",
    )
    calendar = Calendar(every_day)
    assert [span(s) for s in calendar.slots_on(d("2026-03-28"))][-1] == (
        "NA",
        "2026-03-28 15:00",
        "2026-03-28 23:00",  # Saturday 24:00 CET
    )
    assert [span(s) for s in calendar.slots_on(d("2026-03-29"))] == [
        ("NIGHT", "2026-03-28 23:00", "2026-03-29 06:00"),  # 7 hours
        ("EU", "2026-03-29 06:00", "2026-03-29 14:00"),
        ("NA", "2026-03-29 14:00", "2026-03-29 22:00"),
    ]
    assert [span(s) for s in calendar.slots_on(d("2026-10-25"))] == [
        ("NIGHT", "2026-10-24 22:00", "2026-10-25 07:00"),  # 9 hours
        ("EU", "2026-10-25 07:00", "2026-10-25 15:00"),
        ("NA", "2026-10-25 15:00", "2026-10-25 23:00"),
    ]

    def always(_slot: SlotInstance) -> bool:
        return True

    # A staffed-around-the-clock Sunday holds 23 hours in March and 25 in October.
    assert staffed_minutes_between(
        calendar, always, local("2026-03-29 00:00"), local("2026-03-30 00:00")
    ) == (23 * 60)
    assert staffed_minutes_between(
        calendar, always, local("2026-10-25 00:00"), local("2026-10-26 00:00")
    ) == (25 * 60)
    # 02:30 on 2026-10-25 happens twice; both are in the night slot.
    assert name_at(calendar, utc("2026-10-25 00:30")) == "NIGHT"
    assert name_at(calendar, utc("2026-10-25 01:30")) == "NIGHT"


def test_slot_at_is_start_inclusive_and_end_exclusive() -> None:
    assert CAL.slot_at(utc("2026-03-30 05:59")) is None
    slot = CAL.slot_at(utc("2026-03-30 06:00"))
    assert slot is not None and span(slot) == ("EU", "2026-03-30 06:00", "2026-03-30 14:00")
    assert name_at(CAL, utc("2026-03-30 13:59:59")) == "EU"
    assert name_at(CAL, utc("2026-03-30 14:00")) == "NA"
    assert CAL.slot_at(utc("2026-03-30 22:00")) is None
    assert CAL.slot_at(local("2026-03-30 08:00")) == CAL.slot_at(utc("2026-03-30 06:00"))
    with pytest.raises(ValueError, match="not timezone-aware"):
        CAL.slot_at(datetime(2026, 3, 30, 8, 0))


def test_slots_between_lists_the_slots_overlapping_a_window() -> None:
    slots = CAL.slots_between(utc("2026-03-27 10:00"), utc("2026-03-30 07:00"))
    assert [s.key for s in slots] == [
        (d("2026-03-27"), "EU"),  # in force at the start
        (d("2026-03-27"), "NA"),
        (d("2026-03-30"), "EU"),  # started before the end
    ]
    assert CAL.slots_between(utc("2026-03-27 23:00"), utc("2026-03-30 06:00")) == []


def test_next_slot_start_skips_slots_that_are_not_staffed() -> None:
    staffed = staffed_by(fixture_schedule())
    after = utc("2026-03-23 15:00")  # Monday NA just started
    any_slot = CAL.next_slot_start(after)
    assert any_slot is not None and any_slot.key == (d("2026-03-24"), "EU")
    nxt = CAL.next_slot_start(after, staffed)
    assert nxt is not None and nxt.key == (d("2026-03-27"), "EU")  # Tue-Thu are unstaffed
    assert CAL.next_slot_start(utc("2026-03-31 00:00"), staffed) is None  # nothing scheduled


# --- who is on duty --------------------------------------------------------------------------


def duty(at: datetime, assignments: dict[tuple[date, str], Assignment] | None = None) -> Any:
    schedule = fixture_schedule() if assignments is None else assignments
    return on_duty(CAL, schedule, ROSTER, at).as_json()


def answer(
    at: str,
    slot: str | None,
    shifter: str | None,
    trainee: str | None,
    coordinator: str | None,
    next_slot_start: str | None,
) -> dict[str, str | None]:
    return {
        "at": at,
        "slot": slot,
        "shifter": shifter,
        "trainee": trainee,
        "coordinator": coordinator,
        "next_slot_start": next_slot_start,
    }


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Winter time: Monday 08:00 in Geneva is 07:00Z.
        (
            "2026-03-23 06:59",
            answer("2026-03-23T06:59:00Z", None, None, None, "carol", "2026-03-23T07:00:00Z"),
        ),
        (
            "2026-03-23 07:00",
            answer("2026-03-23T07:00:00Z", "EU", "alice", "bob", "carol", "2026-03-23T15:00:00Z"),
        ),
        # NA from 16:00 Geneva; the next staffed slot is Friday, Tuesday to Thursday are empty.
        (
            "2026-03-23 15:00",
            answer("2026-03-23T15:00:00Z", "NA", "dave", None, "frank", "2026-03-27T07:00:00Z"),
        ),
        # An unstaffed slot is still the slot in force; its zone's coordinator is named.
        (
            "2026-03-24 10:00",
            answer("2026-03-24T10:00:00Z", "EU", None, None, "carol", "2026-03-27T07:00:00Z"),
        ),
        (
            "2026-03-24 20:00",
            answer("2026-03-24T20:00:00Z", "NA", None, None, "frank", "2026-03-27T07:00:00Z"),
        ),
        # Friday NA ends at 24:00 CET = 23:00Z; Monday starts at 08:00 CEST = 06:00Z.
        (
            "2026-03-27 22:59",
            answer("2026-03-27T22:59:00Z", "NA", "frank", "erin", "frank", "2026-03-30T06:00:00Z"),
        ),
        (
            "2026-03-27 23:00",
            answer("2026-03-27T23:00:00Z", None, None, None, "carol", "2026-03-30T06:00:00Z"),
        ),
        (
            "2026-03-28 12:00",
            answer("2026-03-28T12:00:00Z", None, None, None, "carol", "2026-03-30T06:00:00Z"),
        ),
        (
            "2026-03-29 01:30",  # Sunday 03:30 CEST, just after the clocks went forward
            answer("2026-03-29T01:30:00Z", None, None, None, "carol", "2026-03-30T06:00:00Z"),
        ),
        (
            "2026-03-30 05:59",  # Monday 07:59 CEST
            answer("2026-03-30T05:59:00Z", None, None, None, "carol", "2026-03-30T06:00:00Z"),
        ),
        (
            "2026-03-30 06:00",  # Monday 08:00 CEST
            answer("2026-03-30T06:00:00Z", "EU", "alice", None, "carol", "2026-03-30T14:00:00Z"),
        ),
        (
            "2026-03-30 14:00",  # inside the last staffed slot: nothing staffed after it
            answer("2026-03-30T14:00:00Z", "NA", "dave", None, "frank", None),
        ),
        # Off duty with nothing staffed ahead: the coordinator of the next slot's zone.
        (
            "2026-03-30 22:00",
            answer("2026-03-30T22:00:00Z", None, None, None, "carol", None),
        ),
    ],
)
def test_on_duty_around_the_march_change(at: str, expected: dict[str, str | None]) -> None:
    assert duty(utc(at)) == expected


OCTOBER = fully_staffed("2026-10-22", "2026-10-27") | assign(("2026-10-26", "EU", "carol", "bob"))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (
            "2026-10-23 13:59",  # Friday 15:59 CEST
            answer("2026-10-23T13:59:00Z", "EU", "alice", None, "carol", "2026-10-23T14:00:00Z"),
        ),
        (
            "2026-10-23 21:59",  # Friday 23:59 CEST
            answer("2026-10-23T21:59:00Z", "NA", "dave", None, "frank", "2026-10-26T07:00:00Z"),
        ),
        (
            "2026-10-23 22:00",  # Friday 24:00 CEST
            answer("2026-10-23T22:00:00Z", None, None, None, "carol", "2026-10-26T07:00:00Z"),
        ),
        (
            "2026-10-25 00:30",  # Sunday 02:30 CEST, the first time
            answer("2026-10-25T00:30:00Z", None, None, None, "carol", "2026-10-26T07:00:00Z"),
        ),
        (
            "2026-10-26 06:00",  # Monday 07:00 CET: last week this was 08:00 CEST
            answer("2026-10-26T06:00:00Z", None, None, None, "carol", "2026-10-26T07:00:00Z"),
        ),
        (
            "2026-10-26 07:00",  # Monday 08:00 CET
            answer("2026-10-26T07:00:00Z", "EU", "carol", "bob", "carol", "2026-10-26T15:00:00Z"),
        ),
        (
            "2026-10-26 22:59",  # Monday 23:59 CET
            answer("2026-10-26T22:59:00Z", "NA", "dave", None, "frank", "2026-10-27T07:00:00Z"),
        ),
    ],
)
def test_on_duty_around_the_october_change(at: str, expected: dict[str, str | None]) -> None:
    assert duty(utc(at), OCTOBER) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Christmas Day is a Friday; Thursday 31 December is Restoration Day in Geneva.
        (
            "2026-12-24 23:00",
            answer("2026-12-24T23:00:00Z", None, None, None, "carol", "2026-12-28T07:00:00Z"),
        ),
        (
            "2026-12-25 10:00",
            answer("2026-12-25T10:00:00Z", None, None, None, "carol", "2026-12-28T07:00:00Z"),
        ),
        (
            "2026-12-30 23:00",
            answer("2026-12-30T23:00:00Z", None, None, None, "carol", "2027-01-04T07:00:00Z"),
        ),
        # Jeune genevois, Thursday 10 September.
        (
            "2026-09-10 08:00",
            answer("2026-09-10T08:00:00Z", None, None, None, "carol", "2026-09-11T06:00:00Z"),
        ),
    ],
)
def test_nobody_is_on_duty_on_geneva_holidays(at: str, expected: dict[str, str | None]) -> None:
    schedule = fully_staffed("2026-09-07", "2026-09-18") | fully_staffed("2026-12-21", "2027-01-08")
    assert duty(utc(at), schedule) == expected


def test_nobody_is_on_duty_during_a_closure_even_when_the_schedule_names_someone() -> None:
    calendar = Calendar(ShiftSettings(closures=["2026-12-21..2027-01-04"]))
    schedule = fully_staffed("2026-12-14", "2027-01-08")
    assert on_duty(calendar, schedule, ROSTER, utc("2026-12-21 10:00")).as_json() == answer(
        "2026-12-21T10:00:00Z", None, None, None, "carol", "2027-01-05T07:00:00Z"
    )
    assert on_duty(calendar, schedule, ROSTER, utc("2026-12-18 22:00")).as_json() == answer(
        "2026-12-18T22:00:00Z", "NA", "dave", None, "frank", "2027-01-05T07:00:00Z"
    )


def test_the_coordinator_off_duty_is_of_the_zone_of_the_next_staffed_slot() -> None:
    schedule = assign(("2026-03-30", "NA", "dave", None))  # Monday EU left empty
    assert duty(utc("2026-03-28 12:00"), schedule)["coordinator"] == "frank"
    assert duty(utc("2026-03-30 08:00"), schedule)["coordinator"] == "carol"  # EU in force
    no_coordinators = [p for p in ROSTER if "coordinator" not in p.roles]
    assert on_duty(CAL, schedule, no_coordinators, utc("2026-03-28 12:00")).coordinator is None


def test_on_duty_json_has_exactly_the_documented_fields_in_utc() -> None:
    state = on_duty(CAL, fixture_schedule(), ROSTER, local("2026-03-30 08:00:30.25"))
    assert isinstance(state, OnDuty)
    assert state.at == utc("2026-03-30 06:00:30.25")
    assert state.next_slot_start == utc("2026-03-30 14:00")
    assert state.as_json() == answer(
        "2026-03-30T06:00:30Z", "EU", "alice", None, "carol", "2026-03-30T14:00:00Z"
    )


# --- staffed time and the no-reply rule -----------------------------------------------------


def test_the_no_reply_clock_runs_only_in_staffed_time_across_a_night() -> None:
    staffed = staffed_by(fully_staffed("2026-03-23", "2026-03-27"))
    asked = local("2026-03-24 23:30")  # 30 minutes before NA ends
    assert no_reply_due(CAL, staffed, asked) == (
        utc("2026-03-25 07:30"),  # 30 min on Tuesday night + 30 min from Wednesday 08:00
        utc("2026-03-25 08:30"),  # the same again: escalate to the coordinator
    )
    assert staffed_minutes_between(CAL, staffed, asked, utc("2026-03-25 12:00")) == 330.0


def test_the_no_reply_clock_stops_over_a_weekend_and_the_daylight_saving_change() -> None:
    staffed = staffed_by(fixture_schedule())
    asked = utc("2026-03-27 22:30")  # Friday 23:30 CET
    reping, escalate = no_reply_due(CAL, staffed, asked)
    assert reping == utc("2026-03-30 06:30")  # Monday 08:30 CEST
    assert escalate == utc("2026-03-30 07:30")
    assert reping is not None
    assert staffed_minutes_between(CAL, staffed, asked, reping) == 60.0
    assert reping - asked == timedelta(hours=56)  # 57 hours on the wall clock, minus one


def test_unstaffed_slots_do_not_count_towards_the_no_reply_time() -> None:
    staffed = staffed_by(fixture_schedule())
    asked = utc("2026-03-23 22:45")  # Monday 23:45; Tuesday to Thursday have nobody
    assert add_staffed_minutes(CAL, staffed, asked, 60) == utc("2026-03-27 07:45")
    assert (
        staffed_minutes_between(CAL, staffed, utc("2026-03-24 00:00"), utc("2026-03-27 00:00")) == 0
    )
    assert (
        staffed_minutes_between(CAL, staffed, utc("2026-03-23 07:00"), utc("2026-03-23 07:01:30"))
        == 1.5
    )


def test_staffed_time_edge_cases() -> None:
    staffed = staffed_by(fixture_schedule())
    assert add_staffed_minutes(CAL, staffed, utc("2026-03-28 12:00"), 0) == utc("2026-03-30 06:00")
    assert add_staffed_minutes(CAL, staffed, utc("2026-03-30 10:00"), 0) == utc("2026-03-30 10:00")
    assert add_staffed_minutes(CAL, staffed, utc("2026-03-30 14:00"), 8 * 60) == utc(
        "2026-03-30 22:00"
    )
    assert add_staffed_minutes(CAL, staffed, utc("2026-03-30 14:00"), 8 * 60 + 1) is None
    assert (
        staffed_minutes_between(CAL, staffed, utc("2026-03-30 12:00"), utc("2026-03-30 11:00")) == 0
    )
    with pytest.raises(ValueError, match="must not be negative"):
        add_staffed_minutes(CAL, staffed, utc("2026-03-30 10:00"), -1)


# --- coverage --------------------------------------------------------------------------------


def test_coverage_gaps_are_slots_without_a_shifter_in_the_next_days() -> None:
    schedule = fixture_schedule() | assign(("2026-03-24", "EU", None, "bob"))  # trainee alone
    gaps = coverage_gaps(CAL, schedule, utc("2026-03-23 00:00"))
    assert [(s.day.isoformat(), s.name) for s in gaps] == [
        ("2026-03-24", "EU"),
        ("2026-03-24", "NA"),
        ("2026-03-25", "EU"),
        ("2026-03-25", "NA"),
        ("2026-03-26", "EU"),
        ("2026-03-26", "NA"),
        ("2026-03-31", "EU"),
        ("2026-03-31", "NA"),
        ("2026-04-01", "EU"),
        ("2026-04-01", "NA"),
        ("2026-04-02", "EU"),
        ("2026-04-02", "NA"),
        # Good Friday and Easter Monday have no slots.
    ]
    in_progress = coverage_gaps(CAL, schedule, utc("2026-03-24 10:00"), days=1)
    assert [(s.day.isoformat(), s.name) for s in in_progress] == [
        ("2026-03-24", "EU"),
        ("2026-03-24", "NA"),
        ("2026-03-25", "EU"),  # one local day ends Wednesday 11:00 Geneva
    ]


def test_the_coverage_grid_shows_each_slot_per_day() -> None:
    schedule = fixture_schedule() | assign(("2026-03-24", "EU", None, "bob"))
    assert coverage_grid(CAL, schedule, d("2026-03-23"), 7) == [
        (d("2026-03-23"), {"EU": "staffed", "NA": "staffed"}),
        (d("2026-03-24"), {"EU": "trainee-only", "NA": "empty"}),
        (d("2026-03-25"), {"EU": "empty", "NA": "empty"}),
        (d("2026-03-26"), {"EU": "empty", "NA": "empty"}),
        (d("2026-03-27"), {"EU": "staffed", "NA": "staffed"}),
        (d("2026-03-28"), {"EU": "off", "NA": "off"}),
        (d("2026-03-29"), {"EU": "off", "NA": "off"}),
    ]
    easter = fully_staffed("2026-04-02", "2026-04-07")
    assert [row for _day, row in coverage_grid(CAL, easter, d("2026-04-02"), 6)] == [
        {"EU": "staffed", "NA": "staffed"},
        {"EU": "off", "NA": "off"},  # Good Friday, even though the schedule names people
        {"EU": "off", "NA": "off"},
        {"EU": "off", "NA": "off"},
        {"EU": "off", "NA": "off"},  # Easter Monday
        {"EU": "staffed", "NA": "staffed"},
    ]


# --- handover times --------------------------------------------------------------------------


def test_slot_boundaries_are_the_handover_times() -> None:
    boundaries = slot_boundaries(CAL, utc("2026-03-27 07:00"), utc("2026-03-30 14:00"))
    assert [(t.strftime("%a %H:%MZ"), kind, s.name) for t, kind, s in boundaries] == [
        # Friday 08:00 CET itself is excluded: boundaries are strictly after ``after``.
        ("Fri 15:00Z", "end", "EU"),  # the EU shifter hands over ...
        ("Fri 15:00Z", "start", "NA"),  # ... to NA at the same instant
        ("Fri 23:00Z", "end", "NA"),
        ("Mon 06:00Z", "start", "EU"),
        ("Mon 14:00Z", "end", "EU"),
        ("Mon 14:00Z", "start", "NA"),
    ]


def test_next_boundary_is_the_next_due_time_for_the_scheduler() -> None:
    assert next_boundary(CAL, utc("2026-03-27 15:00")) == utc("2026-03-27 23:00")
    assert next_boundary(CAL, utc("2026-03-27 23:00")) == utc("2026-03-30 06:00")
    assert next_boundary(CAL, utc("2026-04-02 22:00")) == utc("2026-04-07 06:00")  # Easter
    assert next_boundary(CAL, utc("2026-10-23 22:00")) == utc("2026-10-26 07:00")
    closed = Calendar(ShiftSettings(closures=["2026-01-01..2026-12-31"]))
    assert next_boundary(closed, utc("2026-03-01 00:00")) is None


# --- the schedule file -----------------------------------------------------------------------


def test_the_schedule_fixture_parses_into_assignments() -> None:
    assert fixture_schedule() == assign(
        ("2026-03-23", "EU", "alice", "bob"),
        ("2026-03-23", "NA", "dave", None),
        ("2026-03-27", "EU", "carol", None),
        ("2026-03-27", "NA", "frank", "erin"),
        ("2026-03-30", "EU", "alice", None),
        ("2026-03-30", "NA", "dave", None),
    )


def test_schedule_problems_name_file_and_line() -> None:
    text = (FIXTURES / "schedule-problems.yaml").read_text()
    parsed = parse_schedule(text, "schedule-problems.yaml", ROSTER)
    assert parsed.errors == [
        "schedule-problems.yaml:5: slot: unknown slot 'APAC' (one of EU, NA)",
        "schedule-problems.yaml:7: date: '30.03.2026' is not a date YYYY-MM-DD",
        "schedule-problems.yaml:10: shifter: missing",
        "schedule-problems.yaml:12: 2026-03-30 EU is already assigned at schedule-problems.yaml:1",
        "schedule-problems.yaml:22: alice cannot be shifter and trainee of one slot",
        "schedule-problems.yaml:29: unknown key 'notes' (use date, slot, shifter, trainee)",
        "schedule-problems.yaml:30: an entry must be a mapping with date, slot, shifter",
    ]
    assert parsed.warnings == [
        "schedule-problems.yaml:3: shifter 'zed' is not in the roster",
        "schedule-problems.yaml:17: shifter 'bob' is a trainee in the roster",
        "schedule-problems.yaml:18: trainee 'alice' is a shifter in the roster",
        "schedule-problems.yaml:19: 2026-12-25 has no shifts (public holiday: Christmas Day)",
    ]
    assert parsed.assignments == assign(
        ("2026-03-30", "EU", "zed", None),
        ("2026-03-31", "NA", "bob", "alice"),
        ("2026-12-25", "EU", "carol", None),
    )


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("", []),
        ("date: 2026-03-30\n", ["s.yaml:1: a schedule is a list of {date, slot, shifter} entries"]),
        (
            "- date: [2026-03-30\n",
            ["s.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"],
        ),
        (
            "- date: 2026-03-30\n  slot: EU\n  shifter: a\n- date: 2026-02-30\n  slot: NA\n",
            ["s.yaml:4: invalid date '2026-02-30': day is out of range for month"],
        ),
        (
            "- date: 2026-03-30 10:00\n  slot: EU\n  shifter: alice\n",
            ["s.yaml:1: date: '2026-03-30 10:00' is not a date YYYY-MM-DD"],
        ),
        (
            "- date: 2026-03-30T10:00:00\n  slot: EU\n  shifter: alice\n",
            ["s.yaml:1: date: '2026-03-30 10:00:00' is not a date YYYY-MM-DD"],
        ),
        ("- date: 2026-03-30\n  shifter: alice\n", ["s.yaml:1: slot: missing"]),
        (
            "- date: 2026-03-30\n  slot: EU\n  shifter: [alice, bob]\n",
            ["s.yaml:3: shifter: is not a username"],
        ),
        (
            "- date: 2026-03-30\n  slot: EU\n  shifter: alice\n  trainee: 42\n",
            ["s.yaml:4: trainee: is not a username"],
        ),
    ],
)
def test_schedule_errors(text: str, errors: list[str]) -> None:
    parsed = parse_schedule(text, "s.yaml", ROSTER)
    assert parsed.errors == errors


def test_slot_names_come_from_the_calendar_and_names_are_normalised() -> None:
    calendar = Calendar(
        ShiftSettings(slots=[SlotSpec(name="DAY", start="09:00", end="17:00", zone="EU")])
    )
    parsed = parse_schedule(
        "- {date: 2026-03-30, slot: DAY, shifter: '@Alice'}\n"
        "- {date: 2026-03-30, slot: EU, shifter: dave}\n",
        "s.yaml",
        ROSTER,
        calendar,
    )
    assert parsed.assignments == assign(("2026-03-30", "DAY", "alice", None))
    assert parsed.errors == ["s.yaml:2: slot: unknown slot 'EU' (one of DAY)"]


def test_the_schedule_yaml_round_trips() -> None:
    schedule = fixture_schedule() | assign(("2026-04-01", "EU", "yes", "null"))
    text = schedule_yaml(schedule)
    assert text.startswith(
        "- date: 2026-03-23\n  slot: EU\n  shifter: alice\n  trainee: bob\n"
        "- date: 2026-03-23\n  slot: NA\n  shifter: dave\n"
    )
    assert "shifter: 'yes'\n  trainee: 'null'\n" in text  # YAML keywords stay strings
    again = parse_schedule(text, "out.yaml", ROSTER)
    assert again.errors == []
    assert again.assignments == schedule
    assert schedule_yaml({}) == "[]\n"
    assert parse_schedule(schedule_yaml({}), "out.yaml", ROSTER).assignments == {}
    with pytest.raises(ValueError, match="2026-03-24 EU: a schedule entry needs a person"):
        schedule_yaml(assign(("2026-03-24", "EU", None, None)))


def test_a_trainee_only_slot_is_written_and_read_back_and_shows_in_the_feed() -> None:
    schedule = assign(("2026-03-24", "EU", None, "bob"), ("2026-03-24", "NA", "dave", None))
    text = schedule_yaml(schedule)
    assert text.startswith("- date: 2026-03-24\n  slot: EU\n  trainee: bob\n")
    again = parse_schedule(text, "out.yaml", ROSTER)
    assert (again.errors, again.assignments) == ([], schedule)
    feed = schedule_ics(schedule, CAL, local("2026-03-20 12:00"))
    assert "SUMMARY:DAST EU shift: trainee bob only (no 1st-level shifter)" in feed
    assert "UID:2026-03-24-eu@dastbot" in feed


def test_a_person_in_two_slots_of_one_day_is_a_warning() -> None:
    parsed = parse_schedule(
        "- {date: 2026-03-24, slot: EU, shifter: alice}\n"
        "- {date: 2026-03-24, slot: NA, shifter: alice}\n",
        "s.yaml",
        ROSTER,
    )
    assert len(parsed.assignments) == 2
    assert parsed.warnings == ["s.yaml:2: alice is also in EU on 2026-03-24: two shifts in one day"]


def test_the_ics_feed_has_one_event_per_shift_in_utc() -> None:
    schedule = fixture_schedule() | assign(
        ("2026-10-23", "NA", "dave", None),
        ("2026-10-26", "EU", "alice", "bob"),
        ("2026-12-25", "EU", "carol", None),  # Christmas: no shift, no event
    )
    now = local("2026-03-20 12:00")
    text = schedule_ics(schedule, CAL, now)
    assert "\r\n" in text and "DTSTART:20260330T060000Z" in text
    feed = icalendar.Calendar.from_ical(text)
    assert str(feed["version"]) == "2.0"
    events = [
        (
            str(e["uid"]),
            e.decoded("dtstart"),
            e.decoded("dtend"),
            str(e["summary"]),
            e.decoded("dtstamp"),
        )
        for e in feed.walk("VEVENT")
    ]
    stamp = utc("2026-03-20 11:00")
    assert events == [
        (
            "2026-03-23-eu@dastbot",
            utc("2026-03-23 07:00"),
            utc("2026-03-23 15:00"),
            "DAST EU shift: alice (trainee: bob)",
            stamp,
        ),
        (
            "2026-03-23-na@dastbot",
            utc("2026-03-23 15:00"),
            utc("2026-03-23 23:00"),
            "DAST NA shift: dave",
            stamp,
        ),
        (
            "2026-03-27-eu@dastbot",
            utc("2026-03-27 07:00"),
            utc("2026-03-27 15:00"),
            "DAST EU shift: carol",
            stamp,
        ),
        (
            "2026-03-27-na@dastbot",
            utc("2026-03-27 15:00"),
            utc("2026-03-27 23:00"),
            "DAST NA shift: frank (trainee: erin)",
            stamp,
        ),
        (
            "2026-03-30-eu@dastbot",
            utc("2026-03-30 06:00"),
            utc("2026-03-30 14:00"),
            "DAST EU shift: alice",
            stamp,
        ),
        (
            "2026-03-30-na@dastbot",
            utc("2026-03-30 14:00"),
            utc("2026-03-30 22:00"),
            "DAST NA shift: dave",
            stamp,
        ),
        (
            "2026-10-23-na@dastbot",
            utc("2026-10-23 14:00"),
            utc("2026-10-23 22:00"),
            "DAST NA shift: dave",
            stamp,
        ),
        (
            "2026-10-26-eu@dastbot",
            utc("2026-10-26 07:00"),
            utc("2026-10-26 15:00"),
            "DAST EU shift: alice (trainee: bob)",
            stamp,
        ),
    ]
    # The UID of a (date, slot) does not change when the shifter does.
    swapped = schedule_ics(assign(("2026-03-30", "EU", "carol", None)), CAL, now)
    assert "UID:2026-03-30-eu@dastbot" in swapped and "SUMMARY:DAST EU shift: carol" in swapped


# --- roles and credit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "role"),
    [
        ("carol", "coordinator"),
        ("frank", "coordinator"),  # coordinator wins over expert roles and level
        ("alice", "shifter"),
        ("dave", "shifter"),
        ("bob", "trainee"),
        ("@Erin", "trainee"),
        ("mallory", "user"),
    ],
)
def test_role_of(user: str, role: str) -> None:
    assert role_of(ROSTER, user) == role


def test_a_trainee_earns_half_the_credit_of_a_shifter() -> None:
    assert credit("shifter") == 1.0
    assert credit("trainee") == 0.5
    with pytest.raises(ValueError, match="unknown level 'coordinator'"):
        credit("coordinator")
