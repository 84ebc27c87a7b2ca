"""The weekly report in the running bot: the weekly post and ``/dast report``.

This module owns:

* ``report_settings(config)``: the ``report:`` section (``dastbot.kernel.settings.ReportSettings``,
  re-exported here: ``weekday``, ``time``, in the shift calendar's zone) or its defaults;
* ``WeeklyReportJob``: a coalescing ``DueJob`` (id ``weekly-report``) that posts the markdown of
  the past ISO week (and the team's load at its end) with the chart attached to the
  coordinators' channel, once per week (outbox key ``weekly-report:YYYY-Www``), even across
  restarts and outages;
* ``register``: ``/dast report [YYYY-Www]`` for shifters and coordinators, computed on a worker
  thread over a read-only connection (``stats.build_report_in_thread``) so the bot keeps
  answering meanwhile.

The weekly job runs inside the scheduler's synchronous sweep (``dastbot.scheduler``), which
runs on the event loop. So that the report and its chart do not block the loop, the bot calls
``WeeklyReportJob.prepare`` before each sweep: when the report is due it is computed on a worker
thread over a read-only connection, and the chart drawn on a worker thread too; ``run`` then
only posts what was prepared (it computes in place only when nothing was, e.g. in-memory stores).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from dastbot.answering.answers import LiveKnowledge
from dastbot.answering.knowledge import KnowledgeBase
from dastbot.answering.matcher import Matcher
from dastbot.archive.weekly import report_line
from dastbot.kernel.commands import CommandContext, Registry
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import POST_LIMIT
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.kernel.settings import ReportSettings
from dastbot.kernel.team_settings import TeamSettings
from dastbot.report.chart import chart_png
from dastbot.report.render import to_markdown
from dastbot.report.stats import build_report, build_report_in_thread
from dastbot.report.values import WeekReport
from dastbot.report.weeks import WeekError, last_complete_week, reportable_week
from dastbot.shifts.duty import Duty
from dastbot.shifts.load import load_markdown, team_load
from dastbot.store import Store

__all__ = [
    "JOB_ID",
    "ReportServices",
    "ReportSettings",
    "WeeklyReportJob",
    "register",
    "report_settings",
]
log = logging.getLogger("dastbot.report")
JOB_ID = "weekly-report"
USAGE = "Usage: `/dast report [YYYY-Www]`, e.g. `/dast report 2026-W10` (default: last week)."


def report_settings(config: Config) -> ReportSettings:
    """``config.report`` once the lead adds that field; the defaults until then."""
    value = getattr(config, "report", None)
    return value if isinstance(value, ReportSettings) else ReportSettings()


def _titles(knowledge: KnowledgeBase | None) -> dict[str, str]:
    return {e.id: e.title for e in knowledge} if knowledge is not None else {}


class WeeklyReportJob:
    """Every week at ``report.weekday`` ``report.time`` local: the past week's report."""

    id = JOB_ID
    coalesce = True

    def __init__(
        self, config: Config, store: Store, duty: Duty, knowledge: LiveKnowledge | None = None
    ) -> None:
        """``knowledge`` (the bot's live knowledge base, reloads included) names the entries
        that did not help by their titles; without it they are listed by id."""
        self.config, self.store, self.duty, self.knowledge = config, store, duty, knowledge
        self.settings = report_settings(config)
        self.prepared: tuple[str, WeekReport, bytes | None] | None = None

    def _due_week(self, now: datetime) -> str | None:
        """The week whose report the next sweep will post (the latest due time up to ``now``),
        or None when nothing is due."""
        last = self.store.last_due(self.id)
        if last is None:
            return None
        due = self.next_due(last)
        if due > now:
            return None
        for _ in range(1000):  # a coalescing job posts only the latest missed week
            following = self.next_due(due)
            if following > now:
                break
            due = following
        return last_complete_week(due, self.duty.calendar.zone)

    async def prepare(self, now: datetime) -> None:
        """When the report is due, compute it and its chart off the event loop for ``run``."""
        week = self._due_week(now)
        if week is None or (self.prepared is not None and self.prepared[0] == week):
            return
        kb = self.knowledge.kb if self.knowledge is not None else None
        report = await build_report_in_thread(
            self.store,
            week,
            self.duty.calendar,
            self.duty.roster,
            _titles(kb),
            self.config.people.credit,
        )
        self.prepared = (week, report, await asyncio.to_thread(_chart, report))

    def next_due(self, after: datetime) -> datetime:
        zone = self.duty.calendar.zone
        local = after.astimezone(zone)
        day = local.date() + timedelta(days=(self.settings.weekday_index - local.weekday()) % 7)
        for _ in range(3):
            candidate = datetime.combine(day, self.settings.at, zone).astimezone(UTC)
            if candidate > after:
                return candidate
            day += timedelta(days=7)
        raise AssertionError("unreachable: a week later is always after")

    def run(self, due: datetime, now: datetime) -> None:
        week = last_complete_week(due, self.duty.calendar.zone)
        if self.prepared is not None and self.prepared[0] == week:
            _, report, png = self.prepared
        else:
            kb = self.knowledge.kb if self.knowledge is not None else None
            calendar, roster = self.duty.calendar, self.duty.roster
            report = build_report(
                self.store, week, calendar, roster, _titles(kb), self.config.people.credit
            )
            png = _chart(report)
        self.prepared = None
        files = ((f"dast-report-{week}.png", png),) if png is not None else ()
        channel = self.config.mattermost.coordinators_channel
        matcher = self.knowledge.matcher if self.knowledge is not None else None
        markdown = with_load(to_markdown(report), self.store, self.duty, self.config.people, report)
        text = with_archive_line(markdown, self.store, matcher, report, now)
        message = OutMessage(channel, text, key=f"weekly-report:{week}", files=files)
        self.store.enqueue(message, now)
        self.store.record(EventKind.WEEKLY_REPORT, now, actor=self.config.bot_name, week=week)


