"""Working hours: time only counts while a support group is at work, in its own zone and calendar.

All instants are fixed; 2026 calendar: DST starts in Europe on Sunday 29 March and ends on Sunday
25 October, in the US on 8 March and 1 November. Good Friday is 3 April, Easter Monday 6 April.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dastbot.escalations.workhours import (
    WorkingHours,
    add_working_hours,
    describe,
    holiday_name,
    is_working_time,
    next_opening,
    working_hours_between,
)
from dastbot.kernel.settings import ShiftSettings

GENEVA = WorkingHours(timezone="Europe/Zurich", holidays_country="CH", holidays_subdivision="GE")
NEW_YORK = WorkingHours(timezone="America/New_York", holidays_country="US")
TAIPEI = WorkingHours(timezone="Asia/Taipei", holidays_country="TW")


def at(zone: str, day: str, hhmm: str = "00:00") -> datetime:
    """An instant given as local wall-clock time: at("Europe/Zurich", "2026-03-06", "15:00")."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(zone))


def zurich(day: str, hhmm: str = "00:00") -> datetime:
    return at("Europe/Zurich", day, hhmm)


# --- inside or outside ---------------------------------------------------------------------


def test_the_window_includes_the_opening_and_excludes_the_closing() -> None:
    assert is_working_time(GENEVA, zurich("2026-03-06", "09:00"))  # a Friday
    assert is_working_time(GENEVA, zurich("2026-03-06", "16:59"))
    assert not is_working_time(GENEVA, zurich("2026-03-06", "17:00"))
    assert not is_working_time(GENEVA, zurich("2026-03-06", "08:59"))


def test_weekends_and_public_holidays_are_not_working_time() -> None:
    assert not is_working_time(GENEVA, zurich("2026-03-07", "11:00"))  # Saturday
    assert not is_working_time(GENEVA, zurich("2026-04-03", "11:00"))  # Good Friday
    assert holiday_name(GENEVA, zurich("2026-04-03").date()) == "Good Friday"
    assert is_working_time(NEW_YORK, at("America/New_York", "2026-04-03", "11:00"))  # not in US


def test_any_zone_may_be_used_to_ask() -> None:
    friday_10_zurich_in_utc = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert is_working_time(GENEVA, friday_10_zurich_in_utc)
    assert not is_working_time(TAIPEI, friday_10_zurich_in_utc)  # 17:00 in Taipei


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_working_time(GENEVA, datetime(2026, 3, 6, 10, 0))


# --- next opening ------------------------------------------------------------------------------


def test_next_opening_is_the_instant_itself_during_working_hours() -> None:
    monday_10 = zurich("2026-03-09", "10:00")
    assert next_opening(GENEVA, monday_10) == monday_10
    assert next_opening(GENEVA, monday_10).tzinfo is UTC


def test_next_opening_after_the_weekend_is_monday_at_nine_local_in_every_zone() -> None:
    saturday = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    assert next_opening(GENEVA, saturday) == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # CET
    assert next_opening(NEW_YORK, saturday) == datetime(2026, 3, 16, 13, 0, tzinfo=UTC)  # EDT
    assert next_opening(TAIPEI, saturday) == datetime(2026, 3, 16, 1, 0, tzinfo=UTC)  # UTC+8


def test_next_opening_skips_easter() -> None:
    thursday_evening = zurich("2026-04-02", "18:00")
    assert next_opening(GENEVA, thursday_evening) == zurich("2026-04-07", "09:00")


# --- adding working hours ------------------------------------------------------------------


def test_adding_hours_carries_over_the_weekend() -> None:
    friday_15 = zurich("2026-03-06", "15:00")
    assert add_working_hours(GENEVA, friday_15, 1) == zurich("2026-03-06", "16:00")
    assert add_working_hours(GENEVA, friday_15, 4) == zurich("2026-03-09", "11:00")
    assert add_working_hours(GENEVA, friday_15, 12) == zurich("2026-03-10", "11:00")


def test_adding_hours_skips_a_holiday_weekend() -> None:
    maundy_thursday_16 = zurich("2026-04-02", "16:00")
    assert add_working_hours(GENEVA, maundy_thursday_16, 2) == zurich("2026-04-07", "10:00")


