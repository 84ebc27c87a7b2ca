"""The knowledge base from chat: /dast kb search, kb reload (coordinators) and kb propose, which
drafts an entry from a resolved thread for review."""

from __future__ import annotations

import re
from functools import partial

import yaml

from dastbot.answering.extract import extract
from dastbot.answering.knowledge import KnowledgeError, load_text
from dastbot.kernel.commands import CommandContext, Registry, thread_argument
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, table
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.questions.lifecycle import RESOLVED
from dastbot.questions.services import QuestionServices


async def _kb_search(svc: QuestionServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    text = " ".join(args).strip()
    if not text:
        return CommandReply("Usage: `/dast kb search TEXT`, e.g. `/dast kb search task exhausted`.")
    knowledge = svc.knowledge
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


async def _kb_reload(svc: QuestionServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    knowledge = svc.knowledge
    try:
        kb = await knowledge.reload_async()
    except KnowledgeError as exc:
        listed = "\n".join(f"- {e}" for e in exc.errors[:30])
        more = f"\n- … and {len(exc.errors) - 30} more" if len(exc.errors) > 30 else ""
        return CommandReply(
            f"The knowledge base has {len(exc.errors)} error(s); the old one "
            f"({len(knowledge.kb)} entries) stays in use:\n{listed}{more}"
        )
    svc.store.record(EventKind.KB_RELOADED, ctx.now, actor=ctx.user_name, entries=len(kb))
    return CommandReply(f"Reloaded the knowledge base: {len(kb)} entries.")


async def _kb_propose(svc: QuestionServices, ctx: CommandContext, args: list[str]) -> CommandReply:
    thread, _ = thread_argument(ctx, args)
    if not thread:
        return CommandReply("Run `/dast kb propose` in a resolved question's thread.")
    store = svc.store
    question = store.question(thread)
    if question is None:
        return CommandReply("I do not track that thread.")
    if question["state"] != RESOLVED:
        return CommandReply(
            f"This question is {question['state']}; resolve it first (`/dast resolve`)."
        )
    answers = [
        str(e["data"].get("text", ""))
        for e in store.events(thread, kind=EventKind.HUMAN_REPLY)
        if e["data"].get("text")
    ]
    if not answers:
        return CommandReply("Nobody answered in this thread, so there is nothing to propose.")
    draft = draft_entry(str(question["text"]), answers)
    try:
        load_text(draft, "proposal.yaml")
    except KnowledgeError as exc:
        return CommandReply("The draft did not validate: " + "; ".join(exc.errors))
    link = svc.permalink(thread)
    text = (
        f"{ctx.user_name} proposes a knowledge-base entry from [this thread]({link}). "
        "Review it, pick the category, and add it to `knowledge/`:\n"
        f"```yaml\n{draft}```"
    )
    channel = svc.config.mattermost.coordinators_channel
    store.enqueue(OutMessage(channel, text, key=f"propose:{thread}:{ctx.now.isoformat()}"), ctx.now)
    store.record(EventKind.KB_PROPOSED, ctx.now, thread, ctx.user_name)
    return CommandReply(f"Draft posted for review in ~{channel}:\n```yaml\n{draft}```")


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


def register(registry: Registry, svc: QuestionServices) -> None:
    registry.add(
        partial(_kb_search, svc),
        "kb search",
        "kb search TEXT",
        "Show the knowledge-base entries that best match TEXT.",
    )
    registry.add(
        partial(_kb_reload, svc),
        "kb reload",
        "kb reload",
        "Reload the knowledge base from disk; on errors the current one stays in use.",
        "coordinator",
    )
    registry.add(
        partial(_kb_propose, svc),
        "kb propose",
        "kb propose [thread]",
        "Draft a knowledge-base entry from a resolved thread and post it for review.",
        "trainee",
    )
