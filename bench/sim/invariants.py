"""The invariants, checked every simulated hour against the bot's database and the simulated
chat (never against counters the simulation keeps about the bot). Each failure names the
invariant, the virtual time and the thread; the runner adds the seed and the replay command.

1. ``person``: every open question is with someone who must act, within the bounds the
   configuration implies: a bot answer is closed for lack of feedback after
   ``questions.close_unrated_after_hours``; a question waiting for a person has its shifter
   pinged, or is told the next shift (and is pinged when it starts), or the coordinators are told,
   or a supporter (a roster member) has replied since it started waiting (the bot's rule: a
   supporter's reply is a person on it, another user's "me too" is not; neither the no-reply
   rule nor the next shift's ping chases it then, and every handover lists it);
   an escalated question has a live escalation; an asker's follow-up on a question a person
   holds reaches that person. The bot decides time-driven work only while it is up and in step
   with the chat (``Feed.in_sync``: it cannot know whether the asker rated an answer while its
   websocket was away), so a step that fell due while it was down or out of step is due when it
   is back in step: each such bound runs from the later of the two.
2. ``outbox``: no message waits longer than its retry budget unless dead-lettered, and every
   dead letter is reported to the coordinators.
3. ``limit``: no message over Mattermost's post limit was sent or recorded.
4. ``once``: no key posted twice, no question answered twice.
5. ``relay``: every reply of an escalation target reaches the asker's thread.
6. ``report``: the weekly summary's totals equal counts taken from the audit trail and from the
   questions the chat delivered.
7. ``growth``: the database grows linearly with the traffic, and the store work per handled
   event (SQLite VM instructions, deterministic) does not grow with simulated time.
8. ``crash``: no handler raised (an exception logged by the bot's error boundaries).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dastbot.kernel.markdown import POST_LIMIT
from dastbot.outbox.sender import GIVE_UP_AFTER, RETRY_MAX
from dastbot.report.weeks import week_monday
from dastbot.store import iso, parse_iso
from dastbot.store.outbox import HELD

if TYPE_CHECKING:
    from sim.runner import Simulation

SLACK = timedelta(hours=1)
"""Sweeps run every 30 s; a check runs hourly: an hour's grace for anything 'due by'."""
WAITING_BOUND = timedelta(days=21)
"""Longest time without shifts (weekends, the end-of-year closure) plus twice the no-reply time."""
GROWTH_FACTOR = 2.5
_ASKED = re.compile(r"^\|\s*asked\s*\|\s*(\d+)", re.MULTILINE)
_OPENED = re.compile(r"\*\*Escalations:\*\*\s*(\d+)")
_MENTION = re.compile(r"@([a-z0-9._-]+)")


@dataclass(frozen=True)
class Violation:
    invariant: str
    at: datetime
    thread: str
    detail: str

    def line(self) -> str:
        where = f" thread {self.thread}" if self.thread else ""
        return f"[{self.invariant}] {self.at:%Y-%m-%d %H:%M} UTC{where}: {self.detail}"


@dataclass
class FollowUp:
    thread: str
    post_id: str
    at: datetime
    holder: str


@dataclass
class Window:
    start: datetime
    events: int = 0
    event_steps: int = 0
    messages: int = 0
    db_bytes: int = 0
    cpu_s: float = 0.0


