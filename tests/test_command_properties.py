"""Every ``/dast`` command, with arbitrary arguments, run by every role (user, trainee, shifter,
coordinator) through the whole app: no traceback is logged, every reply is a non-empty sentence
(a one-line reply ends like one) that fits a Mattermost post, and no message the bot sends
carries a live ``@channel``, ``@all`` or ``@here`` that a user typed.

The commands come from the registry, so a new command is covered as soon as it is registered.
Arguments mix the values careless and hostile users type (huge numbers, dates and weeks out of
range, mentions, ids that do not exist, markdown, control characters, 5,000-character words) with
arbitrary text. ``DASTBOT_FUZZ_EXAMPLES`` raises the number of examples for a deeper local run.

Crashes that live in files other tasks own are in ``OPEN``: each has a named test below, a strict
xfail naming the file, and the property test steers around it until it is fixed. When a named test
starts passing (XPASS fails the run), delete its ``OPEN`` entry and its xfail mark.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, ShiftBot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dastbot.answering.answers as answers_module
from dastbot.answering.rebuild import Loaded, build
from dastbot.kernel.clock import FakeClock
from dastbot.kernel.commands import split_args
from dastbot.kernel.config import load_config
from dastbot.kernel.markdown import POST_LIMIT
from dastbot.store import Store

ROLES = {"user": "carol", "trainee": "tina", "shifter": "sam", "coordinator": "cora"}
THREAD = "u" * 26
FAILED = "Something went wrong on my side"
EXAMPLES = int(os.environ.get("DASTBOT_FUZZ_EXAMPLES", "0"))
LIVE_MENTION = re.compile(r"(?<![\w`@/])@(channel|all|here)\b", re.IGNORECASE)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Harness:
    """The app with a roster, a booked schedule and a tracked question, on a loop of its own."""

    loop: asyncio.AbstractEventLoop
    bot: ShiftBot
    log: Records = field(default_factory=Records)

    def run(self, user: str, text: str) -> tuple[str, list[str]]:
        """The reply to ``/dast text`` from ``user``, and the messages it made the bot send."""
        before = len(self.bot.chat.sent)
        self.log.records.clear()
        reply = self.loop.run_until_complete(self.bot.command(user, text))
        return reply.text, [m.message for _, m in self.bot.chat.sent[before:]]


def make_harness() -> Harness:
    loop = asyncio.new_event_loop()
    config = load_config(None, {}).model_copy(update={"kb": str(FIXTURES / "kb")})
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    bot = ShiftBot(config, Store.memory(), clock)
    bot.book("2026-03-02", "EU", "sam", "tina")
    bot.book("2026-03-02", "NA", "nick")
    bot.book("2026-12-04", "NA", "sam")
    loop.run_until_complete(bot.say("alice", "my task is exhausted, what does it mean?", THREAD))
    return Harness(loop, bot)


async def build_here(path: Path, threshold: float, margin: float) -> Loaded:
    """``kb reload`` builds in this process: what the property checks is the reply to any
    arguments; the child process that builds for the bot (a Python start at the lowest CPU
    priority, each coordinator's example) is run by test_commands and test_knowledge_limits."""
    return build(path, threshold, margin)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = make_harness()
    logger = logging.getLogger()
    logger.addHandler(h.log)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(answers_module, "build_in_child", build_here)
            yield h
    finally:
        logger.removeHandler(h.log)
        h.bot.store.close()
        h.loop.close()


COMMANDS = sorted(" ".join(spec.words) for spec in make_harness().bot.router.registry.specs)


def problems(h: Harness, text: str, reply: str, sent: list[str]) -> list[str]:
    found: list[str] = []
    for record in h.log.records:
        if record.levelno >= logging.ERROR and record.exc_info:
            found.append(f"traceback logged: {record.getMessage()[:200]}")
    if FAILED in reply:
        found.append("the handler raised")
    if not re.search(r"[A-Za-z]{2}", reply):
        found.append(f"not a sentence: {reply!r}")
    elif "\n" not in reply.strip() and reply.rstrip()[-1] not in ".!?:)`":
        found.append(f"a one-line reply that does not end like a sentence: {reply!r}")
    if len(reply) > POST_LIMIT:
        found.append(f"reply of {len(reply)} characters")
    for message in sent:
        if len(message) > POST_LIMIT:
            found.append(f"message of {len(message)} characters")
        live = LIVE_MENTION.search(CODE.sub("", message))
        if live:
            found.append(f"live {live.group(0)} sent: {message[:200]!r}")
    return found


# --- crashes in files other tasks own (see the module docstring) ------------------------------


@dataclass(frozen=True)
class Open:
    command: str
    where: str
    hits: Callable[[list[str]], bool]


OPEN: tuple[Open, ...] = ()


def steered_around(command: str, args: list[str]) -> bool:
    return any(o.command == command and o.hits(args) for o in OPEN)


def xfail_open(command: str) -> pytest.MarkDecorator:
    where = next(o.where for o in OPEN if o.command == command)
    return pytest.mark.xfail(strict=True, reason=f"open in another task's file: {where}")


# --- the property ------------------------------------------------------------------------------

HOSTILE = (
    "3000000", "-1", "0", "99999999999999999999", "1e9", "2147483648", "9999-W52", "0001-W01",
    "2026-W53", "2026-W00", "2027-W53", "2026-12-04", "2026-03-02", "2026-02-30", "9999-12-31",
    "0001-01-01", "EU", "NA", "XX", "eu", "@channel", "@all", "@here", "carol @channel",
    "nonexistent_user", "sam", "tina", "cora", "nick", "@sam", "E1", "E0", "E-1", "#1",
    "E99999999999999999999", THREAD, f"https://chat.example.org/atlas/pl/{THREAD}",
    "ticket=GGUS-1", "ticket=", "retry", "drop", "replied", "close", "cancel", "cloud-de",
    "FZK-LCG2", "```", "**bold**", "<!channel>", "[x](javascript:alert(1))", "x" * 5000,
    "\x00", "\u202e", "é", "'", '"', "\\", "--help", "help", "9" * 400, "²", "#²", "٣",
)  # fmt: skip
arguments = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(HOSTILE),  # twice: half the arguments are the values users get wrong
        st.text(max_size=30),
        st.text(alphabet=string.printable, max_size=12),
        st.integers().map(str),
        st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
        st.builds("{}-W{:02d}".format, st.integers(0, 10_000), st.integers(0, 60)),
    ),
    max_size=5,
)


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=max(examples, EXAMPLES),
        deadline=None,
        derandomize=not EXAMPLES,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


