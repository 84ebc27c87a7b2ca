"""``dastbot shifts credits`` on a database file: a past schedule imported later counts for the
people it names; the CSV reads back with the documented columns; bad dates are one sentence."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from dastbot.cli import main
from dastbot.shifts.credits import COLUMNS

BOT_YAML = """\
people:
  credit: {shifter: 1.0, trainee: 0.5}
roster:
  - {user: sam, zone: EU, level: shifter}
  - {user: tina, zone: EU, level: trainee}
  - {user: nick, zone: NA, level: shifter, roles: [coordinator]}
"""
ROTA = """\
- {date: 2026-03-02, slot: EU, shifter: sam, trainee: tina}
- {date: 2026-03-02, slot: NA, shifter: nick}
- {date: 2026-03-03, slot: EU, trainee: tina}
- {date: 2026-03-30, slot: EU, shifter: sam}
- {date: 2026-04-01, slot: EU, shifter: sam}
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    sys.stdin = io.StringIO("")
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def common(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    (tmp_path / "bot.yaml").write_text(BOT_YAML)
    (tmp_path / "rota.yaml").write_text(ROTA)
    common = ["--config", str(tmp_path / "bot.yaml"), "--db", str(tmp_path / "s.db")]
    code, _, err = run(["shifts", "import", str(tmp_path / "rota.yaml"), *common], capsys)
    assert code == 0, err
    return common


def test_the_csv_has_one_row_per_person_with_the_documented_columns(
    common: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["shifts", "credits", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv"]
    code, out, err = run([*args, *common], capsys)
    assert (code, err) == (0, "")
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == [*COLUMNS, "shifts_EU", "shifts_NA"]
    rows = {row["person"]: row for row in reader}
    assert {
        p: (r["shifter_shifts"], r["trainee_shifts"], r["credit"]) for p, r in rows.items()
    } == {
        "sam": ("2", "0", "2.0"),
        "tina": ("0", "2", "1.0"),
        "nick": ("1", "0", "1.0"),
    }
    assert (rows["nick"]["zone"], rows["nick"]["shifts_NA"], rows["nick"]["period_end"]) == (
        "NA",
        "1",
        "2026-03-31",
    )


def test_json_and_markdown_say_the_same(
    common: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["shifts", "credits", "--from", "2026-03-02", "--to", "2026-03-02"]
    code, out, _ = run([*args, "--format", "json", *common], capsys)
    assert code == 0
    assert [(r["person"], r["credit"]) for r in json.loads(out)] == [
        ("nick", 1.0),
        ("sam", 1.0),
        ("tina", 0.5),
    ]
    code, out, _ = run([*args, *common], capsys)
    assert code == 0
    assert "| tina | trainee | 1 | 0 | 0 | 1 | 0.5 | 0 | 0 | 0 |" in out


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (["--from", "March"], "--from and --to take dates YYYY-MM-DD"),
        (
            ["--from", "2026-03-31", "--to", "2026-03-01"],
            "the period ends (2026-03-01) before it starts (2026-03-31)",
        ),
        (["--from", "1999-01-01", "--to", "2026-03-01"], "between the years 2000 and 2100"),
    ],
)
def test_bad_dates_are_one_sentence(
    common: list[str], capsys: pytest.CaptureFixture[str], dates: list[str], message: str
) -> None:
    code, out, err = run(["shifts", "credits", *dates, *common], capsys)
    assert code == 1
    assert out == ""
    assert message in err and "Traceback" not in err


def test_check_reports_the_people_settings_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bot.yaml").write_text(
        "people:\n"
        "  credit: {shifter: 1.0, trainee: 2}\n"
        "  sustainable_shifts_per_4_weeks: lots\n"
        "  promotion: {shifts: 0}\n"
        "  onboarding: [grant the channel permissions, grant the channel permissions]\n"
    )
    code, _, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert code == 1
    assert "people.sustainable_shifts_per_4_weeks: should be a number, not 'lots'" in err
    assert "people.promotion.shifts: should be at least 1, not 0" in err
    assert (
        "people.onboarding: onboarding items are listed twice: grant the channel permissions" in err
    )
    (tmp_path / "bot.yaml").write_text("people:\n  credit: {shifter: 1.0, trainee: 2}\n")
    code, _, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert code == 1
    assert (
        "credit.trainee (2) is more than credit.shifter (1): a trainee's shift cannot earn "
        "more than a shifter's" in err
    )
    (tmp_path / "bot.yaml").write_text("people:\n  onboarding: []\n")
    code, _, err = run(["check", "--config", str(tmp_path / "bot.yaml")], capsys)
    assert (
        "warning: people.onboarding: empty, so nobody gets a checklist when a person joins" in err
    )
