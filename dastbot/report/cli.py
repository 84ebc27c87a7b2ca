"""The report's subcommands: ``dastbot report`` (a past week's report as markdown, JSON or CSV,
optionally with the chart as PNG) and ``dastbot demo-data`` (fill a new database with synthetic
history). ``add_report_parsers`` adds both to dastbot's command line; errors are ``CliError``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dastbot.answering.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dastbot.kernel.cli import EXIT_USAGE, CliError, config_from_args, parse_instant
from dastbot.kernel.config import Config
from dastbot.kernel.paths import knowledge_path
from dastbot.report.chart_process import ChartError, ChartProcess
from dastbot.report.export import to_csv, to_json
from dastbot.report.render import to_markdown
from dastbot.report.stats import build_report
from dastbot.report.values import WeekReport
from dastbot.report.weeks import WeekError, last_complete_week, reportable_week
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store, archive


def _kb(config: Config) -> KnowledgeBase | None:
    """The configured knowledge base (to name entries, and to measure an imported archive);
    None when it is broken: the report goes out without those."""
    try:
        return load_knowledge(knowledge_path(config))
    except KnowledgeError:
        return None


def cmd_report(args: argparse.Namespace) -> int:
    if args.chart and not Path(args.chart).resolve().parent.is_dir():
        raise CliError(f"--chart: no folder {Path(args.chart).parent} to write the chart in")
    painting = ChartProcess.start(Path(args.chart)) if args.chart else contextlib.nullcontext()
    with painting as painter:
        report, markdown = _compute(args)
        if painter is not None:
            try:
                painter.draw(report)
            except ChartError as exc:
                raise CliError(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(report), indent=2, sort_keys=False) + "\n")
    elif args.format == "csv":
        sys.stdout.write(to_csv(report))
    else:
        sys.stdout.write(markdown)
    return 0


def _compute(args: argparse.Namespace) -> tuple[WeekReport, str]:
    """The week's report and its markdown (with the archive line when an archive is imported)."""
    config = config_from_args(args)
    calendar = Calendar(config.shifts)
    try:
        week = args.week and reportable_week(args.week)
    except WeekError as exc:
        raise CliError(f"--week: {exc}", EXIT_USAGE) from None
    week = week or last_complete_week(datetime.now(UTC), calendar.zone)
    path = config.resolve(config.db)
    if str(path) != ":memory:" and not path.is_file():
        raise CliError(f"{path}: no such database (give --db, or run dastbot demo-data)")
    store = Store.open(path)
    try:
        kb = _kb(config)
        titles = {e.id: e.title for e in kb} if kb is not None else {}
        report = build_report(store, week, calendar, config.roster, titles, config.people.credit)
        markdown = to_markdown(report)
        if args.format == "md" and kb is not None and archive.thread_count(store.db):
            from dastbot.answering.matcher import Matcher  # costly: only to measure an archive
            from dastbot.report.job import with_archive_line

            matcher = Matcher(kb, config.matcher.threshold, config.matcher.margin)
            markdown = with_archive_line(markdown, store, matcher, report, datetime.now(UTC))
    finally:
        store.close()
    return report, markdown


MAX_DEMO_WEEKS = 520


def cmd_demo_data(args: argparse.Namespace) -> int:
    from dastbot.report.demo import fill_demo

    if not 1 <= args.weeks <= MAX_DEMO_WEEKS:
        raise CliError(f"--weeks must be at least 1 and at most {MAX_DEMO_WEEKS}", EXIT_USAGE)
    config = config_from_args(args)
    end = parse_instant(args.end) if args.end else datetime.now(UTC)
    path = config.resolve(config.db)
    store = Store.open(path)
    try:
        existing = store.question_count()
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


def add_report_parsers(subparsers: Any, common: Callable[..., None]) -> None:
    """Add ``report`` and ``demo-data`` to dastbot's subcommands (``common(p, db=True)`` adds
    --config, --kb and --db: ``dastbot.kernel.cli.add_common``)."""
    p = subparsers.add_parser("report", help="the weekly report of a past ISO week")
    common(p, db=True)
    p.add_argument("--week", help="ISO week YYYY-Www (default: the last complete week)")
    p.add_argument("--format", choices=("md", "json", "csv"), default="md")
    p.add_argument("--chart", metavar="FILE.png", help="also write the chart to this PNG file")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("demo-data", help="fill a new database with synthetic history")
    common(p)
    p.add_argument("--weeks", type=int, required=True, help="weeks of history")
    p.add_argument("--db", required=True, help="SQLite file to create (must hold no questions)")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    p.add_argument("--end", help="ISO-8601 instant the history ends at (default: now)")
    p.set_defaults(func=cmd_demo_data)
