"""Slash-command transcripts for the foundation's commands."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, Bot


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
    bot.knowledge.path = kb_dir
    bot.router.roles.role_of = lambda _id, name: "coordinator" if name == "carol" else "user"

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


async def test_kb_propose_drafts_an_entry_from_a_resolved_thread(bot: Bot) -> None:
    bot.router.roles.role_of = lambda _id, name: "shifter" if name == "sam" else "user"
    question = (
        "rucio upload fails with RSEWriteBlocked: RSE 'DESY-HH_SCRATCHDISK' settings do not "
        "allow writing\nwhat can I do?"
    )
    await bot.say("alice", question, post_id="q1")
    assert (await bot.command("sam", "kb propose", thread="q1")).text.startswith("This question is")
    await bot.say(
        "sam",
        "The RSE is blocked for writes during a downtime; use --rse on another "
        "SCRATCHDISK or wait until it ends.",
        thread="q1",
    )
    await bot.command("sam", "resolve", thread="q1")
    reply = await bot.command("sam", "kb propose", thread="q1")
    assert reply.text.startswith("Draft posted for review in ~dast-coordinators")
    draft = reply.text.split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    from dastbot.answering.knowledge import load_text

    [entry] = load_text(draft, "draft.yaml").entries
    assert entry.id.startswith("proposed-rucio-upload-fails")
    assert "RSE is blocked for writes" in entry.answer
    assert any("RSEWriteBlocked" in p for p in entry.patterns)
    assert "site" in entry.ask_for
    [(_, posted)] = [(p, m) for p, m in bot.chat.sent if m.key.startswith("propose:")]
    assert posted.channel_id == "dast-coordinators"
    assert (await bot.command("alice", "kb propose", thread="q1")).text.startswith(
        "`/dast kb propose` needs the trainee role"
    )


async def test_status_pages_a_long_list_and_every_page_fits_a_post(bot: Bot) -> None:
    for i in range(60):
        await bot.say("bob", f"what is the weather in Rabat tomorrow? ({i}) " + "y" * 300)
    bot.router.roles.role_of = lambda _id, name: "shifter"
    first = (await bot.command("sam", "status")).text
    assert "**Open questions** (60, waiting for a person first)" in first
    assert first.count("| waiting |") == 25
    assert first.endswith("_Page 1 of 3; next: `/dast status 2`._")
    last = (await bot.command("sam", "status 3")).text
    assert last.count("| waiting |") == 10 and last.endswith("_Page 3 of 3._")
    assert all(len(t) <= 16_383 for t in (first, last))
    beyond = (await bot.command("sam", "status 9")).text
    assert beyond == "There are only 3 page(s): `/dast status 3`."
    assert (await bot.command("sam", "status x")).text.startswith("Usage: `/dast status [PAGE]`")
