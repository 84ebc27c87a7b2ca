"""The foundation's /dast commands: help, the knowledge base from chat, and question status."""

from __future__ import annotations

from dastbot.answers import escape_md
from dastbot.commands import CommandContext, Registry, table
from dastbot.knowledge import KnowledgeError
from dastbot.models import CommandReply
from dastbot.questions import OPEN_STATES


def register_core(registry: Registry) -> None:
    @registry.command("help", "help [command]", "Show the commands you can use, or one in detail.")
    async def _help(ctx: CommandContext, args: list[str]) -> CommandReply:
        return CommandReply(registry.help(ctx.role, args))

    @registry.command(
        "kb search", "kb search TEXT", "Show the knowledge-base entries that best match TEXT."
    )
    async def _kb_search(ctx: CommandContext, args: list[str]) -> CommandReply:
        text = " ".join(args).strip()
        if not text:
            return CommandReply(
                "Usage: `/dast kb search TEXT`, e.g. `/dast kb search task exhausted`."
            )
        knowledge = ctx.router.knowledge
        ranking = knowledge.rank(text, top=5)
        if not ranking.matches:
            return CommandReply("No entry matches that at all.")
        rows = [(m.entry_id, escape_md(m.title), f"{m.score:.2f}") for m in ranking.matches]
        verdict = (
            f"I would abstain ({ranking.reason}; threshold {knowledge.threshold:.2f})."
            if ranking.abstain
            else f"I would answer with `{ranking.matches[0].entry_id}`."
        )
        return CommandReply(table(rows, ("entry", "title", "score")) + "\n\n" + verdict)

    @registry.command(
        "kb reload",
        "kb reload",
        "Reload the knowledge base from disk; on errors the current one stays in use.",
        role="coordinator",
    )
    async def _kb_reload(ctx: CommandContext, args: list[str]) -> CommandReply:
        knowledge = ctx.router.knowledge
        try:
            kb = knowledge.reload()
        except KnowledgeError as exc:
            listed = "\n".join(f"- {e}" for e in exc.errors[:30])
            more = f"\n- … and {len(exc.errors) - 30} more" if len(exc.errors) > 30 else ""
            return CommandReply(
                f"The knowledge base has {len(exc.errors)} error(s); the old one "
                f"({len(knowledge.kb)} entries) stays in use:\n{listed}{more}"
            )
        ctx.router.store.record("kb_reloaded", ctx.now, actor=ctx.user_name, entries=len(kb))
        return CommandReply(f"Reloaded the knowledge base: {len(kb)} entries.")

    @registry.command(
        "status", "status", "Open questions, oldest first (yours, or all for shifters)."
    )
    async def _status(ctx: CommandContext, args: list[str]) -> CommandReply:
        rows = ctx.router.store.questions(OPEN_STATES)
        if ctx.role == "user":
            rows = [r for r in rows if r["author_id"] == ctx.user_id]
        if not rows:
            return CommandReply("No open questions.")
        listed = [
            (
                f"[{r['thread_id']}]({ctx.router.chat.permalink(r['thread_id'])})",
                r["state"],
                r["author_name"],
                r["created_at"][:16].replace("T", " ") + " UTC",
                escape_md((r["text"] or "")[:60]),
            )
            for r in rows
        ]
        return CommandReply(table(listed, ("thread", "state", "asked by", "since", "question")))
