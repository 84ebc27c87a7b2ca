"""The escalation commands: /dast escalate, escalation replied|close|cancel, escalations. The
handlers get the ``Desk`` (which holds the store, contacts and sites) and nothing else."""

from __future__ import annotations

from functools import partial

from dastbot.escalations.desk import Desk
from dastbot.escalations.render import listing
from dastbot.kernel.commands import CommandContext, Registry, thread_argument
from dastbot.kernel.models import CommandReply


async def _escalate(desk: Desk, ctx: CommandContext, args: list[str]) -> CommandReply:
    thread, rest = thread_argument(ctx, args)
    if not thread:
        return CommandReply("Run `/dast escalate` in the question's thread, or add its link.")
    return CommandReply(await desk.open(thread, rest, ctx.user_name, ctx.now))


async def _escalation(desk: Desk, ctx: CommandContext, args: list[str]) -> CommandReply:
    thread, rest = thread_argument(ctx, args)
    with desk.store.atomic():
        return CommandReply(desk.by_hand(thread, rest, ctx.user_name, ctx.now))


async def _escalations(desk: Desk, ctx: CommandContext, args: list[str]) -> CommandReply:
    return CommandReply(listing(desk.store.escalations(("open",)), desk.contacts, ctx.now))


def register(registry: Registry, desk: Desk) -> None:
    registry.add(
        partial(_escalate, desk),
        "escalate",
        "escalate TARGET [reason…] [ticket=GGUS-123456]",
        "Escalate this thread to a cloud, a site (its cloud) or an expert group.",
        "trainee",
    )
    registry.add(
        partial(_escalation, desk),
        "escalation",
        "escalation replied|close|cancel [ID]",
        "Mark this thread's escalation (or ID) as replied, closed or cancelled.",
        "trainee",
    )
    registry.add(
        partial(_escalations, desk),
        "escalations",
        "escalations",
        "Open escalations, oldest first, with age and next reminder.",
    )
