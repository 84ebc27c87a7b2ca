"""Frozen value types shared by every module: what arrives from chat and what goes back to it, and
the records the store keeps for several features (a shift assignment, an escalation).

The core never sees driver JSON: adapters translate to and from these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args


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


@dataclass(frozen=True)
class Assignment:
    """Who works one slot on one day; ``shifter`` None means nobody at 1st level."""

    day: date
    slot: str
    shifter: str | None
    trainee: str | None = None

    @property
    def key(self) -> tuple[date, str]:
        return (self.day, self.slot)


EscalationState = Literal["open", "replied", "closed", "cancelled"]
ESCALATION_STATES: tuple[EscalationState, ...] = get_args(EscalationState)


def as_utc(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, not {instant!r}")
    return instant.astimezone(UTC)


@dataclass(frozen=True)
class Escalation:
    """One escalation of one user thread to one target. Instants are normalised to UTC."""

    id: str
    thread_id: str
    target_id: str
    state: EscalationState
    opened_at: datetime
    opened_by: str
    reason: str
    ticket: str | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    deadline_notified: bool = False
    replied_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in ESCALATION_STATES:
            known = ", ".join(ESCALATION_STATES)
            raise ValueError(f"unknown escalation state {self.state!r} ({known})")
        if self.reminders_sent < 0:
            raise ValueError("reminders_sent must be >= 0")
        object.__setattr__(self, "opened_at", as_utc(self.opened_at, "opened_at"))
        for name in ("last_reminder_at", "replied_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, name))
