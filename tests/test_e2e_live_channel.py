"""A week in a live channel, end to end over the fake Mattermost server (which refuses posts over
16,383 characters as Mattermost does): the bot runs on its own clock, set a few seconds before a
shift boundary, so the handover falls due during the test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fakes.fake_mattermost import WAIT_S, FakeMattermost
from test_e2e_mattermost import QUESTION, bot_env, fake, reply_to, running_bot

from dastbot.kernel.clock import OffsetClock
from dastbot.kernel.config import load_config
from dastbot.report.demo import fill_demo
from dastbot.store import Store

__all__ = ["fake"]
ZURICH = ZoneInfo("Europe/Zurich")


def next_na_start(after: datetime) -> datetime:
    """The next weekday 16:00 in Zurich (the NA slot's start, the EU slot's end)."""
    day = after.astimezone(ZURICH).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=ZURICH).astimezone(UTC)


async def test_eight_weeks_of_history_handovers_fit_and_questions_still_get_answers(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    env = bot_env(
        fake,
        tmp_path,
        DASTBOT_SWEEP_SECONDS="0.5",
        DASTBOT_SHIFTS_HOLIDAYS_COUNTRY="",
    )
    boundary = next_na_start(datetime.now(UTC))
    store = Store.open(Path(env["DASTBOT_DB"]))
    fill_demo(store, 8, boundary - timedelta(hours=1), 1, load_config(None, env))
    store.close()
    clock = OffsetClock()
    clock.set(boundary - timedelta(seconds=3))
    async with running_bot(env, clock=clock):
        await fake.wait_for_ws_auth(1)

        def handover(post: dict[str, object]) -> bool:
            return str(post["message"]).startswith("**NA shift")

        posted = await fake.wait_for_post(handover, timeout=WAIT_S)
        assert len(str(posted["message"])) <= 16_383
        assert "Questions needing a person: " in str(posted["message"])
        question = await fake.create_post("alice", "dast-help", QUESTION)
        started = asyncio.get_running_loop().time()
        await fake.wait_for_post(reply_to(fake, question), timeout=WAIT_S)
        assert asyncio.get_running_loop().time() - started < 1.0