class CrashLog(logging.Handler):
    """Exceptions the bot's error boundaries logged (``log.exception``)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.records.append(f"{record.getMessage()}: {type(exc).__name__}: {exc}")


@dataclass
class Checker:
    sim: Simulation
    violations: list[Violation] = field(default_factory=list)
    checks: int = 0
    follow_ups: list[FollowUp] = field(default_factory=list)
    reports: list[tuple[str, str, datetime]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    crashes: CrashLog = field(default_factory=CrashLog)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)
    _outbox_checked: int = 0
    _dead_checked: int = 0
    _oversized_checked: int = 0
    _keys_checked: int = 0
    _crashes_checked: int = 0
    _relays_checked: int = 0

    def fail(self, invariant: str, thread: str, detail: str) -> None:
        key = (invariant, thread, detail if not thread else "")
        if key in self._seen:
            return
        self._seen.add(key)
        self.violations.append(Violation(invariant, self.sim.clock.now(), thread, detail))

    def check(self) -> None:
        """Every invariant, now (the bot must be running)."""
        self.checks += 1
        now = self.sim.clock.now()
        self.person(now)
        self.outbox(now)
        self.limit()
        self.once()
        self.relay(now)
        self.report()
        self.crash()
        self.growth(now)

    # 1 ----------------------------------------------------------------------------------------

    def person(self, now: datetime) -> None:
        store = self.sim.store
        unrated = timedelta(hours=self.sim.config.questions.close_unrated_after_hours)
        live = {
            str(row[0])
            for row in store.db.execute(
                "SELECT DISTINCT thread_id FROM escalations WHERE state IN ('open', 'replied')"
            )
        }
        overdue = store.db.execute(
            "SELECT thread_id, created_at FROM questions WHERE state = 'answered' "
            "AND created_at < ?",
            [iso(now - unrated - SLACK)],
        )
        for thread, created in overdue if self._acting_on_time(now) else ():
            self.fail("person", thread, f"a bot answer unrated since {created[:16]}")
        for q in store.questions(("waiting", "escalated")):
            thread = str(q["thread_id"])
            if q["state"] == "escalated":
                if thread not in live:
                    self.fail("person", thread, "escalated, but no escalation is open or replied")
            else:
                self._waiting(q, thread, now)
        for item in self.follow_ups:
            if now - item.at < SLACK:
                continue
            told = store.db.execute(
                "SELECT 1 FROM outbox WHERE root_id = ? AND key LIKE 'follow-up:%' "
                "AND created_at >= ? AND created_at <= ? LIMIT 1",
                [item.thread, iso(item.at - timedelta(minutes=31)), iso(item.at + SLACK)],
            ).fetchone()  # decided; its delivery is the outbox invariant's
            root = self.sim.chat.posts.get(item.thread)
            if not told and root is not None and not root.deleted:
                self.fail(
                    "person",
                    item.thread,
                    f"the asker's follow-up {item.post_id} never reached {item.holder}",
                )
        self.follow_ups = [f for f in self.follow_ups if now - f.at < SLACK]

    def _acting_on_time(self, now: datetime) -> bool:
        """The bot has been in step with the chat for the grace period: what is due is late."""
        since = self.sim.in_sync_since
        return since is not None and now - since >= SLACK

    def _replied_since_waiting(self, thread: str) -> bool:
        """The audit trail has a person's reply after the question last started waiting."""
        return (
            self.sim.store.db.execute(
                "SELECT 1 FROM events WHERE thread_id = ? AND kind = 'human_reply' "
                "AND json_extract(data, '$.supporter') = 1 AND id > "
                "(SELECT MAX(id) FROM events WHERE thread_id = ? AND kind = 'needs_human') LIMIT 1",
                [thread, thread],
            ).fetchone()
            is not None
        )

    def _waiting(self, q: dict[str, object], thread: str, now: datetime) -> None:
        since = parse_iso(str(q.get("waiting_since") or q["created_at"]))
        if now - since < SLACK or q.get("channel_type") == "D":
            return
        pinged = q.get("pinged_at")
        waiting_for = q.get("waiting_for")
        told = q.get("coordinator_at")
        if not pinged and not told and not self._replied_since_waiting(thread):
            if not waiting_for:
                self.fail("person", thread, "waiting: nobody pinged, no shift promised")
            elif parse_iso(str(waiting_for)) + SLACK < now and self._acting_on_time(now):
                self.fail("person", thread, f"waiting past the shift it was told ({waiting_for})")
        if not q.get("first_human_at") and not told and now - since > WAITING_BOUND:
            self.fail(
                "person", thread, f"no person replied since {since:%F} and no coordinator told"
            )
        root = self.sim.chat.posts.get(thread)
        if root is not None and not root.deleted:
            bot_said = any(
                p.user == "dastbot" and p.at >= since for p in self.sim.chat.thread(thread)
            )
            # decided but not delivered yet: sending it (or giving up and saying so) is the
            # outbox invariant's (asked only when the chat shows nothing: root_id has no index)
            if (
                not bot_said
                and not self.sim.store.db.execute(
                    "SELECT 1 FROM outbox WHERE root_id = ? AND created_at >= ? LIMIT 1",
                    [thread, iso(since)],
                ).fetchone()
            ):
                self.fail("person", thread, "waiting, and the bot said nothing in the thread")

    # 2 ----------------------------------------------------------------------------------------

    def outbox(self, now: datetime) -> None:
        db = self.sim.store.db
        budget = GIVE_UP_AFTER + RETRY_MAX + SLACK
        for row in db.execute(
            "SELECT id, key, created_at, next_attempt_at FROM outbox INDEXED BY outbox_unsent "
            "WHERE sent_at IS NULL AND dead_at IS NULL AND created_at < ?",
            [iso(now - SLACK)],
        ):
            created = parse_iso(row[2])
            if row[3] == HELD:
                self.fail("outbox", "", f"#{row[0]} {row[1]} held since {created:%F %H:%M}")
            elif now - created > budget:
                self.fail("outbox", "", f"#{row[0]} {row[1]} unsent since {created:%F %H:%M}")
        rows = db.execute(
            "SELECT id, key, dead_at FROM outbox WHERE id > ? AND dead_at IS NOT NULL ORDER BY id",
            [self._dead_checked],
        ).fetchall()
        for outbox_id, key, dead_at in rows:
            if now - parse_iso(dead_at) < budget and not self.sim.finishing:
                break
            self._dead_checked = outbox_id
            if str(key).startswith("dead-letter:"):
                continue
            if not self.sim.chat.by_key.get(f"dead-letter:{outbox_id}"):
                self.fail("outbox", "", f"dead letter #{outbox_id} {key} never reported")

    # 3 ----------------------------------------------------------------------------------------

    def limit(self) -> None:
        for item in self.sim.chat.oversized[self._oversized_checked :]:
            self.fail("limit", item.root_id, f"{item.key} is {item.runes} runes (> {POST_LIMIT})")
        self._oversized_checked = len(self.sim.chat.oversized)
        db = self.sim.store.db
        for outbox_id, key, length in db.execute(
            "SELECT id, key, length(message) FROM outbox WHERE id > ? AND length(message) > ?",
            [self._outbox_checked, POST_LIMIT],
        ):
            self.fail("limit", "", f"outbox #{outbox_id} {key} holds {length} characters")
        top = db.execute("SELECT MAX(id) FROM outbox").fetchone()[0]
        self._outbox_checked = int(top or 0)

    # 4 ----------------------------------------------------------------------------------------

    def once(self) -> None:
        chat = self.sim.chat
        new = chat.bot_posts[self._keys_checked :]
        self._keys_checked = len(chat.bot_posts)
        for post_id in new:
            post = chat.posts[post_id]
            bots = [i for i in chat.by_key.get(post.key, ()) if chat.posts[i].user == "dastbot"]
            if len(bots) > 1:
                self.fail("once", post.root_id, f"{post.key} posted {len(bots)} times")
            kind, _, rest = post.key.partition(":")
            if kind in ("answer", "abstain") and ":" not in rest:
                firsts = [k for k in (f"answer:{rest}", f"abstain:{rest}") if chat.by_key.get(k)]
                if len(firsts) > 1:
                    self.fail("once", rest, "the question got an answer and an abstention")

    # 5 ----------------------------------------------------------------------------------------

    def relay(self, now: datetime) -> None:
        chat = self.sim.chat
        store = self.sim.store
        budget = GIVE_UP_AFTER + RETRY_MAX + SLACK
        for reply in self.sim.target_replies[self._relays_checked :]:
            delivered = self.sim.feed.delivered.get(reply.post_id)
            if delivered is None or now - delivered < budget:
                break
            self._relays_checked += 1
            key = f"escalation-reply:{reply.esc_id}:{reply.post_id}"
            if chat.by_key.get(key):
                continue
            row = store.sent(key)
            if row is not None and row["dead_at"] and chat.by_key.get(f"dead-letter:{row['id']}"):
                continue  # given up on (the thread was deleted, say), and reported
            self.fail("relay", reply.thread, f"{reply.esc_id}: reply {reply.post_id} not relayed")

    # 6 ----------------------------------------------------------------------------------------

    def report(self) -> None:
        pending = []
        for week, text, posted in self.reports:
            if self.sim.clock.now() - posted < SLACK:
                pending.append((week, text, posted))
                continue
            self._report(week, text)
        self.reports = pending

    def _report(self, week: str, text: str) -> None:
        zone = self.sim.calendar_zone
        monday = week_monday(week)
        start = datetime.combine(monday, datetime.min.time(), zone).astimezone(UTC)
        end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), zone).astimezone(
            UTC
        )
        asked = _ASKED.search(text)
        opened = _OPENED.search(text)
        if asked is None or opened is None:
            self.fail("report", "", f"{week}: no totals found in the weekly report")
            return
        db = self.sim.store.db
        from_events = db.execute(
            "SELECT COUNT(DISTINCT thread_id) FROM events WHERE kind IN ('answered', 'abstained') "
            "AND at >= ? AND at < ?",
            [iso(start), iso(end)],
        ).fetchone()[0]
        delivered = sum(
            1
            for post_id, at in self.sim.feed.delivered.items()
            if post_id in self.sim.question_posts and start <= at < end
        )
        escalations = db.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'escalation_opened' AND at >= ? AND at < ?",
            [iso(start), iso(end)],
        ).fetchone()[0]
        said = int(asked.group(1)), int(opened.group(1))
        if said[0] != from_events or said[0] != delivered:
            self.fail(
                "report",
                "",
                f"{week}: report says {said[0]} asked; the audit trail has {from_events}, "
                f"the chat delivered {delivered}",
            )
        if said[1] != escalations:
            self.fail(
                "report",
                "",
                f"{week}: report says {said[1]} escalations opened; the audit trail has "
                f"{escalations}",
            )

    # 7 ----------------------------------------------------------------------------------------

    def growth(self, now: datetime) -> None:
        if not self.windows:
            return
        current = self.windows[-1]
        if self.sim.finishing and not current.events:
            return
        if now - current.start < self.sim.growth_window and not self.sim.finishing:
            return
        page = self.sim.store.db.execute("PRAGMA page_count").fetchone()[0]
        size = self.sim.store.db.execute("PRAGMA page_size").fetchone()[0]
        current.db_bytes = int(page) * int(size)
        current.messages = self.sim.human_posts + self.sim.commands_run
        current.cpu_s = time.process_time()
        done = [w for w in self.windows if w.db_bytes]
        self.windows.append(Window(now))
        if len(done) < 3:
            return
        first, last = done[1], done[-1]  # the first window holds the schema's fixed cost
        per_first = (first.db_bytes - done[0].db_bytes) / max(first.messages - done[0].messages, 1)
        before = done[-2]
        per_last = (last.db_bytes - before.db_bytes) / max(last.messages - before.messages, 1)
        if per_last > GROWTH_FACTOR * per_first + 512:
            self.fail(
                "growth",
                "",
                f"the database grew {per_last:.0f} bytes a message in the last window, "
                f"{per_first:.0f} in the second",
            )
        cost_first = done[0].event_steps / max(done[0].events, 1)
        cost_last = last.event_steps / max(last.events, 1)
        if cost_last > GROWTH_FACTOR * cost_first + 2:
            self.fail(
                "growth",
                "",
                f"handling an event took {cost_last:.0f} thousand SQLite steps in the last window, "
                f"{cost_first:.0f} thousand in the first",
            )

    # 8 ----------------------------------------------------------------------------------------

    def crash(self) -> None:
        for line in self.crashes.records[self._crashes_checked :]:
            self.fail("crash", "", line)
        self._crashes_checked = len(self.crashes.records)

    def mentioned(self, text: str) -> list[str]:
        return _MENTION.findall(text)
