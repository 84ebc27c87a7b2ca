"""The simulated Mattermost: a chat server that keeps every post and enforces Mattermost's rules
(the post limit in runes, replies only to existing root posts, deleted posts, channels the bot is
not in), and the faults the real one has (429 and 5xx with Retry-After, outages, responses lost
after the post was made, dropped websocket connections). ``SimChat`` is the bot's ``Chat``,
``SimFeed`` its ``Feed``; neither sleeps: time is the simulation's clock.

``Killed`` is kill -9: raised from inside a send (before the post is made, or after it is made
and before the bot hears so), it is a ``BaseException`` so that no handler in the bot catches it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dastbot.chat.base import ChatEvent, Connected, Disconnected, SendRefused
from dastbot.kernel.clock import Clock
from dastbot.kernel.markdown import POST_LIMIT
from dastbot.kernel.models import Button, OutMessage, Post

BOT = "dastbot"
PERMALINK = "https://chat.sim/atlas/pl/"


class Killed(BaseException):
    """The bot process dies here (kill -9): nothing after this point in it runs."""


class ServerError(Exception):
    """A 429 or 5xx answer; ``retry_after`` seconds as the server's Retry-After header said."""

    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(f"{status} from the server (Retry-After {retry_after:.0f}s)")
        self.status = status
        self.retry_after = retry_after


@dataclass
class ChatPost:
    id: str
    channel: str
    root_id: str
    user: str
    message: str
    at: datetime
    key: str = ""
    buttons: tuple[Button, ...] = ()
    deleted: bool = False


@dataclass
class Oversized:
    at: datetime
    channel: str
    root_id: str
    key: str
    runes: int


@dataclass
class Faults:
    """Fault rates (per send attempt, per simulated day) scaled by ``level`` (0 = none)."""

    level: float = 1.0
    rate_limited: float = 0.01
    server_error: float = 0.005
    lost_response: float = 0.003
    outages_per_week: float = 0.5
    drops_per_week: float = 1.0

    def p(self, rate: float) -> float:
        return min(rate * self.level, 0.5)


