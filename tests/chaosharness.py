"""Helpers for the crash tests: the in-process fake Mattermost server prepared for them, the bot
in this process or as a subprocess (``botprocess``), escalations through the real slash command,
and the checks made afterwards from the fake's stored posts, the bot's database and its sweeps.

Used by ``test_kill_escalations.py``, ``test_chaos.py`` and ``test_logging.py``. Everything waits
on the fake's events, the bot's output or its sweeps, with generous timeouts; the only sleeps are
the scenarios' own (random) moments.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botprocess import EVENT_TIMEOUT_S, POLL_S, BotProcess
from fakes.fake_mattermost import FakeAppError, FakeMattermost
from sweeplog import Sweep

from dastbot.app import run_bot
from dastbot.kernel.config import load_config

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
CHAOS = FIXTURES / "chaos"
SLASH_TOKEN = "chaos-slash-token-5f0c2e"
JSON = dict[str, Any]

# Reminder timing of every target in fixtures/chaos/contacts.yaml, in seconds after opening.
REMINDERS_S = (1.44, 2.88, 4.32)
DEADLINE_S = 5.76

# Who answers for each target: a member of its channel, or the target user of a DM target.
TARGET_PEOPLE = {"cloud-zz": "tom", "cloud-yy": "yuri", "fast-experts": "xavier"}
TARGET_CHANNELS = {"cloud-zz": "adc-cloud-zz", "cloud-yy": "adc-cloud-yy"}
ROSTER = (
    '[{"user": "alice", "zone": "EU", "level": "shifter", "roles": ["coordinator"]},'
    ' {"user": "bob", "zone": "EU", "level": "trainee"}]'
)

# Questions the fixture knowledge base (tests/fixtures/kb) answers, and ones it does not.
KB_QUESTIONS = (
    "Payload exceeded maximum allowed memory in all my jobs",
    "voms-proxy-init says my proxy expired, what now",
    "my task is exhausted what does it mean",
    "rucio download failed for my dataset",
)
OTHER_QUESTIONS = (
    "Where can I find the cafeteria menu for next week",
    "Is the meeting on Thursday moved to the small room",
    "Who keeps the keys of the basement laboratory",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def key_of(post: Mapping[str, Any]) -> str:
    props = post.get("props") or {}
    return str(props.get("dastbot_key", ""))


def with_key(key: str) -> Callable[[JSON], bool]:
    """A ``wait_for_post`` predicate: the bot's post with this outbox key."""
    return lambda post: key_of(post) == key


def ms(post: Mapping[str, Any]) -> float:
    """A post's creation time in epoch seconds."""
    return float(post["create_at"]) / 1000.0


# --- the fake server ---------------------------------------------------------------------------


def prepare_fake(fake: FakeMattermost) -> None:
    """Users and channels of the escalation targets (fixtures/chaos/contacts.yaml)."""
    for person in TARGET_PEOPLE.values():
        fake.add_user(person, channels=())
    for target, channel in TARGET_CHANNELS.items():
        fake.add_channel(
            channel, members=("dastbot", "alice", "bob", "carol", TARGET_PEOPLE[target])
        )


def register_slash(fake: FakeMattermost, http_port: int, token: str = SLASH_TOKEN) -> None:
    """``/dast`` in team atlas, pointing at the bot's HTTP endpoint."""
    alice = fake.state.users[fake.user_id("alice")]
    url = f"http://127.0.0.1:{http_port}/slash"
    fake.state.add_command(
        alice, {"team_id": fake.team_id(), "trigger": "dast", "url": url, "token": token}
    )


