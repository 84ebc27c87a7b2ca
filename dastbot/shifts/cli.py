"""The shift subcommands of the command line: ``dastbot oncall`` (who is on duty at an instant),
``dastbot shifts import|export`` (the schedule file to and from the database, or an iCalendar feed),
``dastbot shifts credits`` (the credit ledger as markdown, CSV or JSON) and ``dastbot roster forget
USER`` (drop the Mattermost user id a roster username is bound to, see ``shifts.identity``).

``add_shift_parsers`` adds them to dastbot's subcommands; ``dastbot.cli`` turns their ``CliError``
into an exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dastbot.kernel.cli import EXIT_OK, CliError, config_from_args, parse_instant
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.settings import normalise_username
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store

MAX_EXPORT_DAYS = 3660


def _store(config: Config) -> Store:
    return Store.open(config.resolve(config.db))


# Each command imports what only it uses: every dastbot command builds this parser.


def cmd_oncall(args: argparse.Namespace) -> int:
    from dastbot.shifts.duty import Duty, describe_instant

    config = config_from_args(args)
    at = (parse_instant(args.at) if args.at else datetime.now(UTC)).astimezone(UTC)
    store = _store(config)
    duty = Duty(config, store).at(at)
    store.close()
    if args.json:
        print(json.dumps(duty.as_json()))
        return EXIT_OK
    if duty.slot is None:
        print(f"{at:%Y-%m-%d %H:%M} UTC: off duty")
    else:
        print(
            f"{at:%Y-%m-%d %H:%M} UTC: {duty.slot} slot, shifter {duty.shifter or '(nobody)'}"
            + (f", trainee {duty.trainee}" if duty.trainee else "")
        )
    if duty.coordinator:
        print(f"coordinator: {duty.coordinator}")
    if duty.next_slot_start:
        print(f"next staffed shift: {describe_instant(duty.next_slot_start, None, at)}")
    return EXIT_OK


def cmd_shifts_import(args: argparse.Namespace) -> int:
    from dastbot.shifts.schedule_file import parse_schedule

    config = config_from_args(args)
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read: {exc}") from None
    parsed = parse_schedule(text, str(path), config.roster, Calendar(config.shifts))
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if parsed.errors:
        listed = "\n".join(f"  {e}" for e in parsed.errors)
        raise CliError(f"schedule errors ({len(parsed.errors)}), nothing imported:\n{listed}")
    store = _store(config)
    now = datetime.now(UTC)
    with store.atomic():
        for assignment in parsed.assignments.values():
            store.set_assignment(assignment, "import", now)
        store.record(
            EventKind.SHIFTS_IMPORTED,
            now,
            actor="cli",
            file=str(path),
            count=len(parsed.assignments),
        )
    store.close()
    print(f"imported {len(parsed.assignments)} assignment(s) into {config.resolve(config.db)}")
    return EXIT_OK


def cmd_shifts_export(args: argparse.Namespace) -> int:
    from dastbot.shifts.schedule_file import schedule_ics, schedule_yaml

    config = config_from_args(args)
    try:
        first = date.fromisoformat(args.start) if args.start else datetime.now(UTC).date()
    except ValueError:
        raise CliError(f"--from takes a date YYYY-MM-DD, not {args.start!r}") from None
    if not 1 <= args.days <= MAX_EXPORT_DAYS:
        raise CliError(f"--days takes 1 to {MAX_EXPORT_DAYS} days, not {args.days}")
    if first > date.max - timedelta(days=args.days):
        raise CliError(f"--from {first} with --days {args.days} ends after the year 9999")
    store = _store(config)
    assignments = store.assignments(first, first + timedelta(days=args.days))
    store.close()
    rows = {k: a for k, a in assignments.items() if a.shifter or a.trainee}
    if args.ics:
        sys.stdout.write(schedule_ics(rows, Calendar(config.shifts), datetime.now(UTC)))
    else:
        sys.stdout.write(schedule_yaml(rows) if rows else "[]\n")
    return EXIT_OK


def cmd_roster_forget(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    name = normalise_username(args.user)
    store = _store(config)
    try:
        bound = store.user_ids().get(name)
        forgotten = store.forget_user_id(name)
    finally:
        store.close()
    if not forgotten:
        raise CliError(f"{name} is bound to no Mattermost user id in {config.resolve(config.db)}")
    print(
        f"forgot that {name} is the Mattermost account {bound}; the bot binds the account that "
        "holds the username when it next starts"
    )
    return EXIT_OK


def cmd_shifts_credits(args: argparse.Namespace) -> int:
    from dastbot.shifts.credits import (
        checked_period,
        ledger,
        to_csv,
        to_json,
        to_markdown,
        zones_of,
    )
    from dastbot.shifts.members import roster_in_force

    config = config_from_args(args)
    calendar = Calendar(config.shifts)
    now = datetime.now(UTC)
    today = calendar.local_day(now)
    try:
        first = date.fromisoformat(args.start) if args.start else today.replace(day=1)
        last = date.fromisoformat(args.end) if args.end else today
        first, last = checked_period(first, last)
    except ValueError as exc:
        raise CliError(f"--from and --to take dates YYYY-MM-DD: {exc}") from None
    store = _store(config)
    try:
        roster = roster_in_force(config.roster, store)
        rows = ledger(store, calendar, roster, config.people.credit, first, last, now)
    finally:
        store.close()
    zones = zones_of(calendar)
    if args.format == "csv":
        sys.stdout.write(to_csv(rows, zones))
    elif args.format == "json":
        sys.stdout.write(to_json(rows, zones))
    else:
        print(to_markdown(rows, zones, limit=10**9))
    return EXIT_OK


def add_shift_parsers(subparsers: Any, common: Callable[..., None]) -> None:
    """Add ``oncall`` and ``shifts import|export`` to dastbot's subcommands (``common(p, db=True)``
    adds --config, --kb and --db: ``dastbot.kernel.cli.add_common``)."""
    p = subparsers.add_parser("oncall", help="who is on duty at an instant")
    common(p, db=True)
    p.add_argument("--at", help="ISO-8601 instant (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_oncall)

    shifts = subparsers.add_parser("shifts", help="the shift schedule").add_subparsers(
        dest="shifts", required=True
    )
    p = shifts.add_parser("import", help="read a YAML schedule into the database")
    common(p, db=True)
    p.add_argument("file")
    p.set_defaults(func=cmd_shifts_import)
    p = shifts.add_parser("export", help="print the schedule as YAML or iCalendar")
    common(p, db=True)
    p.add_argument("--ics", action="store_true", help="iCalendar, for calendar subscriptions")
    p.add_argument("--from", dest="start", help="first day (default: today)")
    p.add_argument("--days", type=int, default=90, help=f"how many days (1 to {MAX_EXPORT_DAYS})")
    p.set_defaults(func=cmd_shifts_export)
    p = shifts.add_parser(
        "credits",
        help="shift credit per person and period (CSV columns: README 'For coordinators')",
    )
    common(p, db=True)
    p.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: the 1st)")
    p.add_argument("--to", dest="end", help="last day, included (default: today)")
    p.add_argument("--format", choices=("md", "csv", "json"), default="md")
    p.set_defaults(func=cmd_shifts_credits)

    roster = subparsers.add_parser("roster", help="the roster's Mattermost accounts")
    accounts = roster.add_subparsers(dest="roster", required=True)
    p = accounts.add_parser(
        "forget", help="drop the user id a roster username is bound to (the account changed)"
    )
    common(p, db=True)
    p.add_argument("user")
    p.set_defaults(func=cmd_roster_forget)
