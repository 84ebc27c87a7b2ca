"""The command line at the edges of the calendar: numbers of days or weeks and instants that
would take a date past year 1 or 9999 are refused in one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "99999999999"], "--days takes 1 to 3660 days, not 99999999999"),
        (["--days", "0"], "--days takes 1 to 3660 days, not 0"),
        (["--from", "9999-12-30"], "--from 9999-12-30 with --days 90 ends after the year 9999"),
    ],
)
def test_shifts_export_refuses_days_beyond_the_calendar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(["shifts", "export", "--db", str(tmp_path / "bot.db"), *args], capsys)
    assert code == 1
    assert message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["oncall", "--at", "9999-12-31T23:00+00:00"], "outside the years 1970 to 9000"),
        (["oncall", "--at", "0001-01-01T00:00"], "outside the years 1970 to 9000"),
        (["demo-data", "--weeks", "99999999999"], "--weeks must be at least 1 and at most 520"),
    ],
)
def test_instants_and_weeks_at_the_edges_of_the_calendar_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run([*args, "--db", str(tmp_path / "bot.db")], capsys)
    assert code in (1, 2)
    assert message in err and "Traceback" not in err


def test_output_into_a_pipe_whose_reader_left_ends_quietly(tmp_path: Path) -> None:
    """`dastbot kb search ... | head -1`: the reader leaves early; no traceback follows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASTBOT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dastbot", "kb", "match", "my task is exhausted", "--top", "5"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err
