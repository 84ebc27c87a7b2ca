"""/dast kb propose: a solved thread becomes a draft entry a reviewer can use as it is."""

from __future__ import annotations

from conftest import Bot

from dastbot.answering.knowledge import Entry, load_text
from dastbot.kernel.events import EventKind
from dastbot.questions.kb_draft import mask_case, solution, title_and_patterns

QUESTION = """Dear DAST experts,

my jobs in task 40211133 keep failing at CERN-PROD since this morning. I run from
/afs/cern.ch/user/j/jdoe/work/analysis with AnalysisBase,24.2.35 on
mc20_13TeV.700320.Sh_2211_Zee_maxHTpTV2_BFilter.deriv.DAOD_PHYS.e8351_s3681_r13144_p5855.
How can I get them through?

```
2026-03-02 10:11:12 ERROR  Payload exceeded maximum allowed memory (pilot:1305)
Traceback (most recent call last):
  File "/home/jdoe/run.py", line 12, in <module>
```
Thanks, Jane"""

PRIVATE = ("40211133", "CERN-PROD", "jdoe", "/afs", "mc20_13TeV", "24.2.35", "2026-03-02", "Jane")


def draft_of(reply: str) -> Entry:
    text = reply.split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    [entry] = load_text(text, "draft.yaml").entries
    return entry


async def ask_and_answer(bot: Bot, *replies: tuple[str, str]) -> None:
    bot.router.roles.role_of = lambda _id, name: "shifter" if name == "sam" else "user"
    await bot.say("jane", QUESTION, post_id="q1")
    for i, (user, text) in enumerate(replies, 1):
        await bot.say(user, text, thread="q1", post_id=f"r{i}")


async def test_the_draft_has_a_clean_title_and_patterns_without_anyones_details(bot: Bot) -> None:
    await ask_and_answer(
        bot,
        ("sam", "I'll escalate this to the site, give me a moment."),
        ("sam", "Ask for more memory: prun --memory 4000, or split the input with --nFilesPerJob."),
    )
    await bot.command("sam", "resolve", thread="q1")
    entry = draft_of((await bot.command("sam", "kb propose", thread="q1")).text)

    assert entry.title == "Payload exceeded maximum allowed memory (pilot:1305)"
    assert entry.patterns[0] == "Payload exceeded maximum allowed memory (pilot:1305)"
    assert "my jobs in task keep failing at site since this morning" in entry.patterns
    for pattern in entry.patterns:
        assert not any(private in pattern for private in PRIVATE), pattern
        assert not pattern.startswith(("Traceback", "File"))
    assert entry.id == "proposed-payload-exceeded-maximum-allowed-memory-pilot"
    # the last reply before "resolved", not the shifter's first "I'll escalate"
    assert entry.answer.startswith("Ask for more memory")
    assert set(entry.ask_for) >= {"task_id", "dataset", "site"}


async def test_the_answer_is_the_reply_the_asker_confirmed(bot: Bot) -> None:
    await ask_and_answer(
        bot,
        ("sam", "Could you post the jediTaskID?"),
        ("sam", "Retry with --memory 4000; the scouts measured more than you declared."),
        ("jane", "thanks, that worked!"),
        ("sam", "Great, closing this."),
    )
    question = bot.store.question("q1")
    assert question is not None and question["state"] == "resolved"
    entry = draft_of((await bot.command("sam", "kb propose", thread="q1")).text)
    assert entry.answer.startswith("Retry with --memory 4000")


async def test_a_shifter_can_name_the_reply_that_solved_it(bot: Bot) -> None:
    await ask_and_answer(
        bot,
        ("sam", "This is what fixes it: raise --memory to 4000 MB."),
        ("sam", "Also please read the PanDA docs."),
    )
    await bot.command("sam", "resolve", thread="q1")
    reply = await bot.command("sam", "kb propose https://chat.test/atlas/pl/r1", thread="q1")
    assert draft_of(reply.text).answer == "This is what fixes it: raise --memory to 4000 MB."


def test_masking_keeps_what_the_problem_is_and_drops_whose_it_is() -> None:
    assert mask_case("rucio upload to DESY-HH_SCRATCHDISK fails for /home/jdoe/x/y.root") == (
        "rucio upload to SCRATCHDISK fails"
    )
    assert mask_case("task 40211133 at CERN-PROD: pilot:1305") == "task at site: pilot:1305"


def test_a_long_title_ends_at_a_clause_or_a_word_never_inside_one() -> None:
    long = (
        "rucio upload fails with RSEWriteBlocked: RSE 'DESY-HH_SCRATCHDISK' settings do not "
        "allow writing for any of the files in my container\nwhat can I do?"
    )
    assert title_and_patterns(long)[0] == "Rucio upload fails with RSEWriteBlocked"
    words = "this sentence keeps going with words about the grid and the proxy renewal that fail"
    sentence = f"{words} {words}"
    title, _ = title_and_patterns(sentence + ".")
    assert len(title) <= 81 and title.endswith("…")
    assert sentence.capitalize().startswith(title.removesuffix("…") + " ")  # cut between words


def test_the_solution_falls_back_in_order() -> None:
    def event(kind: EventKind, text: str = "", post: str = "") -> dict[str, object]:
        return {"kind": kind, "data": {"text": text, "post_id": post}}

    trail = [
        event(EventKind.ABSTAINED),
        event(EventKind.HUMAN_REPLY, "I'll escalate", "a"),
        event(EventKind.HUMAN_REPLY, "use --memory", "b"),
        event(EventKind.RESOLVE),
        event(EventKind.HUMAN_REPLY, "you are welcome", "c"),
    ]
    assert solution(trail) == "use --memory"
    assert solution(trail, marked={"a"}) == "I'll escalate"
    assert solution(trail[:3]) == "use --memory"
    assert solution(trail[:1]) is None
