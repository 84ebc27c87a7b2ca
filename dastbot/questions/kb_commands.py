"""The knowledge base from chat: /dast kb search, kb reload (coordinators) and kb propose, which
drafts an entry from a resolved thread for review (the drafting itself: ``kb_draft``)."""

from __future__ import annotations

from functools import partial

from dastbot.answering.knowledge import KnowledgeError, load_text
from dastbot.kernel.commands import CommandContext, Registry, thread_argument
from dastbot.kernel.events import EventKind
from dastbot.kernel.markdown import escape_markdown, table
from dastbot.kernel.models import CommandReply, OutMessage
from dastbot.questions.kb_draft import draft_entry, solution
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
    thread, rest = thread_argument(ctx, args)
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
    marked = {arg.rstrip("/").rsplit("/", 1)[-1] for arg in rest}
    answer = solution(store.events(thread), marked)
    if answer is None:
        return CommandReply("Nobody answered in this thread, so there is nothing to propose.")
    draft = draft_entry(str(question["text"]), answer)
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
        "kb propose [thread] [REPLY]",
        "Draft a knowledge-base entry from a resolved thread and post it for review; its answer "
        "is REPLY (a link to the reply that solved it), else the reply the asker confirmed, else "
        "the last reply before it was resolved.",
        "trainee",
    )
