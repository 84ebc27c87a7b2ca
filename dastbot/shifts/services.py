"""What the shift commands use, passed to their handlers explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dastbot.kernel.config import Config
from dastbot.shifts.duty import Duty
from dastbot.store import Store


@dataclass(frozen=True)
class ShiftServices:
    store: Store
    config: Config
    duty: Duty
    timezone_of: Callable[[str], str | None]
    """A user's Mattermost time zone, when known."""