def test_the_opening_stays_at_nine_local_across_the_spring_dst_change() -> None:
    friday_16_cet = zurich("2026-03-27", "16:00")  # 15:00 UTC
    due = add_working_hours(GENEVA, friday_16_cet, 2)
    assert due == zurich("2026-03-30", "10:00")  # CEST
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_the_opening_stays_at_nine_local_across_the_autumn_dst_change() -> None:
    friday_16_cest = zurich("2026-10-23", "16:00")  # 14:00 UTC
    due = add_working_hours(GENEVA, friday_16_cest, 2)
    assert due == zurich("2026-10-26", "10:00")  # CET
    assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_a_week_spanning_a_dst_change_still_has_eight_hour_days() -> None:
    assert working_hours_between(GENEVA, zurich("2026-03-27"), zurich("2026-04-01")) == 24.0
    assert working_hours_between(GENEVA, zurich("2026-10-23"), zurich("2026-10-28")) == 24.0


def test_fractional_hours() -> None:
    monday_9 = zurich("2026-03-09", "09:00")
    assert add_working_hours(GENEVA, monday_9, 0.25) == zurich("2026-03-09", "09:15")
    assert add_working_hours(GENEVA, zurich("2026-03-09", "16:30"), 1.5) == zurich(
        "2026-03-10", "10:00"
    )
    assert working_hours_between(GENEVA, monday_9, zurich("2026-03-09", "11:45")) == 2.75


def test_time_ending_exactly_at_closing_is_reached_at_the_next_opening() -> None:
    monday_9 = zurich("2026-03-09", "09:00")
    assert add_working_hours(GENEVA, monday_9, 8) == zurich("2026-03-10", "09:00")
    friday_9 = zurich("2026-03-06", "09:00")
    assert add_working_hours(GENEVA, friday_9, 8) == zurich("2026-03-09", "09:00")


def test_counting_from_outside_hours_starts_at_the_next_opening() -> None:
    saturday = zurich("2026-03-07", "12:00")
    assert add_working_hours(GENEVA, saturday, 0) == zurich("2026-03-09", "09:00")
    assert add_working_hours(GENEVA, zurich("2026-03-09", "06:00"), 1) == zurich(
        "2026-03-09", "10:00"
    )


def test_results_are_utc() -> None:
    due = add_working_hours(TAIPEI, at("Asia/Taipei", "2026-03-06", "16:00"), 2)
    assert due.tzinfo is UTC
    assert due == at("Asia/Taipei", "2026-03-09", "10:00")


def test_adding_then_measuring_gives_back_the_same_hours() -> None:
    start = zurich("2026-03-25", "13:20")  # crosses a weekend, the DST change and Easter
    for hours in (0.1, 0.5, 3.7, 8.0, 11.25, 16.0, 40.0, 77.5):
        end = add_working_hours(GENEVA, start, hours)
        assert working_hours_between(GENEVA, start, end) == pytest.approx(hours, abs=1e-9)


def test_negative_or_infinite_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="finite number >= 0"):
        add_working_hours(GENEVA, zurich("2026-03-09", "10:00"), -1)
    with pytest.raises(ValueError, match="finite number >= 0"):
        add_working_hours(GENEVA, zurich("2026-03-09", "10:00"), float("inf"))


def test_a_window_may_end_at_midnight() -> None:
    late = WorkingHours(timezone="Europe/Zurich", start="16:00", end="24:00")
    assert is_working_time(late, zurich("2026-03-09", "23:59"))
    assert add_working_hours(late, zurich("2026-03-09", "23:00"), 2) == zurich(
        "2026-03-10", "17:00"
    )


# --- measuring -------------------------------------------------------------------------------


def test_hours_between_count_only_working_time() -> None:
    friday_15 = zurich("2026-03-06", "15:00")
    assert working_hours_between(GENEVA, friday_15, zurich("2026-03-09", "11:00")) == 4.0
    assert working_hours_between(GENEVA, friday_15, zurich("2026-03-08", "23:00")) == 2.0
    assert working_hours_between(GENEVA, friday_15, friday_15 - timedelta(hours=1)) == 0.0


def test_us_dst_starts_three_weeks_before_europe() -> None:
    # 9 March: New York is already on EDT (UTC-4), Geneva still on CET (UTC+1).
    ny_opening = next_opening(NEW_YORK, datetime(2026, 3, 9, 0, 0, tzinfo=UTC))
    assert ny_opening == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    overlap = working_hours_between(GENEVA, ny_opening, datetime(2026, 3, 9, 23, 0, tzinfo=UTC))
    assert overlap == 3.0  # 14:00-17:00 in Geneva


# --- configuration -------------------------------------------------------------------------


