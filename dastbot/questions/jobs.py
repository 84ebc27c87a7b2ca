"""The question lifecycle's own job: a bot answer that nobody rated is closed after
``questions.close_unrated_after_hours``, saying so in its thread, so that open lists end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from dastbot.kernel.config import Config
from dastbot.kernel.models import OutMessage
from dastbot.questions import lifecycle as q
from dastbot.store import Store

CLOSED_TEXT = (
    "Nobody said whether this answer helped, so I consider the question answered and close it "
    'after {hours}. If it is not solved, reply here ("did not help") and a shifter will take '
    "over."
)


def _hours(value: float) -> str:
    if value % 24 == 0:
        days = int(value // 24)
        return f"{days} day" + ("" if days == 1 else "s")
    return f"{value:g} hours"


class NoFeedbackJob:
    id = "no-feedback"
    coalesce = True

    def __init__(self, config: Config, store: Store, permalink: Callable[[str], str]) -> None:
        self.config, self.store, self.permalink = config, store, permalink

    @property
    def after(self) -> timedelta:
        return timedelta(hours=self.config.questions.close_unrated_after_hours)

    def next_due(self, after: datetime) -> datetime | None:
        oldest = self.store.oldest_in_state(q.ANSWERED)
        return None if oldest is None else max(oldest + self.after, after)

    def run(self, due: datetime, now: datetime) -> None:
        text = CLOSED_TEXT.format(hours=_hours(self.config.questions.close_unrated_after_hours))
        for row in self.store.questions_in_state_since(q.ANSWERED, now - self.after):
            thread = str(row["thread_id"])
            q.transition(self.store, thread, "no_feedback", now, self.config.bot_name)
            self.store.enqueue(
                OutMessage(str(row["channel_id"]), text, thread, f"no-feedback:{thread}"), now
            )
