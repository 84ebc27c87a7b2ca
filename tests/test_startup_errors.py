"""Every way ``dastbot run`` can fail to start ends in one line that names the file or setting
and the fix, and an exit code for its class (1 configuration or knowledge, 3 Mattermost,
4 database), never a traceback. Each case runs the real command in a child process with
``DASTBOT_*`` variables; most need no Mattermost server, since they stop before connecting."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import FIXTURES
from fakes.fake_mattermost import FakeMattermost

REPO = Path(__file__).resolve().parent.parent
CONFIGURATION, MATTERMOST, DATABASE = 1, 3, 4


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "DASTBOT_MATTERMOST_URL": "http://127.0.0.1:9",
            "DASTBOT_MATTERMOST_TOKEN": "startup-test-token",
            "DASTBOT_HTTP_PORT": "0",
            "DASTBOT_HTTP_METRICS_PORT": "0",
            "DASTBOT_DB": str(tmp_path / "bot.db"),
            "DASTBOT_KB": str(FIXTURES / "kb"),
        }
    )
    env.update(extra)
    return env


def run(env: dict[str, str], cwd: Path, prefix: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    """Exit code and the stderr lines of ``dastbot run``; it must stop by itself."""
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "dastbot", "run"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


def the_error(lines: list[str]) -> str:
    """The one line that says why it stopped (log lines from before it may precede it)."""
    errors = [line for line in lines if line.startswith("dastbot: ")]
    assert len(errors) == 1, lines
    assert lines[-1] == errors[0], lines
    return errors[0]


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 20, b"these are my notes, not a database\n"],
    ids=["garbage", "text"],
)
def test_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "bot.db"
    db.write_bytes(content)
    code, lines = run(env_for(tmp_path), tmp_path)
    assert code == DATABASE
    assert lines == [
        f"dastbot: {db} is not an SQLite database (it holds something else): set db (DASTBOT_DB)"
        " to the bot's database, or to a new file to start afresh"
    ]
    assert db.read_bytes() == content, "the file must be left as it was"


def test_a_damaged_database_behind_a_valid_header(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    code, lines = run(env_for(tmp_path), tmp_path)
    assert code == DATABASE
    assert the_error(lines) == (
        f"dastbot: {db} is not an SQLite database (or it is damaged): set db (DASTBOT_DB) to the "
        "bot's database, or restore it from a backup"
    )


def test_a_folder_as_the_database(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    code, lines = run(env_for(tmp_path, DASTBOT_DB=str(folder)), tmp_path)
    assert code == DATABASE
    assert lines == [
        f"dastbot: {folder} is a folder, not a database file: set db (DASTBOT_DB) to a file in it"
    ]


def test_a_database_sqlite_cannot_open_is_named(tmp_path: Path) -> None:
    """SQLite's own "unable to open database file" says neither which file nor what to do."""
    db = Path("/proc/dastbot-startup-test.db")
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc, where no file can be created")
    code, lines = run(env_for(tmp_path, DASTBOT_DB=str(db)), tmp_path)
    assert code == DATABASE
    error = the_error(lines)
    assert error.startswith(f"dastbot: {db}: ")
    assert "DASTBOT_DB" in error


def unshare_prefix(folder: Path) -> tuple[str, ...]:
    """A command prefix that runs the rest with ``folder`` on a read-only file system (a
    read-only bind mount in a new mount namespace); skips when the system does not allow it."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command: cannot make a read-only file system")
    script = 'mount -o bind,ro "$0" "$0" && exec "$@"'
    prefix = ("unshare", "--mount", "--map-root-user", "sh", "-c", script, str(folder))
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"unshare/mount not permitted here: {probe.stderr.decode().strip()}")
    return prefix


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_database_on_a_read_only_file_system(tmp_path: Path, existing: bool) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "bot.db"
    if existing:
        sqlite3.connect(db).close()
    code, lines = run(env_for(tmp_path, DASTBOT_DB=str(db)), tmp_path, unshare_prefix(data))
    assert code == DATABASE
    assert lines == [
        f"dastbot: {db}: the database cannot be written, {data} is on a read-only file system "
        "(SQLite writes its journal beside the file): set db (DASTBOT_DB) to a writable place, "
        "e.g. a volume"
    ]


def test_a_missing_contacts_file(tmp_path: Path) -> None:
    missing = tmp_path / "contacts.yaml"
    code, lines = run(env_for(tmp_path, DASTBOT_CONTACTS=str(missing)), tmp_path)
    assert code == CONFIGURATION
    assert lines == [
        f"dastbot: escalation contacts: {missing}:1: cannot read: No such file or directory: fix "
        "it, or set contacts (DASTBOT_CONTACTS) to the escalation contacts file"
    ]


@pytest.mark.parametrize("kind", ["missing", "not-pem"])
def test_a_bad_ca_file_is_named(tmp_path: Path, kind: str) -> None:
    ca = tmp_path / "ca.pem"
    if kind == "not-pem":
        ca.write_text("this is not a certificate\n")
    env = env_for(tmp_path, DASTBOT_MATTERMOST_CA_FILE=str(ca))
    code, lines = run({**env, "DASTBOT_MATTERMOST_URL": "https://127.0.0.1:9"}, tmp_path)
    assert code == CONFIGURATION
    [line] = lines
    assert line.startswith(f"dastbot: {ca} ")
    assert "mattermost.ca_file (DASTBOT_MATTERMOST_CA_FILE)" in line
    assert ("does not exist" if kind == "missing" else "holds no usable certificate") in line


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = run(env_for(tmp_path, DASTBOT_HTTP_PORT=str(port)), tmp_path)
    assert code == CONFIGURATION
    error = the_error(lines)
    assert error.startswith(f"dastbot: cannot listen on 127.0.0.1:{port} (")
    assert error.endswith("DASTBOT_HTTP_PORT / DASTBOT_HTTP_HOST")


@pytest.fixture
async def fake() -> AsyncIterator[FakeMattermost]:
    async with FakeMattermost() as server:
        yield server


async def test_a_wrong_team_is_not_reported_as_unreachable(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    env = env_for(
        tmp_path,
        DASTBOT_MATTERMOST_URL=fake.url,
        DASTBOT_MATTERMOST_TOKEN=fake.token("dastbot"),
        DASTBOT_TEAM="atlsa",
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dastbot", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(child.communicate(), timeout=60)
    text = err.decode()
    assert "Traceback" not in text and "cannot reach" not in text, text
    assert child.returncode == MATTERMOST
    assert the_error(text.splitlines()) == (
        f"dastbot: team 'atlsa' not found on {fake.url} (or the bot is not a member): set team "
        "(DASTBOT_TEAM) to the team's name as in its URL, and add the bot to it"
    )


def test_console_and_check_name_the_same_database_problem(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    line = f"{folder} is a folder, not a database file: set db (DASTBOT_DB) to a file in it"
    env = env_for(tmp_path, DASTBOT_DB=str(folder))
    console = subprocess.run(
        [sys.executable, "-m", "dastbot", "console", "--db", str(folder)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, input="",
    )  # fmt: skip
    assert (console.returncode, console.stderr) == (DATABASE, f"dastbot: {line}\n")
    check = subprocess.run(
        [sys.executable, "-m", "dastbot", "check"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == CONFIGURATION
    problems = [x for x in check.stderr.splitlines() if not x.startswith("warning:")]
    assert problems == [line, "dastbot check: 1 problem(s) to fix, listed above"]
