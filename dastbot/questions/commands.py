"""The foundation's /dast commands: help, the knowledge base from chat, and question status."""

from __future__ import annotations

import re

import yaml

from dastbot.answering.extract import extract
from dastbot.answering.knowledge import KnowledgeError, load_text
from dastbot.kernel.commands import CommandContext, Registry, thread_argument
from dastbot.kernel.markdown import escape_markdown, table
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.questions.lifecycle import OPEN_STATES


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
        rows = [(m.entry_id, escape_markdown(m.title), f"{m.score:.2f}") for m in ranking.matches]
        verdict = (
            f"I would abstain ({ranking.reason}; threshold {knowledge.threshold:.2f})."
            if ranking.abstain
            else f"I would answer with `{ranking.matches[0].entry_id}`."
        )
        return CommandReply(table(("entry", "title", "score"), rows) + "\n\n" + verdict)

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
        "kb propose",
        "kb propose [thread]",
        "Draft a knowledge-base entry from a resolved thread and post it for review.",
        role="trainee",
    )
    async def _kb_propose(ctx: CommandContext, args: list[str]) -> CommandReply:
        thread, _ = thread_argument(ctx, args)
        if not thread:
            return CommandReply("Run `/dast kb propose` in a resolved question's thread.")
        store = ctx.router.store
        question = store.question(thread)
        if question is None:
            return CommandReply("I do not track that thread.")
        if question["state"] != "resolved":
            return CommandReply(
                f"This question is {question['state']}; resolve it first (`/dast resolve`)."
            )
        answers = [
            str(e["data"].get("text", ""))
            for e in store.events(thread, kind="human_reply")
            if e["data"].get("text")
        ]
        if not answers:
            return CommandReply("Nobody answered in this thread, so there is nothing to propose.")
        draft = draft_entry(str(question["text"]), answers)
        try:
            load_text(draft, "proposal.yaml")
        except KnowledgeError as exc:
            return CommandReply("The draft did not validate: " + "; ".join(exc.errors))
        link = ctx.router.chat.permalink(thread)
        text = (
            f"{ctx.user_name} proposes a knowledge-base entry from [this thread]({link}). "
            "Review it, pick the category, and add it to `knowledge/`:\n"
            f"```yaml\n{draft}```"
        )
        channel = ctx.router.config.mattermost.coordinators_channel
        store.enqueue(
            OutMessage(channel, text, key=f"propose:{thread}:{ctx.now.isoformat()}"), ctx.now
        )
        store.record("kb_proposed", ctx.now, thread, ctx.user_name)
        return CommandReply(f"Draft posted for review in ~{channel}:\n```yaml\n{draft}```")

    @registry.command(
        "status",
        "status",
        "Open questions and escalations, oldest first (yours, or all for shifters).",
    )
    async def _status(ctx: CommandContext, args: list[str]) -> CommandReply:
        rows = ctx.router.store.questions(OPEN_STATES)
        mine = ctx.role == "user"
        if mine:
            rows = [r for r in rows if r["author_id"] == ctx.user_id]
        threads = {r["thread_id"] for r in rows}
        escalations = [
            e
            for e in ctx.router.store.escalations(("open", "replied"))
            if not mine or e.thread_id in threads
        ]
        if not rows and not escalations:
            return CommandReply("No open questions or escalations.")
        parts: list[str] = []
        if rows:
            listed = [
                (
                    f"[{r['thread_id']}]({ctx.router.chat.permalink(r['thread_id'])})",
                    r["state"],
                    r["author_name"],
                    r["created_at"][:16].replace("T", " ") + " UTC",
                    escape_markdown((r["text"] or "")[:60]),
                )
                for r in rows
            ]
            parts.append(f"**Open questions** ({len(rows)}, oldest first)")
            parts.append(table(("thread", "state", "asked by", "since", "question"), listed))
        if escalations:
            listed = [
                (
                    e.id,
                    e.target_id,
                    e.state,
                    f"{e.opened_at:%Y-%m-%d %H:%M} UTC",
                    f"[thread]({ctx.router.chat.permalink(e.thread_id)})",
                )
                for e in escalations
            ]
            parts.append(f"**Escalations** ({len(escalations)}, oldest first)")
            parts.append(table(("id", "target", "state", "opened", "question"), listed))
        return CommandReply("\n\n".join(parts))


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:6]
    return "-".join(words) or "entry"


def draft_entry(question: str, answers: list[str]) -> str:
    """A YAML knowledge-base entry drafted from a solved question and the answers it got."""
    ids = extract(question)
    first = " ".join(question.split())
    title = first[:80].rstrip(" ,.;:?!") or "Untitled"
    patterns = [line[:200] for line in ids.error_lines[:4]]
    if len(patterns) < 3:
        sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+|\n", question) if s.strip()]
        patterns += [s[:200] for s in sentences if s[:200] not in patterns][: 3 - len(patterns)]
    ask_for = [
        fact
        for fact, present in (
            ("task_id", bool(ids.task_ids or ids.job_ids)),
            ("error", bool(ids.error_lines or ids.error_codes)),
            ("dataset", bool(ids.dids)),
            ("site", bool(ids.sites or ids.rses)),
        )
        if present
    ]
    entry = {
        "id": f"proposed-{_slug(title)}",
        "title": title,
        "category": "other",
        "patterns": patterns or [title],
        "answer": "\n\n".join(a.strip() for a in answers),
        "escalate_to": "none",
    }
    if ask_for:
        entry["ask_for"] = ask_for
    return yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=100)
