"""What an asker's words or emoji say about the bot's answer: helped, not helped, or nothing."""

from __future__ import annotations

import re
from typing import Literal

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
