"""The bot's HTTP endpoint: slash commands, button clicks, health and metrics (aiohttp).

``POST /slash`` takes Mattermost's form with the command token (checked in constant time, 401
otherwise) and answers ``ephemeral`` or ``in_channel`` JSON; work slower than a few seconds is
answered through ``response_url``. ``POST /actions`` takes button clicks whose context carries an
HMAC made with the slash token, so clicks cannot be forged. ``GET /healthz`` is 200 only while the
websocket is connected and the store is writable; ``GET /metrics`` is Prometheus text.
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

from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Click, Command, CommandReply

log = logging.getLogger("dastbot.http")

JSON = "application/json"
SLOW_REPLY_S = 2.5


def sign_context(secret: str, context: Mapping[str, Any]) -> str:
    body = json.dumps({k: v for k, v in context.items() if k != "sig"}, sort_keys=True)
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]


def _json(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=JSON)


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
    ) -> None:
        self.slash_token = slash_token
        self.on_command = on_command
        self.on_click = on_click
        self.healthy = healthy
        self.metrics = metrics
        self.thread_of = thread_of or (lambda _text: "")
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.add_routes(
            [
                web.post("/slash", self.slash),
                web.post("/actions", self.actions),
                web.get("/healthz", self.healthz),
                web.get("/metrics", self.metrics_page),
            ]
        )
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("HTTP endpoint on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

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
            root_id=self.thread_of(text),
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
