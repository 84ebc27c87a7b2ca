"""The HTTP endpoint against slow, idle, greedy and oversized clients, over real sockets: half a
request is cut off at the header deadline, a slow body gets 408, a large one 413, a full listener
makes room by closing its oldest waiting connection, metrics live only on the internal listener,
and a full descriptor table logs one line a minute, not a traceback per failed accept."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dastbot.chat import http_guard
from dastbot.chat.http import HttpEndpoint, ListenError
from dastbot.chat.http_guard import ACCEPT_ERROR, AcceptErrorFilter, Limits, fit_to_descriptors
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Click, Command, CommandReply

TOKEN = "limits-token"
FORM = f"token={TOKEN}&user_id=u1&user_name=alice&text=help".encode()


async def answer(command: Command) -> CommandReply:
    return CommandReply(f"you said {command.text}")


async def clicked(click: Click) -> str:
    return "clicked"


def endpoint(limits: Limits) -> HttpEndpoint:
    return HttpEndpoint(
        slash_token=TOKEN,
        on_command=answer,
        on_click=clicked,
        healthy=lambda: {"store": ""},
        metrics=Metrics(),
        limits=limits,
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[HttpEndpoint, int]]:
    http = endpoint(Limits(header_timeout=0.5, body_timeout=0.5, max_connections=4, max_body=1000))
    port = await http.start("127.0.0.1", 0)
    await http.start_internal("127.0.0.1", 0)
    try:
        yield http, port
    finally:
        await http.stop()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def request(port: int, raw: bytes) -> bytes:
    reader, writer = await connect(port)
    writer.write(raw)
    try:
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


def post(body: bytes, path: str = "/slash", length: int | None = None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


async def dropped(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server closes (or resets) the connection within ``within`` seconds."""
    try:
        return await asyncio.wait_for(reader.read(), timeout=within) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def refusals(http: HttpEndpoint) -> str:
    return http.metrics.render().decode()


async def test_a_complete_request_is_answered(served: tuple[HttpEndpoint, int]) -> None:
    _, port = served
    response = await request(port, post(FORM))
    assert response.startswith(b"HTTP/1.1 200")
    assert b"you said help" in response


async def test_half_a_request_is_cut_off_at_the_header_deadline(
    served: tuple[HttpEndpoint, int],
) -> None:
    http, port = served
    reader, writer = await connect(port)
    writer.write(b"POST /slash HTTP/1.1\r\nHost: bot\r\nContent-Le")
    assert await dropped(reader, within=5)
    writer.close()
    assert 'endpoint="connection",reason="header timeout"' in refusals(http)


async def test_a_body_that_does_not_come_gets_408(served: tuple[HttpEndpoint, int]) -> None:
    http, port = served
    reader, writer = await connect(port)
    writer.write(post(FORM[:10], length=len(FORM)))
    response = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 0.5s" in response
    assert 'endpoint="slash",reason="body timeout"' in refusals(http)


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_body_gets_413(served: tuple[HttpEndpoint, int], chunked: bool) -> None:
    http, port = served
    body = b"text=" + b"x" * 2000
    if chunked:
        raw = (
            b"POST /slash HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
    else:
        raw = post(body)
    response = await request(port, raw)
    assert response.startswith(b"HTTP/1.1 413"), response[:80]
    assert b"larger than the 1000 bytes this endpoint takes" in response
    assert 'endpoint="slash",reason="too large"' in refusals(http)


async def test_a_full_listener_closes_its_oldest_waiting_connection(
    served: tuple[HttpEndpoint, int],
) -> None:
    http, port = served
    idle = [await connect(port) for _ in range(4)]
    for _, writer in idle:
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        await writer.drain()
    response = await request(port, post(FORM))
    assert response.startswith(b"HTTP/1.1 200")
    assert await dropped(idle[0][0], within=0.4), "the oldest idle connection made room"
    assert 'reason="evicted"' in refusals(http)
    for _, writer in idle:
        writer.close()
    assert len(http.guard) <= 4


async def test_metrics_are_served_only_on_the_internal_listener(
    served: tuple[HttpEndpoint, int],
) -> None:
    http, port = served
    public = await request(port, b"GET /metrics HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n")
    assert public.startswith(b"HTTP/1.1 404")
    raw = b"GET /metrics HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n"
    internal = await request(http.internal_port, raw)
    assert internal.startswith(b"HTTP/1.1 200")
    assert b"dastbot_refusals" in internal
    health = b"GET /healthz HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n"
    assert (await request(http.internal_port, health)).startswith(b"HTTP/1.1 200")


async def test_a_taken_port_is_named_with_the_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        http = endpoint(Limits())
        try:
            with pytest.raises(ListenError, match=rf"127\.0\.0\.1:{port} .*DASTBOT_HTTP_PORT"):
                await http.start("127.0.0.1", port)
            await http.start("127.0.0.1", 0)
            with pytest.raises(ListenError, match="DASTBOT_HTTP_METRICS_PORT"):
                await http.start_internal("127.0.0.1", port)
        finally:
            await http.stop()


def accept_failure() -> logging.LogRecord:
    error = OSError(24, "Too many open files")
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, f"{ACCEPT_ERROR}\nsocket: <socket>", None,
        (OSError, error, None),
    )  # fmt: skip


def test_accept_errors_are_logged_once_a_minute_without_a_traceback() -> None:
    now = [0.0]
    limiter = AcceptErrorFilter(every=60, clock=lambda: now[0])
    passed = []
    for _ in range(5000):
        record = accept_failure()
        if limiter.filter(record):
            passed.append(record)
        now[0] += 0.01
    now[0] = 61.0
    record = accept_failure()
    assert limiter.filter(record)
    passed.append(record)
    assert len(passed) == 2
    assert all(r.exc_info is None for r in passed)
    assert "Too many open files" in passed[0].getMessage()
    assert "(4999 more like this in the last 60s)" in passed[1].getMessage()
    assert "DASTBOT_HTTP_MAX_CONNECTIONS" in passed[1].getMessage()
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Task exception", None, None)
    assert limiter.filter(other)


def test_the_cap_leaves_descriptors_for_mattermost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def limit(_which: int) -> tuple[int, Any]:
        return 256, 4096

    monkeypatch.setattr(http_guard.resource, "getrlimit", limit)
    assert fit_to_descriptors(100) == 100
    assert fit_to_descriptors(1000) == 256 - http_guard.FD_RESERVE
    assert "ulimit -n" in caplog.text
