"""The escalation messages: what the bot posts to a target, to DAST and in the user's thread.

This module owns ``escalation_post`` (the post in the target's channel), ``reminder_post``,
``deadline_post`` (the note to the coordinators), ``listing`` (``/dast escalations``), and the
short texts around them: ``summarise_identifiers``, ``escalated_note`` (the user thread's
confirmation), ``reply_relay`` (a target's reply, quoted for the shifter) and ``handover_lines``.

Everything user-provided is escaped (``kernel.markdown.escape_markdown``) and bounded; the target's
``users`` are mentioned only when they are valid usernames. Times for a target are in its own zone;
times for DAST shifters (who sit in many zones) are UTC. Pure: no I/O, no wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from dastbot.answering.extract import extract
from dastbot.escalations.contacts import USERNAME_RE, Contacts, Target
from dastbot.escalations.reminders import check_target, next_due, schedule
from dastbot.escalations.workhours import WorkingHours, describe, working_hours_between
from dastbot.kernel.markdown import bounded, escape_markdown, mention, one_line, shorten
from dastbot.kernel.models import Escalation, as_utc

__all__ = [
    "MAX_QUOTE_CHARS",
    "MAX_QUOTE_LINES",
    "MAX_REASON_CHARS",
    "RELAY_LIMIT",
    "deadline_post",
    "escalated_note",
    "escalation_post",
    "handover_lines",
    "listing",
    "reminder_post",
    "reply_relay",
    "summarise_identifiers",
]

MAX_QUOTE_CHARS = 2000
MAX_QUOTE_LINES = 30
MAX_REASON_CHARS = 500
RELAY_LIMIT = 1500
"""How much of a target's reply is quoted back in the user's thread."""
LISTED = 300
"""At most this many escalations are composed for ``listing``: a row is never shorter than 60
characters, so more never fit in one post."""


def _quote(text: str) -> str:
    lines = text.strip().replace("\r\n", "\n").split("\n")
    cut = len(lines) > MAX_QUOTE_LINES
    body = shorten("\n".join(lines[:MAX_QUOTE_LINES]), MAX_QUOTE_CHARS)
    if cut and not body.endswith("\u2026"):
        body += "\n\u2026"
    return "\n".join(
        "> " + line if line.strip() else ">" for line in escape_markdown(body).split("\n")
    )


def _link(url: str | None, label: str) -> str | None:
    if not url:
        return None
    url = url.strip()
    if re.fullmatch(r"https?://[^\s<>\"'`]+", url):
        safe = url.replace("(", "%28").replace(")", "%29").replace("@", "%40")
        return f"[{label}]({safe})"
    return escape_markdown(url)


def _mentions(target: Target | None) -> str:
    if target is None:
        return ""
    return " ".join(f"@{u}" for u in target.users if USERNAME_RE.match(u))


def _hours(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} working hour" + ("" if text == "1" else "s")


def _local(instant: datetime, wh: WorkingHours) -> str:
    """``Mon 09 Mar 09:00 Europe/Berlin``: an instant in the target's own zone."""
    return instant.astimezone(wh.zone).strftime("%a %d %b %H:%M ") + wh.timezone


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %d %b %H:%M UTC")


def _target_name(target: Target) -> str:
    return escape_markdown(target.name)


