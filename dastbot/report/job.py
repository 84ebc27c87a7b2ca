"""The weekly report in the bot and on the command line.

This module owns:

* ``report_settings(config)``: the ``report:`` section (``dastbot.report.ReportSettings``,
  re-exported here: ``weekday``, ``time``, in the shift calendar's zone) or its defaults;
* ``WeeklyReportJob``: a coalescing ``DueJob`` (id ``weekly-report``) that posts the markdown of
  the past ISO week with the chart attached to the coordinators' channel, once per week (outbox
  key ``weekly-report:YYYY-Www``), even across restarts and outages;
* ``register``: ``/dast report [YYYY-Www]`` for shifters and coordinators;
* ``add_report_parsers``: the ``dastbot report`` and ``dastbot demo-data`` subcommands;
* ``ExtraLine``: a line another feature adds at the end of the markdown report (the mail
  archive's share, ``dastbot.archive.weekly.report_line``); the composition root hands them in
  (``WeeklyReportJob.extra_lines``, ``ReportServices.extra_lines``, ``add_report_parsers``),
  since the report may not import the features above it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dastbot.kernel.cli import EXIT_USAGE, CliError, config_from_args, parse_instant
from dastbot.kernel.commands import CommandContext, Registry
from dastbot.kernel.config import Config
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.kernel.settings import ReportSettings
from dastbot.report.stats import (
    WeekError,
    WeekReport,
    build_report,
    chart_png,
    last_complete_week,
    parse_week,
    to_csv,
    to_json,
    to_markdown,
    week_label,
)
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.duty import Duty
from dastbot.store import Store

if TYPE_CHECKING:
    from dastbot.answering.answers import LiveKnowledge
    from dastbot.answering.knowledge import KnowledgeBase
    from dastbot.answering.matcher import Matcher

__all__ = [
    "JOB_ID",
    "ReportSettings",
    "WeeklyReportJob",
    "add_report_parsers",
    "register",
    "report_settings",
]
log = logging.getLogger("dastbot.report")
JOB_ID = "weekly-report"
USAGE = "Usage: `/dast report [YYYY-Www]`, e.g. `/dast report 2026-W10` (default: last week)."


ExtraLine = Callable[[Store, "Matcher | None", str, datetime, datetime], "str | None"]
"""``(store, matcher, week, week_end, now) -> line or None``: one more line for the report."""


def with_extra_lines(
    markdown: str,
    lines: Sequence[ExtraLine],
    store: Store,
    matcher: Matcher | None,
    report: WeekReport,
    now: datetime,
) -> str:
    """The report's markdown followed by the extra lines that have something to say."""
    found = [line(store, matcher, report.week, report.this.end, now) for line in lines]
    extra = "\n\n".join(x for x in found if x)
    return f"{markdown.rstrip()}\n\n{extra}\n" if extra else markdown


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
        self.extra_lines: list[ExtraLine] = []

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
        kb = self.knowledge.kb if self.knowledge is not None else None
        report = build_report(self.store, week, self.duty.calendar, self.duty.roster, _titles(kb))
        files: tuple[tuple[str, bytes], ...] = ()
        try:
            files = ((f"dast-report-{week}.png", chart_png(report)),)
        except ImportError as exc:
            log.warning("weekly report %s posted without its chart: %s", week, exc)
        channel = self.config.mattermost.coordinators_channel
        matcher = self.knowledge.matcher if self.knowledge is not None else None
        text = with_extra_lines(
            to_markdown(report), self.extra_lines, self.store, matcher, report, now
        )
        message = OutMessage(channel, text, key=f"weekly-report:{week}", files=files)
        self.store.enqueue(message, now)
        self.store.record("weekly_report", now, actor=self.config.bot_name, week=week)


@dataclass(frozen=True)
class ReportServices:
    """What ``/dast report`` uses."""

    store: Store
    duty: Duty
    knowledge: LiveKnowledge
    extra_lines: tuple[ExtraLine, ...] = ()


