"""Whether the bot can post to every escalation target: each channel and user of contacts.yaml,
checked through the chat seam. ``dastbot check --online`` prints the list and ``dastbot run``
logs it at start and tells the coordinators, so that an escalation never fails on a channel
nobody invited the bot to."""

from __future__ import annotations

from collections.abc import Sequence

from dastbot.chat.base import Chat
from dastbot.escalations.contacts import Contacts


def destinations(contacts: Contacts) -> list[tuple[str, str]]:
    """(target id, channel name or ``@user``) for every place an escalation may be posted."""
    out: list[tuple[str, str]] = []
    for target in contacts:
        if target.channel:
            out.append((target.id, target.channel))
        out.extend((target.id, f"@{user}") for user in target.users)
    return out


async def unreachable(chat: Chat, contacts: Contacts, extra: Sequence[str] = ()) -> list[str]:
    """One line per destination the bot cannot post to, naming the target and the fix."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for target_id, where in [*(("bot", e) for e in extra), *destinations(contacts)]:
        if where not in seen:
            seen[where] = await chat.check_destination(where)
        if seen[where]:
            label = "" if target_id == "bot" else f"escalation target {target_id}: "
            problems.append(label + seen[where])
    return problems