def escalation_post(
    question_text: str,
    identifiers_summary: str,
    reason: str,
    permalink: str | None,
    ticket: str | None,
    opened_by: str,
    *,
    target: Target | None = None,
) -> str:
    """The post DAST's bot makes in the target's channel when escalating a user question.

    Everything but ``target`` is user-provided and is escaped (``escape_markdown``); the question
    is quoted and cut to ``MAX_QUOTE_LINES`` lines / ``MAX_QUOTE_CHARS`` characters. With a
    ``target`` the post names it, mentions its ``users`` and states the reminder policy.
    """
    heading = "**DAST escalation**"
    if target is not None:
        heading += f" to {_target_name(target)}"
    lines = [f"{heading} (escalated by {one_line(opened_by, 60)})"]
    mentions = _mentions(target)
    if mentions:
        lines.append(mentions)
    lines.append(f"**Why:** {one_line(reason, MAX_REASON_CHARS) or 'not given'}")
    if identifiers_summary.strip():
        lines.append(f"**Identifiers:** {one_line(identifiers_summary, 1000)}")
    if ticket and ticket.strip():
        lines.append(f"**Ticket:** {one_line(ticket, 100)}")
    link = _link(permalink, "user thread")
    lines.append("**Question**" + (f" ({link}):" if link else ":"))
    lines.append(_quote(question_text) if question_text.strip() else "> (no text)")
    closing = "Please reply in this thread; DAST relays the answer to the user."
    if target is not None:
        offsets = target.policy.reminder_offsets()
        if offsets:
            closing += f" Reminders start after {_hours(offsets[0])}"
        else:
            closing += " No reminders are scheduled"
        closing += (
            f"; DAST follows up after {_hours(target.policy.deadline_hours)}"
            f" (your working hours: {describe(target.working_hours)})."
        )
    lines.append(closing)
    return "\n".join(lines)


def _status_line(esc: Escalation, target: Target, now: datetime) -> str:
    wh = target.working_hours
    age = working_hours_between(wh, esc.opened_at, now)
    text = (
        f"Escalated {_local(esc.opened_at, wh)} by {one_line(esc.opened_by, 60)}, "
        f"{_hours(age)} ago."
    )
    reason = one_line(esc.reason, MAX_REASON_CHARS).rstrip(".") or "not given"
    text += f" Why: {reason}."
    if esc.ticket:
        text += f" Ticket: {one_line(esc.ticket, 100)}."
    return text


def reminder_post(
    esc: Escalation,
    target: Target,
    now: datetime,
    *,
    number: int | None = None,
    permalink: str | None = None,
) -> str:
    """A reminder for the target (posted in the escalation's thread in their channel).

    ``number`` is the reminder's number, as in ``Reminder.number``; by default the one after
    those already sent. The target's ``users`` are mentioned.
    """
    check_target(esc, target)
    now = as_utc(now, "now")
    wh = target.working_hours
    number = esc.reminders_sent + 1 if number is None else number
    plan = schedule(target, esc.opened_at)
    head = f"**Reminder {number}** (escalation {one_line(esc.id, 40)})"
    mentions = _mentions(target)
    lines = [
        f"{head}: {mentions + ' ' if mentions else ''}{_target_name(target)}, "
        "DAST is still waiting for your reply.",
        _status_line(esc, target, now),
    ]
    upcoming = [due for due in plan.reminders[number:] if due > now]
    after = f"Next reminder {_local(upcoming[0], wh)}; " if upcoming else ""
    lines.append(
        f"{after}deadline {_local(plan.deadline, wh)} "
        f"({_hours(target.policy.deadline_hours)} after escalation)."
    )
    link = _link(permalink, "escalation thread")
    if link:
        lines.append(f"Thread: {link}")
    return "\n".join(lines)


def deadline_post(
    esc: Escalation, target: Target, now: datetime, *, permalink: str | None = None
) -> str:
    """The note to DAST that ``target`` did not reply by the deadline, with next steps."""
    check_target(esc, target)
    now = as_utc(now, "now")
    wh = target.working_hours
    plan = schedule(target, esc.opened_at)
    reminders = esc.reminders_sent
    lines = [
        f"**No reply by the deadline** (escalation {one_line(esc.id, 40)}): "
        f"{_target_name(target)} has not replied within "
        f"{_hours(target.policy.deadline_hours)} (deadline {_local(plan.deadline, wh)}).",
        _status_line(esc, target, now) + f" Reminders sent: {reminders}.",
    ]
    if esc.ticket:
        step = "follow up on the ticket, or ask the DAST coordinators to chase the target"
    elif target.kind == "expert-group":
        step = "ask the DAST coordinators to raise it with the group's conveners"
    else:
        step = "open a GGUS ticket for the site or cloud, or ask the DAST coordinators to chase"
    lines.append(f"Next step: {step}; tell the user it is still being followed up.")
    link = _link(permalink, "escalation thread")
    if link:
        lines.append(f"Thread: {link}")
    return "\n".join(lines)


