"""Importing archives: every format, idempotent, personal data hashed, damage reported."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from dastbot.archive.importer import address_hash, import_archive
from dastbot.store import Store
from dastbot.store import archive as tables

REPO = Path(__file__).resolve().parent.parent
SAMPLE = FIXTURES / "archive" / "sample.mbox"


def imported(*paths: Path, keep: bool = False) -> tuple[Store, object]:
    store = Store.memory()
    result = import_archive(store, list(paths), keep_addresses=keep, progress=False)
    return store, result


def test_the_sample_is_what_the_generator_script_writes(tmp_path: Path) -> None:
    out = tmp_path / "again.mbox"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "make_archive.py"), "--messages", "200",
         "--seed", "9", "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert out.read_bytes() == SAMPLE.read_bytes()


def test_importing_the_same_archive_twice_adds_no_row() -> None:
    store = Store.memory()
    first = import_archive(store, [SAMPLE], progress=False)
    before = tables.counts(store.db)
    second = import_archive(store, [SAMPLE], progress=False)
    assert first.added == before[tables.MESSAGES] > 100
    assert first.known == 200 - first.added  # the sample archives a few mails twice
    assert second.added == 0 and second.threads_added == 0 and second.threads_removed == 0
    assert tables.counts(store.db) == before
    assert not first.problems and not second.problems


def test_mbox_maildir_and_eml_folder_give_the_same_threads(tmp_path: Path) -> None:
    script = str(REPO / "bench" / "make_archive.py")
    for fmt in ("maildir", "eml"):
        subprocess.run(
            [sys.executable, script, "--messages", "200", "--seed", "9", "--format", fmt,
             "--out", str(tmp_path / fmt)],
            check=True, capture_output=True,
        )  # fmt: skip
    reference, _ = imported(SAMPLE, keep=True)
    expected = reference.db.execute("SELECT * FROM archive_threads ORDER BY thread_id").fetchall()
    for fmt in ("maildir", "eml"):
        store, _ = imported(tmp_path / fmt, keep=True)
        assert (
            store.db.execute("SELECT * FROM archive_threads ORDER BY thread_id").fetchall()
            == expected
        ), fmt


def test_a_second_export_joins_the_threads_of_the_first(tmp_path: Path) -> None:
    mails = SAMPLE.read_bytes().split(b"\nFrom archive@")
    half = len(mails) // 2
    (tmp_path / "a.mbox").write_bytes(b"\nFrom archive@".join(mails[:half]) + b"\n")
    (tmp_path / "b.mbox").write_bytes(b"From archive@" + b"\nFrom archive@".join(mails[half:]))
    both, _ = imported(SAMPLE)
    store = Store.memory()
    import_archive(store, [tmp_path / "a.mbox"], progress=False)
    import_archive(store, [tmp_path / "b.mbox"], progress=False)
    query = "SELECT thread_id, question_id, messages FROM archive_threads ORDER BY thread_id"
    assert store.db.execute(query).fetchall() == both.db.execute(query).fetchall()


def test_addresses_are_hashed_unless_kept() -> None:
    store, _ = imported(SAMPLE)
    senders = {r[0] for r in store.db.execute("SELECT sender FROM archive_messages")}
    assert all(s.startswith("h:") and len(s) == 18 for s in senders)
    secret = tables.salt(store.db)
    assert address_hash(secret, "anna.shifter@cern.example") in senders
    text = " ".join(r[0] for r in store.db.execute("SELECT body FROM archive_messages"))
    assert "@" not in text.replace("[address]", "")
    kept, _ = imported(SAMPLE, keep=True)
    senders = {r[0] for r in kept.db.execute("SELECT sender FROM archive_messages")}
    assert "anna.shifter@cern.example" in senders


def test_charsets_and_html_are_decoded_into_readable_text() -> None:
    store, _ = imported(SAMPLE)
    bodies = [r[0] for r in store.db.execute("SELECT body FROM archive_messages")]
    joined = "\n".join(bodies)
    assert "\ufffd" not in joined
    assert not any("<div>" in b or "=?utf-8?" in b for b in bodies)
    html = store.db.execute("SELECT COUNT(*) FROM archive_messages WHERE html = 1").fetchone()[0]
    assert html > 0
    attached = store.db.execute("SELECT SUM(attachments) FROM archive_messages").fetchone()[0]
    assert attached > 0


def test_a_truncated_mbox_is_reported_with_its_offset_and_the_rest_is_imported(
    tmp_path: Path,
) -> None:
    data = SAMPLE.read_bytes()
    cut = data[: len(data) * 2 // 3]
    cut = cut[: cut.rindex(b"\nFrom archive@") + 400]  # end inside the last mail's headers
    path = tmp_path / "cut.mbox"
    path.write_bytes(cut)
    _, result = imported(path)
    assert result.added > 50
    last = cut.rindex(b"\nFrom archive@") + 1
    assert any(p.offset == last and "truncated" in p.reason for p in result.problems), [
        str(p) for p in result.problems
    ]
    assert all(str(path) in str(p) for p in result.problems)


def test_binary_garbage_is_reported_not_fatal(tmp_path: Path) -> None:
    rng = random.Random(5)
    garbage = tmp_path / "garbage.mbox"
    garbage.write_bytes(bytes(rng.getrandbits(8) for _ in range(20_000)))
    inside = tmp_path / "damaged.mbox"
    inside.write_bytes(
        SAMPLE.read_bytes()[:40_000].rsplit(b"\nFrom archive@", 1)[0]
        + b"\n\nFrom archive@lists.cern.example Mon Mar  2 10:00:00 2015\n"
        + bytes(rng.getrandbits(8) for _ in range(3000))
        + b"\n\n"
        + b"From archive@lists.cern.example Mon Mar  2 11:00:00 2015\n"
        + b"From: bob@uni.example\nSubject: still here\nDate: Mon, 2 Mar 2015 11:00:00 +0000\n"
        + b"Message-ID: <after-garbage@uni.example>\n\nThe mail after the garbage.\n"
    )
    store, result = imported(garbage, inside)
    reasons = [str(p) for p in result.problems]
    assert any(str(garbage) in r and "not an mbox" in r for r in reasons), reasons
    assert any(str(inside) in r and "at byte" in r for r in reasons), reasons
    assert store.db.execute(
        "SELECT body FROM archive_messages WHERE message_id = '<after-garbage@uni.example>'"
    ).fetchone() == ("The mail after the garbage.",)


def test_paths_without_archives_are_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    store, result = imported(tmp_path / "empty", tmp_path / "missing.mbox")
    assert [p.reason for p in result.problems] == [
        "no mbox, Maildir or .eml files here",
        "no such file or folder",
    ]
    assert tables.counts(store.db)[tables.MESSAGES] == 0


@pytest.mark.parametrize("header", [b"", b"Date: not a date\n"])
def test_a_mail_without_a_usable_date_or_sender_is_malformed(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(b"Subject: hello\n" + header + b"\nbody\n")
    _, result = imported(path)
    assert [p.reason for p in result.problems] == ["no sender address (From)"]
    path.write_bytes(b"From: bob@uni.example\nSubject: hello\n" + header + b"\nbody\n")
    _, result = imported(path)
    assert [p.reason for p in result.problems] == ["no usable date (Date header)"]
