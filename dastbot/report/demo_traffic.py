"""What a live run writes around a question besides its state, for the synthetic history.

``Askers`` draws who asks: about two questions in five come from someone asking for the first
time, the rest from people who asked before, in proportion to how often they did, so many people
ask once and a few ask often (about 1,400 distinct askers a year at the demo's volume).

``Traffic.record`` writes, for one audit-trail event as ``demo`` stores it, what the live bot
writes around it: the post it saw (``seen_posts``: the question, every reply a person writes in
the thread) and the message it sent, marked sent with a post id (``outbox``), under the keys the
live bot uses (``answer:``, ``abstain:``, ``sorry:``, ``reply:``, ``reping:``, ``coordinator:``,
``escalation:``, ``reminder:``, ``deadline:``, ``claim-reminder:``, ``claim-coordinator:``).
Person replies get the ``post_id`` and ``text`` the live bot records with them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dastbot.kernel.events import EventKind
from dastbot.kernel.models import OutMessage
from dastbot.report.demo_texts import FIRST_NAMES, post_id
from dastbot.store import Store

NEW_ASKER = 0.42
"""Chance that a question comes from someone who never asked before."""
SURNAMES = "abcdefghijklmnoprstuvwz"
ASKER_FOLLOW_UPS = (
    "Thanks, I tried that but it still fails with the same error.",
    "Here is the full log of the failing job, the task id is in the first line.",
    "It works now, thank you!",
    "Could you check again? The site seems to be back.",
    "I do not have the permission to do that, who can help?",
)


class Askers:
    """Who asks the next question (deterministic for the generator it is given)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.asked: list[str] = []
        self.people = 0

    def next(self) -> str:
        if not self.asked or self.rng.random() < NEW_ASKER:
            self.people += 1
            first = FIRST_NAMES[self.people % len(FIRST_NAMES)]
            who = f"{first}.{SURNAMES[self.people // len(FIRST_NAMES) % len(SURNAMES)]}"
            who += str(self.people // (len(FIRST_NAMES) * len(SURNAMES)) or "")
        else:
            who = self.rng.choice(self.asked)  # in proportion to how often they asked
        self.asked.append(who)
        return who


def _words(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class Traffic:
    """Writes the seen posts and sent messages of the live bot around the demo's events."""

    def __init__(self, store: Store, rng: random.Random, channel: str, coordinators: str) -> None:
        self.store, self.rng = store, rng
        self.channel, self.coordinators = channel, coordinators

    def seen(self, post: str, at: datetime) -> None:
        self.store.claim_post(post, at)

    def sent(self, key: str, text: str, at: datetime, root: str = "", channel: str = "") -> None:
        message = OutMessage(channel or self.channel, text, root_id=root, key=key)
        outbox_id = self.store.enqueue(message, at)
        self.store.note_attempt(outbox_id)
        delay = timedelta(milliseconds=self.rng.randrange(80, 900))
        self.store.mark_sent(outbox_id, post_id(self.rng), at + delay)

    def record(
        self,
        kind: EventKind,
        at: datetime,
        thread: str,
        actor: str,
        data: Mapping[str, Any],
        answer: str,
    ) -> dict[str, Any]:
        """Write what surrounds the event; returns its data as the live bot records it."""
        out = dict(data)
        if kind == EventKind.ANSWERED:
            self.sent(f"answer:{thread}", answer, at, thread)
        elif kind == EventKind.NEEDS_HUMAN:
            reason = out.get("reason")
            key = f"abstain:{thread}" if reason == "abstained" else f"sorry:reply:{thread}{at:%s}"
            text = "A shifter will look at this question and answer in this thread."
            self.sent(key, text, at, thread)
        elif kind in (EventKind.HUMAN_REPLY, EventKind.ASKER_REPLY):
            post = post_id(self.rng)
            self.seen(post, at)
            text = str(out.pop("text", "")) or self.rng.choice(ASKER_FOLLOW_UPS)
            out.update(post_id=post, text=_words(text, 500))
        elif kind in (EventKind.FEEDBACK_HELPED, EventKind.FEEDBACK_NOT_HELPED):
            if self.rng.random() < 0.5:  # a reply in the thread, else a reaction
                post = post_id(self.rng)
                self.seen(post, at)
                self.sent(f"reply:{post}", "Thanks for the feedback.", at, thread)
        elif kind == EventKind.REPINGED:
            self.sent(f"reping:{thread}:{at:%s}", "Still waiting for a shifter.", at, thread)
        elif kind == EventKind.COORDINATOR_TOLD:
            text = f"Nobody has answered this question yet: {thread}"
            self.sent(f"coordinator:{thread}:{at:%s}", text, at, channel=self.coordinators)
        elif kind == EventKind.CLAIM_REMINDED:
            key = f"claim-reminder:{thread}:{out['quiet_since']}"
            self.sent(key, "A reminder to the person who took this question.", at, thread)
        elif kind == EventKind.CLAIM_COORDINATOR_TOLD:
            key = f"claim-coordinator:{thread}:{out['quiet_since']}"
            text = f"A taken question has had nothing from its taker: {thread}"
            self.sent(key, text, at, channel=self.coordinators)
        elif kind == EventKind.ESCALATION_OPENED:
            esc = out["escalation"]
            text = f"**DAST escalation** to {out.get('target', '')}: {answer[:400]}"
            self.sent(f"escalation:{esc}", text, at, channel=f"adc-{out.get('target', '')}")
        elif kind == EventKind.ESCALATION_REMINDED:
            esc, number = out["escalation"], out.get("number", 1)
            self.sent(f"reminder:{esc}:{number}", f"Reminder {number} for {esc}.", at)
        elif kind == EventKind.ESCALATION_DEADLINE:
            esc = out["escalation"]
            self.sent(f"deadline:{esc}", f"{esc} is overdue.", at, channel=self.coordinators)
        return out
