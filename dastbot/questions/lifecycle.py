"""The question lifecycle, pure: states, the transitions between them, and feedback recognition.

A thread starts ``answered`` (the bot replied from the knowledge base) or ``waiting`` (it needs a
human). Feedback, claims, escalations and resolutions move it along; ``resolved`` can be reopened.
"""

from __future__ import annotations

import re
from typing import Literal

ANSWERED = "answered"
WAITING = "waiting"
CLAIMED = "claimed"
ESCALATED = "escalated"
RESOLVED = "resolved"
STATES = (ANSWERED, WAITING, CLAIMED, ESCALATED, RESOLVED)
OPEN_STATES = (ANSWERED, WAITING, CLAIMED, ESCALATED)

Event = Literal["helped", "not_helped", "claim", "release", "escalate", "resolve", "reopen"]

_TRANSITIONS: dict[tuple[str, str], str] = {
    (ANSWERED, "helped"): RESOLVED,
    (ANSWERED, "not_helped"): WAITING,
    (ANSWERED, "claim"): CLAIMED,
    (ANSWERED, "escalate"): ESCALATED,
    (ANSWERED, "resolve"): RESOLVED,
    (WAITING, "helped"): RESOLVED,
    (WAITING, "claim"): CLAIMED,
    (WAITING, "escalate"): ESCALATED,
    (WAITING, "resolve"): RESOLVED,
    (CLAIMED, "helped"): RESOLVED,
    (CLAIMED, "release"): WAITING,
    (CLAIMED, "escalate"): ESCALATED,
    (CLAIMED, "resolve"): RESOLVED,
    (ESCALATED, "helped"): RESOLVED,
    (ESCALATED, "claim"): ESCALATED,
    (ESCALATED, "resolve"): RESOLVED,
    (RESOLVED, "reopen"): WAITING,
    (RESOLVED, "not_helped"): WAITING,
}


class InvalidTransition(ValueError):
    pass


def next_state(state: str, event: Event) -> str:
    """The state after ``event``; InvalidTransition explains when the event does not apply."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"a question that is {state} cannot be {_verb(event)}") from None


def _verb(event: Event) -> str:
    return {
        "helped": "marked as helped",
        "not_helped": "marked as not helped",
        "claim": "taken",
        "release": "released",
        "escalate": "escalated",
        "resolve": "resolved",
        "reopen": "reopened",
    }[event]


def is_open(state: str) -> bool:
    return state in OPEN_STATES


_NOT_HELPED = re.compile(
    r"\b(did ?n[o']?t help|does ?n[o']?t help|not (?:very )?helpful|no help|did ?n[o']?t work"
    r"|does ?n[o']?t work|still (?:fail|broken|not working|the same)|no luck|not (?:it|solved)"
    r"|wrong answer|not my (?:problem|issue|question))",
    re.IGNORECASE,
)
_HELPED = re.compile(
    r"\b(that (?:helped|worked|did it|fixed it|solved it)|(?:it )?works now|it worked|solved"
    r"|(?:is |now )fixed|problem (?:is )?gone|all good now)\b",
    re.IGNORECASE,
)

POSITIVE_EMOJI = frozenset({"white_check_mark", "heavy_check_mark", "+1", "thumbsup", "tada"})
NEGATIVE_EMOJI = frozenset({"x", "-1", "thumbsdown", "no_entry_sign", "disappointed"})


def feedback_in(text: str) -> Literal["helped", "not_helped"] | None:
    """What an asker's reply says about the bot's answer; a complaint wins over a 'thanks'."""
    if _NOT_HELPED.search(text):
        return "not_helped"
    if _HELPED.search(text):
        return "helped"
    return None


def feedback_from_emoji(emoji: str) -> Literal["helped", "not_helped"] | None:
    if emoji in POSITIVE_EMOJI:
        return "helped"
    if emoji in NEGATIVE_EMOJI:
        return "not_helped"
    return None
