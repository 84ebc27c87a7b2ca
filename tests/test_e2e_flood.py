"""End to end: a slow-client flood against ``dastbot run`` (a process of its own, with the usual
1,024 file descriptors) while it serves the fake Mattermost server in this process.

1,100 sockets each send half a request and hold it. The bot must keep answering: a question in
the channel within 2 s, a slash command, its internal health check; it must not run out of
descriptors (it keeps its own for Mattermost and SQLite), must drop every half-open connection
by the header deadline, and must log no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from chaosharness import bot_env, register_slash
from fakes.fake_mattermost import FakeMattermost

FLOOD = 1100
BOT_DESCRIPTORS = 1024
"""The bot's soft limit (``ulimit -n``): Linux's usual default, and fewer than the flood."""
HEADER_TIMEOUT = 3.0
HALF_A_REQUEST = b"POST /slash HTTP/1.1\r\nHost: dastbot\r\nContent-Type: application/x-www-"
QUESTION = "Payload exceeded maximum allowed memory in all my jobs"

LIMITED_RUN = (
    "import resource, sys\n"
    "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, hard))\n"
    "from dastbot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def room_for_the_flood() -> tuple[int, int]:
    """(sockets to open, the bot's descriptor limit). This process holds the flood's client
    sockets and the fake server's: its soft limit is raised if need be. Only if the hard limit
    forbids 1,100 is the flood made smaller, still larger than the bot's descriptor table."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FLOOD + 400
    if hard != resource.RLIM_INFINITY and hard < needed:
        flood = hard - 400
        if flood < 300:
            pytest.skip(f"the hard descriptor limit ({hard}) leaves no room for a flood")
        return flood, flood - 100
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return FLOOD, BOT_DESCRIPTORS


@pytest.fixture
async def fake() -> AsyncIterator[FakeMattermost]:
    async with FakeMattermost() as server:
        yield server


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def half_open(port: int) -> Connection | None:
    """A connection that sends half a request and waits; None when the bot closed it at once.
    The writer must be kept: a collected StreamWriter closes its socket."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_A_REQUEST)
        await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        return None
    return reader, writer


async def closed_by_the_bot(connection: Connection | None) -> None:
    if connection is None:
        return
    reader, writer = connection
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        assert await reader.read() == b""
    writer.close()


def open_descriptors(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


async def test_a_slow_client_flood_does_not_starve_the_bot(
    fake: FakeMattermost, tmp_path: Path
) -> None:
    flood, bot_limit = room_for_the_flood()
    port = free_port()
    env = bot_env(fake, tmp_path, port, DASTBOT_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT))
    register_slash(fake, port)
    log = tmp_path / "bot.log"
    with log.open("w") as stderr:
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LIMITED_RUN.format(limit=bot_limit),
            "run",
            "--ready-json",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert bot.stdout is not None
        line = await asyncio.wait_for(bot.stdout.readline(), timeout=30)
        assert line, log.read_text()
        ready = json.loads(line)
        await fake.wait_for_ws_auth(1, timeout=10)
        baseline = open_descriptors(bot.pid)

        held: list[Connection | None] = []
        for start in range(0, flood, 100):
            batch = range(start, min(start + 100, flood))
            held += await asyncio.gather(*(half_open(port) for _ in batch))
        loop = asyncio.get_running_loop()
        flooded = loop.time()

        asked = loop.time()
        question = await fake.create_post("alice", "dast-help", QUESTION)
        bot_id = fake.user_id("dastbot")
        reply = await fake.wait_for_post(
            lambda p: p["user_id"] == bot_id and p.get("root_id") == question["id"], timeout=2.0
        )
        assert loop.time() - asked < 2.0
        assert "Job killed for exceeding memory" in reply["message"]

        response = await asyncio.wait_for(
            fake.execute_command("bob", "dast-help", "/dast help"), timeout=5
        )
        assert "/dast kb search TEXT" in response["text"]
        internal = f"http://127.0.0.1:{ready['metrics_port']}"
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{internal}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as health,
        ):
            assert health.status == 200, await health.text()

        during = open_descriptors(bot.pid)
        if baseline is not None and during is not None:
            assert during <= baseline + 200 + 20, (baseline, during)

        await asyncio.wait_for(
            asyncio.gather(*(closed_by_the_bot(c) for c in held)), timeout=HEADER_TIMEOUT + 10
        )
        assert loop.time() - flooded < HEADER_TIMEOUT + 10
        assert bot.returncode is None, "the bot died"
        async with aiohttp.ClientSession() as http, http.get(f"{internal}/metrics") as page:
            metrics = await page.text()
        assert 'dastbot_refusals_total{endpoint="connection",reason="header timeout"}' in metrics
    finally:
        if bot.returncode is None:
            bot.terminate()
        await asyncio.wait_for(bot.wait(), timeout=15)
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert len(text.splitlines()) < 60, text[-3000:]
