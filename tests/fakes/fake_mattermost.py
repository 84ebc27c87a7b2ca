"""A faithful fake Mattermost server for tests and benchmarks: REST and websocket on one port.

Owns the public face of the fake: ``FakeMattermost`` (async, in-process: start/stop, seeded
team/channels/users, helpers that act as a user, waits on posts and websocket logins, fault
injection), ``FakeMattermostThread`` (the same on its own loop in a background thread, for sync
callers), and the command line ``python -m tests.fakes.fake_mattermost`` (from a clone's root)
which prints one JSON line describing the server when it is ready. The rules live in
``fake_state``, the HTTP routes in ``fake_http``, the websocket in ``fake_ws`` and outgoing
integration calls in ``fake_integrations``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import ssl
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from dastbot.kernel.clock import Clock

from .fake_http import FakeHttp, Faults
from .fake_integrations import Integrations
from .fake_model import (
    JSON,
    Channel,
    EphemeralPost,
    Event,
    FakeAppError,
    Team,
    User,
)
from .fake_state import FakeState
from .fake_ws import WebsocketHub

__all__ = ["EphemeralPost", "FakeAppError", "FakeMattermost", "FakeMattermostThread", "main"]

T = TypeVar("T")
# The default limit of the waits below: generous, for loaded machines (a wait ends at its event).
WAIT_S = 30.0
PostPredicate = Callable[[JSON], bool]


class FakeMattermost:
    """The fake server. Seeded with team ``atlas``, channels ``dast-help`` and
    ``dast-coordinators``, the bot ``dastbot`` and users ``alice``, ``bob``, ``carol``.

    Helpers take user and channel *names* (a channel id works too) and return posts as the
    server stores them: the REST shape, but with action ``integration`` kept.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        *,
        seed: int | None = None,
        clock: Clock | None = None,
        ws_auth_timeout: float = 5.0,
        hello_before_ok: bool = False,
        integration_timeout: float = 30.0,
        slash_root_id: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._change = asyncio.Event()
        rng = random.Random(seed)  # seed None: seeded from the OS
        self.state = FakeState(rng=rng, clock=clock, publish=self._publish, changed=self._notify)
        self.hub = WebsocketHub(
            self.state,
            changed=self._notify,
            auth_timeout=ws_auth_timeout,
            hello_before_ok=hello_before_ok,
        )
        self.integrations = Integrations(self.state, timeout=integration_timeout)
        self.integrations.slash_root_id = slash_root_id
        self.faults = Faults()
        self._http = FakeHttp(self.state, self.hub, self.integrations, self.faults)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.state.seed_default()

    # ------------------------------------------------------------ lifecycle

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context is not None else "http"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (valid after ``start``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/api/v4/websocket"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("already started")
        runner = web.AppRunner(self._http.build_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, ssl_context=self._ssl_context)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        await self.integrations.start(self.url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.hub.close_all(1001)
        try:
            await self._wait_until(lambda: self.ws_connections == 0 or None, 1.0, "")
        except TimeoutError:
            self.hub.close_all(1006)
        await self.integrations.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> FakeMattermost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def driver_options(self, user: str = "dastbot", **overrides: Any) -> dict[str, Any]:
        """Options for ``mattermostdriver.Driver`` (and its ``Websocket``) logged in as ``user``."""
        options: dict[str, Any] = {
            "url": self.host,
            "port": self.port,
            "scheme": self.scheme,
            "basepath": "/api/v4",
            "token": self.token(user),
            "verify": True,
            "timeout": 30,
            "request_timeout": 10,
            "keepalive": False,
            "keepalive_delay": 5,
            "websocket_kw_args": None,
            "debug": False,
        }
        options.update(overrides)
        return options

    def summary(self) -> JSON:
        """What the command line prints: url, team, channel ids, user ids and tokens."""
        team = self._team()
        return {
            "url": self.url,
            "team": team.name,
            "channels": {
                c.name: c.id for c in self.state.channels.values() if c.team_id == team.id
            },
            "users": {
                u.username: {"id": u.id, "token": u.token} for u in self.state.users.values()
            },
        }

    # -------------------------------------------------------------- lookups

    def _team(self, name: str = "atlas") -> Team:
        return self.state.team_named(name)

    def _user(self, name: str) -> User:
        for user in self.state.users.values():
            if name in (user.username, user.id):
                return user
        raise KeyError(f"no user {name!r}")

    def _channel(self, name: str) -> Channel:
        if name in self.state.channels:
            return self.state.channels[name]
        for channel in self.state.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no channel {name!r}")

    def user_id(self, name: str) -> str:
        return self._user(name).id

    def token(self, name: str) -> str:
        return self._user(name).token

    def channel_id(self, name: str) -> str:
        return self._channel(name).id

    def team_id(self, name: str = "atlas") -> str:
        return self._team(name).id

    def user_json(self, name: str) -> JSON:
        return self._user(name).to_json()

    def dm_channel_id(self, user_a: str, user_b: str) -> str:
        """The direct channel of two users, created on first use."""
        a, b = self._user(user_a), self._user(user_b)
        return self.state.direct_channel(a, [a.id, b.id]).id

    def add_user(
        self,
        name: str,
        *,
        is_bot: bool = False,
        channels: Sequence[str] = ("dast-help", "dast-coordinators"),
    ) -> str:
        """A new member of team ``atlas`` (and of ``channels``); returns the user id."""
        user = self.state.add_user(name, is_bot=is_bot)
        self._team().members.add(user.id)
        for channel in channels:
            self.state.join(user, self._channel(channel))
        return user.id

    def rename_user(self, name: str, new_name: str) -> None:
        """The user ``name`` becomes ``new_name`` (same id); ``name`` is free for a newcomer."""
        self.state.rename_user(self._user(name), new_name)

    def add_channel(
        self,
        name: str,
        *,
        display_name: str = "",
        channel_type: str = "O",
        members: Sequence[str] = ("dastbot", "alice", "bob", "carol"),
    ) -> str:
        channel = self.state.add_channel(self._team(), name, display_name or name, channel_type)
        for member in members:
            self.state.join(self._user(member), channel)
        return channel.id

    def join_channel(self, user: str, channel: str) -> None:
        self.state.join(self._user(user), self._channel(channel))

    def leave_channel(self, user: str, channel: str) -> None:
        self._channel(channel).members.discard(self._user(user).id)

    def set_timezone(self, user: str, tz_name: str) -> None:
        """Set a manual timezone, stored as Mattermost stores it (string booleans)."""
        self.state.set_timezone(self._user(user), tz_name)

    # -------------------------------------------------------- acting as users

    async def create_post(
        self,
        as_user: str,
        channel: str,
        message: str,
        root_id: str = "",
        *,
        props: JSON | None = None,
        file_ids: Sequence[str] = (),
    ) -> JSON:
        """Post as ``as_user`` (stored and broadcast, validated like ``POST /posts``)."""
        body: JSON = {"channel_id": self._channel(channel).id, "message": message}
        if root_id:
            body["root_id"] = root_id
        if props is not None:
            body["props"] = props
        if file_ids:
            body["file_ids"] = list(file_ids)
        post = self.state.create_post(self._user(as_user), body)
        return self.state.post_json(post, client=False)

    async def edit_post(
        self, as_user: str, post_id: str, message: str, *, props: JSON | None = None
    ) -> JSON:
        body: JSON = {"message": message}
        if props is not None:
            body["props"] = props
        post = self.state.update_post(self._user(as_user), post_id, body, patch=True)
        return self.state.post_json(post, client=False)

    async def delete_post(self, as_user: str, post_id: str) -> None:
        self.state.delete_post(self._user(as_user), post_id)

    async def add_reaction(self, as_user: str, post_id: str, emoji: str) -> JSON:
        return self.state.add_reaction(self._user(as_user), post_id, emoji).to_json()

    async def remove_reaction(self, as_user: str, post_id: str, emoji: str) -> None:
        self.state.remove_reaction(self._user(as_user), post_id, emoji)

    async def execute_command(
        self, as_user: str, channel: str, command: str, root_id: str = ""
    ) -> JSON:
        """Run a slash command as a user typing it (``"/dast status"``); returns the response."""
        body: JSON = {"channel_id": self._channel(channel).id, "command": command}
        if root_id:
            body["root_id"] = root_id
        return await self.integrations.execute(self._user(as_user), body)

    async def click(
        self, as_user: str, post_id: str, action_id: str, selected_option: str = ""
    ) -> JSON:
        """Press a button as a user; returns the integration's JSON reply."""
        reply, _ = await self.integrations.click(
            self._user(as_user), post_id, action_id, selected_option
        )
        return reply

    # ------------------------------------------------------------- reading

    def posts(self, channel: str | None = None) -> list[JSON]:
        """Stored posts in creation order (deleted ones included, with ``delete_at`` set)."""
        wanted = self._channel(channel).id if channel is not None else None
        snapshot = list(self.state.posts.values())
        return [
            self.state.post_json(p, client=False)
            for p in snapshot
            if wanted is None or p.channel_id == wanted
        ]

    def post(self, post_id: str) -> JSON:
        return self.state.post_json(self.state.posts[post_id], client=False)

    def reactions(self, post_id: str) -> list[JSON]:
        return [r.to_json() for r in self.state.reactions.get(post_id, [])]

    def ephemeral_posts(self, user: str | None = None) -> list[EphemeralPost]:
        wanted = self._user(user).id if user is not None else None
        snapshot = list(self.state.ephemerals)
        return [e for e in snapshot if wanted is None or e.recipient_id == wanted]

    async def wait_for_post(self, predicate: PostPredicate, timeout: float = WAIT_S) -> JSON:
        """The first post matching ``predicate``: existing ones in creation order, then new
        or changed ones (edits and reactions count) as they happen."""
        log = self.state.post_log
        pending = list(self.state.posts)
        seen = len(log)

        def check() -> JSON | None:
            nonlocal pending, seen
            candidates = pending + log[seen:]
            pending, seen = [], len(log)
            for post_id in dict.fromkeys(candidates):
                view = self.state.post_json(self.state.posts[post_id], client=False)
                if predicate(view):
                    return view
            return None

        return await self._wait_until(check, timeout, "a matching post")

    async def wait_for_ephemeral(
        self, predicate: Callable[[EphemeralPost], bool], timeout: float = WAIT_S
    ) -> EphemeralPost:
        """The first ephemeral post (existing or future) matching ``predicate``."""
        seen = 0

        def check() -> EphemeralPost | None:
            nonlocal seen
            fresh, seen = self.state.ephemerals[seen:], len(self.state.ephemerals)
            return next((e for e in fresh if predicate(e)), None)

        return await self._wait_until(check, timeout, "a matching ephemeral post")

    # ------------------------------------------------------------ websocket

    @property
    def ws_connections(self) -> int:
        """Authenticated websocket connections open now."""
        return len(self.hub.connections)

    @property
    def ws_auth_total(self) -> int:
        """Successful websocket authentications since start (grows with every reconnect)."""
        return self.hub.auth_total

    async def wait_for_ws(self, count: int = 1, timeout: float = WAIT_S) -> None:
        """Until at least ``count`` websockets are authenticated and open."""
        await self._wait_until(
            lambda: self.ws_connections >= count or None, timeout, f"{count} websocket(s)"
        )

    async def wait_for_ws_auth(self, total: int, timeout: float = WAIT_S) -> None:
        """Until ``total`` authentications have happened since start (reconnect tests)."""
        await self._wait_until(
            lambda: self.ws_auth_total >= total or None, timeout, f"{total} websocket logins"
        )

    # ---------------------------------------------------------------- faults

    def close_websockets(self, code: int = 1000) -> int:
        """Close every websocket: 1006 drops TCP without a close frame; 1000/1001/1011 send
        a close frame with that code. Returns how many were open."""
        return self.hub.close_all(code)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: int = 1,
        path: str = "",
        method: str = "",
    ) -> None:
        """The next ``count`` REST calls (matching ``path`` and its sub-paths, and ``method``)
        fail: 429 as the real rate limiter answers it, other codes as an AppError."""
        self.faults.fail(status, count, retry_after=retry_after, path=path, method=method)

    def set_delay(self, ms: int) -> None:
        """Delay every REST request by ``ms`` milliseconds (0 turns it off)."""
        self.faults.delay_ms = max(0, ms)

    def refuse_websockets(self, seconds: float, status: int = 503) -> None:
        """Answer websocket upgrades with ``status`` for ``seconds``."""
        self.hub.refuse(seconds, status)

    def reset_faults(self) -> None:
        self.faults.reset()
        self.hub.refuse_until = 0.0

    # --------------------------------------------------------------- waiting

    def _publish(self, event: Event) -> None:
        self.hub.publish(event)

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._change
                    result = check()
                    if result is not None:
                        return result
                    await changed.wait()
        except TimeoutError:
            recent = [(p.user_id, p.message[:60]) for p in list(self.state.posts.values())[-5:]]
            raise TimeoutError(
                f"fake mattermost: no {what} within {timeout}s (last posts: {recent})"
            ) from None


class FakeMattermostThread:
    """``FakeMattermost`` on its own event loop in a daemon thread, for synchronous callers::

    with FakeMattermostThread() as server:
        server.run(server.fake.create_post("alice", "dast-help", "hi"))
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._fake: FakeMattermost | None = None

    @property
    def fake(self) -> FakeMattermost:
        if self._fake is None:
            raise RuntimeError("not started")
        return self._fake

    @property
    def url(self) -> str:
        return self.fake.url

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="fake-mattermost", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError("fake mattermost failed to start") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeMattermostThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run a coroutine (e.g. a ``fake`` helper) on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call a synchronous ``fake`` method (faults, lookups) on the server's loop."""

        async def invoke() -> T:
            return fn(*args)

        return self.run(invoke())

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._fake = FakeMattermost(**self._kwargs)
            loop.run_until_complete(self._fake.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._fake.stop())
            loop.close()


# ---------------------------------------------------------------- command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.fake_mattermost",
        description="Run the fake Mattermost server; prints one JSON line when ready.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tls-cert", help="PEM certificate: serve https/wss")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--seed", type=int, help="make ids and tokens reproducible")
    parser.add_argument(
        "--slash-root-id",
        action="store_true",
        help="act as a server newer than v10.x: slash commands run in a thread send root_id",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


async def _serve(args: argparse.Namespace) -> int:
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    fake = FakeMattermost(
        args.host, args.port, context, seed=args.seed, slash_root_id=args.slash_root_id
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start()
    try:
        sys.stdout.write(json.dumps(fake.summary()) + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await fake.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
