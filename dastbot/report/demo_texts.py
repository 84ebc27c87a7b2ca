"""The words of the synthetic history: askers' names, question texts and shifters' replies.

Known questions are a knowledge-base entry's pattern with an optional greeting and detail; hard
ones add a second entry's pattern (the bot should not be sure); out-of-scope ones come from a
few recurring topics (meeting rooms, passwords, quotas ...), so the report's knowledge-gap
clusters have something to find. Every choice is drawn from the ``random.Random`` passed in.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Literal

from dastbot.answering.knowledge import Entry

OUT_OF_SCOPE = (
    ("How do I book a meeting room in building {building} for {when}?", 5),
    ("My CERN account password expired, how do I reset it{tail}", 5),
    ("How do I request a bigger EOS quota for my user area{tail}", 4),
    ("Is the CERN VPN down? I cannot connect from {city}{tail}", 3),
    ("How can I get access to the lxplus GPU nodes for {ml} training?", 3),
    ("The Indico registration for the {event} does not work{tail}", 2),
    ("What is the weather in {city} {when}?", 1),
    ("Which laptop should I buy to run ROOT locally{tail}", 1),
    ("How do I subscribe to the {mlist} mailing list{tail}", 2),
    ("My CERN badge does not open building {building}{tail}", 1),
)
FILLERS: dict[str, tuple[str, ...]] = {
    "building": ("40", "513", "32", "4", "595"),
    "when": ("tomorrow", "next week", "Friday afternoon", "the ATLAS week"),
    "city": ("Geneva", "Chicago", "Tokyo", "Milan", "Rabat", "Berlin"),
    "tail": ("?", "? Thanks!", "? Any help is welcome.", "?? urgent"),
    "ml": ("my GNN", "a transformer", "the flavour tagging"),
    "event": ("ATLAS week", "software tutorial", "analysis workshop"),
    "mlist": ("atlas-comp-announce", "hn-atlas-dist-analysis-help", "atlas-sw-tutorial"),
}
GREETINGS = ("", "", "Hi, ", "Hello DAST, ", "Dear experts, ", "Hi all, ")
DETAILS = (
    "",
    "",
    " Task {task}.",
    " My task is {task}.",
    " This is for jediTaskID {task}, any idea?",
    " It happens since this morning.",
    " Thanks in advance!",
)
REPLIES = (
    "Looking at it now.",
    "Could you post the jediTaskID and the exact error message?",
    "This looks like a site problem, checking with the cloud support.",
    "Please retry with pbook retry; the site had a transient issue.",
    "You need to renew your VOMS proxy: voms-proxy-init -voms atlas.",
    "The dataset is on tape; request a replication rule first.",
)
# fmt: off
FIRST_NAMES = [
    "alex", "amir", "ana", "ben", "carla", "chen", "dario", "elena", "farid", "gina", "hugo",
    "ivan", "jana", "kai", "lea", "luis", "maya", "nils", "olga", "omar", "paul", "rosa", "sami",
    "tara", "umar", "vera", "wei", "yuki", "zoe",
]
# fmt: on

QuestionKind = Literal["known", "hard", "out_of_scope"]


def pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    """One name of (name, weight) pairs, by weight."""
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def post_id(rng: random.Random) -> str:
    """A 26-character id shaped like Mattermost's."""
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=26))


def askers() -> list[str]:
    """The forum's users who ask (``alex.m``, ``alex.k`` ...)."""
    return [f"{n}.{s}" for n in FIRST_NAMES for s in ("m", "k", "r", "t", "b")]


def _fill(rng: random.Random, template: str) -> str:
    values = {k: rng.choice(v) for k, v in FILLERS.items()}
    return template.format(**values)


def question_text(
    rng: random.Random, entries: Sequence[Entry], weights: Sequence[float], kind: QuestionKind
) -> tuple[str, Entry | None]:
    """A question's text and the entry it comes from (None for out-of-scope topics); entries are
    drawn by ``weights``."""
    if kind == "out_of_scope":
        return _fill(rng, pick(rng, OUT_OF_SCOPE)), None
    entry = rng.choices(entries, weights=weights)[0]
    pattern = rng.choice(entry.patterns)
    detail = rng.choice(DETAILS).format(task=rng.randrange(30_000_000, 48_000_000))
    text = f"{rng.choice(GREETINGS)}{pattern}{detail}"
    if kind == "hard":
        other = rng.choice(entries)
        text += f" Also {rng.choice(other.patterns)} at the same time, is it related?"
    return text, entry


def shifter_reply(rng: random.Random) -> str:
    return rng.choice(REPLIES)
