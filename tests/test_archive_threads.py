"""Thread reconstruction from Message-ID / In-Reply-To / References, with the subject fallback."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from conftest import FIXTURES

from dastbot.archive.threads import Meta, Thread, build, subject_key
from dastbot.store import Store


def mail(mid: str, day: int, subject: str, refs: tuple[str, ...] = (), hour: int = 9) -> Meta:
    key, reply = subject_key(subject)
    return Meta(f"<{mid}>", f"2015-03-{day:02d}T{hour:02d}:00:00.000+00:00", key, reply,
                tuple(f"<{r}>" for r in refs))  # fmt: skip


def groups(threads: list[Thread]) -> list[tuple[str, ...]]:
    return [tuple(m.strip("<>") for m in t.members) for t in threads]


def test_replies_join_their_question_through_references_and_in_reply_to() -> None:
    threads = build(
        [
            mail("q", 2, "[DAST-help] task exhausted"),
            mail("r1", 2, "Re: [DAST-help] task exhausted", ("q",), hour=11),
            mail("r2", 3, "Re: [DAST-help] task exhausted", ("q", "r1")),
            mail("other", 3, "proxy fails", hour=10),
        ]
    )
    assert groups(threads) == [("q", "r1", "r2"), ("other",)]
    assert threads[0].question_id == "<q>" and not threads[0].orphan


def test_a_reply_with_a_changed_subject_stays_in_its_thread() -> None:
    threads = build(
        [
            mail("q", 2, "task exhausted"),
            mail("r1", 3, "Now the build job fails too", ("q",)),
            mail("r2", 4, "Re: Now the build job fails too", ("q", "r1")),
        ]
    )
    assert groups(threads) == [("q", "r1", "r2")]


def test_a_reply_without_references_joins_the_thread_of_its_subject() -> None:
    threads = build(
        [
            mail("q", 2, "[DAST-help] rucio download fails"),
            mail("r1", 2, "Re: [DAST-help] rucio download fails", ("q",), hour=12),
            mail("r2", 4, "RE: rucio download fails"),  # a client that drops References
        ]
    )
    assert groups(threads) == [("q", "r1", "r2")]


def test_subject_fallback_has_a_time_window_and_needs_a_reply_prefix() -> None:
    threads = build(
        [
            mail("q", 2, "rucio download fails"),
            mail("again", 5, "rucio download fails"),  # the same question asked again
        ]
    )
    assert groups(threads) == [("q",), ("again",)]
    late = build(
        [
            Meta("<q>", "2015-01-01T09:00:00.000+00:00", "rucio download fails", False, ()),
            Meta("<r>", "2015-06-01T09:00:00.000+00:00", "rucio download fails", True, ()),
        ]
    )
    assert groups(late) == [("q",), ("r",)]
    assert late[1].orphan  # a reply whose question is not in the archive


def test_replies_to_a_mail_missing_from_the_archive_stay_together_as_an_orphan() -> None:
    threads = build(
        [
            mail("r1", 3, "Re: lost heartbeat", ("lost-question",)),
            mail("r2", 4, "Re: lost heartbeat", ("lost-question", "r1")),
            mail("r3", 4, "Re: lost heartbeat", ("lost-question",), hour=15),
        ]
    )
    assert groups(threads) == [("r1", "r2", "r3")]
    assert threads[0].orphan


def test_a_reply_to_a_lost_mail_continues_its_subject() -> None:
    """The question's mail lost its Message-ID: the reply refers to an id the archive lacks."""
    threads = build(
        [
            mail("made-up-id", 2, "jobs failing at BNL-ATLAS"),
            mail("r1", 3, "Re: jobs failing at BNL-ATLAS", ("real-id",)),
            mail("r2", 3, "BNL is back (was: jobs failing at BNL-ATLAS)", ("real-id", "r1"), 12),
        ]
    )
    assert groups(threads) == [("made-up-id", "r1", "r2")]
    assert threads[0].question_id == "<made-up-id>" and not threads[0].orphan


def test_a_renamed_subject_without_references_continues_the_old_subject() -> None:
    threads = build(
        [
            mail("q", 2, "pathena task exhausted"),
            mail("r1", 3, "Fixed by retrying (was: pathena task exhausted)"),
        ]
    )
    assert groups(threads) == [("q", "r1")]


def test_subject_keys_ignore_prefixes_list_tags_and_case() -> None:
    assert subject_key("Re: AW: [DAST-help] Task Exhausted") == ("task exhausted", True)
    assert subject_key("Fwd: [DAST-help] Task Exhausted") == ("task exhausted", False)
    assert subject_key("Re[2]: proxy") == ("proxy", True)
    assert subject_key("Reminder: proxy") == ("reminder: proxy", False)


def test_thread_ids_do_not_depend_on_the_order_mails_come_in() -> None:
    mails = [
        mail("q", 2, "task exhausted"),
        mail("r1", 3, "Re: task exhausted", ("q",)),
        mail("x", 4, "proxy"),
    ]
    assert build(mails) == build(list(reversed(mails)))


def test_the_sample_archive_threads_as_the_generator_meant_them(tmp_path: Path) -> None:
    from dastbot.archive.importer import import_archive

    store = Store.memory()
    sample = FIXTURES / "archive" / "sample.mbox"
    import_archive(store, [sample], progress=False)
    truth: dict[str, str] = {}
    for block in re.split(rb"\nFrom archive@", sample.read_bytes()):
        mid = re.search(rb"^Message-ID: (<[^>]+>)", block, re.M)
        meant = re.search(rb"^X-Sample-Thread: (\d+)", block, re.M)
        if mid and meant:
            truth[mid.group(1).decode()] = meant.group(1).decode()
    got = dict(store.db.execute("SELECT message_id, thread_id FROM archive_messages").fetchall())
    meant_threads: dict[str, set[str]] = defaultdict(set)
    built_threads: dict[str, set[str]] = defaultdict(set)
    for mid, meant in truth.items():
        meant_threads[meant].add(mid)
        built_threads[got[mid]].add(mid)
    exact = sum(built_threads[got[next(iter(ms))]] == ms for ms in meant_threads.values())
    assert len(meant_threads) > 30
    assert exact / len(meant_threads) >= 0.95, f"{exact} of {len(meant_threads)} rebuilt exactly"
