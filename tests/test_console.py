"""The console as a newcomer meets it: a second run on the same database, a pasted log, the demo,
markdown a terminal can show, the user's own time zone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_cli import REPO, run

from dastbot.chat.console_input import LineReader, next_entry
from dastbot.chat.terminal import render
from dastbot.kernel.markdown import escape_markdown, table
from dastbot.store import Store

LOG = """\
my prun job fails, here is the end of the log:
2026-03-02 10:11:12 INFO  Py:Athena  starting
2026-03-02 10:11:13 INFO  Py:Athena  reading input
2026-03-02 10:11:14 WARNING  file not in cache
2026-03-02 10:11:15 ERROR  Payload exceeded maximum allowed memory
2026-03-02 10:11:16 ERROR  pilot:1305 job killed
what should I change?"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASTBOT_CONFIG", "DASTBOT_KB", "DASTBOT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def console(capsys: pytest.CaptureFixture[str], script: str, *options: str) -> str:
    args = ["console", "--kb", str(REPO / "knowledge"), "--at", "2026-03-27T15:00+01:00"]
    code, out, err = run([*args, *options], capsys, script)
    assert code == 0, err
    return out


def test_a_second_run_on_the_same_database_goes_on_and_is_answered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "c.db")
    first = console(capsys, "my task is exhausted what does it mean\n", "--db", db)
    assert first.startswith("[p1] alice: my task is exhausted what does it mean\n[p2] dastbot")
    second = console(
        capsys,
        "pathena says my task is exhausted, what now?\n:in p1\nthat did not help\n",
        "--db",
        db,
    )
    assert "[p3] alice: pathena says my task is exhausted, what now?" in second
    assert "[p4] dastbot in thread p3" in second
    assert "(writing in thread p1; :out to leave)" in second  # a thread of the first run
    assert "[p5] alice in thread p1: that did not help" in second
    assert "[p6] dastbot in thread p1" in second
    store = Store.open(db)
    assert sorted(q["thread_id"] for q in store.questions()) == ["p1", "p3"]
    store.close()


def test_a_pasted_log_is_one_question(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    out = console(capsys, f":paste\n{LOG}\n:end\n", "--db", db)
    assert out.count("] dastbot") == 1
    assert out.startswith("[p1] alice: my prun job fails, here is the end of the log:\n")
    assert "Job killed for using too much memory" in out
    continued = "\\\n".join(LOG.splitlines()) + "\n"
    out = console(capsys, continued, "--db", db)
    assert out.count("] dastbot") == 1
    store = Store.open(db)
    assert [q["text"] for q in store.questions()] == [LOG, LOG]
    store.close()


class Typed:
    """Lines as a terminal delivers them: ``pending`` is true while a paste is still arriving."""

    interactive = True

    def __init__(self, *bursts: list[str]) -> None:
        self.bursts = [list(b) for b in bursts]

    def read(self, prompt: str) -> str | None:
        while self.bursts and not self.bursts[0]:
            self.bursts.pop(0)
        return self.bursts[0].pop(0) if self.bursts else None

    def pending(self) -> bool:
        return bool(self.bursts and self.bursts[0])


def test_lines_that_arrive_together_at_a_terminal_are_one_post() -> None:
    typed = Typed(LOG.splitlines(), ["thanks"], ["/dast status", "/dast help"])
    assert next_entry(typed, "alice> ") == LOG
    assert next_entry(typed, "alice> ") == "thanks"
    assert next_entry(typed, "alice> ") == "/dast status"  # commands are never joined
    assert next_entry(typed, "alice> ") == "/dast help"
    assert next_entry(typed, "alice> ") is None


def test_a_paste_still_arriving_is_seen_on_the_terminal_input() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stream, open(os.devnull, "w") as out:
        reader = LineReader(stream, out, interactive=True)
        assert not reader.pending()
        os.write(write_end, b"the rest of the log\n")
        assert reader.pending()
        assert reader.read("") == "the rest of the log"
        assert not LineReader(stream, out, interactive=False).pending()
    os.close(write_end)


def test_the_demo_shows_the_schedule_open_questions_and_the_weekly_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        ["console", "--demo", "--at", "2026-03-25T10:00Z"],
        capsys,
        "/dast shift list\n/dast status\n/dast report\n",
    )
    assert code == 0, err
    assert out.startswith("demo: ")
    assert "You are cora" in out.splitlines()[0]
    assert re.search(r"\| Wed 25 Mar +\| EU +\| \w+", out)  # the schedule
    assert re.search(r"Open questions \(\d+, waiting for a person first\)", out)
    assert "DAST weekly report 2026-W12: Mon 16 Mar to Sun 22 Mar 2026" in out
    assert re.search(r"\| asked +\| \d+", out)
    assert "needs the" not in out  # nothing refused
    assert Path("dastbot-demo.db").is_file()
    # a second demo run reuses its history instead of adding to it
    code, out, _ = run(["console", "--demo", "--at", "2026-03-25T10:00Z"], capsys, "")
    assert out.startswith("demo: the demo history already in this database.")


def test_tz_gives_the_user_times_in_their_zone(capsys: pytest.CaptureFixture[str]) -> None:
    script = ":tz Mars/Olympus\n:tz America/Chicago\n:now\nwhat is the weather in Rabat?\n"
    code, out, _ = run(
        ["console", "--demo", "--at", "2026-03-28T12:00Z", "--as", "alice"], capsys, script
    )
    assert code == 0
    assert "(error: unknown time zone 'Mars/Olympus'; e.g. Europe/Zurich)" in out
    assert "(time zone of alice is now America/Chicago)" in out
    assert "(time is Sat 2026-03-28 12:00 UTC, Sat 07:00 CDT for alice)" in out
    [when] = re.findall(r"the next shift starts (.*?)\.", out)
    assert "CDT" in when and "UTC" not in when


def test_markdown_reads_as_text_in_a_terminal() -> None:
    dataset = "mc20_13TeV.700320.Sh_2211_Zee *x* [y](z) @channel"
    message = "\n".join(
        [
            "## Weekly report",
            f"**Questions:** 12, _bot answered_ 5: {escape_markdown(dataset)}",
            table(("entry", "score"), [("proxy-expired", "0.81"), ("x", "1")], align="lr"),
            "See [this thread](console://p3) and [BigPanDA](https://bigpanda.cern.ch/).",
            "```",
            "pbook retry 123",
            "```",
            "Run `/dast shift list`.",
        ]
    )
    assert render(message).splitlines() == [
        "Weekly report",
        f"Questions: 12, bot answered 5: {dataset}",
        "| entry         | score |",
        "|---------------|-------|",
        "| proxy-expired | 0.81  |",
        "| x             | 1     |",
        "See this thread (p3) and BigPanDA <https://bigpanda.cern.ch/>.",
        "  pbook retry 123",
        "Run `/dast shift list`.",
    ]
    styled = render("## Report\n**bold** and `code`", color=True)
    assert styled == "\x1b[1m\x1b[4mReport\x1b[0m\n\x1b[1mbold\x1b[0m and \x1b[36mcode\x1b[0m"


def test_tz_alone_says_the_zone_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["console", "--kb", str(FIXTURES / "kb")], capsys, ":tz\n")
    assert code == 0
    assert out == "(time zone of alice: UTC (not set))\n"
