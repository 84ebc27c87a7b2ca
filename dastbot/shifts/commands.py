"""The /dast commands of the shift rota: oncall and shift book|release|swap|approve|list|gaps.
Each refusal says why and is audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial

from dastbot.kernel.commands import CommandContext, Registry, refuse, whole_number
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import mention, table
from dastbot.kernel.models import Assignment, CommandReply, OutMessage
from dastbot.kernel.settings import normalise_username
from dastbot.shifts.calendar import Calendar
from dastbot.shifts.duty import describe_instant
from dastbot.shifts.roster import refusal_to_hold
from dastbot.shifts.services import ShiftServices
from dastbot.shifts.staffing import coverage_gaps


def _parse_day(text: str, today: date) -> date:
    lowered = text.lower()
    if lowered == "today":
        return today
    if lowered == "tomorrow":
        return today + timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{text}` is not a date (YYYY-MM-DD, today or tomorrow)") from None


async def _oncall(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    duty = svc.duty.at(ctx.now)
    tz = svc.timezone_of(ctx.user_id)
    if duty.shifter:
        text = f"On shift now ({duty.slot}): {mention(duty.shifter)}"
        text += f", trainee {mention(duty.trainee)}." if duty.trainee else "."
    elif duty.trainee:
        text = f"On shift now ({duty.slot}): trainee {mention(duty.trainee)}, no 1st-level shifter."
    else:
        text = "Nobody is on shift right now."
    if duty.next_slot_start:
        text += f" Next staffed shift: {describe_instant(duty.next_slot_start, tz, ctx.now)}."
    if duty.coordinator:
        text += f" Coordinator: {mention(duty.coordinator)}."
    return CommandReply(text)


# shifts -----------------------------------------------------------------------------------


def _slot_name(calendar: Calendar, text: str) -> str:
    names = {n.lower(): n for n in calendar.slot_names}
    if text.lower() not in names:
        raise ValueError(f"`{text}` is not a slot ({', '.join(names.values())})")
    return names[text.lower()]


def _day_slot(calendar: Calendar, now: datetime, args: list[str]) -> tuple[date, str, list[str]]:
    """DATE SLOT at the head of ``args``, checked (today or later, a working day); the rest."""
    if len(args) < 2:
        raise ValueError("give a date and a slot, e.g. `2026-03-30 EU`")
    today = calendar.local_day(now)
    day = _parse_day(args[0], today)
    slot = _slot_name(calendar, args[1])
    if day < today:
        raise ValueError(f"{day} is in the past")
    if not calendar.is_working_day(day):
        raise ValueError(f"there are no shifts on {day} ({calendar.off_reason(day)})")
    return day, slot, args[2:]


async def _book(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    try:
        day, slot, rest = _day_slot(svc.duty.calendar, ctx.now, args)
    except ValueError as exc:
        return CommandReply(f"Cannot book: {exc}.")
    user = normalise_username(rest[0]) if rest else ctx.user_name
    if user != ctx.user_name and ctx.role != "coordinator":
        return refuse(ctx, "shift book", "Only coordinators can book shifts for others.")
    person = next((p for p in svc.duty.roster if p.user == user), None)
    if person is None:
        why = refusal_to_hold(svc.duty.roster, user) or f"{user} is not in the shifter roster"
        return refuse(ctx, "shift book", f"Cannot book: {why}.")
    as_trainee = person.level == "trainee"
    store = svc.store
    with store.atomic():
        current = store.assignment(day, slot) or Assignment(day, slot, None, None)
        taken = current.trainee if as_trainee else current.shifter
        if taken and taken != user:
            return CommandReply(
                f"{slot} on {day} already has {'trainee' if as_trainee else 'shifter'} "
                f"{taken}; ask for a swap with `/dast shift swap {day} {slot} {taken}`."
            )
        updated = Assignment(
            day,
            slot,
            current.shifter if as_trainee else user,
            user if as_trainee else current.trainee,
        )
        store.set_assignment(updated, ctx.user_name, ctx.now)
        store.record(
            EventKind.SHIFT_BOOKED, ctx.now, "", ctx.user_name, day=str(day), slot=slot, user=user
        )
    role = "trainee" if as_trainee else "shifter"
    text = f"Booked {user} as {role} for {slot} on {day:%a %d %b %Y}."
    return CommandReply(text + _same_day_warning(svc, user, day, slot))


def _same_day_warning(svc: ShiftServices, user: str, day: date, slot: str) -> str:
    """A note when ``user`` now holds another slot of ``day`` too (EU and NA back to back)."""
    others = [
        a.slot
        for a in svc.store.assignments(day, day).values()
        if a.slot != slot and user in (a.shifter, a.trainee)
    ]
    if not others:
        return ""
    return (
        f" Note: {user} is also booked for {' and '.join(sorted(others))} on {day}, so that is "
        f"{len(others) + 1} shifts in one day; release one if that was not meant."
    )


async def _unbook(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    try:
        day, slot, rest = _day_slot(svc.duty.calendar, ctx.now, args)
    except ValueError as exc:
        return CommandReply(f"Cannot release: {exc}.")
    user = rest[0].lstrip("@").lower() if rest else ctx.user_name
    if user != ctx.user_name and ctx.role != "coordinator":
        return refuse(ctx, "shift release", "Only coordinators can release others' shifts.")
    store = svc.store
    with store.atomic():
        current = store.assignment(day, slot)
        if current is None or user not in (current.shifter, current.trainee):
            return CommandReply(f"{user} is not booked for {slot} on {day}.")
        updated = Assignment(
            day,
            slot,
            None if current.shifter == user else current.shifter,
            None if current.trainee == user else current.trainee,
        )
        store.set_assignment(updated, ctx.user_name, ctx.now)
        store.record(
            EventKind.SHIFT_RELEASED, ctx.now, "", ctx.user_name, day=str(day), slot=slot, user=user
        )
    return CommandReply(f"Released {user} from {slot} on {day:%a %d %b %Y}; the slot needs cover.")


async def _swap(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    try:
        day, slot, rest = _day_slot(svc.duty.calendar, ctx.now, args)
    except ValueError as exc:
        return CommandReply(f"Cannot swap: {exc}.")
    if not rest:
        return CommandReply("Name who takes the shift: `/dast shift swap DATE SLOT USER`.")
    other = normalise_username(rest[0])
    store = svc.store
    current = store.assignment(day, slot)
    holder = current.shifter if current else None
    if ctx.role != "coordinator" and holder != ctx.user_name:
        return refuse(ctx, "shift swap", f"You are not the shifter of {slot} on {day}.")
    if holder is None:
        return CommandReply(f"Nobody holds {slot} on {day}; book it instead.")
    why = refusal_to_hold(svc.duty.roster, other)
    if why is not None:
        return refuse(ctx, "shift swap", f"Cannot hand {slot} on {day} to {other}: {why}.")
    if other == holder:
        return CommandReply(f"{other} already holds {slot} on {day}.")
    with store.atomic():
        swap_id = store.add_swap(day, slot, holder, other, ctx.now)
        store.record(EventKind.SWAP_REQUESTED, ctx.now, "", ctx.user_name, swap=swap_id)
        if ctx.role == "coordinator":
            return _apply_swap(svc, swap_id, ctx.user_name, ctx.now)
    coordinators = " ".join(mention(c) for c in svc.duty.coordinators())
    text = (
        f"{coordinators or 'Coordinators'}: {ctx.user_name} asks to hand {slot} on {day} to "
        f"{other}. Approve with `/dast shift approve {swap_id}`."
    )
    channel = svc.config.mattermost.coordinators_channel
    store.enqueue(OutMessage(channel, text, key=f"swap:{swap_id}"), ctx.now)
    return CommandReply(f"Swap request #{swap_id} sent to the coordinators.")


def _apply_swap(svc: ShiftServices, swap_id: int, actor: str, now: datetime) -> CommandReply:
    """Hand the slot of pending swap ``swap_id`` to its new shifter, unless the shift changed or
    the new shifter may no longer hold it; tell the person who gave it up and the one who takes
    it (by direct message) when neither of them is the one approving."""
    store = svc.store
    swap = store.swap(swap_id)
    if swap is None or swap["state"] != "pending":
        return CommandReply(f"There is no pending swap #{swap_id}.")
    day = date.fromisoformat(swap["day"])
    current = store.assignment(day, swap["slot"])
    if current is None or current.shifter != swap["from_user"]:
        store.decide_swap(swap_id, "stale", actor, now)
        return CommandReply(f"Swap #{swap_id} no longer applies: the shift changed.")
    why = refusal_to_hold(svc.duty.roster, swap["to_user"])
    if why is not None:
        store.decide_swap(swap_id, "refused", actor, now)
        return CommandReply(f"Swap #{swap_id} cannot be done: {why}.")
    store.set_assignment(
        Assignment(day, swap["slot"], swap["to_user"], current.trainee), actor, now
    )
    store.decide_swap(swap_id, "approved", actor, now)
    store.record(EventKind.SWAP_APPROVED, now, "", actor, swap=swap_id)
    what = f"{swap['slot']} on {day:%a %d %b %Y}"
    notices = {
        swap["from_user"]: f"{actor} approved swap #{swap_id}: {swap['to_user']} now holds {what} "
        "instead of you.",
        swap["to_user"]: f"{actor} approved swap #{swap_id}: you now hold {what} (it was "
        f"{swap['from_user']}'s). `/dast shift list` shows your shifts.",
    }
    for user, text in notices.items():
        if user != actor:
            store.enqueue(OutMessage(f"@{user}", text, key=f"swap:{swap_id}:{user}"), now)
    warning = _same_day_warning(svc, swap["to_user"], day, swap["slot"])
    return CommandReply(
        f"Swap #{swap_id} done: {swap['to_user']} now holds {swap['slot']} on {day}.{warning}"
    )


async def _approve(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    swap_id = whole_number(args[0]) if len(args) == 1 else None
    if swap_id is None:
        pending = svc.store.pending_swaps()
        listed = ", ".join(f"#{s['id']} ({s['day']} {s['slot']})" for s in pending) or "none"
        return CommandReply(f"Usage: `/dast shift approve ID`. Pending: {listed}.")
    with svc.store.atomic():
        return _apply_swap(svc, swap_id, ctx.user_name, ctx.now)


AHEAD = 60
"""The most days ``shift list`` and ``shift gaps`` look ahead."""


def _days(args: list[str], default: int, command: str) -> int | str:
    """The DAYS argument (1 to ``AHEAD``, ``default`` when absent), or why it is refused."""
    if not args:
        return default
    days = whole_number(args[0], 1, AHEAD) if len(args) == 1 else None
    if days is None:
        return f"DAYS is a whole number from 1 to {AHEAD}, e.g. `/dast {command} 14`."
    return days


async def _list(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    days = _days(args, 7, "shift list")
    if isinstance(days, str):
        return CommandReply(days)
    calendar = svc.duty.calendar
    today = calendar.local_day(ctx.now)
    assignments = svc.store.assignments(today, today + timedelta(days=days))
    rows = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        for slot in calendar.slots_on(day):
            a = assignments.get(slot.key)
            rows.append(
                (
                    f"{day:%a %d %b}",
                    slot.name,
                    (a.shifter if a else None) or "**empty**",
                    (a.trainee if a else None) or "",
                )
            )
    if not rows:
        return CommandReply(f"No shifts in the next {days} days.")
    return CommandReply(table(("day", "slot", "shifter", "trainee"), rows))


async def _gaps(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    days = _days(args, 14, "shift gaps")
    if isinstance(days, str):
        return CommandReply(days)
    duty = svc.duty
    gaps = coverage_gaps(duty.calendar, duty.assignments_from(ctx.now), ctx.now, days)
    if not gaps:
        return CommandReply(f"Every slot of the next {days} days is staffed.")
    lines = [f"{len(gaps)} unstaffed slot(s) in the next {days} days:"]
    lines += [
        f"- {g.name} {g.start.astimezone(duty.calendar.zone):%a %d %b %H:%M %Z}" for g in gaps
    ]
    return CommandReply("\n".join(lines))


def register(registry: Registry, svc: ShiftServices) -> None:
    registry.add(
        partial(_oncall, svc),
        "oncall",
        "oncall",
        "Who is on shift now, and when the next shift starts.",
    )
    registry.add(
        partial(_book, svc),
        "shift book",
        "shift book DATE SLOT [USER]",
        "Book a shift (coordinators may book someone else).",
        "trainee",
    )
    registry.add(
        partial(_unbook, svc),
        "shift release",
        "shift release DATE SLOT [USER]",
        "Give up a booked shift (coordinators may remove anyone).",
        "trainee",
    )
    registry.add(
        partial(_swap, svc),
        "shift swap",
        "shift swap DATE SLOT USER",
        "Hand your shift to USER (a coordinator approves; a coordinator's swap is immediate).",
        "trainee",
    )
    registry.add(
        partial(_approve, svc),
        "shift approve",
        "shift approve ID",
        "Approve a swap request.",
        "coordinator",
    )
    registry.add(
        partial(_list, svc),
        "shift list",
        "shift list [DAYS]",
        "The schedule of the next DAYS days (default 7, at most 60).",
    )
    registry.add(
        partial(_gaps, svc),
        "shift gaps",
        "shift gaps [DAYS]",
        "Unstaffed slots in the next DAYS days (default 14, at most 60).",
    )
