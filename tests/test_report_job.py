"""The weekly report in the running bot (the job, across DST and restarts), the /dast report
command, the report settings, and the `report` / `demo-data` subcommands."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ShiftBot
from pydantic import ValidationError

from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config, load_config
from dastbot.kernel.models import OutMessage
from dastbot.report import stats
from dastbot.report.chart import chart_png
from dastbot.report.chart_process import chart_argument
from dastbot.report.cli import add_report_parsers
from dastbot.report.job import JOB_ID, ReportSettings, WeeklyReportJob
from dastbot.report.values import WeekReport
from dastbot.shifts.calendar import Calendar
from dastbot.store import ReportReader, ReportRows, Store

COORDINATORS = "dast-coordinators"
WEATHER = "what is the weather in Rabat tomorrow?"


def wire(bot: ShiftBot) -> WeeklyReportJob | None:
    """The weekly job as app.py wires it (None where it is already wired)."""
    if any(j.id == JOB_ID for j in bot.app.sweeper.jobs):
        return None
    job = WeeklyReportJob(bot.router.config, bot.store, bot.router.duty, bot.knowledge)
    bot.app.sweeper.add(job)
    return job


def reports(posted: list[OutMessage]) -> list[OutMessage]:
    return [m for m in posted if m.key.startswith("weekly-report:")]


def restarted(bot: ShiftBot) -> ShiftBot:
    again = ShiftBot(bot.router.config, bot.store, bot.clock)
    again.chat = bot.chat
    again.app.router.chat = again.app.router.sender.chat = bot.chat
    wire(again)
    return again


async def test_posted_on_monday_at_0900_zurich_time_before_and_after_dst(
    shiftbot: ShiftBot,
) -> None:
    wire(shiftbot)
    shiftbot.clock.set(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    await shiftbot.start()
    await shiftbot.say("alice", WEATHER, post_id="q1")
    posted = reports(await shiftbot.wait(timedelta(days=11)))
    assert [m.key for m in posted] == ["weekly-report:2026-W12", "weekly-report:2026-W13"]
    assert {m.channel_id for m in posted} == {COORDINATORS}
    first, second = (shiftbot.store.sent(m.key) for m in posted)
    assert first is not None and second is not None
    assert first["created_at"] == "2026-03-23T08:00:00.000+00:00"  # 09:00 CET
    assert second["created_at"] == "2026-03-30T07:00:00.000+00:00"  # 09:00 CEST
    assert posted[0].message.startswith("#### DAST weekly report 2026-W12: Mon 16 Mar")
    assert "| asked | 1 (+1) |" in posted[0].message
    [(name, png)] = posted[0].files
    assert name == "dast-report-2026-W12.png"
    assert png.startswith(b"\x89PNG") and len(png) < 150_000


async def test_posted_once_even_across_a_restart(shiftbot: ShiftBot) -> None:
    wire(shiftbot)
    shiftbot.clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    await shiftbot.start()
    assert [m.key for m in reports(await shiftbot.wait(timedelta(hours=2)))] == [
        "weekly-report:2026-W10"
    ]
    again = restarted(shiftbot)
    assert reports(await again.start()) == []
    assert reports(await again.wait(timedelta(hours=6))) == []
    assert len([k for k in shiftbot.store.outbox_keys() if k.startswith("weekly-report:")]) == 1


async def test_an_outage_over_monday_morning_posts_once_when_back(shiftbot: ShiftBot) -> None:
    wire(shiftbot)
    shiftbot.clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    await shiftbot.start()
    shiftbot.clock.set(datetime(2026, 3, 16, 10, 0, tzinfo=UTC))  # down for ten days
    again = restarted(shiftbot)
    assert [m.key for m in reports(await again.start())] == ["weekly-report:2026-W11"]
    assert reports(await again.wait(timedelta(hours=1))) == []


async def test_the_report_command_for_shifters_and_coordinators(shiftbot: ShiftBot) -> None:
    wire(shiftbot)
    shiftbot.clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    await shiftbot.say("alice", WEATHER, post_id="q1")
    shiftbot.clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    reply = await shiftbot.command("sam", "report 2026-W10")
    assert reply.text.startswith("#### DAST weekly report 2026-W10: Mon 2 Mar to Sun 8 Mar 2026")
    assert "| asked | 1 (+1) |" in reply.text
    assert not reply.in_channel
    assert (await shiftbot.command("cora", "report")).text == reply.text  # default: last week
    refused = await shiftbot.command("alice", "report 2026-W10")
    assert "needs the shifter role" in refused.text
    assert "needs the shifter role" in (await shiftbot.command("tina", "report")).text


async def test_the_bot_keeps_answering_while_the_report_command_computes(
    config: Config, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database file the report is computed on a worker thread over a read-only
    connection: a question asked meanwhile is answered before the report is done."""
    store = Store.open(tmp_path / "bot.db")
    bot = ShiftBot(config, store, clock)
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    await bot.say("alice", WEATHER, post_id="q1")
    clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    started, answered = threading.Event(), threading.Event()
    readers: list[object] = []
    compute = stats.build_report

    def held_until_the_bot_answered(reader: ReportRows, *args: Any) -> WeekReport:
        readers.append(reader)
        started.set()
        assert answered.wait(timeout=30), "the report blocked the event loop"
        return compute(reader, *args)

    monkeypatch.setattr(stats, "build_report", held_until_the_bot_answered)
    command = asyncio.create_task(bot.command("sam", "report 2026-W10"))
    assert await asyncio.to_thread(started.wait, 30)
    replies = await bot.say("bob", WEATHER, post_id="q2")
    assert replies and not command.done()
    answered.set()
    reply = await command
    assert reply.text.startswith("#### DAST weekly report 2026-W10: Mon 2 Mar to Sun 8 Mar 2026")
    assert "| asked | 1 (+1) |" in reply.text
    assert [type(r) for r in readers] == [ReportReader]
    store.close()


