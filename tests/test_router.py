"""Transcripts through the router: a user asks, the bot answers in the thread or steps aside."""

from __future__ import annotations

from datetime import timedelta

from conftest import CHANNEL, Bot


async def test_a_known_problem_is_answered_in_the_question_thread(bot: Bot) -> None:
    replies = await bot.say("alice", "pathena says my task is exhausted, what now?", post_id="q1")

    assert len(replies) == 1
    answer = replies[0]
    assert answer.root_id == "q1"
    assert answer.channel_id == CHANNEL
    assert "Task went to 'exhausted' status" in answer.message
    assert "pbook retry" in answer.message
    assert "Match confidence" in answer.message
    assert [b.id for b in answer.buttons] == ["helped", "nothelped", "take", "resolve"]
    assert bot.store.question("q1")["state"] == "answered"  # type: ignore[index]


async def test_the_answer_asks_for_the_facts_a_shifter_will_need(bot: Bot) -> None:
    [answer] = await bot.say("alice", "my task is exhausted what does it mean")
    assert "jediTaskID" in answer.message

    [answer] = await bot.say("bob", "my task 40211133 is exhausted what does it mean")
    assert "jediTaskID" not in answer.message.split("From your message")[-1]
    assert "https://bigpanda.cern.ch/task/40211133/" in answer.message


async def test_an_unrelated_question_gets_an_honest_abstention(bot: Bot) -> None:
    [reply] = await bot.say("alice", "what is the weather in Rabat tomorrow?", post_id="q9")

    assert reply.root_id == "q9"
    assert reply.message.startswith("I could not find a confident answer")
    assert reply.message.endswith(
        "No shift is staffed in the coming weeks, so I have passed your question to the "
        "coordinators."
    )
    assert bot.store.question("q9")["state"] == "waiting"  # type: ignore[index]
    assert [e["kind"] for e in bot.store.events("q9")] == ["abstained", "needs_human"]


async def test_the_same_post_delivered_twice_is_answered_once(bot: Bot) -> None:
    first = await bot.say("alice", "my task is exhausted what does it mean", post_id="dup")
    again = await bot.say("alice", "my task is exhausted what does it mean", post_id="dup")
    assert len(first) == 1
    assert again == []


async def test_the_bot_ignores_itself_and_other_bots(bot: Bot) -> None:
    assert await bot.say("bot", "my task is exhausted what does it mean") == []


async def test_asker_saying_it_did_not_help_hands_over_to_a_shifter(bot: Bot) -> None:
    await bot.say("alice", "my task is exhausted what does it mean", post_id="q1")
    [sorry] = await bot.say("alice", "that did not help, still exhausted", thread="q1")

    assert sorry.root_id == "q1"
    assert sorry.message.startswith("Sorry my answer did not help.")
    assert "passed your question to the coordinators" in sorry.message
    question = bot.store.question("q1")
    assert question is not None
    assert (question["state"], question["feedback"]) == ("waiting", "not_helped")


async def test_helped_button_resolves_and_only_the_asker_may_press_it(bot: Bot) -> None:
    [answer] = await bot.say("alice", "my task is exhausted what does it mean", post_id="q1")
    answer_id = bot.post_id_of(answer)

    assert "Only the person who asked" in await bot.click("bob", answer_id, "helped")
    assert "glad it helped" in await bot.click("alice", answer_id, "helped")
    assert bot.store.question("q1")["state"] == "resolved"  # type: ignore[index]
    assert "Already noted" in await bot.click("alice", answer_id, "helped")


async def test_a_thumbs_down_on_the_answer_counts_as_did_not_help(bot: Bot) -> None:
    [answer] = await bot.say("alice", "my task is exhausted what does it mean", post_id="q1")
    [sorry] = await bot.react("alice", bot.post_id_of(answer), "-1")
    assert sorry.message.startswith("Sorry my answer did not help.")
    assert await bot.react("alice", bot.post_id_of(answer), "-1") == []


async def test_a_human_reply_is_recorded_as_first_response(bot: Bot) -> None:
    await bot.say("alice", "what is the weather in Rabat tomorrow?", post_id="q1")
    bot.clock.advance(timedelta(minutes=12))
    assert await bot.say("carol", "Not a grid question, but sunny.", thread="q1") == []
    question = bot.store.question("q1")
    assert question is not None
    assert question["first_human_at"].startswith("2026-03-02T09:12")


async def test_a_message_that_could_not_be_sent_is_sent_again_after_a_short_wait(
    bot: Bot,
) -> None:
    bot.chat.fail_next = 1
    assert await bot.say("alice", "my task is exhausted what does it mean", post_id="q1") == []
    assert len(bot.store.pending()) == 1
    assert await bot.router.flush() == 0  # not due yet: each message has its own backoff

    bot.clock.advance(timedelta(seconds=15))
    assert await bot.router.flush() == 1
    assert bot.chat.sent[-1][1].root_id == "q1"
    assert bot.store.pending() == []


async def test_a_reply_whose_response_was_lost_is_not_posted_twice(bot: Bot) -> None:
    bot.chat.lose_response_next = 1
    assert await bot.say("alice", "my task is exhausted what does it mean", post_id="q1")
    assert len(bot.store.pending()) == 1

    bot.clock.advance(timedelta(seconds=15))
    assert await bot.router.flush() == 1
    assert len(bot.chat.sent) == 1
    assert bot.store.pending() == []


def test_echoed_user_text_cannot_spoof_direction_or_mention_everyone() -> None:
    from dastbot.kernel.markdown import escape_markdown

    shown = escape_markdown("exe.\u202egpj @channel")
    assert "\u202e" not in shown
    assert "@channel" not in shown
