"""Start-up checks of the files the configuration names, each problem as one line that names the
file, the setting and the fix: the database path (before and after SQLite has tried it) and the
private CA bundle. Nothing here creates or changes a file.

Exit codes for these are the CLI's: a database problem is ``EXIT_DATABASE``, a CA file one a
configuration problem.
"""

from __future__ import annotations

import os
import sqlite3
import ssl
from pathlib import Path

from dastbot.kernel.config import Config

SQLITE_MAGIC = b"SQLite format 3\x00"
DB_SETTING = "db (DASTBOT_DB)"
CA_SETTING = "mattermost.ca_file (DASTBOT_MATTERMOST_CA_FILE)"


def database_path_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as the bot's database, found without opening it; None when
    nothing is (SQLite may still refuse it: see ``database_problem``)."""
    if path.is_dir():
        return f"{path} is a folder, not a database file: set {DB_SETTING} to a file in it"
    if path.exists():
        try:
            with path.open("rb") as handle:
                head = handle.read(len(SQLITE_MAGIC))
        except OSError as exc:
            return f"{path}: cannot read the database ({exc.strerror}): fix its permissions"
        if head and head != SQLITE_MAGIC:
            return (
                f"{path} is not an SQLite database (it holds something else): set {DB_SETTING} "
                "to the bot's database, or to a new file to start afresh"
            )
        folder = path.parent
    else:
        folder = next((p for p in path.parents if p.exists()), Path("."))
        if not folder.is_dir():
            return f"{folder} is a file, not a folder: set {DB_SETTING} to a path in a folder"
    why = _unwritable(folder)
    if why:
        return (
            f"{path}: the database cannot be written, {folder} {why} (SQLite writes its "
            f"journal beside the file): set {DB_SETTING} to a writable place, e.g. a volume"
        )
    return None


def _unwritable(folder: Path) -> str:
    """Why no file can be created in ``folder``, or "" when one can."""
    if os.access(folder, os.W_OK | os.X_OK):
        return ""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "is on a read-only file system"
    except OSError:
        pass
    return "does not let the bot create files (permissions)"


def database_problem(path: Path, exc: BaseException) -> str:
    """One line for an error SQLite (or the file system) raised on opening ``path``."""
    found = database_path_problem(path)
    if found:
        return found
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in detail:
        return (
            f"{path} is not an SQLite database (or it is damaged): set {DB_SETTING} to the "
            "bot's database, or restore it from a backup"
        )
    if isinstance(exc, OSError):
        detail = exc.strerror or detail
    return f"{path}: the database cannot be used ({detail}): check the file or set {DB_SETTING}"


def ca_file_problem(config: Config) -> str | None:
    """What is wrong with the configured private CA bundle, if one is configured and used."""
    settings = config.mattermost
    if not settings.ca_file or not settings.verify:
        return None
    path = config.resolve(settings.ca_file)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        return (
            f"{path} {what}: {CA_SETTING} must name the PEM file of your certificate authority "
            "(empty: the system's authorities)"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        return (
            f"{path} holds no usable certificate ({exc}): {CA_SETTING} must name a PEM bundle "
            "(-----BEGIN CERTIFICATE-----)"
        )
    return None
