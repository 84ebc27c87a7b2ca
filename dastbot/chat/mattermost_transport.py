"""Mattermost plumbing: the server address, TLS for the driver's websocket (the released driver
builds a server-side context for wss://, broken on Python >= 3.10), backoff delays, and how HTTP
errors are read (status, Retry-After). No state; ``mattermost`` and ``mattermost_feed`` use it."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import websockets
from mattermostdriver.websocket import Websocket

T = TypeVar("T")

BACKOFF_START = 1.0
BACKOFF_FACTOR = 1.75
BACKOFF_MAX = 300.0


class SendFailed(Exception):
    """A REST call still failed after every retry."""


class TlsFailed(ValueError):
    """The server's certificate was not accepted: retrying cannot help."""


@dataclass(frozen=True)
class ServerAddress:
    scheme: str
    host: str
    port: int
    basepath: str = "/api/v4"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a Mattermost URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 8065)
        return cls(parts.scheme, parts.hostname, port)


def client_ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client context (Purpose.SERVER_AUTH), unlike the driver's server-side one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def backoff_delays(
    start: float = BACKOFF_START, factor: float = BACKOFF_FACTOR, cap: float = BACKOFF_MAX
) -> Callable[[], float]:
    """Successive delays with full jitter between half and all of an exponentially growing step."""
    step = start

    def next_delay() -> float:
        nonlocal step
        delay = step * random.uniform(0.5, 1.0)
        step = min(step * factor, cap)
        return delay

    return next_delay


class ClientWebsocket(Websocket):  # type: ignore[misc]
    """The driver's Websocket with a client TLS context and one connection per ``connect`` call;
    the supervisor decides about reconnecting."""

    def __init__(self, options: dict[str, Any], token: str, context: ssl.SSLContext | None) -> None:
        super().__init__(options, token)
        self._context = context
        self._socket: Any = None

    async def connect(self, event_handler: Callable[[str], Awaitable[None]]) -> None:
        scheme = "wss" if self.options["scheme"] == "https" else "ws"
        url = (
            f"{scheme}://{self.options['url']}:{self.options['port']}"
            f"{self.options['basepath']}/websocket"
        )
        timeout = float(self.options["timeout"])
        async with websockets.connect(
            url,
            ssl=self._context if scheme == "wss" else None,
            open_timeout=timeout,
            ping_interval=20,
            ping_timeout=timeout,
            close_timeout=2,
            max_size=2**24,
        ) as socket:
            self._socket = socket
            challenge = {
                "seq": 1,
                "action": "authentication_challenge",
                "data": {"token": self._token},
            }
            await socket.send(json.dumps(challenge))
            await asyncio.wait_for(self._until_hello(socket, event_handler), timeout)
            async for message in socket:
                await event_handler(message if isinstance(message, str) else message.decode())

    async def _until_hello(self, socket: Any, handler: Callable[[str], Awaitable[None]]) -> None:
        while True:
            message = await socket.recv()
            await handler(message)
            data = json.loads(message)
            if data.get("event") == "hello" and data.get("seq") == 0:
                return

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()


def status_of(exc: requests.HTTPError) -> int | None:
    response = getattr(exc, "response", None)
    return None if response is None else int(response.status_code)


def retry_after(exc: requests.HTTPError, default: float) -> float:
    response = getattr(exc, "response", None)
    if response is None:
        return default
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, min(float(value), 120.0))
            except ValueError:
                continue
    return default


def reason_of(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, short enough for one log line."""
    text = str(exc)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "Connection refused", "timed out"):
        if marker in text:
            return marker if marker != "CERTIFICATE_VERIFY_FAILED" else "certificate verify failed"
    return text[:200]


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
