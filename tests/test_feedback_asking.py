"""When the asker's reply to an answer could mean either, the bot asks with two buttons instead of
guessing; and what a "did not help" click is told matches what the thread is told (a shifter was
asked, nobody is on shift, or the coordinators were told)."""

from __future__ import annotations

from conftest import ShiftBot

KNOWN = "my task is exhausted what does it mean"


async def test_an_ambiguous_reply_is_asked_about_once_with_buttons(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    [_answer] = await shiftbot.say("alice", KNOWN, post_id="q1")
    [ask] = await shiftbot.say("alice", "I solved it myself", thread="q1")
    assert ask.root_id == "q1"
    assert ask.message.startswith("@alice, did the answer solve your problem?")
    assert [b.name for b in ask.buttons] == ["Helped", "Still need help"]
    assert shiftbot.store.question("q1")["state"] == "answered"  # type: ignore[index]

    assert await shiftbot.say("alice", "thanks", thread="q1") == []  # asked once is enough

    reply = await shiftbot.click("alice", shiftbot.post_id_of(ask), "nothelped")
    assert reply == "Thanks: I have asked @sam to take over."
    assert "@sam" in shiftbot.chat.sent[-1][1].message
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]


async def test_the_helped_button_on_the_question_resolves_it(shiftbot: ShiftBot) -> None:
    await shiftbot.say("alice", KNOWN, post_id="q1")
    [ask] = await shiftbot.say("alice", "ok thanks", thread="q1")
    assert await shiftbot.click("bob", shiftbot.post_id_of(ask), "helped") == (
        "Only the person who asked can say whether the answer helped."
    )
    reply = await shiftbot.click("alice", shiftbot.post_id_of(ask), "helped")
    assert reply == "Thanks for the feedback: glad it helped."
    assert shiftbot.store.question("q1")["state"] == "resolved"  # type: ignore[index]


async def test_a_clear_reply_is_acted_on_without_asking(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.say("alice", KNOWN, post_id="q1")
    [ping] = await shiftbot.say("alice", "nope, same error", thread="q1")
    assert "@sam" in ping.message
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]


async def test_a_not_helped_click_off_hours_says_when_the_next_shift_starts(
    shiftbot: ShiftBot,
) -> None:
    shiftbot.book("2026-03-03", "EU", "sam")  # nobody on Monday 2 March, sam on Tuesday
    [answer] = await shiftbot.say("alice", KNOWN, post_id="q1")
    reply = await shiftbot.click("alice", shiftbot.post_id_of(answer), "nothelped")
    assert reply.startswith("Thanks: nobody is on shift right now; the next shift starts")
    assert "a shifter will take over" not in reply
