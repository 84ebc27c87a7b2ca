"""What the question and knowledge commands use, passed to their handlers explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dastbot.answering.answers import LiveKnowledge
from dastbot.kernel.commands import Registry
from dastbot.kernel.config import Config
from dastbot.store import Store


@dataclass(frozen=True)
class QuestionServices:
    store: Store
    config: Config
    knowledge: LiveKnowledge
    permalink: Callable[[str], str]
    registry: Registry
