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

from dastbot.kernel.clock import Clock
from dastbot.store import Store

log = logging.getLogger("dastbot.scheduler")

SWEEP_JOB_ID = "dastbot-sweep"
JOB_DEFAULTS = {"misfire_grace_time": 60, "coalesce": True, "max_instances": 1}


class DueJob(Protocol):
    """A job with due times. ``run`` only decides and writes to the store; sending happens after.

    A coalescing job runs once for the latest of several missed due times; any other job runs for
    each in turn. ``next_due`` may ignore ``after`` when the due times come from the database
    (the earliest unhandled deadline); ``run`` then handles everything due up to ``now``."""

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
            if job.coalesce:
                dues: list[datetime] = []
                due = job.next_due(last)
                while due is not None and due <= now and len(dues) < 10_000:
                    if dues and due <= dues[-1]:
                        break
                    dues.append(due)
                    due = job.next_due(due)
                if dues and self._run(job, dues[-1], now):
                    runs += 1
                continue
            due = job.next_due(last)
            for _ in range(10_000):
                if due is None or due > now or not self._run(job, due, now):
                    break
                runs += 1
                following = job.next_due(due)
                if following is not None and following <= due:
                    break
                due = following
        return runs

    def _run(self, job: DueJob, due: datetime, now: datetime) -> bool:
        try:
            with self.store.atomic():
                job.run(due, now)
                self.store.mark_job_ran(job.id, due, now)
        except Exception:
            log.exception("job %s failed for due time %s", job.id, due.isoformat())
            return False
        return True

    def next_due(self) -> datetime | None:
        """The earliest due time of any job from now on (for the console's simulated waits);
        a time not after now means something is due already."""
        now = self.clock.now()
        candidates = [due for job in self.jobs if (due := job.next_due(now)) is not None]
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
