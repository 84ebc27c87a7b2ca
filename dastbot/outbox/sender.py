"""Sending what the outbox holds: oldest first, in order within each thread, each message on its
own retry schedule; refusals dead-lettered after ``REFUSED_ATTEMPTS``, passing failures retried
with backoff for up to ``GIVE_UP_AFTER``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from dastbot.chat.base import AuthRejected, Chat, SendRefused
from dastbot.kernel.clock import Clock
from dastbot.kernel.logs import log_context
from dastbot.kernel.markdown import escape_markdown, shorten
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import OutMessage
from dastbot.store import Pending, Store

log = logging.getLogger("dastbot.outbox")
REFUSED_ATTEMPTS = 3
"""Attempts at a message the server refuses before it is dead-lettered."""
REFUSED_RETRY = timedelta(seconds=30)
RETRY_FIRST = timedelta(seconds=15)
RETRY_MAX = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(hours=48)
"""How long a message that keeps failing for passing reasons is retried."""
STUCK_AFTER = timedelta(minutes=10)
"""An attempted message unsent for longer makes the health check fail."""
DEAD_LETTER_KEY = "dead-letter:"
Outcome = Literal["sent", "failed", "dead"]


def retry_delay(attempts: int, refused: bool) -> timedelta:
    """The wait before the next attempt after ``attempts`` failed ones."""
    if refused:
        return REFUSED_RETRY * attempts
    doubled: timedelta = RETRY_FIRST * (1 << min(max(attempts - 1, 0), 16))
    return min(doubled, RETRY_MAX)


class Sender:
    """The one place that sends. ``flush`` is safe to call from anywhere, any time."""

    def __init__(
        self,
        store: Store,
        chat: Chat,
        clock: Clock,
        metrics: Metrics,
        coordinators_channel: str,
        thread_of: Callable[[OutMessage], str] | None = None,
    ) -> None:
        self.store = store
        self.chat = chat
        self.clock = clock
        self.metrics = metrics
        self.coordinators_channel = coordinators_channel
        self.thread_of = thread_of or (lambda msg: msg.root_id)
        self._lock = asyncio.Lock()

    async def flush(self) -> int:
        """Send every recorded message that is due; returns how many were sent."""
        sent = 0
        async with self._lock:
            again = True
            while again:  # a pass that gave up on a message queued a notice: send it too
                count, again = await self._pass()
                sent += count
        return sent

    async def _pass(self) -> tuple[int, bool]:
        sent, gave_up = 0, False
        blocked: set[str] = set()
        now = self.clock.now()
        for pending in self.store.pending():
            msg = pending.message
            if msg.root_id in blocked:
                continue
            if not self._due(pending, now):
                if msg.root_id:
                    blocked.add(msg.root_id)
                continue
            with log_context("", self.thread_of(msg)):
                outcome = await self._send(pending)
            if outcome == "sent":
                sent += 1
            elif outcome == "dead":
                gave_up = True
            elif msg.root_id:
                blocked.add(msg.root_id)  # later replies in its thread wait: order is kept
        return sent, gave_up

    @staticmethod
    def _due(pending: Pending, now: datetime) -> bool:
        return pending.next_attempt_at is None or pending.next_attempt_at <= now

    async def _send(self, pending: Pending) -> Outcome:
        msg = pending.message
        try:
            self.store.note_attempt(pending.id)
            earlier = None
            if pending.attempts:
                earlier = await self.chat.already_sent(msg, pending.created_at)
            post_id = earlier or await self.chat.send(msg)
        except AuthRejected:
            raise
        except SendRefused as exc:
            return self._failed(pending, str(exc), refused=True)
        except Exception as exc:
            return self._failed(pending, f"{exc.__class__.__name__}: {exc}", refused=False)
        self.store.mark_sent(pending.id, post_id, self.clock.now())
        log.info("sent key=%s as post %s", msg.key, post_id)
        return "sent"

    def _failed(self, pending: Pending, error: str, refused: bool) -> Outcome:
        now = self.clock.now()
        attempts = pending.attempts + 1
        msg = pending.message
        give_up = (
            attempts >= REFUSED_ATTEMPTS if refused else now - pending.created_at >= GIVE_UP_AFTER
        )
        if not give_up:
            wait = retry_delay(attempts, refused)
            self.store.note_failure(pending.id, error, now + wait)
            log.warning(
                "send failed key=%s (attempt %d, again in %ds): %s",
                msg.key,
                attempts,
                wait.total_seconds(),
                error,
            )
            return "failed"
        kind = "refused" if refused else "failing"
        with self.store.atomic():
            self.store.dead_letter(pending.id, error, now)
            if not msg.key.startswith(DEAD_LETTER_KEY):
                self.store.enqueue(self._notice(pending, error), now)
        self.metrics.dead_letters.labels(kind).inc()
        log.error(
            "gave up sending key=%s after %d attempt(s) (%s): %s", msg.key, attempts, kind, error
        )
        return "dead"

    def _notice(self, pending: Pending, error: str) -> OutMessage:
        msg = pending.message
        where = f"a reply in thread {msg.root_id}" if msg.root_id else "a post"
        text = (
            f"I could not deliver {where} to `{escape_markdown(msg.channel_id)}` "
            f"(outbox #{pending.id}, `{escape_markdown(msg.key)}`): "
            f"{escape_markdown(shorten(error, 300))}\n"
            f"It starts: {escape_markdown(shorten(' '.join(msg.message.split()), 200))}\n"
            f"Fix the cause (invite the bot to the channel, restore the thread ...), then "
            f"`/dast outbox retry {pending.id}`, or `/dast outbox drop {pending.id}`."
        )
        return OutMessage(self.coordinators_channel, text, key=f"{DEAD_LETTER_KEY}{pending.id}")

    def stuck_since(self) -> datetime | None:
        """When the oldest unsent message was recorded, if it has waited past ``STUCK_AFTER``."""
        oldest = self.store.oldest_unsent()
        if oldest is not None and self.clock.now() - oldest > STUCK_AFTER:
            return oldest
        return None
