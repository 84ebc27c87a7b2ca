"""The escalation service: ``Desk`` opens escalations from a question's thread, resolves
targets (contacts, or a site's cloud), relays a target's reply to the user's thread, marks
escalations by hand and posts the reminders and deadline notices that fall due
(``EscalationJob``).

The decisions come from the pure modules (``reminders`` when, ``render`` what, ``lifecycle``
whether a move is allowed); this module applies them to the outbox, each post with a stable key,
and every change of an escalation goes through ``lifecycle.transition``, which saves it and
records it in the audit trail with who and when.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dastbot.chat.base import SendRefused
from dastbot.escalations import lifecycle
from dastbot.escalations.contacts import Contacts, Target
from dastbot.escalations.lifecycle import Event, TransitionError
from dastbot.escalations.reminders import DeadlinePassed, Reminder, due_actions, next_due
from dastbot.escalations.render import (
    deadline_post,
    escalated_note,
    escalation_post,
    handover_lines,
    reminder_post,
    reply_relay,
    summarise_identifiers,
)
from dastbot.escalations.sites import SiteMap
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, mention
from dastbot.kernel.models import Escalation, OutMessage, Post
from dastbot.questions import lifecycle as q
from dastbot.shifts.duty import Duty
from dastbot.store import Store

log = logging.getLogger("dastbot.escalations")
Permalink = Callable[[str], str]
_TICKET = re.compile(r"^ticket=(\S+)$", re.IGNORECASE)
_BY_HAND: dict[str, Event] = {"replied": "reply", "close": "close", "cancel": "cancel"}


@dataclass(frozen=True)
class Plan:
    """An escalation ready to post: the record, the target, the posts, and a note on how the
    target was found."""

    esc: Escalation
    target: Target
    posts: tuple[OutMessage, ...]
    note: str
    question: dict[str, Any]


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
        post_now: Callable[[OutMessage], Awaitable[str]],
        find_sent: Callable[[OutMessage, datetime], Awaitable[str | None]],
    ) -> None:
        self.config, self.store, self.duty = config, store, duty
        self.contacts, self.sites, self.permalink = contacts, sites, permalink
        self.post_now = post_now
        self.find_sent = find_sent
        """Send at once, bypassing the outbox (raises SendRefused when it can never go)."""

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

    def plan(self, thread: str, args: list[str], actor: str, now: datetime) -> Plan | str:
        """What ``/dast escalate`` would post (recorded as held), or why it cannot: among the
        reasons, an escalation of the thread to the same target that still waits for a reply
        (the command run again after a crash the bot recovered from, say)."""
        if not args:
            return "Usage: `/dast escalate TARGET [reason…] [ticket=GGUS-123456]`."
        target, note = self.resolve(args[0])
        if target is None:
            return note
        question = self.store.question(thread)
        if question is None:
            return "I do not track that thread."
        waiting = next(
            (
                e
                for e in self.store.escalations_of(thread)
                if e.target_id == target.id and e.state == "open"
            ),
            None,
        )
        if waiting is not None:
            return (
                f"{waiting.id} opened for {target.name} by {escape_markdown(waiting.opened_by)} "
                f"at {waiting.opened_at:%Y-%m-%d %H:%M} UTC still waits for a reply, so nothing "
                f"was posted again (`/dast escalation cancel {waiting.id}` ends it)."
            )
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
            summarise_identifiers(str(question["text"])),
            reason,
            self.permalink(thread),
            ticket,
            actor,
            target=target,
        )
        destinations = [target.channel] if target.channel else [f"@{u}" for u in target.users]
        posts = tuple(
            OutMessage(where, text, key=f"escalation:{esc.id}" + (f":{i}" if i else ""))
            for i, where in enumerate(destinations)
        )
        for message in posts:  # recorded (held) before posting: a crash leaves a trace
            self.store.enqueue(message, now)
            self.store.hold(message.key)
        self.store.record(
            EventKind.ESCALATION_POSTING,
            now,
            thread,
            actor,
            escalation=esc.id,
            target=target.id,
            reason=reason,
            ticket=ticket,
            note=note,
        )
        return Plan(esc, target, posts, note, question)

    async def open(self, thread: str, args: list[str], actor: str, now: datetime) -> str:
        """Escalate: post to the target first, and only when that worked record the escalation
        (reminders follow from it) and tell the user's thread. When the target cannot be
        reached, the shifter hears why at once and nothing changes: the question stays theirs."""
        with self.store.atomic():
            plan = self.plan(thread, args, actor, now)
        if isinstance(plan, str):
            return plan
        where = (
            f"~{plan.target.channel}"
            if plan.target.channel
            else ", ".join(m.channel_id for m in plan.posts)
        )
        sent: list[str] = []
        for message in plan.posts:
            try:
                sent.append(await self.post_now(message))
            except SendRefused as exc:
                log.warning("escalation to %s refused: %s", plan.target.id, exc)
                self._forget(plan, sent)
                return (
                    f"I could not post the escalation to {where}: "
                    f"{escape_markdown(str(exc))}. Nothing was escalated and the question stays "
                    "with you. Invite the bot there (or fix contacts.yaml), then run the command "
                    "again."
                )
            except Exception as exc:
                log.warning("escalation to %s failed: %s", plan.target.id, exc)
                posted = await self._posted_after_all(message, now)
                if posted:  # only the response was lost: the target has the escalation
                    sent.append(posted)
                    continue
                if not sent:
                    self._forget(plan, sent)
                    return (
                        f"Mattermost did not take the escalation post for {where} "
                        f"({escape_markdown(str(exc))}). Nothing was escalated; try again in a "
                        "minute."
                    )
                break  # the main post is out: the rest goes through the outbox
        with self.store.atomic():
            self._commit(plan, sent, now)
        return f"{plan.esc.id} opened for {plan.target.name}."

    async def _posted_after_all(self, message: OutMessage, since: datetime) -> str | None:
        """The post's id if a failed attempt got through after all (its response was lost)."""
        try:
            return await self.find_sent(message, since)
        except Exception as exc:
            log.warning("cannot tell whether %s was posted: %s", message.key, exc)
            return None

    def _forget(self, plan: Plan, sent: list[str]) -> None:
        with self.store.atomic():
            for message in plan.posts[len(sent) :]:
                self.store.forget(message.key)

    def _commit(self, plan: Plan, sent: list[str], now: datetime) -> None:
        esc, question = plan.esc, plan.question
        lifecycle.open_escalation(
            self.store, esc, plan.posts[0].channel_id, str(question["state"]), now
        )
        for i, message in enumerate(plan.posts):
            outbox_id = self.store.enqueue(message, now)
            self.store.release(message.key)
            if i < len(sent):
                self.store.mark_sent(outbox_id, sent[i], now)
        log.info("escalation %s opened to %s by %s", esc.id, plan.target.id, esc.opened_by)
        where = (
            f"~{plan.target.channel}"
            if plan.target.channel
            else ", ".join(m.channel_id for m in plan.posts)
        )
        told = escalated_note(esc, plan.target, where, plan.note)
        self.store.enqueue(
            OutMessage(str(question["channel_id"]), told, esc.thread_id, f"escalated:{esc.id}"),
            now,
        )

    async def recover(self, now: datetime) -> None:
        """Finish what a crash interrupted: an escalation whose post was recorded (held) but
        not confirmed. If the target got it, the escalation is recorded as if nothing happened;
        if not, the user's thread is told to escalate again. Mattermost unreachable: later."""
        for main in self.store.held("escalation:"):
            esc_id = main.message.key.split(":")[1]
            if main.message.key != f"escalation:{esc_id}":
                continue
            try:
                post_id = await self.find_sent(main.message, main.created_at)
            except Exception as exc:
                log.warning("cannot check escalation %s yet: %s", esc_id, exc)
                return
            with self.store.atomic():
                self._recovered(esc_id, main, post_id, now)

    def _recovered(self, esc_id: str, main: Any, post_id: str | None, now: datetime) -> None:
        intent = next(
            (
                e
                for e in reversed(self.store.events(kind=EventKind.ESCALATION_POSTING))
                if e["data"].get("escalation") == esc_id
            ),
            None,
        )
        held = [
            p
            for p in self.store.held(f"escalation:{esc_id}")
            if p.message.key.split(":")[1] == esc_id
        ]
        target = self.target(str(intent["data"]["target"])) if intent else None
        question = self.store.question(str(intent["thread_id"])) if intent else None
        if intent is None or target is None or question is None or post_id is None:
            for pending in held:
                self.store.forget(pending.message.key)
            if intent is not None and question is not None:
                text = (
                    f"The escalation {esc_id} did not go out (the bot restarted while posting "
                    "it); run `/dast escalate` again."
                )
                key = f"escalation-lost:{esc_id}"
                self.store.enqueue(
                    OutMessage(str(question["channel_id"]), text, str(intent["thread_id"]), key),
                    now,
                )
            return
        data = intent["data"]
        esc = Escalation(
            id=esc_id,
            thread_id=str(intent["thread_id"]),
            target_id=target.id,
            state="open",
            opened_at=main.created_at,
            opened_by=str(intent["actor"]),
            reason=str(data.get("reason") or ""),
            ticket=data.get("ticket"),
        )
        posts = tuple(p.message for p in held)
        plan = Plan(esc, target, posts, str(data.get("note") or ""), question)
        self._commit(plan, [post_id], now)
        log.info("escalation %s recovered after a restart (post %s)", esc_id, post_id)

    # replies ----------------------------------------------------------------------------------

    def on_reply(self, post: Post, bot_user_id: str, now: datetime) -> bool:
        """A post in an escalation's thread: the target replied (unless it is the bot or the
        escalating shifter). Returns True when the post belonged to an escalation thread."""
        esc = self.store.escalation_by_post(post.root_id)
        if esc is None:
            return False
        if post.user_id == bot_user_id or post.is_bot or post.user_name == esc.opened_by:
            return True
        if esc.state == "open":
            log.info("escalation %s: reply from %s detected", esc.id, post.user_name)
            lifecycle.transition(self.store, esc.id, "reply", now, post.user_name)
        else:  # every later reply is relayed too: it is often the actual fix
            self.store.record(
                EventKind.ESCALATION_FOLLOWUP, now, esc.thread_id, post.user_name, escalation=esc.id
            )
        question = self.store.question(esc.thread_id)
        target = self.target(esc.target_id)
        name = target.name if target else esc.target_id
        asker = str(question["author_name"] or "") if question is not None else ""
        text = reply_relay(esc, name, post.user_name, post.message, asker)
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

    def by_hand(self, thread: str, args: list[str], actor: str, now: datetime) -> str:
        if not args or args[0].lower() not in _BY_HAND:
            return "Usage: `/dast escalation replied|close|cancel [ID]`."
        event = _BY_HAND[args[0].lower()]
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
            updated = lifecycle.transition(self.store, esc.id, event, now, actor)
        except TransitionError as exc:
            return f"{exc}."
        return f"{esc.id} is now {updated.state}." + self._question_after(
            updated, event, actor, now
        )

    def _question_after(self, esc: Escalation, event: Event, actor: str, now: datetime) -> str:
        """When the last live escalation of a question ends, the question must not stay
        escalated with nobody chasing: closed means done (resolved), cancelled means the
        question goes back to a shifter (the one who cancelled)."""
        if event not in ("close", "cancel"):
            return ""
        live = [
            e for e in self.store.escalations_of(esc.thread_id) if e.state in ("open", "replied")
        ]
        question = self.store.question(esc.thread_id)
        if live or question is None or question["state"] != q.ESCALATED:
            return ""
        if event == "close":
            q.transition(self.store, esc.thread_id, "resolve", now, actor)
            return " The question is resolved (`/dast reopen` in its thread if it is not)."
        q.transition(self.store, esc.thread_id, "withdraw", now, actor)
        return f" The question is back with {mention(actor)} (taken)."

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
                    esc = lifecycle.transition(
                        self.store,
                        esc.id,
                        "remind",
                        now,
                        self.config.bot_name,
                        number=action.number,
                    )
                elif isinstance(action, DeadlinePassed):
                    self._deadline(esc, target, now, root)
                    esc = lifecycle.transition(
                        self.store, esc.id, "deadline", now, self.config.bot_name
                    )

    def _deadline(self, esc: Escalation, target: Target, now: datetime, root: str) -> None:
        duty = self.duty.at(now)
        who = mention(duty.coordinator) or "Coordinators"
        text = f"{who}: " + deadline_post(
            esc, target, now, permalink=self.permalink(root) if root else None
        )
        text += f"\nUser thread: {self.permalink(esc.thread_id)}"
        channel = self.config.mattermost.coordinators_channel
        self.store.enqueue(OutMessage(channel, text, key=f"deadline:{esc.id}"), now)

    def next_due(self, after: datetime) -> datetime | None:
        dues = [
            d
            for esc, target in self.open_escalations()
            if (d := next_due(esc, target, after)) is not None
        ]
        return min(dues) if dues else None

    def handover_section(self, now: datetime) -> list[str]:
        return handover_lines(self.open_escalations(), now, self.permalink)


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
