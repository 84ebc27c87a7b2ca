"""The sweep: due jobs run once per due time, missed ones after a restart, coalescing jobs once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dastbot.kernel.clock import FakeClock
from dastbot.scheduler import JOB_DEFAULTS, Sweeper
from dastbot.store import Store

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class Hourly:
    id: str = "hourly"
    coalesce: bool = False
    runs: list[datetime] = field(default_factory=list)

    def next_due(self, after: datetime) -> datetime | None:
        return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    def run(self, due: datetime, now: datetime) -> None:
        self.runs.append(due)


def test_a_new_job_starts_from_now_and_runs_each_due_time_once(store: Store) -> None:
    clock = FakeClock(START + timedelta(minutes=30))
    job = Hourly()
    sweeper = Sweeper(store, clock, [job])
    assert sweeper.sweep() == 0
    clock.advance(timedelta(minutes=40))
    assert sweeper.sweep() == 1
    assert sweeper.sweep() == 0
    assert job.runs == [START + timedelta(hours=1)]


def test_after_downtime_missed_runs_fire_once_each_or_coalesced(store: Store) -> None:
    clock = FakeClock(START)
    job, weekly = Hourly(), Hourly(id="coalescing", coalesce=True)
    Sweeper(store, clock, [job, weekly]).sweep()
    clock.advance(timedelta(hours=3, minutes=5))

    restarted = Sweeper(store, clock, [job, weekly])
    restarted.sweep()
    assert job.runs == [START + timedelta(hours=h) for h in (1, 2, 3)]
    assert weekly.runs == [START + timedelta(hours=3)]
    assert restarted.next_due() == START + timedelta(hours=4)


def test_a_failing_job_is_retried_at_the_next_sweep(store: Store) -> None:
    clock = FakeClock(START)

    @dataclass
    class Flaky(Hourly):
        failures: int = 1

        def run(self, due: datetime, now: datetime) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("boom")
            super().run(due, now)

    job = Flaky()
    sweeper = Sweeper(store, clock, [job])
    sweeper.sweep()
    clock.advance(timedelta(hours=1))
    assert sweeper.sweep() == 0
    assert sweeper.sweep() == 1
    assert job.runs == [START + timedelta(hours=1)]


def test_apscheduler_defaults_are_explicit() -> None:
    assert JOB_DEFAULTS["misfire_grace_time"] >= 30
    assert JOB_DEFAULTS["coalesce"] is True
    assert JOB_DEFAULTS["max_instances"] == 1
