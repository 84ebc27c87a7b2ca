"""The /dast commands that look after the team: ``shift credits`` (the credit ledger; a shifter
or trainee sees their own row), ``shift load`` (load against the sustainable rate), and
``roster promote|add|tick|checklist|record|history`` for coordinators (a trainee may read their
own record). Each refusal says why in one sentence and is audited; list replies fit a post."""

from __future__ import annotations

from functools import partial

from dastbot.kernel.commands import CommandContext, Registry, refuse
from dastbot.kernel.markdown import bounded, escape_markdown
from dastbot.kernel.models import CommandReply
from dastbot.kernel.settings import normalise_username
from dastbot.shifts.credits import PERIOD_HELP, ledger, parse_period, to_markdown, zones_of
from dastbot.shifts.load import load_markdown, team_load
from dastbot.shifts.members import add_member, promote
from dastbot.shifts.onboarding import open_onboarding, tick
from dastbot.shifts.progression import trainee_records
from dastbot.shifts.services import ShiftServices

COORDINATOR = "coordinator"


async def _credits(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    calendar = svc.duty.calendar
    if len(args) > 1:
        return CommandReply(f"Usage: `/dast shift credits [PERIOD]`, PERIOD being {PERIOD_HELP}.")
    try:
        first, last = parse_period(args[0] if args else "this-month", calendar.local_day(ctx.now))
    except ValueError as exc:
        return CommandReply(f"Cannot count credit: {exc}.")
    roster = svc.duty.roster
    rows = ledger(svc.store, calendar, roster, svc.config.people.credit, first, last, ctx.now)
    if ctx.role != COORDINATOR:
        rows = [r for r in rows if r.person == ctx.user_name]
    return CommandReply(to_markdown(rows, zones_of(calendar)))


async def _load(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    if args:
        return CommandReply("Usage: `/dast shift load` (no arguments).")
    load = team_load(svc.store, svc.duty.calendar, svc.duty.roster, svc.config.people, ctx.now)
    return CommandReply(load_markdown(load))


async def _promote(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    if len(args) != 1:
        return CommandReply("Usage: `/dast roster promote USER`.")
    user = normalise_username(args[0])
    why = promote(svc.store, svc.duty.roster, user, ctx.user_name, ctx.now)
    if why:
        return refuse(ctx, "roster promote", f"Cannot promote: {why}")
    return CommandReply(
        f"{user} is now a 1st-level shifter (promoted by {ctx.user_name}; "
        "`/dast roster history` shows the change)."
    )


async def _add(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    if len(args) not in (2, 3):
        return CommandReply("Usage: `/dast roster add USER ZONE [shifter|trainee]`.")
    level = args[2].lower() if len(args) == 3 else "shifter"
    roster = svc.duty.roster
    zones = zones_of(svc.duty.calendar)
    person, why = add_member(
        svc.store, roster, zones, args[0], args[1], level, ctx.user_name, ctx.now
    )
    if person is None:
        return refuse(ctx, "roster add", f"Cannot add: {why}")
    sent = open_onboarding(svc.store, svc.config, svc.duty.roster, person, ctx.now)
    note = " The zone's coordinator got the onboarding checklist." if sent else ""
    return CommandReply(
        f"Added {person.user} to the roster ({person.zone}, {person.level}).{note} "
        "Add them to `roster:` in bot.yaml too, so the file stays the reference."
    )


async def _tick(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    if len(args) != 2:
        return CommandReply("Usage: `/dast roster tick USER N` (or `all`).")
    user = normalise_username(args[0])
    with svc.store.atomic():
        text = tick(svc.store, user, args[1], ctx.user_name, ctx.now)
    return CommandReply(text)


async def _checklist(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    store = svc.store
    if args:
        user = normalise_username(args[0])
        checklist = store.checklist(user)
        if checklist is None:
            return CommandReply(f"{escape_markdown(user)} has no onboarding checklist.")
        checklists = [checklist]
    else:
        checklists = store.open_checklists()
        if not checklists:
            return CommandReply("No onboarding checklist has open items.")
    lines = []
    for checklist in checklists:
        items = checklist["items"]
        left = sum(1 for i in items if not i["done_at"])
        lines.append(f"**{checklist['user']}** ({checklist['zone']}): {left} open item(s)")
        lines += [
            f"  {i['position']}. {escape_markdown(i['item'])} "
            + (f"(done by {i['done_by']})" if i["done_at"] else "(open)")
            for i in items
        ]
    return CommandReply(
        bounded(
            "Onboarding checklists (tick with `/dast roster tick USER N`):",
            lines,
            lambda n: f"_… and {n} more lines: name one person._",
        )
    )


async def _record(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    roster = svc.duty.roster
    if ctx.role != COORDINATOR:
        if args and normalise_username(args[0]) != ctx.user_name:
            return refuse(ctx, "roster record", "Only coordinators can read others' records.")
        args = [ctx.user_name]
    names = {normalise_username(a) for a in args}
    if args:
        people = [p for p in roster if p.user in names]
    else:
        people = [p for p in roster if p.level == "trainee"]
    if args and not people:
        return CommandReply(f"{escape_markdown(', '.join(sorted(names)))} is not on the roster.")
    if not people:
        return CommandReply("There are no trainees on the roster.")
    threshold = svc.config.people.promotion
    records = trainee_records(svc.store, svc.duty.calendar, people, ctx.now)
    lines = [
        f"- {r.user} ({r.zone}): {r.describe(threshold)}"
        + (": **ready for promotion**" if r.reached(threshold) else "")
        for r in records
    ]
    return CommandReply(
        bounded("Trainee records:", lines, lambda n: f"_… and {n} more: name one person._")
    )


async def _history(svc: ShiftServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    if len(args) > 1:
        return CommandReply("Usage: `/dast roster history [USER]`.")
    user = normalise_username(args[0]) if args else None
    changes = svc.store.roster_changes(user)
    if not changes:
        whose = f" for {escape_markdown(user)}" if user else ""
        return CommandReply(f"No roster change is recorded{whose}.")
    lines = [
        f"- {c['at'][:16].replace('T', ' ')} UTC: {c['user']} {c['change']}"
        + (f" ({c['zone']}, {c['level']})" if c["zone"] else "")
        + f" by {c['actor']}"
        for c in reversed(changes)
    ]
    return CommandReply(
        bounded(
            "Roster changes, newest first:",
            lines,
            lambda n: f"_… and {n} older: name one person._",
        )
    )


def register(registry: Registry, svc: ShiftServices) -> None:
    registry.add(
        partial(_credits, svc),
        "shift credits",
        "shift credits [PERIOD]",
        "Shift credit per person (served shifts, questions, escalations); default this month. "
        "Shifters and trainees see their own.",
        "trainee",
    )
    registry.add(
        partial(_load, svc),
        "shift load",
        "shift load",
        "Shifts per person in the last 4 and 12 weeks against the sustainable rate.",
        COORDINATOR,
    )
    registry.add(
        partial(_promote, svc),
        "roster promote",
        "roster promote USER",
        "Make a trainee a 1st-level shifter (recorded with who and when).",
        COORDINATOR,
    )
    registry.add(
        partial(_add, svc),
        "roster add",
        "roster add USER ZONE [shifter|trainee]",
        "Add a person to the roster; the zone's coordinator gets the onboarding checklist.",
        COORDINATOR,
    )
    registry.add(
        partial(_tick, svc),
        "roster tick",
        "roster tick USER N|all",
        "Tick an item of a person's onboarding checklist.",
        COORDINATOR,
    )
    registry.add(
        partial(_checklist, svc),
        "roster checklist",
        "roster checklist [USER]",
        "Onboarding checklists with open items, or one person's.",
        COORDINATOR,
    )
    registry.add(
        partial(_record, svc),
        "roster record",
        "roster record [USER]",
        "Trainees' records against the promotion threshold (a trainee sees their own).",
        "trainee",
    )
    registry.add(
        partial(_history, svc),
        "roster history",
        "roster history [USER]",
        "Roster changes (joined, left, added, promoted) with who and when.",
        COORDINATOR,
    )
