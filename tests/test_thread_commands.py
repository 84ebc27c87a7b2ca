"""Shifters act where the question is: a reply that mentions the bot is a command on that thread
(Mattermost up to v10 sends no thread with a slash command), and the bot's answer carries Take
and Resolve buttons checked against the clicker's role."""

from __future__ import annotations

from conftest import ShiftBot

KNOWN = "my task is exhausted what does it mean"
WEATHER = "what is the weather in Rabat tomorrow?"


async def test_at_dastbot_take_in_a_thread_takes_that_question(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    replies = await shiftbot.say("sam", "@dastbot take", thread="q1")
    assert [m.root_id for m in replies] == ["q1", "q1"]
    assert {m.message for m in replies} == {
        "@sam took this question.",
        "Done: the question is now claimed.",
    }
    question = shiftbot.store.question("q1")
    assert question is not None and question["claimed_by"] == "sam"
    assert question["first_human_at"] is not None


async def test_a_thread_command_has_the_same_roles_as_the_slash_command(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    [refusal] = await shiftbot.say("bob", "@dastbot resolve", thread="q1")
    assert refusal.root_id == "q1"
    assert refusal.message.startswith("`/dast resolve` needs the trainee role; you are a user.")
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]


async def test_at_dastbot_escalate_in_a_thread_escalates_it(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", "my grid job fails at the site", post_id="q1")
    replies = await shiftbot.say("cora", "@dastbot escalate DE site down", thread="q1")
    assert any(m.message == "E1 opened for DE cloud support (GridKa)." for m in replies)
    [esc] = shiftbot.store.escalations(("open",))
    assert esc.thread_id == "q1" and esc.reason == "site down"


async def test_a_mention_that_is_not_a_command_is_an_ordinary_reply(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    assert await shiftbot.say("sam", "@dastbot thanks, I'll look at it", thread="q1") == []
    question = shiftbot.store.question("q1")
    assert question is not None and question["first_human_at"] is not None


async def test_take_and_resolve_buttons_work_for_shifters_only(shiftbot: ShiftBot) -> None:
    [answer] = await shiftbot.say("alice", KNOWN, post_id="q1")
    post_id = shiftbot.post_id_of(answer)
    refused = await shiftbot.click("bob", post_id, "take")
    assert refused.startswith("`/dast take` needs the trainee role")
    assert await shiftbot.click("sam", post_id, "take") == "Done: the question is now claimed."
    assert shiftbot.store.question("q1")["claimed_by"] == "sam"  # type: ignore[index]
    assert await shiftbot.click("sam", post_id, "resolve") == "Done: the question is now resolved."


async def test_a_slash_command_that_carries_the_thread_acts_on_it(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    reply = await shiftbot.command("sam", "take", thread="q1")  # newer servers send root_id
    assert reply.text == "Done: the question is now claimed."


async def test_the_askers_follow_up_in_a_taken_thread_reaches_the_shifter_once(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.say("alice", WEATHER, post_id="q1")
    await shiftbot.command("sam", "take", thread="q1")
    [ping] = await shiftbot.say("alice", "here is the log of the failed job", thread="q1")
    assert ping.root_id == "q1" and ping.message == "@sam: alice added to this question."
    assert await shiftbot.say("alice", "and the task id is 12345", thread="q1") == []


async def test_a_follow_up_in_an_escalated_thread_reaches_the_escalating_shifter(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.say("alice", "my grid job fails at the site", post_id="q1")
    await shiftbot.command("cora", "escalate DE site down", thread="q1")
    [ping] = await shiftbot.say("alice", "it fails at FZK too", thread="q1")
    assert ping.message == "@cora: alice added to this question."


NEAR_TIE = "task exhausted proxy expired"


async def test_a_near_tie_offers_the_closest_entries_and_the_pick_is_answered(
    shiftbot: ShiftBot,
) -> None:
    [offer] = await shiftbot.say("alice", NEAR_TIE, post_id="q1")
    assert offer.message.startswith("Several entries fit your question about equally well.")
    assert "1. **Grid proxy expired**" in offer.message
    assert "2. **Task went to 'exhausted' status**" in offer.message
    assert [b.id for b in offer.buttons] == ["pick1", "pick2", "nonefits", "take", "resolve"]
    assert shiftbot.store.question("q1")["state"] == "answered"  # type: ignore[index]

    post_id = shiftbot.post_id_of(offer)
    assert (await shiftbot.click("bob", post_id, "pick2")).startswith("Only the person who asked")
    assert await shiftbot.click("alice", post_id, "pick2") == (
        "Here is “Task went to 'exhausted' status”, in the thread."
    )
    answer = shiftbot.chat.sent[-1][1]
    assert answer.root_id == "q1" and answer.message.startswith("#### Task went to 'exhausted'")
    assert shiftbot.store.question("q1")["entry_id"] == "task-exhausted"  # type: ignore[index]
    assert [e["kind"] for e in shiftbot.store.events("q1")][-1] == "picked"
    assert await shiftbot.click("alice", shiftbot.post_id_of(answer), "helped") == (
        "Thanks for the feedback: glad it helped."
    )


async def test_none_of_the_offered_entries_brings_a_shifter(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    [offer] = await shiftbot.say("alice", NEAR_TIE, post_id="q1")
    reply = await shiftbot.click("alice", shiftbot.post_id_of(offer), "nonefits")
    assert reply == "Thanks: I have asked @sam to take over."
    assert "@sam" in shiftbot.chat.sent[-1][1].message
