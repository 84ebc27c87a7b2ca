"""The weekly report as a Mattermost post: compact markdown tables, each figure of the week with
its change from the week before in brackets, and the next four weeks' coverage grid.

``to_markdown`` renders a ``WeekReport``; ``duration``, ``with_delta`` and ``duration_delta``
format single figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from dastbot.kernel.markdown import one_line, table
from dastbot.report.values import WeekReport
from dastbot.report.weeks import week_label, week_monday
from dastbot.shifts.staffing import SlotStatus


def duration(minutes: float | None) -> str:
    """``14 min``, ``3.5 h`` or ``2.1 d``; ``n/a`` for None."""
    if minutes is None:
        return "n/a"
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _sign(value: float, text: str) -> str:
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"-{text}"
    return "±0"


def with_delta(this: float, previous: float) -> str:
    """``42 (+5)``; floats with one decimal (shift credit)."""
    diff = this - previous
    if isinstance(this, int) and isinstance(previous, int):
        return f"{this} ({_sign(diff, str(abs(diff)))})"
    return f"{this:g} ({_sign(diff, f'{abs(diff):g}')})"


def duration_delta(this: float | None, previous: float | None) -> str:
    """``14 min (-3 min)``; no bracket when either week has no value."""
    if this is None or previous is None:
        return duration(this)
    diff = this - previous
    return f"{duration(this)} ({_sign(round(diff, 6), duration(abs(diff)))})"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """The report's tables: first column left, numbers right, one list item per line."""
    return table(header, rows, align or "l" + "r" * (len(header) - 1)).split("\n")


STATUS_MARK = {"staffed": "✅", "trainee-only": "🟡", "empty": "❌", "off": "·"}
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def to_markdown(report: WeekReport) -> str:
    """The Mattermost post: compact tables, this week's numbers with the change in brackets."""
    t, p = report.this, report.previous
    monday = week_monday(report.week)
    sunday = monday + timedelta(days=6)
    lines = [
        f"#### DAST weekly report {report.week}: {monday:%a %-d %b} to {sunday:%a %-d %b %Y}",
        f"_In brackets: change from {p.week}. Days in {report.timezone}._",
        "",
    ]
    q, pq = t.questions, p.questions
    lines += _table(
        ("Questions", report.week),
        [
            ("asked", with_delta(q.asked, pq.asked)),
            ("answered by the bot", with_delta(q.bot_answered, pq.bot_answered)),
            ("↳ confirmed helpful", with_delta(q.bot_helped, pq.bot_helped)),
            ("↳ not helpful", with_delta(q.bot_not_helped, pq.bot_not_helped)),
            ("handled by shifters", with_delta(q.handled_by_shifters, pq.handled_by_shifters)),
            ("still open at the week's end", with_delta(q.open_at_end, pq.open_at_end)),
            ("all open at the week's end", with_delta(q.backlog_at_end, pq.backlog_at_end)),
        ],
    )
    lines.append("")
    r, pr = t.first_response, p.first_response
    lines += _table(
        ("First human response", "replies", "median", "p90"),
        [
            (
                "asked on duty (staffed time)",
                with_delta(r.on_duty.count, pr.on_duty.count),
                duration_delta(r.on_duty.median_minutes, pr.on_duty.median_minutes),
                duration_delta(r.on_duty.p90_minutes, pr.on_duty.p90_minutes),
            ),
            (
                "asked off duty (wall clock)",
                with_delta(r.off_duty.count, pr.off_duty.count),
                duration_delta(r.off_duty.median_minutes, pr.off_duty.median_minutes),
                duration_delta(r.off_duty.p90_minutes, pr.off_duty.p90_minutes),
            ),
        ],
    )
    lines.append("")
    es, pes = t.escalations, p.escalations
    head = (
        f"**Escalations:** {with_delta(es.opened, pes.opened)} opened, "
        f"{with_delta(es.replied, pes.replied)} replied, "
        f"{with_delta(es.overdue, pes.overdue)} overdue; "
        f"{es.open_at_end} open at the week's end ({es.awaiting_at_end} awaiting a reply)."
    )
    if es.oldest_open is not None:
        o = es.oldest_open
        status = "replied" if o.replied else "awaiting a reply"
        status += ", past its deadline" if o.overdue else ""
        head += f" Oldest: {o.id} to {o.target}, {duration(o.age_hours * 60)} ({status})."
    lines.append(head)
    if es.by_target:
        lines += _table(
            ("target", "opened", "replied", "overdue", "open", "median reply", "oldest open"),
            [
                (
                    x.target,
                    x.opened,
                    x.replied,
                    x.overdue,
                    f"{x.open_at_end} ({x.awaiting_at_end} awaiting)" if x.open_at_end else "0",
                    duration(x.median_reply_hours * 60 if x.median_reply_hours else None),
                    duration(x.oldest_open_hours * 60 if x.oldest_open_hours else None),
                )
                for x in es.by_target
            ],
        )
    lines.append("")
    c, pc = t.coverage, p.coverage
    per_slot = ", ".join(f"{b.slot} {b.staffed}/{b.slots}" for b in c.by_slot)
    lines.append(
        f"**Coverage:** {with_delta(c.staffed, pc.staffed)} of {c.slots} slots staffed "
        f"({per_slot}); {c.trainee_only} trainee-only, {c.empty} empty."
    )
    if c.people:
        lines += _table(
            ("person", "shifts", "as trainee", "credit", "threads handled"),
            [
                (x.user, x.shifter_slots, x.trainee_slots, f"{x.credit:g}", x.threads)
                for x in c.people
            ],
        )
    lines.append("")
    lines += _md_next_weeks(report)
    lines.append("")
    g, pg = t.knowledge_gaps, p.knowledge_gaps
    lines.append(
        f"**Knowledge gaps:** the bot could not answer {with_delta(g.abstained, pg.abstained)} "
        "questions."
    )
    if g.clusters:
        lines += _table(
            ("most asked without an answer", "times"),
            [(one_line(x.text), x.count) for x in g.clusters],
        )
    if g.unhelpful:
        lines.append("")
        lines += _table(
            ("answers that did not help", "not helpful", "of answers"),
            [
                (f"`{x.entry_id}`" + (f" {one_line(x.title, 50)}" if x.title else ""),
                 x.not_helped, x.answered)
                for x in g.unhelpful
            ],
        )  # fmt: skip
    return "\n".join(_blank_before_tables(lines)).rstrip() + "\n"


def _blank_before_tables(lines: list[str]) -> list[str]:
    """Markdown tables need an empty line before them to render after a paragraph."""
    out: list[str] = []
    for line in lines:
        if line.startswith("|") and out and out[-1].strip() and not out[-1].startswith("|"):
            out.append("")
        out.append(line)
    return out


def _md_next_weeks(report: WeekReport) -> list[str]:
    days = list(report.weekdays)
    header = ["next weeks", "slot", *(_WEEKDAY_NAMES[d] for d in days)]
    rows: list[list[str]] = []
    by_week: dict[str, dict[int, Mapping[str, SlotStatus]]] = {}
    for day, statuses in report.next_weeks:
        by_week.setdefault(week_label(day), {})[day.weekday()] = statuses
    for week, week_days in by_week.items():
        for i, slot in enumerate(report.slot_names):
            cells = [STATUS_MARK[week_days[d][slot]] if d in week_days else "" for d in days]
            rows.append([week.split("-")[1] if i == 0 else "", slot, *cells])
    legend = "_✅ staffed · 🟡 trainee only · ❌ empty · · no shift (holiday)_"
    return [*_table(header, rows, "ll" + "c" * len(days)), legend]
