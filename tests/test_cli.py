"""The command line as a user types it: console transcripts from a pipe, check, kb match/eval."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, shared_dir

from dastbot.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str = ""
) -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(args)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASTBOT_CONFIG", "DASTBOT_KB", "DASTBOT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_console_answers_a_piped_question_in_its_thread(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["console", "--kb", str(REPO / "knowledge")],
        capsys,
        "pathena says my task is exhausted, what now?\n",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "[p1] alice: pathena says my task is exhausted, what now?"
    assert lines[1].startswith("[p2] dastbot in thread p1")
    assert "exhausted" in lines[2].lower()
    assert "Match confidence" in out


def test_console_transcript_with_users_threads_commands_and_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = "\n".join(
        [
            ":as bob",
            "my task is exhausted what does it mean",
            ":in p1",
            "that did not help",
            ":out",
            "/dast status",
            ":wait 2d",
            "/dast kb search proxy has expired",
        ]
    )
    code, out, _ = run(
        [
            "console",
            "--kb",
            str(FIXTURES / "kb"),
            "--db",
            str(tmp_path / "c.db"),
            "--at",
            "2026-03-27T15:00+01:00",
        ],
        capsys,
        script + "\n",
    )
    assert code == 0
    assert "[p1] bob: my task is exhausted what does it mean" in out
    assert "[p3] bob in thread p1: that did not help" in out
    assert "[p4] dastbot in thread p1 (Fri 14:00 UTC):" in out
    assert re.search(r"\| p1 +\| waiting +\| bob +\|", out)  # tables print in columns
    assert "(time is now Sun 2026-03-29 14:00 UTC)" in out
    assert re.search(r"\| proxy-expired +\| Grid proxy expired +\| 0\.75 +\|", out)


def test_console_survives_bad_meta_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["console", "--kb", str(FIXTURES / "kb")], capsys, ":wait forever\n:in p77\n:bogus\n"
    )
    assert code == 0
    assert "(error: not a duration: 'forever'" in out
    assert "(error: no post p77)" in out
    assert ":as NAME" in out


def test_kb_match_json_abstains_on_the_weather(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "match", "what is the weather in Rabat?", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["abstain"] is True
    assert set(result["matches"][0]) == {"id", "title", "score"}


def test_kb_match_finds_a_pasted_error(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        [
            "kb",
            "match",
            "--kb",
            str(FIXTURES / "kb"),
            "Payload exceeded maximum allowed memory",
            "--json",
        ],
        capsys,
    )
    assert json.loads(out)["matches"][0]["id"] == "memory-exceeded"
    assert json.loads(out)["abstain"] is False


def test_check_passes_on_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--config", str(REPO / "bot.yaml")], capsys)
    assert code == 0
    assert "knowledge base OK" in out


def test_check_lists_every_problem_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "--kb", str(FIXTURES / "broken")], capsys)
    assert code == 1
    assert "a.yaml:7: entry 'no-answer': missing required field 'answer'" in err
    assert "b.yaml:1: entry 'dup-entry': duplicate id" in err


def test_check_reports_config_and_kb_errors_together(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bot.yaml"
    bad.write_text("http:\n  port: -1\n")
    code, _, err = run(["check", "--config", str(bad), "--kb", str(FIXTURES / "broken")], capsys)
    assert code == 1
    assert f"{bad}:2: http.port" in err
    assert "duplicate id" in err


def test_check_reports_every_problem_of_every_file_in_one_pass_in_plain_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURES / "broken", kb)
    contacts = (REPO / "knowledge" / "contacts.yaml").read_text()
    contacts = contacts.replace("reminders_after: [4, 8]", "reminders_after: four")
    (kb / "contacts.yaml").write_text(contacts)
    (tmp_path / "bot.yaml").write_text(
        "kb: kb\n"
        "http:\n  port: seventy\n"
        "shifts:\n  slots:\n"
        "    - {name: EU, start: '08:00', end: '16:00', zone: EU}\n"
        "    - {name: NA, start: '15:00', end: '24:00', zone: NA}\n"
        "roster:\n"
        "  - {user: sam, zone: EU}\n"
        "  - {user: sam, zone: NA}\n"
        "  - {user: cora, zone: EU, roles: [coordinatr]}\n"
    )
    code, _, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert code == 1
    bot = tmp_path / "bot.yaml"
    for line in (
        f"{bot}:3: http.port: should be a whole number, not 'seventy'",
        # found only once the fields above are valid: not in a second round
        f"{bot}:4: shifts: slots EU and NA overlap",
        f"{bot}:11: roster.2.roles: unknown role 'coordinatr': did you mean 'coordinator'? "
        "A misspelt role gives no rights",
        "a.yaml:7: entry 'no-answer': missing required field 'answer'",
        "contacts.yaml:20: defaults: reminders_after:",
        "roster.1: sam is listed twice with another zone (EU at roster.0, NA here); a person "
        "belongs to one zone",
        "warning: roster: slot zone NA has no coordinator, so its alerts mention nobody; give "
        "someone in zone NA `roles: [coordinator]`",
    ):
        assert line in err


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "should be at least 1, not 0"), ("half an hour", "should be a whole number")],
)
def test_check_refuses_a_ping_quiet_window_that_is_not_whole_minutes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str, message: str
) -> None:
    bot = tmp_path / "bot.yaml"
    bot.write_text(f"shifts:\n  no_reply_minutes: 60\n  ping_quiet_minutes: {value}\n")
    code, _, err = run(["check", "--config", str(bot)], capsys)
    assert code == 1
    assert f"{bot}:3: shifts.ping_quiet_minutes: " in err
    assert message in err


def test_check_names_the_known_roles_for_an_unknown_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bot.yaml").write_text(
        "roster:\n"
        "  - {user: cora, zone: EU, roles: [coordinator]}\n"
        "  - {user: nora, zone: NA, roles: [coordinator, panda-expert]}\n"
    )
    code, out, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert code == 1
    assert (
        "roster.1: nora: unknown role 'panda-expert' (known roles: coordinator, ami-team, "
        "panda-experts, rucio-experts); a misspelt role gives no rights"
    ) in err
    (tmp_path / "bot.yaml").write_text(
        (tmp_path / "bot.yaml").read_text().replace("panda-expert]", "panda-experts]")
    )
    code, out, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert (code, err) == (0, "")
    assert "roster OK: 2 people" in out


def test_kb_eval_prints_the_documented_json_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "- {id: a, text: 'Payload exceeded maximum allowed memory', gold: memory-exceeded}\n"
        "- {id: b, text: 'my grid proxy has expired', gold: proxy-expired}\n"
        "- {id: c, text: 'best pizza near CERN?', gold: null}\n"
    )
    code, out, _ = run(
        ["kb", "eval", "--kb", str(FIXTURES / "kb"), "--questions", str(questions), "--json"],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert set(result) == {
        "n",
        "answerable",
        "top1",
        "top3",
        "nulls",
        "null_abstained",
        "overall",
        "threshold",
        "p50_ms",
        "p99_ms",
        "alt_accepted",
        "null_kinds",
    }
    assert (result["n"], result["answerable"], result["nulls"]) == (3, 2, 1)
    assert result["top1"] == 1.0


def test_kb_eval_rejects_gold_labels_the_kb_does_not_have(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text("- {id: a, text: 'x', gold: no-such-entry}\n")
    code, _, err = run(
        ["kb", "eval", "--kb", str(FIXTURES / "kb"), "--questions", str(questions)], capsys
    )
    assert code == 1
    assert "gold 'no-such-entry' is not an entry" in err


def test_kb_eval_on_the_shared_dev_set(capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_dir("DASTBOT_EVAL_DIR")
    _, out, _ = run(
        [
            "kb",
            "eval",
            "--kb",
            str(folder / "knowledge.yaml"),
            "--questions",
            str(folder / "questions-dev.yaml"),
            "--json",
        ],
        capsys,
    )
    result = json.loads(out)
    assert (result["n"], result["answerable"], result["nulls"]) == (118, 102, 16)
    assert result["top1"] >= 0.8


def test_the_installed_console_script_runs_with_the_packaged_knowledge(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "dastbot"
    if not script.exists():
        pytest.skip("dastbot is not installed in this environment (pip install -e .)")
    proc = subprocess.run(
        [str(script), "kb", "match", "my task is exhausted what does it mean", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["matches"][0]["id"] == "panda-task-exhausted"


ROTA = """\
- {date: 2026-03-27, slot: EU, shifter: sam, trainee: tina}
- {date: 2026-03-27, slot: NA, shifter: nick}
- {date: 2026-03-30, slot: EU, shifter: sam}
- {date: 2026-10-23, slot: NA, shifter: nick}
- {date: 2026-10-26, slot: EU, shifter: sam}
- {date: 2026-12-24, slot: EU, shifter: sam}
- {date: 2026-12-28, slot: EU, shifter: sam}
- {date: 2027-01-05, slot: EU, shifter: ghost}
"""
ROSTER_YAML = """\
shifts:
  closures: ["2026-12-24..2027-01-04"]
