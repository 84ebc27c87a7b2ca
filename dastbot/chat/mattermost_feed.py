"""Mattermost events in: one reconnecting websocket supervisor (backoff 1 s x1.75 up to 5 min with
jitter, reset after ``hello``), a catch-up over REST after every ``hello`` from a persisted cursor
(retried with backoff when it fails) of the posts and the reactions made meanwhile, and the
translation of frames into the seam's events.

The driver awaits the frame handler inside a timeout, so the handler only parses and enqueues;
``events`` does the slow work. The cursor (epoch ms of the newest post handled in order) moves
only after the core has handled a post, and never past a post still missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets

from dastbot.chat.base import AuthRejected, ChatEvent, Connected, Disconnected, Edited
from dastbot.chat.mattermost import MattermostChat
from dastbot.chat.mattermost_transport import backoff_delays
from dastbot.kernel.models import Post, Reaction

log = logging.getLogger("dastbot.mattermost")
CURSOR_KEY = "mattermost.cursor_ms"
_HELLO = "hello"
_LOST = "lost"
_FATAL = "fatal"


class MattermostFeed:
    """The ``Feed`` of a logged-in ``MattermostChat``; ``save_cursor`` persists the cursor."""

    def __init__(
        self, chat: MattermostChat, cursor_ms: int, save_cursor: Callable[[int], None]
    ) -> None:
        self.chat = chat
        self.cursor_ms = cursor_ms
        self._save_cursor = save_cursor
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.hellos = 0
        """How many times the websocket said hello: each one starts a new connection."""
        self.caught_up = -1
        """The connection (hello number) whose missed posts have all been yielded."""
        self._socket: Any = None
        self._stopping = False
        self._held = False
        """A post failed: the cursor stays where it is until a catch-up delivers it again."""
        self._failures = 0

    @property
    def holding(self) -> bool:
        """A post could not be handled and waits to be delivered again."""
        return self._held

    @property
    def in_sync(self) -> bool:
        return self.connected.is_set() and self.caught_up == self.hellos

    # frames -> queue ------------------------------------------------------------------------

    async def _on_frame(self, message: str) -> None:
        """Parse and enqueue only: the driver cancels slow handlers."""
        try:
            data = json.loads(message)
        except ValueError:
            log.warning("ignored a websocket frame that is not JSON")
            return
        event = data.get("event")
        payload = data.get("data") or {}
        if event == "hello":
            self.hellos += 1
            self.disconnected.clear()
            self.connected.set()
            self._queue.put_nowait((_HELLO, self.hellos))
        elif event in ("posted", "post_edited"):
            post = self._post_of(payload)
            if post is not None:
                self._queue.put_nowait(("post" if event == "posted" else "edit", post))
        elif event in ("reaction_added", "reaction_removed"):
            try:
                raw = json.loads(payload.get("reaction", "{}"))
            except ValueError:
                return
            reaction = Reaction(
                user_id=str(raw.get("user_id", "")),
                post_id=str(raw.get("post_id", "")),
                channel_id=str(raw.get("channel_id", "")),
                emoji=str(raw.get("emoji_name", "")),
                added=event == "reaction_added",
            )
            self._queue.put_nowait(("reaction", reaction))

    def _post_of(self, payload: dict[str, Any]) -> Post | None:
        try:
            raw = json.loads(payload.get("post", "{}"))
        except ValueError:
            return None
        if not isinstance(raw, dict) or "id" not in raw or not self.chat.wanted(raw):
            return None
        name = str(payload.get("sender_name", "")).lstrip("@")
        channel_name = str(payload.get("channel_name", ""))
        self.chat.remember(
            str(raw.get("user_id")), name, str(raw.get("channel_id", "")), channel_name
        )
        return self.chat.to_post(raw, name, channel_name, str(payload.get("channel_type", "")))

    # catch-up --------------------------------------------------------------------------------

    async def missed(self, since_ms: int) -> tuple[list[Post], list[Reaction]]:
        """Posts made since ``since_ms`` in the followed and watched channels and in the bot's
        direct messages, oldest first, and the reactions added since then to any post there
        (Mattermost lists a post again when a reaction changes it, with its reactions)."""
        found: list[dict[str, Any]] = []
        reactions: list[tuple[int, Reaction]] = []
        types = {c: "" for c in self.chat.followed_channels()}
        for channel, kind in await self.chat.direct_channels_since(since_ms):
            types.setdefault(channel, kind)
        for channel in types:
            listing = await self.chat.rest(
                "catch-up",
                self.chat.driver.posts.get_posts_for_channel,
                channel,
                params={"since": since_ms},
            )
            for raw in listing.get("posts", {}).values():
                if raw.get("delete_at"):
                    continue
                reactions += _reactions_since(raw, since_ms, self.chat.user_id)
                if self.chat.wanted(raw) and int(raw.get("create_at", 0)) > since_ms:
                    found.append(raw)
        found.sort(key=lambda raw: int(raw.get("create_at", 0)))
        posts = []
        for raw in found:
            name = await self.chat.user_name_of(str(raw.get("user_id", "")))
            kind = types.get(str(raw.get("channel_id", "")), "")
            posts.append(self.chat.to_post(raw, name, channel_type=kind))
        return posts, [reaction for _, reaction in sorted(reactions, key=lambda r: r[0])]

    def failed(self, post: Post) -> None:
        if not self._held:
            self._held = True
            self._retry_catch_up(f"post {post.id} could not be handled")

    def _retry_catch_up(self, why: str) -> None:
        self._failures += 1
        delay = min(2.0**self._failures, 60.0)
        log.warning("%s; catching up again in %.0fs", why, delay)
        asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, (_HELLO, self.hellos))

    def _advance(self, post: Post) -> None:
        if self._held:
            return
        created = int(post.create_at.timestamp() * 1000)
        if created > self.cursor_ms:
            self.cursor_ms = created
            self._save_cursor(created)

    # the feed --------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ChatEvent]:
        """Connect, and yield every event once until ``stop``; raises AuthRejected."""
        supervisor = asyncio.ensure_future(self._supervise())
        try:
            while True:
                kind, item = await self._queue.get()
                if kind == _FATAL:
                    raise item
                if kind == _LOST:
                    yield Disconnected(str(item))
                elif kind == _HELLO:
                    if item != self.hellos:
                        continue  # a retry planned for a connection that is gone
                    held, self._held = self._held, False
                    try:
                        missed, reactions = await self.missed(max(self.cursor_ms - 1, 0))
                    except AuthRejected:
                        raise
                    except Exception as exc:
                        # Posts missed while disconnected must not be lost: try again later.
                        self._held = held
                        self._retry_catch_up(f"catch-up failed ({exc})")
                        continue
                    if missed:
                        log.info("catching up on %d post(s)", len(missed))
                    for post in missed:  # oldest first, before anything newer moves the cursor
                        yield post
                        self._advance(post)
                    for reaction in reactions:  # the router ignores one it has already seen
                        yield reaction
                    if not self._held:
                        self._failures = 0
                        self.caught_up = item
                    yield Connected(item, len(missed))
                elif kind == "post":
                    in_order = self.caught_up == self.hellos
                    yield item
                    # A post that arrives before the catch-up is done must not carry the cursor
                    # past posts still missing (a crash or a failed catch-up would lose them).
                    if in_order:
                        self._advance(item)
                elif kind == "edit":
                    yield Edited(item)
                else:
                    yield item
        finally:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)

    async def _supervise(self) -> None:
        try:
            await self.run()
        except AuthRejected as exc:
            self._queue.put_nowait((_FATAL, exc))

    async def run(self) -> None:
        """Stay connected until ``stop``; AuthRejected ends the loop for good."""
        delays = backoff_delays()
        first = True
        while not self._stopping:
            if not first:
                self.chat.metrics.reconnects.inc()
            first = False
            self.connected.clear()
            self._socket = self.chat.websocket()
            hello_seen = False

            async def handler(message: str) -> None:
                nonlocal hello_seen, delays
                if not hello_seen and '"hello"' in message:
                    hello_seen = True
                    delays = backoff_delays()
                await self._on_frame(message)

            reason = "closed by the server"
            try:
                await self._socket.connect(handler)
                log.warning("websocket closed by the server")
            except (TimeoutError, websockets.ConnectionClosed, OSError) as exc:
                reason = exc.__class__.__name__
                log.warning("websocket lost: %s", reason)
            except websockets.InvalidStatus as exc:
                reason = f"HTTP {exc.response.status_code}"
                log.warning("websocket refused: %s", reason)
            except Exception as exc:
                reason = str(exc)
                log.warning("websocket error: %s", exc)
            self.connected.clear()
            self.disconnected.set()
            if hello_seen:
                self._queue.put_nowait((_LOST, reason))
            if self._stopping:
                break
            if not hello_seen:
                await self._check_token()
            delay = delays()
            log.info("reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _check_token(self) -> None:
        """A socket dropped before hello may mean a revoked token: ask REST, which says 401."""
        try:
            await self.chat.rest("token check", self.chat.driver.users.get_user, "me")
        except AuthRejected:
            raise
        except Exception as exc:
            log.debug("token check inconclusive: %s", exc)

    async def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            await self._socket.close()


def _reactions_since(raw: dict[str, Any], since_ms: int, me: str) -> list[tuple[int, Reaction]]:
    """(epoch ms, reaction) for the reactions a listed post gained after ``since_ms``, not the
    bot's own."""
    metadata = raw.get("metadata") or {}
    out = []
    for item in metadata.get("reactions") or ():
        created = int(item.get("create_at", 0))
        if created > since_ms and item.get("user_id") != me and not item.get("delete_at"):
            reaction = Reaction(
                user_id=str(item.get("user_id", "")),
                post_id=str(item.get("post_id", "")),
                channel_id=str(item.get("channel_id") or raw.get("channel_id", "")),
                emoji=str(item.get("emoji_name", "")),
            )
            out.append((created, reaction))
    return out