def with_load(
    markdown: str, store: Store, duty: Duty, team: TeamSettings, report: WeekReport
) -> str:
    """The report's markdown followed by the team's load at the week's end (``shifts.load``),
    cut to what still fits in a post; weeks outside 2000-2100 (no schedule) go without."""
    room = POST_LIMIT - len(markdown.rstrip()) - 2
    if room < 200 or not 2000 <= report.this.end.year <= 2100:
        return markdown
    load = team_load(store, duty.calendar, duty.roster, team, report.this.end)
    return f"{markdown.rstrip()}\n\n{load_markdown(load, limit=room)}\n"


def _chart(report: WeekReport) -> bytes | None:
    try:
        return chart_png(report)
    except ImportError as exc:
        log.warning("weekly report %s posted without its chart: %s", report.week, exc)
        return None


def with_archive_line(
    markdown: str, store: Store, matcher: Matcher | None, report: WeekReport, now: datetime
) -> str:
    """The report's markdown, ending with the mail archive's line when an archive is imported."""
    line = report_line(store, matcher, report.week, report.this.end, now)
    return f"{markdown.rstrip()}\n\n{line}\n" if line else markdown


@dataclass(frozen=True)
class ReportServices:
    """What ``/dast report`` uses (the store only to find its database file, when it has one)."""

    store: Store
    duty: Duty
    knowledge: LiveKnowledge
    config: Config


async def _report(svc: ReportServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    calendar = svc.duty.calendar
    if len(args) > 1:
        return CommandReply(USAGE)
    try:
        week = reportable_week(args[0]) if args else last_complete_week(ctx.now, calendar.zone)
    except WeekError as exc:
        return CommandReply(f"{exc}. {USAGE}")
    report = await build_report_in_thread(
        svc.store,
        week,
        calendar,
        svc.duty.roster,
        _titles(svc.knowledge.kb),
        svc.config.people.credit,
    )
    markdown = with_load(to_markdown(report), svc.store, svc.duty, svc.config.people, report)
    return CommandReply(
        with_archive_line(markdown, svc.store, svc.knowledge.matcher, report, ctx.now)
    )


def register(registry: Registry, svc: ReportServices) -> None:
    registry.add(
        partial(_report, svc),
        "report",
        "report [YYYY-Www]",
        "The weekly report (default: last week): questions, response times, escalations, "
        "coverage and knowledge gaps.",
        role="shifter",
    )
