"""Helpers for the crash tests: the bot as a subprocess (``dastbot run --ready-json``) against the
in-process fake Mattermost server, SIGKILLed and restarted; escalations through the real slash
command; and the checks made afterwards from the fake's stored posts and the bot's database.

Used by ``test_kill_escalations.py``, ``test_chaos.py`` and ``test_logging.py``. Everything waits
on the fake's events or on the bot's output with timeouts; the only sleeps are the scenarios' own
(random) moments and, once everything expected has arrived, a second of sweeps in which a
duplicate would show.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from fakes.fake_mattermost import FakeAppError, FakeMattermost

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


# --- the bot process ---------------------------------------------------------------------------


@dataclass
class Run:
    """One bot process: spawned, ready (its JSON line) and gone, in epoch seconds."""

    spawned: float
    ready: float | None = None
    gone: float | None = None
    killed: bool = False


@dataclass
class BotProcess:
    """``python -m dastbot run --ready-json`` in ``cwd`` (a temporary folder, so no bot.yaml is
    picked up), stderr appended to ``log_path`` across restarts."""

    env: dict[str, str]
    cwd: Path
    log_path: Path
    args: tuple[str, ...] = ()
    runs: list[Run] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    up: asyncio.Event = field(default_factory=asyncio.Event)
    _log: TextIO | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_restarted(self, after_run: int, timeout: float = 30.0) -> None:
        """Until a process later than run number ``after_run`` (1-based) is past its ready line."""
        async with asyncio.timeout(timeout):
            while not (len(self.runs) > after_run and self.up.is_set()):
                await self._changed.wait()

    async def spawn(self) -> None:
        if self.process is not None:
            raise RuntimeError("the bot is already running")
        if self._log is None:
            self._log = self.log_path.open("a", encoding="utf-8")
        self.runs.append(Run(spawned=time.time()))
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dastbot",
            *self.args,
            "run",
            "--ready-json",
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )

    async def wait_ready(self, timeout: float = 20.0) -> str:
        """The ready line; the process must not exit first."""
        assert self.process is not None and self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise AssertionError(f"no ready line within {timeout}s; log:\n{self.tail()}") from None
        if not line:
            code = await self.process.wait()
            raise AssertionError(f"the bot exited with {code} before ready; log:\n{self.tail()}")
        self.runs[-1].ready = time.time()
        self.up.set()
        self._notify()
        return line.decode()

    async def start(self, timeout: float = 20.0) -> str:
        await self.spawn()
        return await self.wait_ready(timeout)

    async def kill(self) -> None:
        """SIGKILL, wherever the bot is (also before its ready line)."""
        await self._end(signal.SIGKILL)

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (the clean stop), SIGKILL after ``timeout``; returns the exit code."""
        return await self._end(signal.SIGTERM, timeout)

    async def _end(self, sig: int, timeout: float = 10.0) -> int:
        process = self.process
        if process is None:
            return 0
        self.up.clear()
        if process.returncode is None:
            process.send_signal(sig)
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            code = await process.wait()
        run = self.runs[-1]
        run.gone, run.killed = time.time(), sig == signal.SIGKILL
        self.process = None
        self._notify()
        return code

    async def close(self) -> None:
        if self.process is not None:
            await self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # When was the bot running? (for what it can and must have done at a given time)

    def alive_during(self, start: float, end: float) -> bool:
        """Some process existed at some instant of [start, end)."""
        now = time.time()
        return any(r.spawned < end and (r.gone or now) > start for r in self.runs)

    def state_at(self, instant: float) -> str:
        """``up`` (past the ready line), ``starting`` or ``down`` at an instant."""
        now = time.time()
        for r in self.runs:
            if r.spawned <= instant < (r.gone or now):
                return "up" if r.ready is not None and r.ready <= instant else "starting"
        return "down"

    def ready_overlap(self, start: float, end: float) -> float:
        """Seconds of [start, end) during which a process was past its ready line."""
        now = time.time()
        total = 0.0
        for r in self.runs:
            if r.ready is None:
                continue
            total += max(0.0, min(end, r.gone or now) - max(start, r.ready))
        return total


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
        done, _ = await asyncio.wait(waited, timeout=10, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        yield ready.result()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- acting as users ---------------------------------------------------------------------------


async def first_reply(fake: FakeMattermost, question: JSON, timeout: float = 20.0) -> JSON:
    """The bot's first reply to a question (its answer or its abstention)."""
    keys = {f"answer:{question['id']}", f"abstain:{question['id']}"}
    return await fake.wait_for_post(lambda p: key_of(p) in keys, timeout=timeout)


_OPENED = re.compile(r"\b(E\d+) opened for\b")


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
    timeout: float = 30.0,
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


@dataclass
class EscalationCheck:
    """What the bot did for one escalation, against what it had to do."""

    esc_id: str
    thread_id: str
    opened_at: float
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


def escalation_checks(fake: FakeMattermost, db_path: Path) -> list[EscalationCheck]:
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
            EscalationCheck(row["id"], row["thread_id"], epoch(row["opened_at"]), reply_at)
        )
    return checks


def reminder_problems(
    fake: FakeMattermost,
    db_path: Path,
    bot: BotProcess,
    *,
    must_overlap: float | None = 0.8,
    reply_slack: float = 0.5,
) -> list[str]:
    """Every reminder at most once, in its escalation's thread; none decided after the target
    had replied; none for a time when no bot process existed; the deadline notice once unless
    the target replied before it. With ``must_overlap``, also every reminder that was the latest
    one owed while the bot was up (past its ready line) for that long: exactly once.

    (When the bot is down or disconnected across a reminder's due time and the next one's, only
    the later one is posted: one post, not a burst. So "exactly once" holds for the reminders
    owed while the bot could see the chat; with websocket drops and error bursts that is not
    known from outside, and such a test passes ``must_overlap=None``.)"""
    by_key = posts_by_key(fake)
    decided = {
        r["key"]: epoch(r["created_at"])
        for r in query(db_path, "SELECT key, created_at FROM outbox WHERE key LIKE 'reminder:%'")
    }
    problems: list[str] = []
    for esc in escalation_checks(fake, db_path):
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
            usable_end = min(end, stop)
            if (
                not posts
                and must_overlap is not None
                and bot.ready_overlap(start, usable_end) >= must_overlap
            ):
                problems.append(
                    f"{key}: missing; the bot was up {bot.ready_overlap(start, usable_end):.2f}s "
                    "while it was owed"
                )
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
        elif not deadline and deadline_owed(esc, bot, must_overlap):
            problems.append(f"deadline:{esc.esc_id}: missing (no reply before the deadline)")
    return problems


def deadline_owed(esc: EscalationCheck, bot: BotProcess, must_overlap: float | None) -> bool:
    """Whether the deadline notice had to be posted: nobody replied before the deadline, and
    the bot was up for ``must_overlap`` seconds between the deadline and the reply (if any). A
    reply made while the bot was down across the deadline rightly stops the notice. Without
    ``must_overlap`` (the bot's view of the chat unknown) only when nobody replied at all."""
    if esc.reply_at is not None and esc.reply_at < esc.deadline:
        return False
    if must_overlap is None:
        return esc.reply_at is None
    stop = esc.reply_at if esc.reply_at is not None else time.time()
    return bot.ready_overlap(esc.deadline, stop) >= must_overlap


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
        runs = ", ".join(
            f"[{r.spawned % 1000:.2f} ready {r.ready % 1000 if r.ready else None} "
            f"gone {r.gone % 1000 if r.gone else None}]"
            for r in bot.runs
        )
        text += f"\nruns (epoch s mod 1000): {runs}"
    return text