def bot_env(fake: FakeMattermost, tmp_path: Path, http_port: int, **extra: str) -> dict[str, str]:
    """A clean environment for ``dastbot run``: nothing inherited but PATH and the locale."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "DASTBOT_MATTERMOST_URL": fake.url,
            "DASTBOT_MATTERMOST_TOKEN": fake.token("dastbot"),
            "DASTBOT_TEAM": "atlas",
            "DASTBOT_CHANNELS": "dast-help",
            "DASTBOT_SLASH_TOKEN": SLASH_TOKEN,
            "DASTBOT_HTTP_PORT": str(http_port),
            "DASTBOT_HTTP_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            "DASTBOT_HTTP_METRICS_PORT": "0",
            "DASTBOT_DB": str(tmp_path / "bot.db"),
            "DASTBOT_KB": str(FIXTURES / "kb"),
            "DASTBOT_CONTACTS": str(CHAOS / "contacts.yaml"),
            "DASTBOT_SITES": str(CHAOS / "sites.yaml"),
            "DASTBOT_SWEEP_SECONDS": "0.2",
            "DASTBOT_ROSTER": ROSTER,
        }
    )
    env.update(extra)
    return env


# --- the bot in this process ------------------------------------------------------------------


@asynccontextmanager
async def in_process_bot(env: Mapping[str, str]) -> AsyncIterator[dict[str, object]]:
    """``run_bot`` in this event loop (as test_e2e_mattermost does), for the deterministic
    tests: faster to start than a process, and its ``MattermostChat`` can be adjusted."""
    ready: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    task: asyncio.Future[Any] = asyncio.ensure_future(
        run_bot(load_config(None, env), ready=ready.set_result)
    )
    try:
        waited: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(waited, timeout=EVENT_TIMEOUT_S, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        yield ready.result()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float = EVENT_TIMEOUT_S) -> None:
    """Polls ``condition`` until it holds (AssertionError after ``timeout`` seconds)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"not true within {timeout}s: {condition}") from None


# --- acting as users ---------------------------------------------------------------------------


async def first_reply(
    fake: FakeMattermost, question: JSON, timeout: float = EVENT_TIMEOUT_S
) -> JSON:
    """The bot's first reply to a question (its answer or its abstention)."""
    keys = {f"answer:{question['id']}", f"abstain:{question['id']}"}
    return await fake.wait_for_post(lambda p: key_of(p) in keys, timeout=timeout)


_OPENED = re.compile(r"\b(E\d+) opened for\b")


async def escalation_root(fake: FakeMattermost, db_path: Path, esc_id: str) -> JSON:
    """The escalation post the bot recorded for ``esc_id`` (not merely the first post with its
    key: a second one would be a bug, reported by ``duplicated_keys``)."""
    rows = query(db_path, "SELECT post_id FROM outbox WHERE key = ?", f"escalation:{esc_id}")
    assert rows and rows[0]["post_id"], f"no recorded escalation post for {esc_id}"
    post_id = rows[0]["post_id"]
    return await fake.wait_for_post(lambda post: post["id"] == post_id)


def escalation_of_thread(db_path: Path, thread_id: str) -> str | None:
    rows = query(db_path, "SELECT id FROM escalations WHERE thread_id = ? ORDER BY id", thread_id)
    return str(rows[0]["id"]) if rows else None


async def escalate(
    fake: FakeMattermost,
    bot: BotProcess,
    db_path: Path,
    question: JSON,
    target: str,
    *,
    user: str = "alice",
    timeout: float = EVENT_TIMEOUT_S,
) -> str:
    """``/dast escalate TARGET reason <question id>`` through the slash command; returns the
    escalation id. When the bot dies during the command, waits for its restart and asks the
    database whether the command took effect before trying again (never two escalations)."""

    async def attempt() -> str:
        while True:
            await bot.up.wait()
            run = len(bot.runs)
            command = f"/dast escalate {target} chaos test {question['id']}"
            try:
                response = await fake.execute_command(user, "dast-help", command)
            except FakeAppError:
                # Only a bot killed meanwhile excuses a failed command.
                try:
                    await bot.wait_restarted(run, timeout=timeout)
                except TimeoutError:
                    raise AssertionError(f"{command!r} failed; log:\n{bot.tail()}") from None
                existing = escalation_of_thread(db_path, question["id"])
                if existing:
                    return existing
                continue
            match = _OPENED.search(str(response.get("text", "")))
            assert match, f"unexpected answer to {command!r}: {response.get('text')!r}"
            return match.group(1)

    return await asyncio.wait_for(attempt(), timeout)


# --- reading the results -----------------------------------------------------------------------