def _next_text(esc: Escalation, target: Target, now: datetime) -> str:
    plan = schedule(target, esc.opened_at)
    due = next_due(esc, target, now)
    if due is None:
        return "deadline passed, DAST notified"
    label = "deadline"
    if due < plan.deadline:
        label = f"reminder {sum(1 for d in plan.reminders if d <= due)}"
    return f"{label} now" if due <= now else f"{label} {_utc_text(due)}"


def listing(
    escalations: Iterable[Escalation],
    targets: Contacts | Mapping[str, Target],
    now: datetime,
) -> str:
    """Open escalations, oldest first: target, age in the target's working hours, reminders
    sent and what happens next. Times are UTC (DAST shifters sit in many zones)."""
    now = as_utc(now, "now")
    lookup: Mapping[str, Target] = (
        {t.id: t for t in targets} if isinstance(targets, Contacts) else targets
    )
    rows = sorted((e for e in escalations if e.state == "open"), key=lambda e: (e.opened_at, e.id))
    if not rows:
        return "No open escalations."
    head = "\n".join(
        [
            f"**Open escalations** ({len(rows)}, oldest first)",
            "",
            "| Escalation | Target | Opened | Age | Reminders | Next | Why |",
            "|---|---|---|---|---|---|---|",
        ]
    )
    lines = []
    for esc in rows[:LISTED]:
        target = lookup.get(esc.target_id)
        if target is None:
            name = f"unknown target {one_line(esc.target_id, 40)}"
            age, upcoming = "?", "?"
        else:
            name = _target_name(target)
            age = _hours(working_hours_between(target.working_hours, esc.opened_at, now))
            upcoming = _next_text(esc, target, now)
        cells = [
            one_line(esc.id, 40),
            name,
            _utc_text(esc.opened_at),
            age,
            str(esc.reminders_sent),
            upcoming,
            one_line(esc.reason, 80),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    unlisted = len(rows) - len(lines)
    return bounded(
        head,
        lines,
        lambda n: f"\u2026 and {n + unlisted} newer ones not shown (the oldest come first).",
    )


def summarise_identifiers(text: str) -> str:
    """The identifiers in a question (tasks, jobs, datasets, sites, errors), at most twelve."""
    ids = extract(text)
    parts = [f"task {t}" for t in ids.task_ids] + [f"job {j}" for j in ids.job_ids]
    parts += list(ids.dids) + list(ids.sites) + list(ids.rses) + list(ids.releases)
    parts += [f"{kind} error {code}" for kind, code in ids.error_codes]
    return ", ".join(parts[:12])


def escalated_note(esc: Escalation, target: Target, where: str, note: str) -> str:
    """The confirmation in the user's thread: to whom, where, why, and that reminders follow."""
    told = f"Escalated to **{escape_markdown(target.name)}** ({where}) as {esc.id}"
    told += f" ({note})" if note else ""
    told += f": {escape_markdown(esc.reason)}."
    if esc.ticket:
        told += f" Ticket: {escape_markdown(esc.ticket)}."
    return told + " I will remind them during their working hours until they reply."


def reply_relay(
    esc: Escalation, target_name: str, replier: str, message: str, asker: str = ""
) -> str:
    """A target's reply, quoted in the user's thread for the asker and the escalating shifter."""
    quoted = "\n".join(f"> {line}" for line in escape_markdown(message[:RELAY_LIMIT]).splitlines())
    people = " ".join(dict.fromkeys(mention(u) for u in (asker, esc.opened_by) if u))
    return (
        f"{people}: **{escape_markdown(target_name)}** replied to {esc.id} "
        f"({escape_markdown(replier)}):\n{quoted}"
    )


def handover_lines(
    pairs: Iterable[tuple[Escalation, Target]], now: datetime, permalink: Callable[[str], str]
) -> list[str]:
    """The handover note's section: open escalations with their wall-clock age."""
    rows = list(pairs)
    lines = [f"Open escalations: {len(rows)}"]
    for esc, target in rows:
        age_h = (now - esc.opened_at) / timedelta(hours=1)
        lines.append(
            f"- {esc.id} to {escape_markdown(target.name)}, {age_h:.0f} h old, "
            f"{esc.reminders_sent} reminder(s): [thread]({permalink(esc.thread_id)})"
        )
    return lines
