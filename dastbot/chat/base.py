"""The Chat protocol: everything the core may ask of a chat system, and nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dastbot.kernel.models import OutMessage


class Chat(Protocol):
    async def send(self, msg: OutMessage) -> str:
        """Post a message (in a thread when ``msg.root_id`` is set); return the new post id."""
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
