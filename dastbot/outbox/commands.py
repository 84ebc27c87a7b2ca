"""``/dast outbox`` for coordinators: the messages the bot gave up sending, and retry or drop."""

from __future__ import annotations

from functools import partial

from dastbot.kernel.commands import CommandContext, Registry, whole_number
from dastbot.kernel.markdown import escape_markdown, shorten, table
from dastbot.kernel.models import CommandReply
from dastbot.store import Store

LISTED = 20
USAGE = "Usage: `/dast outbox`, `/dast outbox retry ID` or `/dast outbox drop ID`."


def listing(store: Store, limit: int = LISTED) -> str:
    """The dead letters, newest first, at most ``limit`` of them, with a count of the rest."""
    total = store.count_dead_letters()
    if not total:
        return "Nothing is stuck: every message was delivered or is being retried."
    rows = [
        (
            f"#{d.pending.id}",
            f"{d.dead_at:%Y-%m-%d %H:%M} UTC",
            escape_markdown(d.pending.message.channel_id),
            escape_markdown(shorten(d.error, 80)),
            escape_markdown(shorten(" ".join(d.pending.message.message.split()), 60)),
        )
        for d in store.dead_letters(limit)
    ]
    text = f"**Undelivered messages** ({total}, newest first)\n\n" + table(
        ("id", "given up", "to", "why", "message"), rows
    )
    if total > len(rows):
        text += f"\n\n_{total - len(rows)} older ones not shown: `dastbot outbox list`._"
    return text + "\n\n`/dast outbox retry ID` sends one again; `/dast outbox drop ID` forgets it."


def _id(args: list[str]) -> int | None:
    return whole_number(args[1]) if len(args) == 2 else None


async def _outbox(store: Store, ctx: CommandContext, args: list[str]) -> CommandReply:
    if not args:
        return CommandReply(listing(store))
    action = args[0].lower()
    outbox_id = _id(args)
    if action not in ("retry", "drop") or outbox_id is None:
        return CommandReply(USAGE)
    if action == "retry":
        done = store.retry_dead_letter(outbox_id)
        verb = "will be sent again at the next sweep"
    else:
        done = store.drop_dead_letter(outbox_id, ctx.now)
        verb = "is dropped"
    if not done:
        return CommandReply(f"There is no undelivered message #{outbox_id}. {USAGE}")
    return CommandReply(f"Message #{outbox_id} {verb}.")


def register(registry: Registry, store: Store) -> None:
    registry.add(
        partial(_outbox, store),
        "outbox",
        "outbox [retry|drop ID]",
        "Messages the bot could not deliver; send one again or drop it.",
        "coordinator",
    )
