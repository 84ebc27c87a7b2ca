"""The two-way chat seam: what the core may ask of a chat system (``Chat``, messages out) and what
a chat system gives the core (``Feed``, events in). Adapters (Mattermost, the console) implement
both; the core never sees JSON, a driver, a socket or a terminal.

A feed owns its connection: it reconnects, catches up on what was posted while it was away, and
yields every event once, oldest first, with ``Connected``/``Disconnected`` telling the core when
its view of the chat is complete (``in_sync``). Authentication failure is ``AuthRejected``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dastbot.kernel.models import OutMessage, Post, Reaction


class AuthRejected(Exception):
    """The chat server refused the bot's credentials: nothing works until they are fixed."""


class SendRefused(Exception):
    """The chat server refused a message for good (too long, no such channel or user, no
    permission, a deleted thread root): sending it again cannot help."""


@dataclass(frozen=True)
class Edited:
    """A post was edited (``post`` holds its new text)."""

    post: Post


@dataclass(frozen=True)
class Connected:
    """Connection number ``connection`` is up and everything posted before it was yielded."""

    connection: int
    caught_up: int = 0
    """How many missed posts were yielded before this event."""


@dataclass(frozen=True)
class Disconnected:
    """The connection was lost; events resume (after a catch-up) with the next ``Connected``."""

    reason: str


ChatEvent = Post | Edited | Reaction | Connected | Disconnected


class Feed(Protocol):
    @property
    def in_sync(self) -> bool:
        """Connected, and every post made before now has been yielded: safe to act on time."""
        ...

    def events(self) -> AsyncIterator[ChatEvent]:
        """Every incoming event once, in order, until the feed stops; raises AuthRejected."""
        ...

    def failed(self, post: Post) -> None:
        """The core could not handle ``post`` (its store failed): deliver it again later, and
        do not count anything after it as delivered meanwhile."""
        ...


class Chat(Protocol):
    async def send(self, msg: OutMessage) -> str:
        """Post a message (in a thread when ``msg.root_id`` is set); return the new post id.
        Raises SendRefused when the server will never accept it; any other exception is a
        failure that may pass (network, rate limit, server error)."""
        ...

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        """The id of a post carrying ``msg.key`` made since ``since``, if an earlier attempt to
        send it got through after all (a crash or a lost response); None otherwise."""
        ...

    async def user_timezone(self, user_id: str) -> str | None:
        """The user's time zone name as set in the chat system, when known."""
        ...

    async def react(self, post_id: str, emoji: str) -> None:
        """Add the bot's reaction to a post."""
        ...

    async def direct_channel(self, user_name: str) -> str:
        """The id of the bot's direct-message channel with a user."""
        ...

    def permalink(self, post_id: str) -> str:
        """A link to a post that a person can click."""
        ...

    async def check_destination(self, target: str) -> str:
        """Why the bot cannot post to ``target`` (a channel name or ``@user``), with the fix;
        "" when it can."""
        ...
