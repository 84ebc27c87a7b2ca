"""What every subcommand shares: exit codes, the error that ends a command without a traceback,
the common options, reading the configuration they name, and parsing an instant.

Features add their subcommands with functions that take the subparsers and ``add_common``;
``dastbot.cli`` is the only place that turns a ``CliError`` into an exit.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from dastbot.kernel.config import Config, ConfigError, default_config_path, load_config

EXIT_OK = 0
EXIT_ERRORS = 1
"""Invalid configuration, knowledge base or input file."""
EXIT_USAGE = 2
EXIT_MATTERMOST = 3
"""Mattermost refused the bot: a rejected token, a team or channel that is not there, TLS."""
EXIT_DATABASE = 4
"""The database cannot be used: written by a newer version, in use by another bot, unreadable."""


class CliError(Exception):
    """A problem to report on stderr with a non-zero exit, without a traceback."""

    def __init__(self, message: str, code: int = EXIT_ERRORS) -> None:
        super().__init__(message)
        self.code = code


def add_common(p: argparse.ArgumentParser, db: bool = False) -> None:
    """--config and --kb (and --db) for a subcommand."""
    p.add_argument("--config", help="bot.yaml (default: $DASTBOT_CONFIG or ./bot.yaml)")
    p.add_argument("--kb", help="knowledge folder or YAML file (default: config / $DASTBOT_KB)")
    if db:
        p.add_argument("--db", help="SQLite file (default: config / $DASTBOT_DB)")


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration named by --config (or the default), with --kb and --db applied."""
    path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    if path is not None and not path.is_file():
        raise CliError(f"{path}: no such configuration file")
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise CliError(
            "configuration errors:\n" + "\n".join(f"  {e}" for e in exc.errors)
        ) from None
    overrides: dict[str, object] = {}
    if getattr(args, "kb", None):
        overrides["kb"] = str(Path(args.kb).resolve())
    if getattr(args, "db", None):
        overrides["db"] = str(Path(args.db).resolve())
    return config.model_copy(update=overrides) if overrides else config


FIRST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LAST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)
"""Instants the command line accepts: shifts, reports and demo data look weeks around them."""


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"not an ISO-8601 instant: {text!r} (e.g. 2026-03-27T09:00+01:00)") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not FIRST_INSTANT <= value <= LAST_INSTANT:
        raise CliError(
            f"{text!r} is outside the years {FIRST_INSTANT.year} to {LAST_INSTANT.year} the bot "
            "computes shifts and reports for"
        )
    return value