@dataclass
class SimChat:
    """The server side, shared by every run of the bot (it outlives restarts)."""

    clock: Clock
    rng: random.Random
    faults: Faults
    posts: dict[str, ChatPost] = field(default_factory=dict)
    by_key: dict[str, list[str]] = field(default_factory=dict)
    replies: dict[str, list[str]] = field(default_factory=dict)
    bot_posts: list[str] = field(default_factory=list)
    """Root post id -> its replies' ids, oldest first."""
    not_member: set[str] = field(default_factory=set)
    timezones: dict[str, str] = field(default_factory=dict)
    oversized: list[Oversized] = field(default_factory=list)
    outage_until: datetime | None = None
    kill_in_sends: int | None = None
    """Die at the n-th next send (armed by the runner)."""
    kill_after_post: bool = False
    on_bot_post: Callable[[ChatPost], None] | None = None
    counter: int = 0
    sends: int = 0
    injected: dict[str, int] = field(default_factory=dict)

    def _inject(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:07d}"

    def add_post(
        self,
        user: str,
        channel: str,
        message: str,
        root_id: str = "",
        key: str = "",
        buttons: tuple[Button, ...] = (),
    ) -> ChatPost:
        post = ChatPost(
            self.new_id("b" if user == BOT else "u"),
            channel,
            root_id,
            user,
            message,
            self.clock.now(),
            key,
            buttons,
        )
        self.posts[post.id] = post
        if user == BOT:
            self.bot_posts.append(post.id)
        if root_id:
            self.replies.setdefault(root_id, []).append(post.id)
        if key:
            self.by_key.setdefault(key, []).append(post.id)
        return post

    def thread(self, root_id: str) -> list[ChatPost]:
        return [self.posts[i] for i in self.replies.get(root_id, ())]

    # the Chat protocol ---------------------------------------------------------------------

    async def send(self, msg: OutMessage) -> str:
        self.sends += 1
        runes = len(msg.message)
        if runes > POST_LIMIT:
            self.oversized.append(
                Oversized(self.clock.now(), msg.channel_id, msg.root_id, msg.key, runes)
            )
            raise SendRefused(f"400 message too long ({runes} > {POST_LIMIT} runes)")
        if msg.channel_id in self.not_member:
            raise SendRefused(f"403 the bot is not a member of {msg.channel_id}")
        if msg.root_id:
            root = self.posts.get(msg.root_id)
            if root is None or root.deleted:
                raise SendRefused(f"400 invalid root {msg.root_id}: the post was deleted")
            if root.root_id:
                raise SendRefused(f"400 root {msg.root_id} is itself a reply")
        self._maybe_die()
        now = self.clock.now()
        if self.outage_until is not None and now < self.outage_until:
            self._inject("5xx (outage)")
            raise ServerError(503, (self.outage_until - now).total_seconds())
        roll = self.rng.random()
        if roll < self.faults.p(self.faults.rate_limited):
            self._inject("429")
            raise ServerError(429, self.rng.uniform(1, 60))
        if roll < self.faults.p(self.faults.rate_limited + self.faults.server_error):
            self._inject("5xx")
            raise ServerError(self.rng.choice((500, 502, 503)), self.rng.uniform(1, 30))
        post = self.add_post(BOT, msg.channel_id, msg.message, msg.root_id, msg.key, msg.buttons)
        if self.kill_after_post:
            self.kill_after_post = False
            raise Killed("after the post was made, before the bot recorded it")
        if self.on_bot_post is not None:
            self.on_bot_post(post)
        if self.rng.random() < self.faults.p(self.faults.lost_response):
            self._inject("lost response")
            raise TimeoutError("the post was made but its response was lost")
        return post.id

    def _maybe_die(self) -> None:
        if self.kill_in_sends is None:
            return
        self.kill_in_sends -= 1
        if self.kill_in_sends > 0:
            return
        self.kill_in_sends = None
        if self.rng.random() < 0.5:
            raise Killed("before the post was made")
        self.kill_after_post = True

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        if self.outage_until is not None and self.clock.now() < self.outage_until:
            raise ServerError(503, 30)
        for post_id in self.by_key.get(msg.key, ()):
            post = self.posts[post_id]
            if post.user == BOT and post.at >= since - timedelta(seconds=1):
                return post_id
        return None

    async def user_timezone(self, user_id: str) -> str | None:
        return self.timezones.get(user_id)

    async def react(self, post_id: str, emoji: str) -> None:
        return None

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    def permalink(self, post_id: str) -> str:
        return PERMALINK + post_id

    async def check_destination(self, target: str) -> str:
        return f"{target}: the bot is not a member" if target in self.not_member else ""


@dataclass
class SimFeed:
    """The websocket side: events in order; while disconnected, posts wait for the catch-up
    (reactions made meanwhile are lost, as Mattermost's catch-up fetches posts only)."""

    connected: bool = True
    connection: int = 1
    queue: deque[ChatEvent] = field(default_factory=deque)
    missed: list[Post] = field(default_factory=list)
    retry: list[Post] = field(default_factory=list)
    delivered: dict[str, datetime] = field(default_factory=dict)
    """Post id -> when the feed first yielded it to the bot."""
    clock: Clock | None = None
    on_deliver: Callable[[Post], None] | None = None

    @property
    def in_sync(self) -> bool:
        return self.connected and not self.missed and not self.retry

    def push(self, event: ChatEvent) -> None:
        if self.connected:
            self.queue.append(event)
        elif isinstance(event, Post):
            self.missed.append(event)

    def drop(self, reason: str) -> None:
        if self.connected:
            self.connected = False
            self.queue.append(Disconnected(reason))

    def reconnect(self, again: list[Post]) -> None:
        """Connected again: the missed posts, then ``again`` (posts the catch-up's overlap
        yields a second time), then ``Connected``."""
        self.connected = True
        self.connection += 1
        caught_up = len(self.missed)
        self.queue.extend(self.missed)
        self.queue.extend(again)
        self.missed = []
        self.queue.append(Connected(self.connection, caught_up))

    async def events(self) -> AsyncIterator[ChatEvent]:
        if self.retry:
            self.queue.extendleft(reversed(self.retry))
            self.retry = []
        while self.queue:
            event = self.queue.popleft()
            if isinstance(event, Post):
                if event.id not in self.delivered and self.clock is not None:
                    self.delivered[event.id] = self.clock.now()
                if self.on_deliver is not None:
                    self.on_deliver(event)
            yield event

    def failed(self, post: Post) -> None:
        self.retry.append(post)
