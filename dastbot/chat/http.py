"""The bot's HTTP endpoints (aiohttp): the public one for Mattermost, the internal one for
monitoring.

Public: ``POST /slash`` takes Mattermost's form with the command token (checked in constant time,
401 otherwise) and answers ``ephemeral`` or ``in_channel`` JSON; work slower than a few seconds is
answered through ``response_url``. ``POST /actions`` takes button clicks whose context carries an
HMAC made with the slash token, so clicks cannot be forged. ``GET /healthz`` is 200 only while the
websocket is connected and the store is writable. Every request's headers and body must arrive
within the limits' timeouts (else the connection is closed, or 408), a body over the limit is 413,
and connections are capped (``http_guard``).

Internal (its own address and port, loopback by default): ``GET /metrics`` (Prometheus text) and
``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from dastbot.chat.http_guard import (
    AcceptErrorFilter,
    ConnectionGuard,
    GuardedSite,
    Limits,
    fit_to_descriptors,
)
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Click, Command, CommandReply

log = logging.getLogger("dastbot.http")

JSON = "application/json"
SLOW_REPLY_S = 2.5
INTERNAL_CONNECTIONS = 16


class ListenError(Exception):
    """An endpoint cannot listen where the configuration says (the port is taken, say)."""


def sign_context(secret: str, context: Mapping[str, Any]) -> str:
    body = json.dumps({k: v for k, v in context.items() if k != "sig"}, sort_keys=True)
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]


def _json(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=JSON)


def _size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _presented_token(request: web.Request, form: Mapping[str, str]) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("token "):
        return header[6:].strip()
    return form.get("token", "")


class HttpEndpoint:
    def __init__(
        self,
        *,
        slash_token: str,
        on_command: Callable[[Command], Awaitable[CommandReply]],
        on_click: Callable[[Click], Awaitable[str]],
        healthy: Callable[[], Mapping[str, str]],
        metrics: Metrics,
        thread_of: Callable[[str], str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.slash_token = slash_token
        self.on_command = on_command
        self.on_click = on_click
        self.healthy = healthy
        self.metrics = metrics
        self.thread_of = thread_of or (lambda _text: "")
        self.limits = limits or Limits()
        self.guard = ConnectionGuard(self.limits, self.limits.max_connections, self._dropped)
        self.app = web.Application(
            client_max_size=self.limits.max_body, middlewares=[self._within_limits]
        )
        self.app.add_routes(
            [
                web.post("/slash", self.slash),
                web.post("/actions", self.actions),
                web.get("/healthz", self.healthz),
            ]
        )
        self.internal_guard = ConnectionGuard(self.limits, INTERNAL_CONNECTIONS, self._dropped)
        self.internal_app = web.Application(middlewares=[self._within_limits])
        self.internal_app.add_routes(
            [web.get("/metrics", self.metrics_page), web.get("/healthz", self.healthz)]
        )
        self._runners: list[web.AppRunner] = []
        self._background: set[asyncio.Task[None]] = set()
        self._accept_errors = AcceptErrorFilter()
        self.port = 0
        self.internal_port = 0

    async def start(self, host: str, port: int) -> int:
        """Serve the public endpoint; the port it listens on is returned (``port`` 0: any)."""
        self.guard.cap = fit_to_descriptors(self.limits.max_connections)
        self.port = await self._serve(self.app, self.guard, host, port, "DASTBOT_HTTP")
        logging.getLogger("asyncio").addFilter(self._accept_errors)
        log.info("HTTP endpoint on %s:%d", host, self.port)
        return self.port

    async def start_internal(self, host: str, port: int) -> int:
        """Serve ``/metrics`` and ``/healthz`` on their own address and port."""
        self.internal_port = await self._serve(
            self.internal_app, self.internal_guard, host, port, "DASTBOT_HTTP_METRICS"
        )
        log.info("metrics and health on %s:%d", host, self.internal_port)
        return self.internal_port

    async def _serve(
        self, app: web.Application, guard: ConnectionGuard, host: str, port: int, env: str
    ) -> int:
        # aiohttp's own idle timeout too, so keep-alive connections end the same way.
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=self.limits.header_timeout)
        await runner.setup()
        self._runners.append(runner)
        site = GuardedSite(runner, host, port, guard)
        try:
            await site.start()
        except OSError as exc:
            raise ListenError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose a free port "
                f"or another address with {env}_PORT / {env}_HOST"
            ) from None
        return site.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        logging.getLogger("asyncio").removeFilter(self._accept_errors)

    def _dropped(self, reason: str) -> None:
        self.metrics.refusals.labels("connection", reason).inc()

    @web.middleware
    async def _within_limits(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Headers are in: the connection is busy until answered; the body must come in time."""
        guard = self.guard if request.app is self.app else self.internal_guard
        guard.started(request.transport)
        try:
            if request.body_exists:
                refused = await self._read_body(request)
                if refused is not None:
                    return refused
            return await handler(request)
        finally:
            guard.finished(request.transport)

    async def _read_body(self, request: web.Request) -> web.Response | None:
        endpoint = request.path.strip("/") or "root"
        limit = self.limits.max_body
        too_large = f"The request is larger than the {_size(limit)} this endpoint takes."
        refused: web.Response | None = None
        if request.content_length is not None and request.content_length > limit:
            refused = self._refuse(endpoint, "too large", 413, too_large)
        else:
            try:
                async with asyncio.timeout(self.limits.body_timeout):
                    await request.read()
            except web.HTTPRequestEntityTooLarge:
                refused = self._refuse(endpoint, "too large", 413, too_large)
            except TimeoutError:
                text = f"The request body did not arrive within {self.limits.body_timeout:g}s."
                refused = self._refuse(endpoint, "body timeout", 408, text)
        if refused is not None:
            refused.force_close()
        return refused

    def _refuse(self, endpoint: str, reason: str, status: int, text: str) -> web.Response:
        self.metrics.refusals.labels(endpoint, reason).inc()
        log.warning("refused %s request: %s", endpoint, reason)
        return _json({"response_type": "ephemeral", "text": text}, status)

    async def slash(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            form = {k: str(v) for k, v in (await request.post()).items()}
        except Exception:
            return self._refuse("slash", "bad form", 400, "The request could not be read.")
        presented = _presented_token(request, form)
        if not self.slash_token or not hmac.compare_digest(
            presented.encode(), self.slash_token.encode()
        ):
            return self._refuse("slash", "bad token", 401, "Invalid command token.")
        user_id, user_name = form.get("user_id", ""), form.get("user_name", "")
        if not user_id or not user_name:
            return self._refuse("slash", "unknown user", 400, "The request names no user.")
        text = form.get("text", "")[:4000]
        command = Command(
            user_id=user_id,
            user_name=user_name,
            channel_id=form.get("channel_id", ""),
            channel_name=form.get("channel_name", ""),
            text=text,
            # A link in the text names the thread; else the thread the command ran in, which
            # servers newer than v10 send as root_id.
            root_id=self.thread_of(text) or form.get("root_id", ""),
            response_url=form.get("response_url", ""),
        )
        task = asyncio.ensure_future(self.on_command(command))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), SLOW_REPLY_S)
        except TimeoutError:
            if command.response_url:
                self._later(task, command.response_url)
            return _json({"response_type": "ephemeral", "text": "Working on it…"})
        finally:
            self.metrics.handler_seconds.labels("slash").observe(time.perf_counter() - started)
        return _json(
            {"response_type": "in_channel" if reply.in_channel else "ephemeral", "text": reply.text}
        )

    def _later(self, task: asyncio.Future[CommandReply], url: str) -> None:
        async def deliver() -> None:
            reply = await task
            body = {
                "response_type": "in_channel" if reply.in_channel else "ephemeral",
                "text": reply.text,
            }
            async with (
                ClientSession(timeout=ClientTimeout(total=30)) as session,
                session.post(url, json=body) as response,
            ):
                if response.status >= 300:
                    log.warning("response_url answered %d", response.status)

        background = asyncio.ensure_future(deliver())
        self._background.add(background)
        background.add_done_callback(self._background.discard)

    async def actions(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            body = await request.json()
        except Exception:
            return self._refuse("actions", "bad json", 400, "The request could not be read.")
        if not isinstance(body, dict) or not isinstance(body.get("context"), dict):
            return self._refuse("actions", "no context", 400, "The request has no context.")
        context: dict[str, Any] = body["context"]
        expected = sign_context(self.slash_token, context) if self.slash_token else ""
        presented = str(context.get("sig", "")).encode("utf-8", "replace")
        if not expected or not hmac.compare_digest(presented, expected.encode()):
            self.metrics.refusals.labels("actions", "bad signature").inc()
            return _json({"update": None, "ephemeral_text": "This button is not valid."}, 401)
        click = Click(
            user_id=str(body.get("user_id", "")),
            user_name=str(body.get("user_name", "")),
            channel_id=str(body.get("channel_id", "")),
            post_id=str(body.get("post_id", "")),
            context=context,
        )
        text = await self.on_click(click)
        self.metrics.handler_seconds.labels("click").observe(time.perf_counter() - started)
        return _json({"update": None, "ephemeral_text": text})

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when every check passes, else 503; each check's problem is named in ``reasons``."""
        problems = dict(self.healthy())
        reasons = [f"{name}: {why}" for name, why in problems.items() if why]
        body = {"ok": not reasons, **{name: not why for name, why in problems.items()}}
        return _json({**body, "reasons": reasons}, 503 if reasons else 200)

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
