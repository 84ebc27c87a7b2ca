"""What keeps slow or hostile clients from exhausting the HTTP endpoint: a cap on a listener's
connections, a deadline for each request's headers, an aiohttp site that applies both, the
file-descriptor budget the cap must fit in, and rate-limited logging of accept errors.

A connection is *waiting* from its accept (or its last response) until its next request's headers
are in, and *busy* while that request is handled. A waiting connection is closed when its
deadline passes (a client that sends half a request, or idles on keep-alive). At the cap, the
oldest waiting connection makes room for the new one, so a flood of half-open sockets cannot
keep Mattermost's requests out; when every connection is busy the new one is closed at once.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger("dastbot.http")

FD_RESERVE = 128
"""Descriptors kept for everything but HTTP clients: Mattermost (REST and websocket), SQLite and
its journal, logs, the listening sockets."""


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0
    """Seconds from accept (or from the last response) to a request's complete headers."""
    body_timeout: float = 10.0
    """Seconds to receive a request's body once its headers are in."""
    max_connections: int = 200
    max_body: int = 1024 * 1024


def fit_to_descriptors(wanted: int, listeners: int = 1) -> int:
    """``wanted`` connections, or fewer when the process's descriptor limit (``ulimit -n``) would
    not leave ``FD_RESERVE`` for the rest of the bot; a warning says so."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(8, (soft - FD_RESERVE) // max(1, listeners))
    if wanted <= room:
        return wanted
    log.warning(
        "http.max_connections %d does not fit the descriptor limit %d (ulimit -n) with %d kept "
        "for Mattermost and the database: serving at most %d connections. Raise ulimit -n or "
        "lower DASTBOT_HTTP_MAX_CONNECTIONS.",
        wanted,
        soft,
        FD_RESERVE,
        room,
    )
    return room


class ConnectionGuard:
    """The connections of one listener: which wait for headers (and since when), which are busy."""

    def __init__(
        self, limits: Limits, cap: int, dropped: Callable[[str], None] = lambda _reason: None
    ) -> None:
        self.limits = limits
        self.cap = cap
        self.dropped = dropped
        self.waiting: OrderedDict[asyncio.BaseTransport, asyncio.TimerHandle] = OrderedDict()
        self.busy: dict[asyncio.BaseTransport, int] = {}

    def __len__(self) -> int:
        return len(self.waiting) + len(self.busy)

    def protocol(self, inner: asyncio.BaseProtocol) -> asyncio.Protocol:
        return _Guarded(inner, self)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Make room for a new connection if it can be made; False means close it at once."""
        if len(self) >= self.cap:
            if not self.waiting:
                self.dropped("full")
                return False
            oldest = next(iter(self.waiting))
            self._forget(oldest)
            self.dropped("evicted")
            _abort(oldest)
        self._wait(transport)
        return True

    def started(self, transport: asyncio.BaseTransport | None) -> None:
        """A request's headers are in: no deadline while it is handled."""
        if transport is None:
            return
        handle = self.waiting.pop(transport, None)
        if handle is not None:
            handle.cancel()
        if handle is not None or transport in self.busy:
            self.busy[transport] = self.busy.get(transport, 0) + 1

    def finished(self, transport: asyncio.BaseTransport | None) -> None:
        """A request is answered: the next one's headers are due within the deadline."""
        if transport is None or transport not in self.busy:
            return
        self.busy[transport] -= 1
        if self.busy[transport] <= 0:
            del self.busy[transport]
            self._wait(transport)

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self._forget(transport)

    def _wait(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self.limits.header_timeout, self._expire, transport)
        self.waiting[transport] = handle

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        if transport in self.waiting:
            self._forget(transport)
            self.dropped("header timeout")
            _abort(transport)

    def _forget(self, transport: asyncio.BaseTransport) -> None:
        handle = self.waiting.pop(transport, None)
        if handle is not None:
            handle.cancel()
        self.busy.pop(transport, None)


def _abort(transport: asyncio.BaseTransport) -> None:
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
    else:
        transport.close()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, seen by the guard as it opens and closes."""

    def __init__(self, inner: asyncio.BaseProtocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.guard.admit(transport):
            _abort(transport)
            return
        self.transport = transport
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return
        self.guard.closed(self.transport)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport is not None and isinstance(self.inner, asyncio.Protocol):
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.transport is not None and isinstance(self.inner, asyncio.Protocol):
            return self.inner.eof_received()
        return None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """``web.TCPSite`` whose connections go through a ``ConnectionGuard``."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard
    ) -> None:
        super().__init__(runner, backlog=128)
        self.host, self.requested_port, self.guard = host, port, guard
        self.port = port

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self.guard
        listening = await asyncio.get_running_loop().create_server(
            lambda: guard.protocol(server()),
            self.host,
            self.requested_port,
            backlog=self._backlog,
        )
        self._server = listening
        self.port = int(listening.sockets[0].getsockname()[1])


ACCEPT_ERROR = "socket.accept() out of system resource"


class AcceptErrorFilter(logging.Filter):
    """Lets one accept error a minute through asyncio's logger, without its traceback and with
    the count of those held back; a full descriptor table fails every accept, many a second."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self.last: float | None = None
        self.held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(ACCEPT_ERROR):
            return True
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            self.held += 1
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = (
            f"{ACCEPT_ERROR}: {error or 'no detail'}; new HTTP connections wait "
            f"({self.held} more like this in the last {self.every:.0f}s); raise ulimit -n or lower "
            "DASTBOT_HTTP_MAX_CONNECTIONS"
        )
        record.args = None
        record.exc_info = record.exc_text = None
        self.last, self.held = now, 0
        return True
