"""Escalations in the bot: opening one from a question's thread, detecting the target's reply,
the reminder job, and the /dast escalate, escalation and escalations commands.

The decisions (states, reminder times, texts) come from ``escalations`` and ``workhours``; this
module applies them to the store and the outbox, so every post has a stable key and every
transition is in the audit trail with who and when.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from dastbot.answering.extract import extract
from dastbot.escalations.model import (
    Contacts,
    DeadlinePassed,
    Reminder,
    Target,
    TransitionError,
    deadline_post,
    due_actions,
    escalation_post,
    next_due,
    record_event,
    record_sent,
    reminder_post,
)
from dastbot.escalations.sites import SiteMap
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, mention
from dastbot.kernel.models import Escalation, OutMessage, Post
from dastbot.questions import lifecycle as q
from dastbot.shifts.duty import Duty
from dastbot.store import Store

log = logging.getLogger("dastbot.escalations.model")
Permalink = Callable[[str], str]
_TICKET = re.compile(r"^ticket=(\S+)$", re.IGNORECASE)
QUOTE_LIMIT = 1500


def summary(text: str) -> str:
    ids = extract(text)
    parts = [f"task {t}" for t in ids.task_ids] + [f"job {j}" for j in ids.job_ids]
    parts += list(ids.dids) + list(ids.sites) + list(ids.rses) + list(ids.releases)
    parts += [f"{kind} error {code}" for kind, code in ids.error_codes]
    return ", ".join(parts[:12])


class Desk:
    """Where escalations are opened, chased and closed."""

    def __init__(
        self,
        config: Config,
        store: Store,
        duty: Duty,
        contacts: Contacts,
        sites: SiteMap,
        permalink: Permalink,
    ) -> None:
        self.config, self.store, self.duty = config, store, duty
        self.contacts, self.sites, self.permalink = contacts, sites, permalink

    # targets ----------------------------------------------------------------------------------

    def resolve(self, name: str) -> tuple[Target | None, str]:
        """A target by id, alias, cloud code, or a site/queue/RSE name (via its cloud)."""
        target = self.contacts.resolve(name)
        if target is not None:
            return target, ""
        site = self.sites.resolve(name)
        if site is not None:
            target = self.contacts.clouds().get(site.cloud.upper())
            if target is not None:
                return target, f"{site.matched} is at {site.site}, {site.cloud} cloud"
            return None, f"{site.site} is in cloud {site.cloud}, which has no contact entry."
        close = self.sites.suggest(name, 3) + [
            t.id for t in self.contacts if t.id.startswith(name.lower()[:4])
        ]
        hint = f" Did you mean: {', '.join(dict.fromkeys(close))}?" if close else ""
        known = ", ".join(sorted(self.contacts.ids()))
        unknown = escape_markdown(name)
        return None, f"Unknown target `{unknown}`.{hint} Targets: {known}, or a site name."

    def target(self, target_id: str) -> Target | None:
        return self.contacts.get(target_id)

    # opening ----------------------------------------------------------------------------------

    def open(self, thread: str, args: list[str], actor: str, now: datetime) -> str:
        if not args:
            return "Usage: `/dast escalate TARGET [reason…] [ticket=GGUS-123456]`."
        target, note = self.resolve(args[0])
        if target is None:
            return note
        question = self.store.question(thread)
        if question is None:
            return "I do not track that thread."
        ticket = None
        words: list[str] = []
        for word in args[1:]:
            match = _TICKET.match(word)
            if match:
                ticket = match.group(1)
            else:
                words.append(word)
        reason = " ".join(words) or "no reason given"
        esc = Escalation(
            id=self.store.next_escalation_id(),
            thread_id=thread,
            target_id=target.id,
            state="open",
            opened_at=now,
            opened_by=actor,
            reason=reason,
            ticket=ticket,
        )
        text = escalation_post(
            str(question["text"]),
            summary(str(question["text"])),
            reason,
            self.permalink(thread),
            ticket,
            actor,
            target=target,
        )
        destinations = [target.channel] if target.channel else [f"@{u}" for u in target.users]
        self.store.save_escalation(esc, channel=destinations[0])
        for i, destination in enumerate(destinations):
            key = f"escalation:{esc.id}" if i == 0 else f"escalation:{esc.id}:{i}"
            self.store.enqueue(OutMessage(destination, text, key=key), now)
        facts = {"escalation": esc.id, "target": target.id, "reason": reason, "ticket": ticket}
        if q.is_open(str(question["state"])):
            q.transition(self.store, thread, "escalate", now, actor, **facts)
        else:
            self.store.record(EventKind.ESCALATION_OPENED, now, thread, actor, **facts)
        log.info("escalation %s opened to %s by %s", esc.id, target.id, actor)
        where = f"~{target.channel}" if target.channel else ", ".join(destinations)
        told = f"Escalated to **{escape_markdown(target.name)}** ({where}) as {esc.id}"
        told += f" ({note})" if note else ""
        told += f": {escape_markdown(reason)}."
        if ticket:
            told += f" Ticket: {escape_markdown(ticket)}."
        told += " I will remind them during their working hours until they reply."
        self.store.enqueue(
            OutMessage(str(question["channel_id"]), told, thread, f"escalated:{esc.id}"), now
        )
        return f"{esc.id} opened for {target.name}."

    # replies ----------------------------------------------------------------------------------

    def on_reply(self, post: Post, bot_user_id: str, now: datetime) -> bool:
        """A post in an escalation's thread: the target replied (unless it is the bot or the
        escalating shifter). Returns True when the post belonged to an escalation thread."""
        esc = self.store.escalation_by_post(post.root_id)
        if esc is None:
            return False
        if post.user_id == bot_user_id or post.is_bot or post.user_name == esc.opened_by:
            return True
        if esc.state != "open":
            self.store.record(
                EventKind.ESCALATION_FOLLOWUP, now, esc.thread_id, post.user_name, escalation=esc.id
            )
            return True
        log.info("escalation %s: reply from %s detected", esc.id, post.user_name)
        self._event(esc, "reply", post.user_name, now)
        question = self.store.question(esc.thread_id)
        target = self.target(esc.target_id)
        name = target.name if target else esc.target_id
        quoted = "\n".join(
            f"> {line}" for line in escape_markdown(post.message[:QUOTE_LIMIT]).splitlines()
        )
        text = (
            f"{mention(esc.opened_by)}: **{escape_markdown(name)}** replied to {esc.id} "
            f"({post.user_name}):\n{quoted}"
        )
        if question is not None:
            self.store.enqueue(
                OutMessage(
                    str(question["channel_id"]),
                    text,
                    esc.thread_id,
                    f"escalation-reply:{esc.id}:{post.id}",
                ),
                now,
            )
        return True

    def _event(self, esc: Escalation, event: str, actor: str, now: datetime) -> Escalation:
        updated = record_event(esc, event, now)
        self.store.save_escalation(updated)
        if updated.state in ("closed", "cancelled"):
            self.store.set_escalation_closed(esc.id, now)
        self.store.record(
            EventKind(f"escalation_{updated.state}"),
            now,
            esc.thread_id,
            actor,
            escalation=esc.id,
            event=event,
        )
        return updated

    def by_hand(self, thread: str, args: list[str], actor: str, now: datetime) -> str:
        events = {"replied": "reply", "close": "close", "cancel": "cancel"}
        if not args or args[0].lower() not in events:
            return "Usage: `/dast escalation replied|close|cancel [ID]`."
        event = events[args[0].lower()]
        if len(args) > 1:
            esc = self.store.escalation(args[1].upper())
            if esc is None:
                return f"There is no escalation {escape_markdown(args[1])}."
        else:
            candidates = [e for e in self.store.escalations_of(thread) if e.state != "closed"]
            live = [e for e in candidates if e.state in ("open", "replied")]
            if not live:
                return "No open escalation in this thread; give its id, e.g. `E3`."
            esc = live[-1]
        try:
            updated = self._event(esc, event, actor, now)
        except TransitionError as exc:
            return f"{exc}."
        return f"{esc.id} is now {updated.state}."

    # reminders --------------------------------------------------------------------------------

    def open_escalations(self) -> list[tuple[Escalation, Target]]:
        pairs = []
        for esc in self.store.escalations(("open",)):
            target = self.target(esc.target_id)
            if target is not None:
                pairs.append((esc, target))
        return pairs

    def chase(self, now: datetime) -> None:
        for esc, target in self.open_escalations():
            sent = self.store.sent(f"escalation:{esc.id}")
            if not sent or not sent["post_id"]:
                continue  # not delivered yet: reminders wait until the target has the escalation
            root = str(sent["post_id"])
            for action in due_actions(esc, target, now):
                channel = self.store.escalation_channel(esc.id) or target.channel or ""
                if isinstance(action, Reminder):
                    text = reminder_post(
                        esc,
                        target,
                        now,
                        number=action.number,
                        permalink=self.permalink(root) if root else None,
                    )
                    key = f"reminder:{esc.id}:{action.number}"
                    self.store.enqueue(OutMessage(channel, text, root, key), now)
                    self.store.record(
                        EventKind.ESCALATION_REMINDED,
                        now,
                        esc.thread_id,
                        self.config.bot_name,
                        escalation=esc.id,
                        number=action.number,
                    )
                elif isinstance(action, DeadlinePassed):
                    self._deadline(esc, target, now, root)
                esc = record_sent(esc, action, now)
                self.store.save_escalation(esc)

    def _deadline(self, esc: Escalation, target: Target, now: datetime, root: str) -> None:
        duty = self.duty.at(now)
        who = mention(duty.coordinator) or "Coordinators"
        text = f"{who}: " + deadline_post(
            esc, target, now, permalink=self.permalink(root) if root else None
        )
        text += f"\nUser thread: {self.permalink(esc.thread_id)}"
        channel = self.config.mattermost.coordinators_channel
        self.store.enqueue(OutMessage(channel, text, key=f"deadline:{esc.id}"), now)
        self.store.record(
            EventKind.ESCALATION_DEADLINE,
            now,
            esc.thread_id,
            self.config.bot_name,
            escalation=esc.id,
        )

    def next_due(self, after: datetime) -> datetime | None:
        dues = [
            d
            for esc, target in self.open_escalations()
            if (d := next_due(esc, target, after)) is not None
        ]
        return min(dues) if dues else None

    def handover_section(self, now: datetime) -> list[str]:
        pairs = self.open_escalations()
        lines = [f"Open escalations: {len(pairs)}"]
        for esc, target in pairs:
            age_h = (now - esc.opened_at) / timedelta(hours=1)
            lines.append(
                f"- {esc.id} to {escape_markdown(target.name)}, {age_h:.0f} h old, "
                f"{esc.reminders_sent} reminder(s): [thread]({self.permalink(esc.thread_id)})"
            )
        return lines


class EscalationJob:
    """Posts the reminders and deadline notices that fall due."""

    id = "escalations"
    coalesce = True

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def next_due(self, after: datetime) -> datetime | None:
        return self.desk.next_due(after)

    def run(self, due: datetime, now: datetime) -> None:
        self.desk.chase(now)