def query(db_path: Path, sql: str, *args: object) -> list[dict[str, Any]]:
    """Rows from the bot's database, read-only (safe while the bot runs: WAL mode)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10.0)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, args)]
    finally:
        conn.close()


def epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text).timestamp()


def bot_posts(fake: FakeMattermost) -> list[JSON]:
    bot = fake.user_id("dastbot")
    return [p for p in fake.posts() if p["user_id"] == bot]


def posts_by_key(fake: FakeMattermost) -> dict[str, list[JSON]]:
    found: dict[str, list[JSON]] = {}
    for post in bot_posts(fake):
        found.setdefault(key_of(post), []).append(post)
    return found


def duplicated_keys(fake: FakeMattermost) -> dict[str, int]:
    """Outbox keys that the bot posted more than once (each must be posted at most once)."""
    counts = Counter(key_of(p) for p in bot_posts(fake))
    return {k: n for k, n in counts.items() if n > 1}


def unkeyed_bot_posts(fake: FakeMattermost) -> list[JSON]:
    return [p for p in bot_posts(fake) if not key_of(p)]


def outbox_problems(fake: FakeMattermost, db_path: Path) -> list[str]:
    """Every decided message was sent, once, and its recorded post id is the post with its key."""
    by_key = posts_by_key(fake)
    problems: list[str] = []
    for row in query(db_path, "SELECT key, sent_at, post_id FROM outbox ORDER BY id"):
        posted = by_key.get(row["key"], [])
        if not row["sent_at"]:
            problems.append(f"{row['key']}: never marked sent ({len(posted)} post(s))")
        elif len(posted) != 1:
            problems.append(f"{row['key']}: posted {len(posted)} times")
        elif posted[0]["id"] != row["post_id"]:
            problems.append(f"{row['key']}: outbox says {row['post_id']}, posted {posted[0]['id']}")
    return problems


# Due times computed here and by the bot agree to well under this (microsecond timestamps).
CLOCK_SLACK_S = 0.005


@dataclass
class EscalationCheck:
    """What the bot did for one escalation, against what it had to do."""

    esc_id: str
    thread_id: str
    opened_at: float
    # When the test knew the escalation was recorded (the answer to /dast escalate, or the
    # database after a kill): the bot posts to the target first and records the escalation
    # (from which reminders follow) after that, so its opening time is earlier than that.
    known_at: float | None
    reply_at: float | None  # the target's first reply in the escalation thread

    def due(self, number: int) -> float:
        return self.opened_at + REMINDERS_S[number - 1]

    @property
    def deadline(self) -> float:
        return self.opened_at + DEADLINE_S

    def window(self, number: int) -> tuple[float, float]:
        """When reminder ``number`` is the latest one owed: from its due time to the next one's
        (or the deadline)."""
        end = self.due(number + 1) if number < len(REMINDERS_S) else self.deadline
        return self.due(number), end

    def swept_within(self, sweeps: Iterable[Sweep], start: float, end: float) -> bool:
        """Some sweep ran wholly after ``start`` (and after the escalation was recorded) and
        before ``end`` and the target's reply: it had to decide what was owed from ``start``."""
        if self.known_at is None:
            return False
        after = max(start, self.known_at) + CLOCK_SLACK_S
        before = min(end, self.reply_at or float("inf")) - CLOCK_SLACK_S
        return any(after <= began and ended < before for began, ended in sweeps)


def escalation_checks(
    fake: FakeMattermost, db_path: Path, known_at: Mapping[str, float]
) -> list[EscalationCheck]:
    by_key = posts_by_key(fake)
    checks = []
    for row in query(db_path, "SELECT id, thread_id, opened_at FROM escalations ORDER BY id"):
        reply_at = None
        root = by_key.get(f"escalation:{row['id']}")
        if root:
            replies = [
                ms(p)
                for p in fake.posts()
                if p.get("root_id") == root[0]["id"] and p["user_id"] != fake.user_id("dastbot")
            ]
            reply_at = min(replies) if replies else None
        checks.append(
            EscalationCheck(
                row["id"],
                row["thread_id"],
                epoch(row["opened_at"]),
                known_at.get(row["id"]),
                reply_at,
            )
        )
    return checks