@pytest.mark.parametrize("command", COMMANDS)
@fuzz(25)
@given(role=st.sampled_from(sorted(ROLES)), args=arguments, raw=st.booleans())
def test_any_arguments_from_any_role_get_a_sentence(
    harness: Harness, command: str, role: str, args: list[str], raw: bool
) -> None:
    text = f"{command} {' '.join(args) if raw else shlex.join(args)}".strip()
    if steered_around(command, split_args(text)[len(command.split()) :]):
        return
    reply, sent = harness.run(ROLES[role], text)
    assert not problems(harness, text, reply, sent), (role, text)


def test_the_property_covers_every_registered_command(harness: Harness) -> None:
    registered = {" ".join(s.words) for s in harness.bot.router.registry.specs}
    assert registered == set(COMMANDS)
    assert {"help", "kb reload", "shift swap", "report", "outbox"} <= registered


# --- the cases the issue names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "text", "reason"),
    [
        ("carol", "shift list 3000000", "DAYS is a whole number from 1 to 60"),
        ("cora", "shift list 3000000", "DAYS is a whole number from 1 to 60"),
        ("sam", "report 9999-W52", "9999-W52 is too close to year 1 or 9999 for a report"),
        ("sam", "report 0001-W01", "0001-W01 is too close to year 1 or 9999 for a report"),
        ("cora", "shift approve 99999999999999999999", "Usage: `/dast shift approve ID`"),
        ("carol", "shift gaps ²", "DAYS is a whole number from 1 to 60"),
        ("carol", "shift list ²", "DAYS is a whole number from 1 to 60"),
        ("cora", "shift approve ²", "Usage: `/dast shift approve ID`"),
        ("cora", "shift approve ٣", "Usage: `/dast shift approve ID`"),
        ("cora", "shift approve 9223372036854775807", "There is no pending swap"),
        ("carol", "status ²", "Usage: `/dast status [PAGE]`"),
        ("cora", "outbox retry ²", "Usage: `/dast outbox`"),
        ("carol", "report 9999-W52", "needs the shifter role"),
        ("sam", "shift approve 99999999999999999999", "needs the coordinator role"),
    ],
)
def test_named_hostile_commands_are_refused_with_a_reason(
    harness: Harness, user: str, text: str, reason: str
) -> None:
    reply, sent = harness.run(user, text)
    assert not problems(harness, text, reply, sent)
    assert reason in reply


def test_the_edges_of_the_calendar_still_have_reports(harness: Harness) -> None:
    for week in ("0001-W03", "9999-W45"):
        reply, _ = harness.run("sam", f"report {week}")
        assert f"{week}" in reply and "too close" not in reply, reply[:200]


def test_a_swap_to_a_mention_is_refused(harness: Harness) -> None:
    harness.bot.book("2026-12-04", "NA", "sam")
    text = 'shift swap 2026-12-04 NA "carol @channel"'
    reply, sent = harness.run("sam", text)
    assert not problems(harness, text, reply, sent)
    assert not sent, "nothing goes to the coordinators"
    assert "roster" in reply
