"""A database that cannot be written (a full disk, a read-only volume) loses nothing: posts that
could not be stored are delivered again once storage works, each answered once, and /healthz
says 503 meanwhile. ``PRAGMA query_only`` makes every write fail as a full disk does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from fakes.fake_mattermost import WAIT_S, FakeMattermost
from test_e2e_mattermost import bot_env, bot_replies, fake, reply_to, running_bot

from dastbot.store import Store

__all__ = ["fake"]
QUESTIONS = [f"Payload exceeded maximum allowed memory in all my jobs (case {i})" for i in range(5)]


def fill(store: Store) -> None:
    store.db.execute("PRAGMA query_only = ON")


def free(store: Store) -> None:
    store.db.execute("PRAGMA query_only = OFF")


async def test_questions_posted_while_the_disk_is_full_are_answered_once_afterwards(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    async with running_bot(bot_env(fake, tmp_path)) as info:
        store = info["app"].store  # type: ignore[attr-defined]
        await fake.wait_for_ws_auth(1)
        base = f"http://127.0.0.1:{info['http_port']}/healthz"
        fill(store)
        posted = [await fake.create_post("alice", "dast-help", q) for q in QUESTIONS]
        async with aiohttp.ClientSession() as http:
            for _ in range(int(WAIT_S / 0.05)):  # until the bot tried and failed to store one
                async with http.get(base) as response:
                    body = await response.json()
                if any(r.startswith("posts:") for r in body["reasons"]):
                    break
                await asyncio.sleep(0.05)
            assert response.status == 503, body
            assert "store: the database cannot be written" in body["reasons"], body
            assert any(r.startswith("posts:") for r in body["reasons"]), body
            assert all(not bot_replies(fake, p) for p in posted)

            free(store)
            for post in posted:
                await fake.wait_for_post(reply_to(fake, post), timeout=WAIT_S)
            # Healthy again once nothing is held for a retry: a duplicate would be out by then.
            async with asyncio.timeout(WAIT_S):
                while True:
                    async with http.get(base) as response:
                        if response.status == 200:
                            break
                    await asyncio.sleep(0.05)
            assert [len(bot_replies(fake, p)) for p in posted] == [1] * 5
