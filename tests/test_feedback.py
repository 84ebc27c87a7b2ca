"""An asker's reply under the bot's answer, read the way a person would read it.

Each row is a reply and what a shifter reading it would conclude: the answer helped, the asker
still needs help, it is unclear (a person would ask, and so does the bot, with buttons), or the
reply says nothing about the answer.
"""

from __future__ import annotations

import pytest
from conftest import ShiftBot

from dastbot.questions.feedback import feedback_from_emoji, feedback_in, normalise

NOT_HELPED = [
    # the phrasings of issue 14, each missed before
    "didn\u2019t help",
    "doesn't work",
    "it's not working",
    "this does not solve my problem",
    "nope, same error",
    # "I solved it myself, but the answer was wrong": the problem is gone, but the asker's verdict
    # on the answer is explicit, and the feedback is about the answer. A person would not count
    # it as "helped"; they would look at the thread to correct the knowledge base (and resolve
    # it), which is what "not helped" gets: a shifter's attention.
    "I solved it myself, but the answer was wrong",
    # negations, with and without apostrophes, curly or straight
    "that did not help, still exhausted",
    "didnt work for me",
    "doesnt help",
    "It doesn\u2019t seem to work",
    "this is not really helpful",
    "not helpful at all",
    "Unfortunately not",
    "not really",
    "Not quite, the task is still exhausted",
    # the problem persists
    "still broken",
    "I still get the error",
    "The problem persists",
    "no luck",
    "same error as before",
    "failed again",
    "nothing changed",
    "no, it still fails",
    "noooo",
    "nah",
    # the answer is beside the point
    "That's not what I asked",
    "wrong answer, my problem is with rucio",
    "this is irrelevant to my question",
    "Thanks, but that is not my issue",
    # good news, then bad news after "but": the last clause is what the asker needs now
    "Great, but it still fails with the same error",
    "That fixed the proxy but the job still fails",
    # a question back: a person has to answer it
    "How do I find the jediTaskID?",
    "thanks, I'll try that. Where do I see the job logs?",
]

HELPED = [
    "thanks, that worked",
    "it works now",
    "Works now, thank you!!",
    "thaaaanks, that fixed it",
    "it worked!",
    "that helped",
    "that did the trick",
    "yes",
    "yes, that did it",
    "Perfect, thanks a lot",
    "The answer was useful, thanks",
    "no problem, it works now",
    "problem solved",
    "It failed at first, but now it works",
    "Solved! pbook retry did it",
]

AMBIGUOUS = [
    # thanks only: for the answer, or for the effort? A person would ask whether it solved it.
    "thanks!",
    "Thank you very much",
    "ok thanks",
    "ok",
    # solved, but not by the answer
    "I solved it myself",
    "figured it out",
    # good news with a question or a doubt
    "that worked. how do I also merge the outputs?",
    "not sure if it helped",
    # good and bad news with nothing to say which counts
    "it works now, same error in the other task though? no wait",
]

SAYS_NOTHING = [
    "thanks, I'll try that",
    "I will try tomorrow and report back",
    "here is my task id 12345",
    "My job is finished, it was a site problem",
    "> that did not help",  # a quote of someone else's words, not the asker's own
    "",
]


@pytest.mark.parametrize("text", NOT_HELPED)
def test_replies_a_person_reads_as_still_needing_help(text: str) -> None:
    assert feedback_in(text) == "not_helped"


@pytest.mark.parametrize("text", HELPED)
def test_replies_a_person_reads_as_solved_by_the_answer(text: str) -> None:
    assert feedback_in(text) == "helped"


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_replies_a_person_would_ask_about(text: str) -> None:
    assert feedback_in(text) == "ambiguous"


@pytest.mark.parametrize("text", SAYS_NOTHING)
def test_replies_that_say_nothing_about_the_answer(text: str) -> None:
    assert feedback_in(text) is None


def test_a_complaint_wins_over_thanks_and_good_news() -> None:
    assert feedback_in("thanks, but it does not help") == "not_helped"
    assert feedback_in("it works now, but your answer was wrong") == "not_helped"


def test_a_log_pasted_with_the_reply_does_not_count_as_the_askers_words() -> None:
    reply = "still the same:\n```\nINFO: the task works fine on other sites\n```"
    assert feedback_in(reply) == "not_helped"
    assert feedback_in("```\nit works now\n```") is None


def test_normalisation_makes_typing_habits_equal() -> None:
    assert normalise("Didn\u2019t  HELP") == normalise("didnt help") == "did not help"
    assert normalise("It\u2019s nooot working") == "it is not working"
    assert normalise("can't, won't, cannot") == "can not, will not, can not"


@pytest.mark.parametrize(
    ("emoji", "expected"),
    [
        ("white_check_mark", "helped"),
        ("+1", "helped"),
        ("ok_hand", "helped"),
        ("x", "not_helped"),
        ("-1", "not_helped"),
        ("confused", "not_helped"),
        ("eyes", None),
        ("smile", None),
    ],
)
def test_reactions_on_the_answer(emoji: str, expected: str | None) -> None:
    assert feedback_from_emoji(emoji) == expected


# --- what the bot does with it, in a thread ----------------------------------------------------

KNOWN = "my task is exhausted what does it mean"


async def test_thanks_alone_under_an_answer_pings_nobody_and_asks(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.say("alice", KNOWN, post_id="q1")
    [ask] = await shiftbot.say("alice", "thanks!", thread="q1")
    assert "@sam" not in ask.message and "did the answer solve your problem?" in ask.message
    assert shiftbot.store.question("q1")["state"] == "answered"  # type: ignore[index]


async def test_a_question_back_under_an_answer_brings_the_shifter(shiftbot: ShiftBot) -> None:
    shiftbot.book("2026-03-02", "EU", "sam")
    await shiftbot.say("alice", KNOWN, post_id="q1")
    [ping] = await shiftbot.say("alice", "where do I find the jediTaskID?", thread="q1")
    assert ping.message == "@sam, could you take this one? Sorry my answer did not help."
    assert shiftbot.store.question("q1")["state"] == "waiting"  # type: ignore[index]


async def test_still_needing_help_in_a_taken_thread_reaches_whoever_took_it(
    shiftbot: ShiftBot,
) -> None:
    await shiftbot.say("alice", KNOWN, post_id="q1")
    await shiftbot.command("sam", "take", thread="q1")
    [ping] = await shiftbot.say("alice", "nope, same error. what next?", thread="q1")
    assert ping.message == "@sam: alice added to this question."
    assert shiftbot.store.question("q1")["state"] == "claimed"  # type: ignore[index]
