"""Slash-command transcripts for the foundation's commands."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, Bot

from dastbot.answers import LiveKnowledge


async def test_help_lists_commands_and_unknown_commands_show_help(bot: Bot) -> None:
    reply = await bot.command("alice", "help")
    assert "/dast kb search TEXT" in reply.text
    assert not reply.in_channel

    reply = await bot.command("alice", "frobnicate now")
    assert reply.text.startswith("Unknown command `frobnicate now`")
    assert "/dast help" in reply.text


async def test_kb_search_shows_ranked_entries_with_scores(bot: Bot) -> None:
    reply = await bot.command("alice", "kb search payload exceeded maximum allowed memory")
    first_row = reply.text.splitlines()[2]
    assert first_row.startswith("| memory-exceeded |")
    assert "I would answer with `memory-exceeded`" in reply.text

    assert "Usage" in (await bot.command("alice", "kb search")).text


async def test_kb_reload_needs_a_coordinator(bot: Bot) -> None:
    reply = await bot.command("alice", "kb reload")
    assert "needs the coordinator role" in reply.text
    assert bot.store.events(kind="command_refused")[0]["actor"] == "alice"


async def test_kb_reload_keeps_the_old_base_when_the_new_one_is_broken(
    bot: Bot, tmp_path: Path
) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", kb_dir)
    bot.router.knowledge = LiveKnowledge.load(kb_dir, bot.router.config)
    bot.router.role_of = lambda name: "coordinator" if name == "carol" else "user"

    (kb_dir / "panda.yaml").write_text("- id: broken\n  title: no answer here\n")
    reply = await bot.command("carol", "kb reload")
    assert "stays in use" in reply.text
    assert "panda.yaml:1: entry 'broken': missing required field 'category'" in reply.text
    assert len(bot.router.knowledge.kb) == 4

    shutil.copy(FIXTURES / "kb" / "panda.yaml", kb_dir / "panda.yaml")
    assert (
        await bot.command("carol", "kb reload")
    ).text == "Reloaded the knowledge base: 4 entries."


async def test_status_shows_a_user_only_their_own_open_questions(bot: Bot) -> None:
    await bot.say("alice", "my task is exhausted what does it mean", post_id="qa")
    await bot.say("bob", "what is the weather in Rabat tomorrow?", post_id="qb")

    mine = (await bot.command("alice", "status")).text
    assert "qa" in mine and "qb" not in mine
    assert (await bot.command("carol", "status")).text == "No open questions or escalations."
