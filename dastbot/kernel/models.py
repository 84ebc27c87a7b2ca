"""Frozen value types shared by every module: what arrives from chat and what goes back to it.

The core never sees driver JSON: adapters translate to and from these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Post:
    """A message in a channel, as the router sees it."""

    id: str
    channel_id: str
    user_id: str
    user_name: str
    message: str
    create_at: datetime
    root_id: str = ""
    channel_name: str = ""
    channel_type: str = "O"
    is_bot: bool = False
    props: Mapping[str, Any] = field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        """The thread root: replies must point here, never at a reply."""
        return self.root_id or self.id


@dataclass(frozen=True)
class Command:
    """A slash command, e.g. ``/dast take``, with ``text`` holding what follows the trigger."""

    user_id: str
    user_name: str
    channel_id: str
    text: str
    channel_name: str = ""
    root_id: str = ""
    response_url: str = ""


@dataclass(frozen=True)
class Reaction:
    """An emoji reaction added to (or removed from) a post."""

    user_id: str
    post_id: str
    channel_id: str
    emoji: str
    added: bool = True


@dataclass(frozen=True)
class Click:
    """A click on an interactive button; ``context`` is the state the bot put on the button."""

    user_id: str
    user_name: str
    channel_id: str
    post_id: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """A button on a bot post. ``id`` must be alphanumeric (Mattermost rejects other ids)."""

    id: str
    name: str
    context: Mapping[str, Any] = field(default_factory=dict)
    style: str = "default"


@dataclass(frozen=True)
class OutMessage:
    """Something the bot decided to post. ``key`` makes the intent idempotent in the outbox;
    ``files`` are (name, content) attachments such as a chart."""

    channel_id: str
    message: str
    root_id: str = ""
    key: str = ""
    buttons: tuple[Button, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class CommandReply:
    """What a slash command answers: only the caller sees it unless ``in_channel``."""

    text: str
    in_channel: bool = False


@dataclass(frozen=True)
class Match:
    """One ranked knowledge-base candidate for a question."""

    entry_id: str
    title: str
    score: float