async def test_the_bot_keeps_answering_while_the_weekly_report_computes(
    config: Config, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weekly post's report is computed on a worker thread over a read-only connection
    before the sweep that posts it: a question asked meanwhile is answered first."""
    store = Store.open(tmp_path / "bot.db")
    bot = ShiftBot(config, store, clock)
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    await bot.start()
    await bot.say("alice", WEATHER, post_id="q1")
    clock.set(datetime(2026, 3, 9, 8, 1, tzinfo=UTC))  # Monday 09:01 in Zurich: it is due
    started, answered = threading.Event(), threading.Event()
    readers: list[object] = []
    compute = stats.build_report

    def held_until_the_bot_answered(reader: ReportRows, *args: Any) -> WeekReport:
        readers.append(reader)
        started.set()
        assert answered.wait(timeout=30), "the report blocked the event loop"
        return compute(reader, *args)

    monkeypatch.setattr(stats, "build_report", held_until_the_bot_answered)
    sweep = asyncio.create_task(bot.app.tick())
    assert await asyncio.to_thread(started.wait, 30)
    replies = await bot.say("bob", WEATHER, post_id="q2")
    assert replies and not sweep.done()
    answered.set()
    await sweep
    [posted] = reports([m for _, m in bot.chat.sent])
    assert posted.key == "weekly-report:2026-W10"
    assert "| asked | 1 (+1) |" in posted.message
    assert posted.files[0][1].startswith(b"\x89PNG")
    assert [type(r) for r in readers] == [ReportReader]
    store.close()


@pytest.mark.parametrize("words", ["report 2026-W99", "report last-week", "report 2026 W10"])
async def test_a_bad_week_answers_with_the_usage(shiftbot: ShiftBot, words: str) -> None:
    wire(shiftbot)
    reply = await shiftbot.command("sam", words)
    assert "Usage: `/dast report [YYYY-Www]`, e.g. `/dast report 2026-W10`" in reply.text
    assert not reply.text.startswith("####")


def test_settings_validate_and_move_the_due_time(config: Config) -> None:
    assert ReportSettings() == ReportSettings(weekday="mon", time="09:00")
    assert ReportSettings(weekday="Friday", time="7:30") == ReportSettings(
        weekday="fri", time="07:30"
    )
    for bad in ({"weekday": "someday"}, {"time": "25:00"}, {"time": "9am"}, {"when": "mon"}):
        with pytest.raises(ValidationError):
            ReportSettings.model_validate(bad)
    from dastbot.shifts.duty import Duty

    store = Store.memory()
    job = WeeklyReportJob(config, store, Duty(config, store))
    after = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 CET exactly
    assert job.next_due(after) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert job.next_due(after - timedelta(seconds=1)) == after
    job.settings = ReportSettings(weekday="fri", time="17:30")
    assert job.next_due(after) == datetime(2026, 3, 27, 16, 30, tzinfo=UTC)


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> argparse.ArgumentParser:
    for name in ("DASTBOT_CONFIG", "DASTBOT_KB", "DASTBOT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser(prog="dastbot")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, db: bool = False) -> None:
        p.add_argument("--config")
        p.add_argument("--kb")
        if db:
            p.add_argument("--db")

    add_report_parsers(sub, common)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_demo_data_then_report_in_every_format(
    cli: argparse.ArgumentParser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "d.db")
    end = "2026-03-16T00:00+01:00"
    assert run(cli, ["demo-data", "--weeks", "2", "--db", db, "--end", end, "--seed", "3"]) == 0
    assert "questions" in capsys.readouterr().out
    assert run(cli, ["report", "--db", db, "--week", "2026-W11", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["week"] == "2026-W11" and data["this_week"]["questions"]["asked"] > 40
    assert run(cli, ["report", "--db", db, "--week", "2026-W11", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("section,metric,this_week,previous_week\n")
    chart = tmp_path / "c.png"
    assert run(cli, ["report", "--db", db, "--week", "2026-W11", "--chart", str(chart)]) == 0
    assert capsys.readouterr().out.startswith("#### DAST weekly report 2026-W11")
    # the chart drawn beside the report is the one drawn here
    assert chart.read_bytes() == chart_png(week_report(Path(db), "2026-W11"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "d.db"]


def test_the_launcher_starts_the_chart_process_only_for_a_report_with_a_chart() -> None:
    assert chart_argument(["report", "--db", "d.db", "--chart", "c.png"]) == Path("c.png")
    assert chart_argument(["report", "--chart=out/c.png", "--week", "2026-W11"]) == Path(
        "out/c.png"
    )
    assert chart_argument(["report", "--chart", "--week"]) is None  # argparse will refuse it
    assert chart_argument(["report", "--format", "json"]) is None
    assert chart_argument(["kb", "match", "--chart", "report"]) is None


def test_dastbot_report_with_a_chart_through_the_launcher(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASTBOT_")}

    def dastbot(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dastbot", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    db, chart = tmp_path / "d.db", tmp_path / "c.png"
    made = dastbot("demo-data", "--weeks", "1", "--db", str(db), "--end", "2026-03-16T00:00+01:00")
    assert made.returncode == 0, made.stderr
    refused = dastbot("report", "--db", str(db), "--week", "2026-W99", "--chart", str(chart))
    assert (refused.returncode, refused.stderr) == (2, "dastbot: --week: 2026 has no ISO week 99\n")
    assert not chart.exists()
    done = dastbot("report", "--db", str(db), "--week", "2026-W11", "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#### DAST weekly report 2026-W11")
    assert chart.read_bytes() == chart_png(week_report(db, "2026-W11"))


def week_report(db: Path, week: str) -> WeekReport:
    """The report of ``week`` computed here, from the database ``db``."""
    store = Store.open(db)
    try:
        return stats.build_report(store, week, Calendar(load_config(None, {}).shifts))
    finally:
        store.close()


def test_a_chart_that_cannot_be_written_is_refused_in_one_line(
    cli: argparse.ArgumentParser, tmp_path: Path
) -> None:
    from dastbot.kernel.cli import CliError

    db = str(tmp_path / "d.db")
    assert run(cli, ["demo-data", "--weeks", "1", "--db", db, "--end", "2026-03-16T00:00Z"]) == 0
    nowhere = tmp_path / "no such folder" / "c.png"
    with pytest.raises(CliError, match=r"--chart: no folder .*no such folder"):
        run(cli, ["report", "--db", db, "--week", "2026-W11", "--chart", str(nowhere)])
    with pytest.raises(CliError, match="not an ISO week"):
        run(cli, ["report", "--db", db, "--week", "W11", "--chart", str(tmp_path / "c.png")])
    assert not (tmp_path / "c.png").exists()


def test_cli_errors(cli: argparse.ArgumentParser, tmp_path: Path) -> None:
    from dastbot.kernel.cli import CliError

    db = str(tmp_path / "d.db")
    with pytest.raises(CliError, match="no such database") as missing:
        run(cli, ["report", "--db", db])
    assert missing.value.code == 1
    end = "2026-03-16T00:00+01:00"
    assert run(cli, ["demo-data", "--weeks", "1", "--db", db, "--end", end]) == 0
    with pytest.raises(CliError, match="not an ISO week") as bad:
        run(cli, ["report", "--db", db, "--week", "2026-13"])
    assert bad.value.code == 2
    for week in ("9999-W52", "0001-W01"):
        with pytest.raises(CliError, match=f"{week} is too close to year 1 or 9999") as edge:
            run(cli, ["report", "--db", db, "--week", week])
        assert edge.value.code == 2
    with pytest.raises(CliError, match="already holds"):
        run(cli, ["demo-data", "--weeks", "1", "--db", db, "--end", end])
    with pytest.raises(CliError, match="at least 1"):
        run(cli, ["demo-data", "--weeks", "0", "--db", str(tmp_path / "e.db")])
