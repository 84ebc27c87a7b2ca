"""Scheduled work: due-time jobs swept from the database, and the one APScheduler job that sweeps.

The database, not APScheduler's job store, remembers what ran: each job says when it is next due
after a given instant, and the sweep runs every due time since the last recorded one (or only the
latest, for coalescing jobs) inside the same transaction that records it. A restart therefore
fires what was missed exactly once. This is the only module that imports apscheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dastbot.clock import Clock
from dastbot.store import Store

log = logging.getLogger("dastbot.scheduler")

SWEEP_JOB_ID = "dastbot-sweep"
JOB_DEFAULTS = {"misfire_grace_time": 60, "coalesce": True, "max_instances": 1}


class DueJob(Protocol):
    """A job with due times. ``run`` only decides and writes to the store; sending happens after."""

    @property
    def id(self) -> str: ...

    @property
    def coalesce(self) -> bool: ...

    def next_due(self, after: datetime) -> datetime | None: ...

    def run(self, due: datetime, now: datetime) -> None: ...


class Sweeper:
    def __init__(self, store: Store, clock: Clock, jobs: Sequence[DueJob] = ()) -> None:
        self.store = store
        self.clock = clock
        self.jobs: list[DueJob] = list(jobs)

    def add(self, job: DueJob) -> None:
        if any(j.id == job.id for j in self.jobs):
            raise ValueError(f"duplicate job id {job.id}")
        self.jobs.append(job)

    def sweep(self) -> int:
        """Run everything due up to now; returns how many runs happened."""
        now = self.clock.now()
        runs = 0
        for job in self.jobs:
            last = self.store.last_due(job.id)
            if last is None:
                self.store.mark_job_ran(job.id, now, now)
                continue
            dues: list[datetime] = []
            due = job.next_due(last)
            while due is not None and due <= now and len(dues) < 10_000:
                dues.append(due)
                due = job.next_due(due)
            if not dues:
                continue
            if job.coalesce:
                dues = dues[-1:]
            for due in dues:
                try:
                    with self.store.atomic():
                        job.run(due, now)
                        self.store.mark_job_ran(job.id, due, now)
                    runs += 1
                except Exception:
                    log.exception("job %s failed for due time %s", job.id, due.isoformat())
                    break
        return runs

    def next_due(self) -> datetime | None:
        """The earliest future due time of any job (for the console's simulated waits)."""
        now = self.clock.now()
        candidates: list[datetime] = []
        for job in self.jobs:
            due = job.next_due(self.store.last_due(job.id) or now)
            if due is not None:
                candidates.append(due)
        return min(candidates) if candidates else None


def start_sweeping(
    sweep: Callable[[], Awaitable[None]], interval_s: float = 30.0
) -> AsyncIOScheduler:
    """Start APScheduler with explicit job defaults and one stable-id interval job."""
    scheduler = AsyncIOScheduler(job_defaults=dict(JOB_DEFAULTS), timezone=UTC)
    scheduler.add_job(
        sweep,
        "interval",
        seconds=interval_s,
        id=SWEEP_JOB_ID,
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    return scheduler
