"""The knowledge base in use (reloadable off the event loop) and how an answer or an abstention
reads in chat."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from dastbot.answering.extract import (
    Identifiers,
    ask_sentence,
    extract,
    identifier_links,
    missing_facts,
)
from dastbot.answering.knowledge import Entry, KnowledgeBase, load_knowledge
from dastbot.answering.matcher import Matcher, Ranking
from dastbot.answering.rebuild import Loaded, build_in_child, release
from dastbot.kernel.config import Config
from dastbot.kernel.markdown import escape_markdown, shorten
from dastbot.kernel.models import Button

HELPED_BUTTON = "helped"
NOT_HELPED_BUTTON = "nothelped"
TAKE_BUTTON = "take"
RESOLVE_BUTTON = "resolve"
SHIFTER_BUTTONS = (
    Button(TAKE_BUTTON, "Take (shifters)"),
    Button(RESOLVE_BUTTON, "Resolve (shifters)"),
)
"""On every bot post that starts or moves a question: what a shifter does with it."""
FEEDBACK_BUTTONS = (
    Button(HELPED_BUTTON, "Helped", style="good"),
    Button(NOT_HELPED_BUTTON, "Still need help", style="danger"),
)
"""The asker's two answers when the bot asks whether an answer helped."""


class LiveKnowledge:
    """The knowledge base and matcher currently answering; replaced whole on reload.

    ``reload_async`` reads, validates and indexes the files in a child process (``rebuild``) and
    swaps the result in with one assignment on the event loop, so questions keep being answered
    by the old base meanwhile, within milliseconds of their usual time (bench/bench_reload.py).
    One reload runs at a time; a failed one leaves the current base in use.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        path: Path,
        threshold: float,
        margin: float,
        matcher: Matcher | None = None,
    ) -> None:
        """``matcher``: one already built for ``kb`` with this threshold and margin."""
        self.path = path
        self.threshold = threshold
        self.margin = margin
        self.current = Loaded(kb, matcher or Matcher(kb, threshold, margin))
        self._reloading = asyncio.Lock()

    @property
    def kb(self) -> KnowledgeBase:
        return self.current.kb

    @property
    def matcher(self) -> Matcher:
        return self.current.matcher

    @classmethod
    def load(cls, path: Path, config: Config) -> LiveKnowledge:
        kb = load_knowledge(path)
        return cls(kb, path, config.matcher.threshold, config.matcher.margin)

    async def reload_async(self) -> KnowledgeBase:
        """Load again from disk, off the event loop; on KnowledgeError the current base stays in
        use. A reload asked for during another waits for it."""
        async with self._reloading:
            loaded = await build_in_child(self.path, self.threshold, self.margin)
            replaced, self.current = self.current, loaded
            await release(replaced.matcher)
            return loaded.kb

    def rank(self, text: str, top: int = 3) -> Ranking:
        return self.current.matcher.rank(text, top)


@dataclass(frozen=True)
class Answer:
    text: str
    buttons: tuple[Button, ...]


def _links_line(ids: Identifiers, config: Config) -> str:
    pairs = identifier_links(ids, config.links.bigpanda, config.links.rucio)
    return " · ".join(f"[{escape_markdown(label)}]({url})" for label, url in pairs)


def render_answer(entry: Entry, score: float, question: str, config: Config) -> Answer:
    ids = extract(question)
    lines = [f"#### {entry.title}", entry.answer]
    if entry.links:
        docs = " · ".join(f"[{link.title}]({link.url})" for link in entry.links)
        lines.append(f"**Docs:** {docs}")
    found = _links_line(ids, config)
    if found:
        lines.append(f"**From your message:** {found}")
    ask = ask_sentence(missing_facts(question, entry.ask_for, ids))
    if ask:
        lines.append(ask)
    lines.append(
        f"_Match confidence {score:.0%} (entry `{entry.id}`). If this did not help, press "
        '**Did not help** or reply "did not help" and I will hand it to a shifter._'
    )
    buttons = (
        Button(HELPED_BUTTON, "Helped", style="good"),
        Button(NOT_HELPED_BUTTON, "Did not help", style="danger"),
        *SHIFTER_BUTTONS,
    )
    return Answer("\n\n".join(lines), buttons)


PICK_BUTTON = "pick"
NONE_FIT_BUTTON = "nonefits"


def _gist(entry: Entry, limit: int = 140) -> str:
    """The first sentence of an entry's answer (trusted markdown), shortened: enough to
    recognise it."""
    gist = shorten(" ".join(entry.answer.split()).split(". ")[0], limit)
    return gist + "`" if gist.count("`") % 2 else gist


def render_choices(ranking: Ranking, kb: KnowledgeBase) -> Answer | None:
    """A near tie: the closest entries, each with its gist and a button to pick it, and one for
    "none of these". None when fewer than two entries qualify."""
    picks = [(m, kb.get(m.entry_id)) for m in ranking.matches[:3] if m.score > 0]
    shown = [(m, e) for m, e in picks if e is not None]
    if len(shown) < 2:
        return None
    lines = ["Several entries fit your question about equally well. Pick the one that matches:"]
    lines += [
        f"{i}. **{escape_markdown(e.title)}**: {_gist(e)}" for i, (_, e) in enumerate(shown, 1)
    ]
    buttons = tuple(
        Button(f"{PICK_BUTTON}{i}", str(i), {"entry": e.id}, "primary")
        for i, (_, e) in enumerate(shown, 1)
    )
    none = Button(NONE_FIT_BUTTON, "None of these", style="danger")
    return Answer("\n".join(lines), (*buttons, none, *SHIFTER_BUTTONS))


def render_abstention(ranking: Ranking, kb: KnowledgeBase) -> str:
    text = "I could not find a confident answer to this in the knowledge base."
    near = [m for m in ranking.matches if m.score > 0][:3]
    if near:
        titles = "; ".join(f"{m.title} ({m.score:.0%})" for m in near)
        text += f"\n\n_Closest entries, in case one fits: {escape_markdown(titles)}._"
    return text
