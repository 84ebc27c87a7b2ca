"""Two moments of ``/dast escalate`` that the random crash test hits only now and then, made
certain: a SIGKILL the instant the server stores the escalation post, and two escalate commands
at once. Either way the target must get one escalation post per escalation, each outbox key
posted at most once, and every command that says "opened" must have opened its escalation.

The first holds since the escalation post is recorded (held) before it goes out, ``Desk.recover``
settles it at the next start, and escalating a thread again to a target whose escalation still
waits for a reply posts nothing new. The second holds since escalation ids are reserved before
posting.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from botprocess import BotProcess
from chaosharness import (
    JSON,
    OTHER_QUESTIONS,
    bot_env,
    duplicated_keys,
    escalate,
    first_reply,
    free_port,
    in_process_bot,
    posts_by_key,
    prepare_fake,
    query,
    register_slash,
    with_key,
)
from fakes.fake_mattermost import FakeAppError, FakeMattermost

pytestmark = pytest.mark.chaos


def escalation_posts(fake: FakeMattermost) -> list[str]:
    return sorted(k for k in posts_by_key(fake) if k.startswith("escalation:"))


async def test_a_kill_right_after_the_escalation_post_leaves_one_post_for_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot is SIGKILLed the instant the server stores its escalation post, before it hears
    back. Restarted, it is asked again: the target must get one escalation post, not two."""
    async with FakeMattermost() as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        bot = BotProcess(bot_env(fake, tmp_path, port), tmp_path, tmp_path / "bot.log")
        store_post = fake.state.create_post

        def create_post(user: Any, body: JSON, **kw: Any) -> Any:
            post = store_post(user, body, **kw)
            key = str((body.get("props") or {}).get("dastbot_key", ""))
            if key.startswith("escalation:") and bot.process is not None and len(bot.runs) == 1:
                os.kill(bot.process.pid, signal.SIGKILL)
            return post

        monkeypatch.setattr(fake.state, "create_post", create_post)
        try:
            await bot.start()
            question = await fake.create_post("alice", "dast-help", OTHER_QUESTIONS[0])
            await first_reply(fake, question)
            command = f"/dast escalate cloud-zz site down {question['id']}"
            with pytest.raises(FakeAppError):
                await fake.execute_command("alice", "dast-help", command)
            await bot.kill()
            await bot.start()
            assert await escalate(fake, bot, tmp_path / "bot.db", question, "cloud-zz") == "E1"
            await fake.wait_for_post(with_key("escalated:E1"))
        finally:
            await bot.close()
        assert duplicated_keys(fake) == {}
        assert escalation_posts(fake) == ["escalation:E1"]


async def test_two_escalate_commands_at_once_open_two_escalations(tmp_path: Path) -> None:
    """Two shifters escalate two questions while Mattermost answers slowly (200 ms a call):
    both commands say "opened", so there must be two escalations, posted once each."""
    async with FakeMattermost() as fake:
        prepare_fake(fake)
        port = free_port()
        register_slash(fake, port)
        async with in_process_bot(bot_env(fake, tmp_path, port)):
            await fake.wait_for_ws_auth(1)
            questions = [
                await fake.create_post("alice", "dast-help", text) for text in OTHER_QUESTIONS[:2]
            ]
            for question in questions:
                await first_reply(fake, question)
            fake.set_delay(200)
            answers = await asyncio.gather(
                *(
                    fake.execute_command(
                        "alice", "dast-help", f"/dast escalate cloud-zz down {q['id']}"
                    )
                    for q in questions
                )
            )
            fake.set_delay(0)
            assert all("opened for" in a["text"] for a in answers), answers
        # Each command posts and records its escalation before it answers.
        rows = query(tmp_path / "bot.db", "SELECT id, thread_id FROM escalations ORDER BY id")
        assert [r["thread_id"] for r in rows] == [q["id"] for q in questions]
        assert duplicated_keys(fake) == {}
        assert escalation_posts(fake) == ["escalation:E1", "escalation:E2"]
