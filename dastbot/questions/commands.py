"""The question commands: help, status, and moving a question by hand (take, release, resolve,
reopen). Every move goes through the lifecycle's one ``transition``; each refusal is audited."""

from __future__ import annotations

from functools import partial

from dastbot.kernel.commands import CommandContext, Registry, refuse, thread_argument, whole_number
from dastbot.kernel.markdown import escape_markdown, mention, one_line, table
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.questions import lifecycle as q
from dastbot.questions.lifecycle import OPEN_STATES
from dastbot.questions.services import QuestionServices
from dastbot.store import iso


async def _help(svc: QuestionServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    return CommandReply(svc.registry.help(ctx.role, args))


STATUS_PAGE = 25
"""Rows per page of /dast status (questions and escalations each)."""
_URGENCY = {q.WAITING: 0, q.ESCALATED: 1, q.CLAIMED: 2, q.ANSWERED: 3}


def _page(args: list[str]) -> int | None:
    if not args:
        return 1
    return whole_number(args[0], 1, 999_999) if len(args) == 1 else None


async def _status(svc: QuestionServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    page = _page(args)
    if page is None:
        return CommandReply("Usage: `/dast status [PAGE]`, e.g. `/dast status 2`.")
    rows = svc.store.questions(OPEN_STATES)
    mine = ctx.role == "user"
    if mine:
        rows = [r for r in rows if r["author_id"] == ctx.user_id]
    rows.sort(key=lambda r: (_URGENCY.get(r["state"], 9), r["created_at"]))
    threads = {r["thread_id"] for r in rows}
    escalations = [
        e for e in svc.store.escalations(("open", "replied")) if not mine or e.thread_id in threads
    ]
    if not rows and not escalations:
        return CommandReply("No open questions or escalations.")
    first = (page - 1) * STATUS_PAGE
    shown_rows = rows[first : first + STATUS_PAGE]
    shown_escalations = escalations[first : first + STATUS_PAGE]
    pages = max(-(-len(rows) // STATUS_PAGE), -(-len(escalations) // STATUS_PAGE))
    if not shown_rows and not shown_escalations:
        return CommandReply(f"There are only {pages} page(s): `/dast status {pages}`.")
    parts: list[str] = []
    if shown_rows:
        listed = [
            (
                f"[{r['thread_id']}]({svc.permalink(r['thread_id'])})",
                r["state"],
                escape_markdown(r["author_name"] or ""),
                r["created_at"][:16].replace("T", " ") + " UTC",
                one_line(r["text"] or "", 60),
            )
            for r in shown_rows
        ]
        parts.append(f"**Open questions** ({len(rows)}, waiting for a person first)")
        parts.append(table(("thread", "state", "asked by", "since", "question"), listed))
    if shown_escalations:
        listed = [
            (
                e.id,
                e.target_id,
                e.state,
                f"{e.opened_at:%Y-%m-%d %H:%M} UTC",
                f"[thread]({svc.permalink(e.thread_id)})",
            )
            for e in shown_escalations
        ]
        parts.append(f"**Escalations** ({len(escalations)}, oldest first)")
        parts.append(table(("id", "target", "state", "opened", "question"), listed))
    if pages > 1:
        nxt = f"; next: `/dast status {page + 1}`" if page < pages else ""
        parts.append(f"_Page {page} of {pages}{nxt}._")
    return CommandReply("\n\n".join(parts))


_MOVES: dict[str, tuple[q.Event, str]] = {
    "take": ("claim", "took"),
    "release": ("release", "released"),
    "resolve": ("resolve", "resolved"),
    "reopen": ("reopen", "reopened"),
}


async def _move(
    svc: QuestionServices, name: str, ctx: CommandContext, args: list[str]
) -> CommandReply:
    event, verb = _MOVES[name]
    thread, _ = thread_argument(ctx, args)
    if not thread:
        return CommandReply(
            f"Run `/dast {name}` in the question's thread, or give its link: "
            f"`/dast {name} {svc.permalink('<post id>')}`."
        )
    store = svc.store
    with store.atomic():
        question = store.question(thread)
        if question is None:
            return CommandReply("I do not track that thread.")
        holder = question["claimed_by"]
        if event == "release" and holder not in (ctx.user_name, None) and ctx.role != "coordinator":
            return refuse(ctx, name, f"{holder} took this; only they can release it.")
        try:
            new = q.transition(store, thread, event, ctx.now, ctx.user_name)
        except q.InvalidTransition as exc:
            return CommandReply(f"{str(exc).capitalize()}.")
        text = f"{mention(ctx.user_name)} {verb} this question."
        key = f"{name}:{thread}:{iso(ctx.now)}"
        store.enqueue(OutMessage(question["channel_id"], text, thread, key), ctx.now)
    return CommandReply(f"Done: the question is now {new}.")


def register(registry: Registry, svc: QuestionServices) -> None:
    registry.add(
        partial(_help, svc),
        "help",
        "help [command]",
        "Show the commands you can use, or one in detail.",
    )
    registry.add(
        partial(_status, svc),
        "status",
        "status [PAGE]",
        "Open questions and escalations, oldest first (yours, or all for shifters).",
    )
    registry.add(
        partial(_move, svc, "take"),
        "take",
        "take [thread]",
        "Take a question: you answer it.",
        "trainee",
    )
    registry.add(
        partial(_move, svc, "release"),
        "release",
        "release [thread]",
        "Give a question back.",
        "trainee",
    )
    registry.add(
        partial(_move, svc, "resolve"),
        "resolve",
        "resolve [thread]",
        "Mark a question resolved.",
        "trainee",
    )
    registry.add(
        partial(_move, svc, "reopen"),
        "reopen",
        "reopen [thread]",
        "Reopen a resolved question.",
        "trainee",
    )
