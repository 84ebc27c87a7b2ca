"""The question conversation: a new post in a help channel becomes a question answered from the
knowledge base or handed to a person; replies in its thread are the asker's feedback or a person's
help; a question that needs a person pings the shifter on duty (or says when the next shift
starts), and a question asked by direct message is sent to the help channel."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dastbot.answering.answers import (
    FEEDBACK_BUTTONS,
    SHIFTER_BUTTONS,
    LiveKnowledge,
    render_abstention,
    render_answer,
    render_choices,
)
from dastbot.answering.matcher import NEAR_TIE
from dastbot.escalations.desk import Desk
from dastbot.kernel.clock import Clock
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, mention
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import Button, Post
from dastbot.questions import lifecycle as q
from dastbot.questions.feedback import feedback_in
from dastbot.shifts.duty import Duty, HumanNeeded, on_shift
from dastbot.store import Store, iso

log = logging.getLogger("dastbot.router")
REPLY_TEXT_LIMIT = 8000
FOLLOW_UP_QUIET = timedelta(minutes=30)
"""At most one follow-up ping per thread in this window (the asker may write several lines)."""
Queue = Callable[[str, str, str, str, tuple[Button, ...]], None]


class Conversation:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        knowledge: LiveKnowledge,
        duty: Duty,
        desk: Desk,
        metrics: Metrics,
        timezone_of: Callable[[str], str | None],
        queue: Queue,
        supporter: Callable[[str, str], bool],
    ) -> None:
        """``supporter(user_id, user_name)``: the person is on the roster (shifter, trainee or
        coordinator), so a reply of theirs in a question's thread means a person is on it."""
        self.config, self.store, self.clock = config, store, clock
        self.knowledge, self.duty, self.desk, self.metrics = knowledge, duty, desk, metrics
        self.timezone_of = timezone_of
        self._queue_message = queue
        self.supporter = supporter

    def _queue(
        self, channel: str, root: str, text: str, key: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        self._queue_message(channel, root, text, key, buttons)

    def thread_reply(self, post: Post, bot_user_id: str) -> None:
        """A reply in a thread: an escalation target answering, or a reply to a question."""
        now = self.clock.now()
        with self.store.atomic():
            if not self.store.claim_post(post.id, now):
                return
            if self.desk.on_reply(post, bot_user_id, now):
                return
            self._on_thread_reply(post)

    def new_question(self, post: Post) -> None:
        """Answer from the knowledge base, or hand the question to a person."""
        now = self.clock.now()
        self.metrics.questions.inc()
        ranking = self.knowledge.rank(post.message, top=self.config.matcher.top)
        best = ranking.best
        entry = self.knowledge.kb.get(best.entry_id) if best else None
        choices = render_choices(ranking, self.knowledge.kb) if ranking.reason == NEAR_TIE else None
        if choices is not None:
            best, entry = ranking.matches[0], self.knowledge.kb.get(ranking.matches[0].entry_id)
        with self.store.atomic():
            if not self.store.claim_post(post.id, now):
                log.info("duplicate post ignored")
                return
            self.store.add_question(
                thread_id=post.id,
                channel_id=post.channel_id,
                author_id=post.user_id,
                author_name=post.user_name,
                text=post.message,
                now=now,
                entry_id=entry.id if entry else None,
                score=best.score if best else (ranking.matches[0].score if ranking.matches else 0),
                state=q.initial_state(entry.id if entry else None),
                channel_type=post.channel_type,
            )
            if choices is not None:
                self.store.record(
                    EventKind.ANSWERED,
                    now,
                    post.id,
                    self.config.bot_name,
                    choices=[m.entry_id for m in ranking.matches[:3]],
                )
                self._queue(
                    post.channel_id, post.id, choices.text, f"answer:{post.id}", choices.buttons
                )
                self.metrics.matches.labels("choices").inc()
                log.info("near tie: offered %d entries", len(choices.buttons))
            elif entry is not None and best is not None:
                answer = render_answer(entry, best.score, post.message, self.config)
                self.store.record(
                    EventKind.ANSWERED,
                    now,
                    post.id,
                    self.config.bot_name,
                    entry=entry.id,
                    score=best.score,
                )
                self._queue(
                    post.channel_id, post.id, answer.text, f"answer:{post.id}", answer.buttons
                )
                self.metrics.matches.labels("answered").inc()
                log.info("answered entry=%s score=%.3f", entry.id, best.score)
            else:
                top = [(m.entry_id, m.score) for m in ranking.matches]
                self.store.record(
                    EventKind.ABSTAINED,
                    now,
                    post.id,
                    self.config.bot_name,
                    reason=ranking.reason,
                    top=top,
                )
                text = render_abstention(ranking, self.knowledge.kb)
                self._needs_human(post.id, post.channel_id, "abstained", text, f"abstain:{post.id}")
                self.metrics.matches.labels("abstained").inc()
                log.info("abstained reason=%s", ranking.reason)

    def is_question(self, post: Post) -> bool:
        """New threads count as questions in the configured channels and in DMs."""
        return (
            not post.channel_name
            or post.channel_name in self.config.channels
            or post.channel_type == "D"
        )

    def _on_thread_reply(self, post: Post) -> None:
        now = self.clock.now()
        question = self.store.question(post.thread_id)
        if question is None:
            return
        if post.user_id == question["author_id"]:
            log.info("the asker replied in the thread")
            self.store.record(
                EventKind.ASKER_REPLY,
                now,
                post.thread_id,
                post.user_name,
                post_id=post.id,
                text=post.message[:REPLY_TEXT_LIMIT],
            )
            feedback = feedback_in(post.message)
            if feedback == "helped" and question["state"] == q.RESOLVED:
                return
            if feedback != "helped" and question["state"] in (q.CLAIMED, q.ESCALATED):
                self._follow_up(question, post, now)
                return
            if feedback == "ambiguous":
                if question["state"] == q.ANSWERED:
                    self._ask_for_feedback(question, post, now)
                return
            self.feedback(question, feedback, post.user_name, f"reply:{post.id}")
            return
        log.info("%s replied in the thread", post.user_name)
        supporter = self.supporter(post.user_id, post.user_name)
        self.store.record(
            EventKind.HUMAN_REPLY,
            now,
            post.thread_id,
            post.user_name,
            post_id=post.id,
            text=post.message[:REPLY_TEXT_LIMIT],
            supporter=supporter,
        )
        if not supporter:
            return  # another user ("me too", a guess): the question still needs a supporter
        if not question["first_human_at"]:
            self.store.update_question(post.thread_id, now, first_human_at=iso(now))
        elif question["state"] == q.WAITING:
            # A person answers a reopened question: nothing left for the no-reply rule to chase.
            self.store.update_question(
                post.thread_id, now, waiting_for=None, reping_due=None, coordinator_due=None
            )

    def _follow_up(self, question: dict[str, Any], post: Post, now: datetime) -> None:
        """The asker added something to a question a person holds: tell that person (whoever
        took it, else whoever escalated it, else the shifter on duty), at most once per
        ``FOLLOW_UP_QUIET`` per thread."""
        thread = str(question["thread_id"])
        bucket = int(now.timestamp() // FOLLOW_UP_QUIET.total_seconds())
        if not self.store.notice_once(f"follow-up:{thread}:{bucket}", now):
            return
        holder = question.get("claimed_by")
        escalations = self.store.escalations_of(thread)
        if holder:
            people = mention(str(holder))
        elif escalations:
            people = mention(escalations[-1].opened_by)
        else:
            duty = self.duty.at(now)
            people = on_shift(duty.shifter, duty.trainee)
        if not people:
            return
        text = f"{people}: {escape_markdown(post.user_name)} added to this question."
        self._queue(str(question["channel_id"]), thread, text, f"follow-up:{post.id}")

    def _ask_for_feedback(self, question: dict[str, Any], post: Post, now: datetime) -> None:
        """The asker's reply to an answer could mean either ("thanks", "I solved it myself"):
        ask once per thread, with the two buttons, rather than guess."""
        thread = str(question["thread_id"])
        if not self.store.notice_once(f"ask-feedback:{thread}", now):
            return
        text = (
            f"{mention(post.user_name)}, did the answer solve your problem? Press **Helped** if "
            "it did, or **Still need help** and I will hand the question to a shifter."
        )
        self._queue(
            str(question["channel_id"]), thread, text, f"ask-feedback:{post.id}", FEEDBACK_BUTTONS
        )

    def pick(self, question: dict[str, Any], entry_id: str, actor: str) -> str:
        """The asker picked one of the near-tie entries: answer with it in the thread."""
        now = self.clock.now()
        thread = str(question["thread_id"])
        entry = self.knowledge.kb.get(entry_id)
        if entry is None:
            return "That entry is no longer in the knowledge base; a shifter can help."
        if not self.store.claim_post(f"pick:{thread}", now):
            return "You already picked one; use the buttons on that answer."
        answer = render_answer(
            entry, float(question["score"] or 0), str(question["text"]), self.config
        )
        self.store.update_question(thread, now, entry_id=entry.id)
        self.store.record(EventKind.PICKED, now, thread, actor, entry=entry.id)
        self._queue(
            str(question["channel_id"]),
            thread,
            answer.text,
            f"answer:{thread}:{entry.id}",
            answer.buttons,
        )
        return f"Here is “{entry.title}”, in the thread."

    def feedback(
        self, question: dict[str, object], feedback: str | None, actor: str, key: str
    ) -> str:
        """Apply helped / not-helped feedback; returns what to tell the person who gave it."""
        if feedback is None:
            return ""
        now = self.clock.now()
        thread = str(question["thread_id"])
        channel = str(question["channel_id"])
        event: q.Event = "helped" if feedback == "helped" else "not_helped"
        try:
            new = q.transition(self.store, thread, event, now, actor)
        except q.InvalidTransition:
            return f"Noted, but this question is already {question['state']}."
        self.metrics.feedback.labels(feedback).inc()
        if new == q.RESOLVED:
            return "Thanks for the feedback: glad it helped."
        return self._needs_human(thread, channel, "not_helped", "", f"sorry:{key}")

    def _needs_human(self, thread: str, channel: str, reason: str, prefix: str, key: str) -> str:
        """A question waits for a person: ping the on-duty shifter in the thread, or tell the
        asker when the next staffed shift starts; start the no-reply clock. Returns, in brief,
        what the thread was told (for the person whose click or reply led here)."""
        now = self.clock.now()
        question = self.store.question(thread)
        if question is not None and question.get("channel_type") == "D":
            return self._redirect_direct(question, prefix, key)
        author = str(question["author_id"]) if question else ""
        needed = self.duty.human_needed(reason, now, self.timezone_of(author))
        asking = self._page_once(thread, needed, now)
        text = "\n\n".join(part for part in (prefix, asking) if part)
        if text:
            self._queue(channel, thread, text, key, SHIFTER_BUTTONS[:1])

        def stamp(value: datetime | None) -> str | None:
            return iso(value) if value else None

        paged = {"pinged_at": iso(now) if needed.on_duty else None} if asking else {}
        self.store.update_question(
            thread,
            now,
            **paged,
            waiting_for=stamp(needed.waiting_for),
            reping_due=stamp(needed.reping_due),
            waiting_since=iso(now),
            repinged_at=None,
            coordinator_due=stamp(needed.coordinator_due),
            coordinator_at=None,
        )
        self.store.record(
            EventKind.NEEDS_HUMAN,
            now,
            thread,
            self.config.bot_name,
            reason=reason,
            on_duty=needed.on_duty,
            waiting_for=stamp(needed.waiting_for),
        )
        return needed.ack

    def _page_once(self, thread: str, needed: HumanNeeded, now: datetime) -> str:
        """``needed.text`` with the mentions of the people already asked in this thread within
        ``shifts.ping_quiet_minutes`` turned into plain names (no second page); "" when all of
        them were asked. Those it mentions are recorded as asked now."""
        if not needed.people:
            return needed.text
        quiet = timedelta(minutes=self.config.shifts.ping_quiet_minutes)
        recent = self.store.pinged_since(thread, needed.people, now - quiet)
        fresh = [p for p in needed.people if p not in recent]
        if not fresh:
            log.info("not asking %s again in this thread yet", ", ".join(sorted(recent)))
            return ""
        self.store.record_pings(thread, fresh, now)
        text = needed.text
        for person in recent:
            text = re.sub(rf"@{re.escape(person)}(?![\w.-])", person, text)
        return text

    def _redirect_direct(self, question: dict[str, object], prefix: str, key: str) -> str:
        """Shifters do not see the bot's direct messages: send the asker to the help channel."""
        now = self.clock.now()
        thread = str(question["thread_id"])
        channel = self.config.channels[0] if self.config.channels else "the help channel"
        text = (
            "Shifters do not see direct messages to me, so please ask in "
            f"~{channel}, where the shifter on duty will pick it up."
        )
        self._queue(
            str(question["channel_id"]), thread, f"{prefix}\n\n{text}" if prefix else text, key
        )
        q.transition(self.store, thread, "redirect", now, self.config.bot_name, channel=channel)
        return f"Thanks: please ask in ~{channel}, where the shifter on duty will see it."