roster:
  - {user: sam, zone: EU, level: shifter}
  - {user: tina, zone: EU, level: trainee}
  - {user: nick, zone: NA, level: shifter}
  - {user: cora, zone: EU, level: shifter, roles: [coordinator]}
  - {user: nora, zone: NA, level: shifter, roles: [coordinator]}
"""


@pytest.fixture
def rota(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    (tmp_path / "bot.yaml").write_text(ROSTER_YAML)
    (tmp_path / "rota.yaml").write_text(ROTA)
    common = ["--config", str(tmp_path / "bot.yaml"), "--db", str(tmp_path / "s.db")]
    code, out, err = run(["shifts", "import", str(tmp_path / "rota.yaml"), *common], capsys)
    assert code == 0
    assert out.startswith("imported 8 assignment(s)")
    assert "rota.yaml:8: shifter 'ghost' is not in the roster" in err
    return common


def oncall(common: list[str], at: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, _ = run(["oncall", "--at", at, "--json", *common], capsys)
    assert code == 0
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Friday before the spring change: CET, EU is 07:00-15:00 UTC.
        ("2026-03-27T07:30:00Z", ("EU", "sam", "tina", "cora", "2026-03-27T15:00:00Z")),
        ("2026-03-27T22:59:00Z", ("NA", "nick", None, "nora", "2026-03-30T06:00:00Z")),
        ("2026-03-27T23:00:00Z", (None, None, None, "cora", "2026-03-30T06:00:00Z")),
        # The change itself (Sunday 02:00 -> 03:00) and Monday in CEST: EU from 06:00 UTC.
        ("2026-03-29T01:30:00Z", (None, None, None, "cora", "2026-03-30T06:00:00Z")),
        ("2026-03-30T05:59:00Z", (None, None, None, "cora", "2026-03-30T06:00:00Z")),
        ("2026-03-30T06:00:00Z", ("EU", "sam", None, "cora", None)),
        # Autumn: Friday NA ends 22:00 UTC in CEST; Monday EU starts 07:00 UTC in CET.
        ("2026-10-23T21:59:00Z", ("NA", "nick", None, "nora", "2026-10-26T07:00:00Z")),
        ("2026-10-25T01:30:00Z", (None, None, None, "cora", "2026-10-26T07:00:00Z")),
        ("2026-10-26T06:59:00Z", (None, None, None, "cora", "2026-10-26T07:00:00Z")),
        ("2026-10-26T07:00:00Z", ("EU", "sam", None, "cora", None)),
        # Christmas Day, a Geneva holiday inside the configured closure: no slot, no shift.
        ("2026-12-25T09:00:00Z", (None, None, None, "cora", "2027-01-05T07:00:00Z")),
    ],
)
def test_oncall_json_around_dst_weekends_and_holidays(
    rota: list[str],
    capsys: pytest.CaptureFixture[str],
    at: str,
    expected: tuple[str | None, ...],
) -> None:
    slot, shifter, trainee, coordinator, next_start = expected
    assert oncall(rota, at, capsys) == {
        "at": at,
        "slot": slot,
        "shifter": shifter,
        "trainee": trainee,
        "coordinator": coordinator,
        "next_slot_start": next_start,
    }


def test_an_unstaffed_slot_in_force_has_no_shifter(
    rota: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = oncall(rota, "2026-03-30T15:00:00Z", capsys)
    assert (result["slot"], result["shifter"], result["coordinator"]) == ("NA", None, "nora")


def test_shifts_export_round_trips_and_offers_icalendar(
    rota: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["shifts", "export", "--from", "2026-03-27", "--days", "3", *rota], capsys)
    assert code == 0
    assert out.splitlines()[:4] == [
        "- date: 2026-03-27",
        "  slot: EU",
        "  shifter: sam",
        "  trainee: tina",
    ]
    code, out, _ = run(["shifts", "export", "--ics", "--from", "2026-03-27", *rota], capsys)
    assert code == 0
    assert out.startswith("BEGIN:VCALENDAR")
    assert "DTSTART:20260330T060000Z" in out


def test_a_broken_schedule_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rota.yaml").write_text("- {date: 2026-03-30, slot: XX, shifter: sam}\n")
    code, _, err = run(
        ["shifts", "import", str(tmp_path / "rota.yaml"), "--db", str(tmp_path / "s.db")], capsys
    )
    assert code == 1
    assert "nothing imported" in err
    assert "rota.yaml:1:" in err


def test_sites_import_writes_a_validated_site_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sites.yaml"
    code, stdout, err = run(
        ["sites", "import", str(FIXTURES / "cric-sample.json"), "--out", str(out)], capsys
    )
    assert code == 0, err
    assert stdout.startswith("wrote ")
    from dastbot.escalations.contacts import load_contacts
    from dastbot.escalations.sites import load_sites

    clouds = load_contacts(REPO / "knowledge" / "contacts.yaml").clouds()
    sites = load_sites(out, clouds)
    resolved = sites.resolve("FZK-LCG2_DATADISK")
    assert resolved is not None and resolved.cloud == "DE"


def test_sites_import_refuses_a_file_that_is_not_an_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    code, _, err = run(["sites", "import", str(bad), "--out", str(tmp_path / "s.yaml")], capsys)
    assert code == 1
    assert "invalid JSON" in err
    assert not (tmp_path / "s.yaml").exists()


def test_oncall_text_states_the_instant_in_utc(
    rota: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["oncall", "--at", "2026-03-27T15:00+01:00", *rota], capsys)
    assert code == 0
    assert out.splitlines()[0] == "2026-03-27 14:00 UTC: EU slot, shifter sam, trainee tina"


def test_version_comes_from_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"dastbot {declared}\n"


def test_check_finds_a_damaged_database_and_passes_an_intact_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from dastbot.store import Store

    path = tmp_path / "bot.db"
    store = Store.open(path)
    with store.atomic():
        for i in range(3000):
            store.claim_post(f"post-{i:05d}", datetime(2026, 3, 2, tzinfo=UTC))
    store.close()
    monkeypatch.setenv("DASTBOT_DB", str(path))
    config = ["check", "--config", str(REPO / "bot.yaml")]
    assert run(config, capsys)[0] == 0
    damaged = bytearray(path.read_bytes())
    for page in range(2, 12):  # the headers of pages holding the seen posts and their index
        damaged[page * 4096 : page * 4096 + 8] = b"\xa5" * 8
    path.write_bytes(bytes(damaged))
    code, _, err = run(config, capsys)
    assert code == 1
    assert f"{path}: the database is damaged (PRAGMA quick_check):" in err
    assert "restore it from a backup" in err