def reminder_problems(
    fake: FakeMattermost,
    db_path: Path,
    bot: BotProcess,
    known_at: Mapping[str, float],
    *,
    reply_slack: float = 0.5,
) -> list[str]:
    """Every reminder at most once, in its escalation's thread; none decided after the target
    had replied; none for a time when no bot process existed; the deadline notice at most once,
    and never when the target replied before it. And every reminder and deadline notice that a
    sweep of the bot found owed exactly once: a sweep that ran wholly inside the time when it
    was the latest one owed, after the escalation was recorded (``known_at``: escalation id ->
    epoch seconds) and before the target replied (a sweep decides everything due at its
    instant, in one transaction).

    (When the bot is down or disconnected across a reminder's due time and the next one's, only
    the later one is posted: one post, not a burst. The bot sweeps only while connected and
    caught up, so a sweep also means it could see the chat.)"""
    by_key = posts_by_key(fake)
    sweeps = bot.sweeps()
    decided = {
        r["key"]: epoch(r["created_at"])
        for r in query(db_path, "SELECT key, created_at FROM outbox WHERE key LIKE 'reminder:%'")
    }
    problems: list[str] = []
    for esc in escalation_checks(fake, db_path, known_at):
        root = by_key.get(f"escalation:{esc.esc_id}", [])
        if len(root) != 1:
            problems.append(f"{esc.esc_id}: escalation post {len(root)} times")
            continue
        stop = esc.reply_at if esc.reply_at is not None else float("inf")
        for number in range(1, len(REMINDERS_S) + 1):
            key = f"reminder:{esc.esc_id}:{number}"
            posts = by_key.get(key, [])
            start, end = esc.window(number)
            if len(posts) > 1:
                problems.append(f"{key}: posted {len(posts)} times")
            for post in posts:
                if post.get("root_id") != root[0]["id"]:
                    problems.append(
                        f"{key}: not in the escalation thread (root {post['root_id']!r})"
                    )
            if posts and key in decided:
                at = decided[key]
                if at > stop + reply_slack:
                    problems.append(
                        f"{key}: decided {at - stop:.2f}s after the target replied "
                        f"(the bot was {bot.state_at(stop)} at the reply)"
                    )
                if not start - 0.05 <= at:
                    problems.append(f"{key}: decided {start - at:.2f}s before it was due")
            if posts and not bot.alive_during(start, end):
                problems.append(f"{key}: posted though no bot ran while it was the latest owed")
            if not posts and esc.swept_within(sweeps, start, end):
                problems.append(f"{key}: missing, though the bot swept while it was owed")
        deadline = by_key.get(f"deadline:{esc.esc_id}", [])
        if len(deadline) > 1:
            problems.append(f"deadline:{esc.esc_id}: posted {len(deadline)} times")
        if esc.reply_at is not None and esc.reply_at < esc.deadline - reply_slack:
            if deadline:
                early = esc.deadline - esc.reply_at
                problems.append(
                    f"deadline:{esc.esc_id}: posted though the target replied {early:.2f}s "
                    f"before it (the bot was {bot.state_at(esc.reply_at)} at the reply)"
                )
        elif not deadline and esc.swept_within(sweeps, esc.deadline, float("inf")):
            problems.append(f"deadline:{esc.esc_id}: missing, though the bot swept after it")
    return problems


def relay_problems(fake: FakeMattermost, db_path: Path, replies: Iterable[JSON]) -> list[str]:
    """Each target reply (the first in its escalation thread) relayed once, in the user thread."""
    by_key = posts_by_key(fake)
    roots = {
        p[0]["id"]: k.split(":", 1)[1]
        for k, p in by_key.items()
        if k.startswith("escalation:") and k.count(":") == 1
    }
    threads = {
        r["id"]: r["thread_id"] for r in query(db_path, "SELECT id, thread_id FROM escalations")
    }
    problems = []
    for reply in replies:
        esc_id = roots.get(reply["root_id"])
        if esc_id is None:
            problems.append(f"reply {reply['id']}: not in an escalation thread")
            continue
        relayed = by_key.get(f"escalation-reply:{esc_id}:{reply['id']}", [])
        if len(relayed) != 1:
            problems.append(f"reply {reply['id']} to {esc_id}: relayed {len(relayed)} times")
        elif relayed[0].get("root_id") != threads[esc_id]:
            problems.append(f"reply {reply['id']} to {esc_id}: relayed outside the user thread")
    return problems


def format_problems(title: str, problems: list[str], bot: BotProcess | None = None) -> str:
    text = f"{title}:\n  " + "\n  ".join(problems)
    if bot is not None:

        def at(instant: float | None) -> str:
            return f"{instant % 1000:.2f}" if instant is not None else "-"

        runs = ", ".join(
            f"[{at(r.spawned)} ready {at(r.ready)} "
            f"swept {len(sweeps)}x from {at(sweeps[0][0] if sweeps else None)} gone {at(r.gone)}]"
            for r in bot.runs
            for sweeps in [bot.sweeps(r.pid)]
        )
        text += f"\nruns (epoch s mod 1000): {runs}"
    return text
