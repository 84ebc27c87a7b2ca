"""``dastbot outbox``: the messages the bot gave up sending, and retry or drop one, from the
command line (the same as ``/dast outbox`` for coordinators; safe while the bot runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dastbot.kernel.cli import EXIT_ERRORS, EXIT_OK, CliError, config_from_args
from dastbot.outbox.commands import listing
from dastbot.store import Store


def cmd_outbox(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    path = config.resolve(config.db)
    if str(path) != ":memory:" and not path.is_file():
        raise CliError(f"{path}: no such database (give --db)")
    store = Store.open(path)
    try:
        if args.action == "list":
            print(listing(store, limit=args.limit).replace("/dast outbox", "dastbot outbox"))
            return EXIT_OK
        done = (
            store.retry_dead_letter(args.id)
            if args.action == "retry"
            else store.drop_dead_letter(args.id, datetime.now(UTC))
        )
    finally:
        store.close()
    if not done:
        print(f"There is no undelivered message #{args.id}.")
        return EXIT_ERRORS
    verb = "will be sent again at the bot's next sweep" if args.action == "retry" else "dropped"
    print(f"Message #{args.id} {verb}.")
    return EXIT_OK


def add_outbox_parsers(subparsers: Any, common: Callable[..., None]) -> None:
    p = subparsers.add_parser("outbox", help="messages the bot gave up sending; retry or drop")
    common(p, db=True)
    p.add_argument("action", nargs="?", choices=("list", "retry", "drop"), default="list")
    p.add_argument("id", nargs="?", type=int, help="the message's number (with retry or drop)")
    p.add_argument("--limit", type=int, default=200, help="how many to list (newest first)")
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    if args.action != "list" and args.id is None:
        raise CliError(f"dastbot outbox {args.action} needs the message's number", 2)
    return cmd_outbox(args)
