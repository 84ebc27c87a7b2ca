"""`dastbot archive import|eval|gaps` on the sample archive, as a coordinator runs them, and
the weekly report's archive line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ShiftBot

from dastbot.answering.knowledge import load_knowledge, load_text
from dastbot.answering.matcher import Matcher
from dastbot.archive.weekly import report_line
from dastbot.cli import main
from dastbot.store import Store
from dastbot.store import archive as tables

REPO = Path(__file__).resolve().parent.parent
SAMPLE = FIXTURES / "archive" / "sample.mbox"
KB = str(REPO / "knowledge")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASTBOT_CONFIG", "DASTBOT_KB", "DASTBOT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "archive.db")
    code, out, _ = run(["archive", "import", str(SAMPLE), "--db", path, "--no-progress"], capsys)
    assert code == 0
    assert out.startswith("read 200 mail(s) from 1 archive file(s)")
    return path


def test_import_says_what_it_did_and_a_second_import_adds_nothing(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["archive", "import", str(SAMPLE), "--db", db, "--no-progress"], capsys)
    assert code == 0 and err == ""
    assert ": 0 new, 200 already archived, 0 problem(s)" in out
    assert "(0 new, 0 merged or replaced)" in out


def test_import_of_garbage_lists_the_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.mbox"
    junk.write_bytes(b"\x00\xff" * 500)
    code, _, err = run(
        ["archive", "import", str(junk), "--db", str(tmp_path / "x.db"), "--no-progress"], capsys
    )
    assert code == 1
    assert f"{junk} at byte 0: not an mbox file" in err


def test_eval_reports_each_year_and_overall_consistently(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["archive", "eval", "--db", db, "--kb", KB, "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["schema"] == "dastbot.archive-eval/1"
    years = result["years"]
    assert [y["year"] for y in years] == sorted(y["year"] for y in years)
    assert sum(y["questions"] for y in years) == result["questions"] > 30
    assert sum(y["answered"] for y in years) == result["answered"]
    assert all(y["answered"] + y["abstained"] == y["questions"] for y in years)
    assert 0 < result["answered"] < result["questions"]
    assert sum(e["count"] for e in result["top"]) <= result["answered"]
    counts = [e["count"] for e in result["top"]]
    assert counts == sorted(counts, reverse=True)

    code, text, _ = run(["archive", "eval", "--db", db, "--kb", KB], capsys)
    lines = text.splitlines()
    assert lines[0].startswith(f"archive: {result['questions']} questions from ")
    assert lines[2].split() == ["year", "questions", "answered", "abstained", "answered", "%",
                                "most", "used", "entries"]  # fmt: skip
    overall = next(line for line in lines if line.startswith("all "))
    assert overall.split()[1:4] == [
        str(result["questions"]),
        str(result["answered"]),
        str(result["abstained"]),
    ]
    assert run(["archive", "eval", "--db", db, "--kb", KB], capsys)[1] == text  # stable


def test_a_labelled_sample_gives_measured_precision(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "sheet.yaml"
    args = ["archive", "eval", "--db", db, "--kb", KB, "--sample", "12", "--out", str(sheet)]
    code, _, err = run(args, capsys)
    assert code == 0 and f"wrote a labelling sheet of 12 questions to {sheet}" in err
    first = sheet.read_text()
    assert run(args, capsys)[0] == 0 and sheet.read_text() == first  # the same seed, same sheet
    items = yaml.safe_load(first)
    assert len(items) == 12
    assert all(i["verdict"] is None and i["entry"] and i["question"] for i in items)
    assert [i["asked"] for i in items] == sorted(i["asked"] for i in items)
    verdicts = ["right"] * 7 + ["wrong"] * 2 + ["skip", None, "right"]
    for item, verdict in zip(items, verdicts, strict=True):
        item["verdict"] = verdict
    sheet.write_text(yaml.safe_dump(items, allow_unicode=True, sort_keys=False))
    code, out, _ = run(["archive", "eval", "--db", db, "--kb", KB, "--labels", str(sheet)], capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        f"{sheet}: measured precision 80.0% (8 right of 10 judged; 95% interval 49.0% to 94.3%)"
    )
    assert "items: 12; skipped 1; blank 1" in out


def test_a_bad_verdict_is_named_with_its_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("- thread: t1\n  entry: panda-task-exhausted\n  verdict: maybe\n")
    code, _, err = run(["archive", "eval", "--db", db, "--kb", KB, "--labels", str(sheet)], capsys)
    assert code == 1
    assert f"{sheet}:3: verdict 'maybe' is not one of right, wrong, skip (or blank)" in err


def test_gaps_rank_the_unanswered_topics_and_draft_valid_entries(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drafts = tmp_path / "drafts.yaml"
    args = ["archive", "gaps", "--db", db, "--kb", KB, "--top", "3", "--json"]
    code, out, _ = run([*args, "--drafts", str(drafts)], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["schema"] == "dastbot.archive-gaps/1"
    assert result["abstained"] > 0 and len(result["top"]) == 3
    weights = [g["weight"] for g in result["top"]]
    assert weights == sorted(weights, reverse=True)
    for gap in result["top"]:
        assert gap["first_asked"] <= gap["last_asked"]
        assert 1 <= len(gap["examples"]) <= 3
        [entry] = load_text(gap["draft"], "draft.yaml").entries
        assert entry.id.startswith("proposed-") and entry.answer
    # The sample's largest recent gap is a topic the shipped knowledge base does not cover.
    subjects = " ".join(e["subject"] for e in result["top"][0]["examples"]).lower()
    uncovered = ("eos", "swan", "jupyter", "gpu", "condor", "lxbatch", "tbrowser", "x11",
                 "account", "registration")  # fmt: skip
    assert any(word in subjects for word in uncovered)
    assert len(load_text(drafts.read_text(), "drafts.yaml").entries) == 3
    assert run(args, capsys)[1] == out  # stable

    code, text, _ = run(["archive", "gaps", "--db", db, "--kb", KB, "--top", "3"], capsys)
    assert text.startswith(f"archive gaps: {result['abstained']} questions the knowledge base ")
    assert "\n1. " in text and "   draft entry:\n     - id: proposed-" in text


def test_eval_and_gaps_need_an_imported_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = str(tmp_path / "empty.db")
    Store.open(empty).close()
    for command in ("eval", "gaps"):
        code, _, err = run(["archive", command, "--db", empty, "--kb", KB], capsys)
        assert code == 1 and "no archive imported in this database" in err


# --- the weekly report's line ----------------------------------------------------------------

WEEK_END = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # Monday 9 March 00:00 in Zurich


def test_the_weekly_line_appears_once_an_archive_is_imported_and_gives_its_change(
    db: str,
) -> None:
    kb = load_knowledge(Path(KB))
    store = Store.open(db)
    strict = Matcher(kb, threshold=0.9)
    usual = Matcher(kb, threshold=0.5)
    first = report_line(store, strict, "2026-W10", WEEK_END, WEEK_END + timedelta(hours=8))
    assert first is not None and first.startswith("**Archive:** the knowledge base now answers ")
    assert "points from" not in first
    row = tables.weekly(store.db, "2026-W10")
    assert row is not None and row["questions"] > 0
    # The knowledge base got better (here: a lower threshold) by the next week's report.
    later = WEEK_END + timedelta(days=7)
    second = report_line(store, usual, "2026-W11", later, later + timedelta(hours=8))
    assert second is not None
    before = 100 * row["answered"] / row["questions"]
    now_row = tables.weekly(store.db, "2026-W11")
    assert now_row is not None
    after = 100 * now_row["answered"] / now_row["questions"]
    assert after > before
    assert second.endswith(f"; +{after - before:.1f} points from 2026-W10.")
    # A week's line is frozen once the week is over.
    assert report_line(store, usual, "2026-W10", WEEK_END, later) == first
    store.close()


def test_no_archive_no_line(store: Store) -> None:
    matcher = Matcher(load_knowledge(Path(KB)))
    assert report_line(store, matcher, "2026-W10", WEEK_END, WEEK_END) is None
    assert tables.counts(store.db)[tables.WEEKLY] == 0


def test_dastbot_report_shows_the_archive_line(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["report", "--db", db, "--kb", KB, "--week", "2026-W10"], capsys)
    assert code == 0
    assert out.startswith("#### DAST weekly report 2026-W10")
    assert out.rstrip().splitlines()[-1].startswith("**Archive:** the knowledge base now answers")


async def test_the_bot_posts_the_archive_line_in_its_weekly_report(shiftbot: ShiftBot) -> None:
    from dastbot.archive.importer import import_archive

    import_archive(shiftbot.store, [SAMPLE], progress=False)
    shiftbot.clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    await shiftbot.start()
    posted = [m for m in await shiftbot.wait(timedelta(hours=2)) if m.key.startswith("weekly")]
    assert [m.key for m in posted] == ["weekly-report:2026-W10"]
    last = posted[0].message.rstrip().splitlines()[-1]
    assert last.startswith("**Archive:** the knowledge base now answers ")
    assert "2024-06-08 to 2025-06-07" in last  # the archive's last year: up to its newest question
    reply = await shiftbot.command("sam", "report 2026-W10")
    assert reply.text.rstrip().splitlines()[-1] == last  # the week's line, as measured then
