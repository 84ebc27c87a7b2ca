"""Onboarding checklists: when a person joins the roster, their zone's coordinator gets the
``people.onboarding`` checklist once (a direct message; the coordinators' channel when the zone has
no coordinator), with a button per item; items are ticked with a button or
``/dast roster tick USER N``; open items are reminded weekly until all are done.

``open_onboarding`` records the checklist and queues its message, ``tick`` ticks an item and
says what it did, ``OnboardingJob`` queues the weekly reminders. Nothing here sends: messages go
to the outbox with stable keys, so a restart never sends one twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, mention
from dastbot.kernel.models import Button, OutMessage
from dastbot.kernel.settings import Person
from dastbot.shifts.roster import coordinator_for
from dastbot.store import Store, parse_iso

ONBOARDING = "onboarding"
"""The ``kind`` in a checklist button's context (the router sends such clicks here)."""
REMIND_EVERY = timedelta(days=7)


def _target(config: Config, coordinator: str) -> str:
    return f"@{coordinator}" if coordinator else config.mattermost.coordinators_channel


def _buttons(user: str, items: Sequence[dict[str, Any]]) -> tuple[Button, ...]:
    return tuple(
        Button(
            f"tick{item['position']}",
            f"Done: {item['position']}",
            {"kind": ONBOARDING, "member": user, "item": str(item["position"])},
            "primary",
        )
        for item in items
        if not item["done_at"]
    )


def _item_lines(items: Sequence[dict[str, Any]], only_open: bool = False) -> list[str]:
    lines = []
    for item in items:
        if only_open and item["done_at"]:
            continue
        mark = f"done by {item['done_by']}" if item["done_at"] else "open"
        lines.append(f"{item['position']}. {escape_markdown(item['item'])} ({mark})")
    return lines


def open_onboarding(
    store: Store, config: Config, roster: Sequence[Person], person: Person, now: datetime
) -> bool:
    """Send the zone's coordinator the checklist for ``person``, once ever; False when they had
    one already or the checklist has no items."""
    items = list(config.people.onboarding)
    coordinator = coordinator_for(roster, person.zone) or ""
    if not items or not store.open_checklist(person.user, person.zone, coordinator, items, now):
        return False
    checklist = store.checklist(person.user)
    assert checklist is not None
    who = mention(coordinator) or "Coordinators"
    text = "\n".join(
        [
            f"{who}: **onboarding checklist for {person.user}**, who joined the roster "
            f"({person.zone}, {person.level}). Tick each item when it is done (the buttons, or "
            f"`/dast roster tick {person.user} N`); open items are reminded weekly.",
            *_item_lines(checklist["items"]),
        ]
    )
    message = OutMessage(
        _target(config, coordinator),
        text,
        key=f"onboarding:{person.user}",
        buttons=_buttons(person.user, checklist["items"]),
    )
    store.enqueue(message, now)
    store.record(EventKind.ONBOARDING_OPENED, now, actor=config.bot_name, user=person.user)
    return True


def tick(store: Store, member: str, which: str, actor: str, now: datetime) -> str:
    """Tick item ``which`` (a number, or "all") of ``member``'s checklist; what was done."""
    checklist = store.checklist(member)
    shown = escape_markdown(member)
    if checklist is None:
        return f"{shown} has no onboarding checklist."
    items = checklist["items"]
    if which.lower() == "all":
        positions = [i["position"] for i in items if not i["done_at"]]
    elif which.isdecimal() and len(which) < 4 and 1 <= int(which) <= len(items):
        positions = [int(which)]
    else:
        return (
            f"`{escape_markdown(which[:20])}` is not an item of {shown}'s checklist: give 1 to "
            f"{len(items)} or all."
        )
    done = [p for p in positions if store.tick_item(member, p, actor, now)]
    if not done:
        return f"Nothing to tick: every item {which.lower()} of {shown}'s checklist is done."
    store.record(EventKind.ONBOARDING_TICKED, now, actor=actor, user=member, items=done)
    left = sum(1 for i in items if not i["done_at"]) - len(done)
    names = "; ".join(escape_markdown(items[p - 1]["item"]) for p in done)
    tail = "All done: no more reminders." if left == 0 else f"{left} open item(s) left."
    return f"Ticked for {member}: {names}. {tail}"


class OnboardingJob:
    """A week after a checklist was sent or last reminded, its open items are reminded."""

    id = "onboarding-reminders"
    coalesce = False

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store

    def next_due(self, after: datetime) -> datetime | None:
        dues = [parse_iso(c["reminded_at"]) + REMIND_EVERY for c in self.store.open_checklists()]
        return min(dues) if dues else None

    def run(self, due: datetime, now: datetime) -> None:
        for checklist in self.store.open_checklists():
            if parse_iso(checklist["reminded_at"]) + REMIND_EVERY > now:
                continue
            user, items = checklist["user"], checklist["items"]
            open_items = _item_lines(items, only_open=True)
            opened = parse_iso(checklist["opened_at"])
            who = mention(checklist["coordinator"]) or "Coordinators"
            text = "\n".join(
                [
                    f"{who}: reminder, the onboarding of **{user}** has {len(open_items)} open "
                    f"item(s) (checklist sent {opened:%a %d %b %Y}):",
                    *open_items,
                ]
            )
            key = f"onboarding-reminder:{user}:{now.date().isoformat()}"
            message = OutMessage(
                _target(self.config, checklist["coordinator"]),
                text,
                key=key,
                buttons=_buttons(user, items),
            )
            self.store.enqueue(message, now)
            self.store.checklist_reminded(user, now)