def test_a_summary_for_humans() -> None:
    assert describe(GENEVA) == "Mon-Fri 09:00-17:00 Europe/Zurich, CH-GE holidays"
    odd = WorkingHours.model_validate(
        {"timezone": "UTC", "days": ["monday", "Wed"], "start": "08:00", "end": "12:00"}
    )
    assert describe(odd) == "Mon,Wed 08:00-12:00 UTC"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"days": ["mon", "funday"]}, "unknown weekday"),
        ({"days": []}, "at least one weekday"),
        ({"start": "9am"}, "not a time HH:MM"),
        ({"start": "17:00", "end": "09:00"}, "not before end"),
        ({"holidays_country": "XX"}, "does not know country"),
        ({"holidays_country": "FR", "holidays_subdivision": "GE"}, "no subdivision"),
        ({"holidays_subdivision": "GE"}, "needs holidays_country"),
        ({"lunch": "12:00"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_working_hours_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WorkingHours.model_validate(fields)


@pytest.mark.parametrize("written", ["GE", "ge", " Genève ", "GENÈVE"])
def test_a_subdivision_is_stored_as_its_code_however_it_is_written(written: str) -> None:
    """The shift settings and a support group's hours accept the same spellings."""
    fields = {"holidays_country": "CH", "holidays_subdivision": written}
    assert WorkingHours.model_validate(fields).holidays_subdivision == "GE"
    assert ShiftSettings.model_validate(fields).holidays_subdivision == "GE"


def test_a_subdivision_that_the_country_lacks_is_refused_the_same_way_in_both_places() -> None:
    fields = {"holidays_country": "US", "holidays_subdivision": "Geneva"}
    for model in (WorkingHours, ShiftSettings):
        with pytest.raises(
            ValidationError, match=r"country US has no subdivision 'Geneva' \(codes: AK"
        ):
            model.model_validate(fields)


def test_a_state_can_be_named_in_full() -> None:
    fields = {"holidays_country": "US", "holidays_subdivision": "Alabama"}
    assert WorkingHours.model_validate(fields).holidays_subdivision == "AL"
    assert ShiftSettings.model_validate(fields).holidays_subdivision == "AL"


def test_no_holiday_country_in_the_shift_settings_drops_the_default_subdivision() -> None:
    assert ShiftSettings.model_validate({"holidays_country": ""}).holidays_subdivision is None


def test_working_hours_are_immutable_and_normalised() -> None:
    wh = WorkingHours.model_validate({"days": ["Friday", "monday"], "holidays_country": "ch"})
    assert wh.days == ("mon", "fri")
    assert wh.holidays_country == "CH"
    with pytest.raises(ValidationError):
        wh.start = "08:00"


# --- long spans ----------------------------------------------------------------------------


def _day_by_day(wh: WorkingHours, a: datetime, b: datetime) -> float:
    """The definition, one local day at a time."""
    total = timedelta(0)
    day = a.astimezone(wh.zone).date()
    while day <= b.astimezone(wh.zone).date():
        opening = datetime.combine(day, datetime.strptime(wh.start, "%H:%M").time(), wh.zone)
        closing = datetime.combine(day, datetime.strptime(wh.end, "%H:%M").time(), wh.zone)
        if wh.days.count(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]) and (
            holiday_name(wh, day) is None
        ):
            begin, end = max(opening, a), min(closing, b)
            total += max(end - begin, timedelta(0))
        day += timedelta(days=1)
    return total / timedelta(hours=1)


@pytest.mark.parametrize("wh", [GENEVA, NEW_YORK, TAIPEI], ids=["geneva", "new-york", "taipei"])
def test_years_of_working_hours_add_up_day_by_day_across_holidays_and_clock_changes(
    wh: WorkingHours,
) -> None:
    # spans asked in an order that makes the running total grow forwards and backwards
    spans = [
        (zurich("2026-03-02", "10:17"), zurich("2026-03-02", "15:00")),
        (zurich("2025-12-19", "16:45"), zurich("2026-01-07", "09:30")),
        (zurich("2019-06-03", "08:00"), zurich("2026-11-02", "11:11")),
        (zurich("2026-03-27", "23:59"), zurich("2026-04-07", "00:01")),
        (zurich("2016-02-29", "12:00"), zurich("2017-02-28", "12:00")),
    ]
    for a, b in spans:
        assert working_hours_between(wh, a, b) == pytest.approx(_day_by_day(wh, a, b), abs=1e-9)