async def _report(svc: ReportServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    calendar = svc.duty.calendar
    if len(args) > 1:
        return CommandReply(USAGE)
    try:
        week = (
            week_label(date.fromisocalendar(*parse_week(args[0]), 1))
            if args
            else last_complete_week(ctx.now, calendar.zone)
        )
    except WeekError as exc:
        return CommandReply(f"{exc}. {USAGE}")
    report = build_report(
        svc.store,
        week,
        calendar,
        svc.duty.roster,
        _titles(svc.knowledge.kb),
    )
    markdown = to_markdown(report)
    matcher = svc.knowledge.matcher
    return CommandReply(
        with_extra_lines(markdown, svc.extra_lines, svc.store, matcher, report, ctx.now)
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


# --- command line ----------------------------------------------------------------------------


def _kb_titles(config: Config) -> dict[str, str]:
    from dastbot.answering.knowledge import KnowledgeError, load_knowledge
    from dastbot.kernel.paths import knowledge_path

    try:
        return _titles(load_knowledge(knowledge_path(config)))
    except KnowledgeError:
        return {}


def _kb_matcher(config: Config) -> Matcher | None:
    from dastbot.answering.knowledge import KnowledgeError, load_knowledge
    from dastbot.answering.matcher import Matcher
    from dastbot.kernel.paths import knowledge_path

    try:
        kb = load_knowledge(knowledge_path(config))
    except KnowledgeError:
        return None
    return Matcher(kb, config.matcher.threshold, config.matcher.margin)


def cmd_report(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    calendar = Calendar(config.shifts)
    try:
        week = args.week and week_label(date.fromisocalendar(*parse_week(args.week), 1))
    except WeekError as exc:
        raise CliError(f"--week: {exc}", EXIT_USAGE) from None
    week = week or last_complete_week(datetime.now(UTC), calendar.zone)
    path = config.resolve(config.db)
    if str(path) != ":memory:" and not path.is_file():
        raise CliError(f"{path}: no such database (give --db, or run dastbot demo-data)")
    store = Store.open(path)
    try:
        report = build_report(store, week, calendar, config.roster, _kb_titles(config))
        markdown = to_markdown(report)
        if args.extra_lines and args.format == "md":
            matcher = _kb_matcher(config)
            now = datetime.now(UTC)
            markdown = with_extra_lines(markdown, args.extra_lines, store, matcher, report, now)
    finally:
        store.close()
    if args.chart:
        try:
            png = chart_png(report)
        except ImportError as exc:
            raise CliError(f"--chart needs matplotlib: {exc}") from None
        Path(args.chart).write_bytes(png)
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(report), indent=2, sort_keys=False) + "\n")
    elif args.format == "csv":
        sys.stdout.write(to_csv(report))
    else:
        sys.stdout.write(markdown)
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from dastbot.answering.knowledge import KnowledgeError
    from dastbot.report.demo import fill_demo

    if args.weeks < 1:
        raise CliError("--weeks must be at least 1", EXIT_USAGE)
    config = config_from_args(args)
    end = parse_instant(args.end) if args.end else datetime.now(UTC)
    path = config.resolve(config.db)
    store = Store.open(path)
    try:
        existing = store.db.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        if existing:
            raise CliError(
                f"{path} already holds {existing} question(s); demo data goes into a new database"
            )
        summary = fill_demo(store, args.weeks, end, args.seed, config)
    except KnowledgeError as exc:
        raise CliError("knowledge base errors:\n" + "\n".join(exc.errors)) from None
    finally:
        store.close()
    print(
        f"wrote {summary.questions} questions, {summary.events} events, "
        f"{summary.escalations} escalations and {summary.assignments} shift assignments "
        f"({summary.first_day} to {summary.last_day}) to {path}"
    )
    return 0


def add_report_parsers(
    subparsers: Any, common: Callable[..., None], extra_lines: Sequence[ExtraLine] = ()
) -> None:
    """Add ``report`` and ``demo-data`` to dastbot's subcommands (``common(p, db=True)`` adds
    --config, --kb and --db: ``dastbot.kernel.cli.add_common``); ``dastbot report`` ends its
    markdown with ``extra_lines``."""
    p = subparsers.add_parser("report", help="the weekly report of a past ISO week")
    common(p, db=True)
    p.add_argument("--week", help="ISO week YYYY-Www (default: the last complete week)")
    p.add_argument("--format", choices=("md", "json", "csv"), default="md")
    p.add_argument("--chart", metavar="FILE.png", help="also write the chart to this PNG file")
    p.set_defaults(func=cmd_report, extra_lines=tuple(extra_lines))

    p = subparsers.add_parser("demo-data", help="fill a new database with synthetic history")
    common(p)
    p.add_argument("--weeks", type=int, required=True, help="weeks of history")
    p.add_argument("--db", required=True, help="SQLite file to create (must hold no questions)")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    p.add_argument("--end", help="ISO-8601 instant the history ends at (default: now)")
    p.set_defaults(func=cmd_demo_data)
