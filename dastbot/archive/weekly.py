"""The weekly report's line about the archive, when one is imported.

``report_line(store, matcher, week, week_end, now)`` is the report's ``ExtraLine`` (the
composition root hands it to the report, which may not import this package): the line, or None
when no archive is imported:

    **Archive:** the knowledge base now answers 41.2% of the archive's last year of questions
    (412 of 1,000, 2025-02-28 to 2026-02-27); +3.1 points from 2026-W09.

*The archive's last year* is the 365 days up to its newest question (orphans left out): an
archive that ends years ago is still measured on its own last year. The share is measured with
the matcher the report is given (the bot's live knowledge base) and stored per report week in
``archive_weekly`` once the week is over, so a week's line does not change afterwards and the
next week's line can give the change. The stored row also names the knowledge base it measured
(a fingerprint of its entries and of the matcher's threshold and margin).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

from dastbot.answering.matcher import Matcher
from dastbot.store import Store, iso
from dastbot.store import archive as tables

YEAR = timedelta(days=365)


def fingerprint(matcher: Matcher) -> str:
    digest = hashlib.sha1(repr((matcher.threshold, matcher.margin)).encode())
    for e in matcher.kb.entries:
        digest.update(repr((e.id, e.title, e.patterns, e.answer, e.tags, e.links)).encode())
    return digest.hexdigest()[:12]


def measure(store: Store, matcher: Matcher) -> dict[str, Any] | None:
    """How many of the archive's last-year questions ``matcher`` answers; None: no archive."""
    newest = tables.newest_question(store.db)
    if newest is None:
        return None
    end = datetime.fromisoformat(newest)
    start = end - YEAR
    questions = tables.questions_between(store.db, iso(start), iso(end))
    answered = sum(matcher.rank(q, top=1).best is not None for q in questions)
    return {
        "kb": fingerprint(matcher),
        "period_start": (start + timedelta(days=1)).date().isoformat(),
        "period_end": end.date().isoformat(),
        "questions": len(questions),
        "answered": answered,
    }


def _previous(week: str) -> str:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1) - timedelta(days=7)
    iso_year, iso_week, _ = monday.isocalendar()
    return f"{iso_year}-W{iso_week:02d}"


def report_line(
    store: Store, matcher: Matcher | None, week: str, week_end: datetime, now: datetime
) -> str | None:
    """The archive line of ``week``'s report (None without an archive or a knowledge base)."""
    if matcher is None or not tables.thread_count(store.db):
        return None
    row = tables.weekly(store.db, week)
    if row is None:
        row = measure(store, matcher)
        if row is None or not row["questions"]:
            return None
        if now >= week_end:
            tables.save_weekly(store.db, {"week": week, "measured_at": iso(now), **row})
    share = 100 * row["answered"] / row["questions"]
    text = (
        f"**Archive:** the knowledge base now answers {share:.1f}% of the archive's last year "
        f"of questions ({row['answered']:,} of {row['questions']:,}, {row['period_start']} "
        f"to {row['period_end']})"
    )
    before = tables.weekly(store.db, _previous(week))
    if before is not None and before["questions"]:
        change = share - 100 * before["answered"] / before["questions"]
        sign = "+" if change > 0 else "-" if change < 0 else "±"
        text += f"; {sign}{abs(change):.1f} points from {before['week']}"
    return text + "."
