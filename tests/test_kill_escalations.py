"""SIGKILL the bot at random moments while many escalations run their course; restart it each time.

The bot runs as a subprocess (``dastbot run --ready-json``, noting its sweeps) against the
in-process fake server, with targets that are always at work and remind within seconds
(fixtures/chaos/contacts.yaml): reminders 1.44 s, 2.88 s and 4.32 s after an escalation opens,
the deadline notice at 5.76 s, a sweep every 0.2 s. Shifters escalate questions through the real
``/dast escalate`` slash command; the targets reply in the escalation threads while the bot is
up, while it is down, after the deadline, or never. Each process is killed at a random moment of
its life (during start-up or catch-up, or a random time after its first sweep), so a loaded
machine stretches the scenario but does not starve the bot. Afterwards, from the fake's posts,
the bot's database and its sweeps: every reminder at most once and in its thread, every reminder
a sweep found owed exactly once, none after the target replied, the deadline notice exactly once
when a sweep found it owed and never when the target replied in time, every reply relayed once
into the user's thread, and no outbox key posted twice.

``DASTBOT_CHAOS_SEED`` replays another random scenario.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from botprocess import EVENT_TIMEOUT_S, BotProcess
from chaosharness import (
    DEADLINE_S,
    JSON,
    KB_QUESTIONS,
    OTHER_QUESTIONS,
    REMINDERS_S,
    TARGET_PEOPLE,
    bot_env,
    duplicated_keys,
    epoch,
    escalate,
    escalation_root,
    first_reply,
    format_problems,
    free_port,
    in_process_bot,
    outbox_problems,
    posts_by_key,
    prepare_fake,
    query,
    register_slash,
    relay_problems,
    reminder_problems,
    unkeyed_bot_posts,
    until,
    with_key,
)
from fakes.fake_mattermost import FakeMattermost
from sweeplog import Sweep, recording_sweeps

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

SEED = int(os.environ.get("DASTBOT_CHAOS_SEED", "20261125"))
MIN_KILLS = 5
# The second process, and a fifth of the others, die before their first sweep (in start-up or
# catch-up); the rest 0.05 to 1.6 s after it.
EARLY_KILLS = 0.2
UP_S = 1.6
TARGETS = ("cloud-zz", "cloud-yy", "fast-experts")
# How each escalation's target answers: while the bot is up, while it is down, after the
# deadline notice, or never.
MODES = ("up", "up", "up", "down", "down", "down", "late", "none", "none")


@dataclass(frozen=True)
class Planned:
    """One question and its escalation, drawn from the seed before anything runs."""

    index: int
    start: float  # seconds after the scenario starts
    asker: str
    text: str
    target: str
    mode: str
    reply_after: float  # seconds after the escalation opened


def plan(rng: random.Random) -> list[Planned]:
    modes = list(MODES)
    rng.shuffle(modes)
    planned = []
    for i, mode in enumerate(modes):
        texts = KB_QUESTIONS if i % 2 == 0 else OTHER_QUESTIONS
        planned.append(
            Planned(
                index=i,
                start=i * 0.35 + rng.uniform(0.0, 0.3),
                asker=rng.choice(("alice", "bob", "carol")),
                text=f"{rng.choice(texts)} (case {i})",
                target=TARGETS[i % len(TARGETS)],
                mode=mode,
                reply_after=rng.uniform(0.3, 3.5),
            )
        )
    return planned


@dataclass
class DownReply:
    ready_at: float
    root: JSON
    person: str
    done: asyncio.Future[JSON]


async def reply_as_target(fake: FakeMattermost, root: JSON, person: str, note: str) -> JSON:
    return await fake.create_post(
        person, root["channel_id"], f"Looking into it ({note}).", root_id=root["id"]
    )


async def test_killing_the_bot_at_random_moments_loses_and_repeats_no_reminder(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    kill_rng = random.Random(SEED + 1)
    planned = plan(rng)
    db = tmp_path / "bot.db"
    async with FakeMattermost(seed=SEED) as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        bot = BotProcess(bot_env(fake, tmp_path, port), tmp_path, tmp_path / "bot.log")
        opened: dict[int, tuple[str, JSON]] = {}
        replies: dict[str, tuple[str, JSON]] = {}  # escalation id -> (mode, reply post)
        questions: list[JSON] = []
        recorded: dict[str, float] = {}  # escalation id -> when its escalate command had worked
        down_requests: list[DownReply] = []
        all_opened = asyncio.Event()
        kills = 0
        moments: Counter[str] = Counter()  # where the bot was when killed
        try:
            await bot.start()

            async def scenario(item: Planned) -> None:
                await asyncio.sleep(item.start)
                question = await fake.create_post(item.asker, "dast-help", item.text)
                questions.append(question)
                await first_reply(fake, question, timeout=EVENT_TIMEOUT_S)
                esc = await escalate(fake, bot, db, question, item.target)
                recorded[esc] = time.time()
                root = await escalation_root(fake, db, esc)
                opened[item.index] = (esc, root)
                if len(opened) == len(planned):
                    all_opened.set()
                person = TARGET_PEOPLE[item.target]
                at = epoch(
                    query(db, "SELECT opened_at FROM escalations WHERE id = ?", esc)[0]["opened_at"]
                )
                if item.mode == "up":
                    await asyncio.sleep(max(0.0, at + item.reply_after - time.time()))
                    await bot.up.wait()
                    replies[esc] = ("up", await reply_as_target(fake, root, person, "up"))
                elif item.mode == "down":
                    done: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
                    down_requests.append(DownReply(at + item.reply_after, root, person, done))
                    replies[esc] = ("down", await done)
                elif item.mode == "late":
                    await fake.wait_for_post(with_key(f"deadline:{esc}"), timeout=EVENT_TIMEOUT_S)
                    replies[esc] = ("late", await reply_as_target(fake, root, person, "late"))

            def reminded_enough() -> bool:
                """Three reminders posted, or none can come any more (every deadline passed)."""
                if len([k for k in posts_by_key(fake) if k.startswith("reminder:")]) >= 3:
                    return True
                opened_at = query(db, "SELECT MAX(opened_at) AS last FROM escalations")[0]["last"]
                return time.time() > epoch(opened_at) + DEADLINE_S

            async def hold() -> None:
                """However slowly the bot restarts on this machine, the escalations' reminders
                must happen: once all are open, no kill before three reminders are out."""
                if all_opened.is_set():
                    await until(reminded_enough)

            async def killer() -> None:
                nonlocal kills
                while kills < MIN_KILLS or not all_opened.is_set() or down_requests:
                    early = 1.0 if kills == 1 else EARLY_KILLS
                    moment = await bot.kill_at_random_moment(kill_rng, early, UP_S, hold)
                    moments[moment] += 1
                    kills += 1
                    await asyncio.sleep(kill_rng.uniform(0.05, 0.4))
                    now = time.time()
                    for request in [r for r in down_requests if r.ready_at <= now]:
                        down_requests.remove(request)
                        post = await reply_as_target(fake, request.root, request.person, "down")
                        request.done.set_result(post)
                    await asyncio.sleep(kill_rng.uniform(0.0, 0.3))
                    await bot.spawn()
                await bot.wait_ready()

            async def open_all() -> None:
                tasks = [asyncio.ensure_future(scenario(item)) for item in planned]
                try:
                    while not all_opened.is_set():
                        done, _ = await asyncio.wait(
                            tasks, timeout=0.5, return_when=asyncio.FIRST_EXCEPTION
                        )
                        for task in done:
                            task.result()
                    await asyncio.gather(*tasks)
                finally:
                    for task in tasks:
                        task.cancel()

            await asyncio.gather(open_all(), killer())

            # The bot stays up now: wait for every relay, and for the deadline notices of the
            # escalations nobody answered; then five sweeps after the last deadline, in which
            # anything still owed or posted twice would show.
            for esc, (_mode, reply) in replies.items():
                key = f"escalation-reply:{esc}:{reply['id']}"
                await fake.wait_for_post(with_key(key), timeout=EVENT_TIMEOUT_S)
            for esc, _root in opened.values():
                if esc not in replies:
                    key = f"deadline:{esc}"
                    await fake.wait_for_post(with_key(key), timeout=EVENT_TIMEOUT_S)
            last_deadline = max(
                epoch(r["opened_at"]) + DEADLINE_S
                for r in query(db, "SELECT opened_at FROM escalations")
            )
            await bot.wait_sweeps(5, after=max(last_deadline, time.time()))
            assert await bot.stop() == 0, bot.tail()
        finally:
            await bot.close()

        by_key = posts_by_key(fake)
        problems = []
        problems += [f"{k}: posted {n} times" for k, n in duplicated_keys(fake).items()]
        problems += [
            f"bot post without a key: {p['message'][:60]!r}" for p in unkeyed_bot_posts(fake)
        ]
        problems += outbox_problems(fake, db)
        problems += reminder_problems(fake, db, bot, recorded)
        problems += relay_problems(fake, db, [reply for _mode, reply in replies.values()])
        for question in questions:
            first = by_key.get(f"answer:{question['id']}", []) + by_key.get(
                f"abstain:{question['id']}", []
            )
            if len(first) != 1:
                problems.append(f"question {question['id']}: {len(first)} first replies")
        escalations = query(db, "SELECT id, thread_id, state FROM escalations ORDER BY id")
        if len(escalations) != len(planned):
            problems.append(f"{len(escalations)} escalations for {len(planned)} escalate commands")
        for row in escalations:
            told = by_key.get(f"escalated:{row['id']}", [])
            if len(told) != 1 or told[0]["root_id"] != row["thread_id"]:
                problems.append(f"escalated:{row['id']}: {len(told)} notices in the user thread")
            expected = "replied" if row["id"] in replies else "open"
            if row["state"] != expected:
                problems.append(f"{row['id']}: state {row['state']}, expected {expected}")
        title = f"seed {SEED}, {kills} kills (the bot {dict(moments)})"
        assert not problems, format_problems(title, problems, bot)

        # The scenario did what it says.
        assert kills >= MIN_KILLS
        assert {mode for mode, _ in replies.values()} == {"up", "down", "late"}
        reminders = [k for k in by_key if k.startswith("reminder:")]
        assert len(reminders) >= 3, reminders


async def test_a_reply_made_while_the_bot_was_down_stops_the_reminders_owed_meanwhile(
    tmp_path: Path,
) -> None:
    """The deterministic case behind the random one: the target replies while the bot is down,
    and reminder 1 falls due before the bot is back. On restart the bot must first catch up on
    the reply: no reminder after it, only the relay to the user's thread."""
    async with FakeMattermost() as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        env = bot_env(fake, tmp_path, port)
        async with in_process_bot(env):
            await fake.wait_for_ws_auth(1, timeout=EVENT_TIMEOUT_S)
            question = await fake.create_post("alice", "dast-help", OTHER_QUESTIONS[0])
            await first_reply(fake, question)
            command = f"/dast escalate cloud-zz site down {question['id']}"
            response = await fake.execute_command("alice", "dast-help", command)
            assert "E1 opened" in response["text"], response
            root = await fake.wait_for_post(with_key("escalation:E1"))
            opened = time.time()
        reply = await fake.create_post("tom", "adc-cloud-zz", "Fixed.", root_id=root["id"])
        await asyncio.sleep(max(0.0, opened + REMINDERS_S[0] + 0.3 - time.time()))
        sweeps: list[Sweep] = []
        with recording_sweeps(sweeps.append):
            async with in_process_bot(env):
                relay = f"escalation-reply:E1:{reply['id']}"
                await fake.wait_for_post(with_key(relay), timeout=EVENT_TIMEOUT_S)
                relayed = time.time()
                await until(lambda: sum(began > relayed for began, _ in sweeps) >= 3)
        reminders = [k for k in posts_by_key(fake) if k.startswith("reminder:E1:")]
        assert not reminders, f"reminded after the target's reply: {reminders}"
