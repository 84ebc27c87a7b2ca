"""What part of a post the matcher judges: the question and pasted errors weigh fully, the context
around them less, the lines of a long log little, greetings and signatures nothing."""

from __future__ import annotations

from dastbot.answering.focus import Part, parts


def weights(text: str, **kw: float) -> list[tuple[str, float, str]]:
    return [(p.kind, p.weight, p.text) for p in parts(text, **kw)]


def kinds(found: list[Part]) -> list[str]:
    return [p.kind for p in found]


def test_an_email_loses_its_greeting_and_signature_and_keeps_its_question() -> None:
    post = (
        "Dear DAST experts,\n\n"
        "I have a small ROOT macro that fills histograms from PHYSLITE files.\n"
        "I am a new student and it works on lxplus.\n"
        "How do I send it to the grid with prun?\n\n"
        "Many thanks in advance,\n"
        "Giulia Rossi\n"
    )
    found = weights(post, context=0.5)
    assert found == [
        ("subject", 1.0, "I have a small ROOT macro that fills histograms from PHYSLITE files."),
        ("context", 0.5, "I am a new student and it works on lxplus."),
        ("question", 1.0, "How do I send it to the grid with prun?"),
    ]


def test_the_first_sentence_is_the_subject_when_the_question_names_nothing() -> None:
    post = (
        "Hello, build job on the grid fails, but it compiles fine on lxplus.\n"
        "I did not change the CMakeLists.\n"
        "Any idea why it's different there?"
    )
    assert weights(post, context=0.5) == [
        ("subject", 1.0, "build job on the grid fails, but it compiles fine on lxplus."),
        ("context", 0.5, "I did not change the CMakeLists."),
        ("question", 1.0, "Any idea why it's different there?"),
    ]


def test_wrapped_lines_are_joined_before_the_sentences_are_split() -> None:
    post = (
        "my task went to exhausted over the weekend and the dialog\n"
        "mentions a memory leak. What should I do now?"
    )
    assert weights(post, context=0.4) == [
        (
            "subject",
            1.0,
            "my task went to exhausted over the weekend and the dialog mentions a memory leak.",
        ),
        ("question", 1.0, "What should I do now?"),
    ]


def test_a_post_that_asks_nothing_weighs_all_its_prose() -> None:
    post = "jobs stuck in assigned since yesterday, task 40211133, nothing running"
    assert weights(post, context=0.3) == [("prose", 1.0, post)]


def test_error_lines_of_a_long_log_weigh_fully_and_its_other_lines_little() -> None:
    log = "\n".join(f"2025-03-02 10:14:{i:02d} INFO processing event {i}" for i in range(8))
    post = (
        f"rucio download of my outputs stops:\n{log}\n"
        "2025-03-02 10:15:00 ERROR None of the requested files have been downloaded.\n"
        "what is wrong?"
    )
    found = parts(post, context=0.5, log=0.2)
    assert kinds(found).count("log") == 8
    assert all(p.weight == 0.2 for p in found if p.kind == "log")
    errors = [p for p in found if p.kind == "error"]
    assert [p.weight for p in errors] == [1.0]
    assert "None of the requested files" in errors[0].text
    assert found[-1] == Part("what is wrong?", 1.0, "question")


def test_a_short_paste_counts_like_the_context_around_it() -> None:
    post = "voms-proxy-init says:\nUser unknown to this VO: '/DC=ch/DC=cern/CN=jdoe'\nwhat now?"
    found = parts(post, context=0.5, log=0.1)
    assert Part("User unknown to this VO: '/DC=ch/DC=cern/CN=jdoe'", 0.5, "context") in found


def test_a_fenced_block_is_pasted_even_without_log_markers() -> None:
    post = "my script fails:\n```\nline one of output\nline two of output\n```\nany idea?"
    found = parts(post, context=0.5)
    assert [p.text for p in found if p.kind == "subject"] == ["my script fails:"]
    assert [p.text for p in found if p.kind == "context"] == [
        "line one of output",
        "line two of output",
    ]


def test_greetings_inside_the_first_line_are_cut_not_the_question_after_them() -> None:
    assert weights("Hi, quick one: how do I kill all my running tasks at once?") == [
        ("question", 1.0, "quick one: how do I kill all my running tasks at once?"),
    ]


def test_a_thank_you_note_is_a_closing_and_leaves_nothing() -> None:
    assert parts("Thanks a lot!\nJan") == []
    assert parts("Cheers") == []


def test_nothing_to_judge_in_an_empty_post() -> None:
    assert parts("") == []
    assert parts("\n\n   \n") == []
