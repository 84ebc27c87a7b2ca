"""The weekly report as data: JSON (``to_json``, stable documented keys under ``SCHEMA``) and
CSV (``to_csv``: one metric per row, this week against the previous one).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from dastbot.report.values import OUTCOMES, ResponseTimes, WeekReport, WeekStats
from dastbot.report.weeks import week_label
from dastbot.shifts.calendar import iso_z

SCHEMA = "dastbot.weekly-report/1"


def _week_json(w: WeekStats) -> dict[str, Any]:
    q, r, es, c, g = w.questions, w.first_response, w.escalations, w.coverage, w.knowledge_gaps

    def times(x: ResponseTimes) -> dict[str, Any]:
        return {"count": x.count, "median_minutes": x.median_minutes, "p90_minutes": x.p90_minutes}

    oldest = es.oldest_open
    return {
        "week": w.week,
        "start": iso_z(w.start),
        "end": iso_z(w.end),
        "questions": {
            "asked": q.asked,
            "bot_answered": q.bot_answered,
            "bot_helped": q.bot_helped,
            "bot_not_helped": q.bot_not_helped,
            "bot_no_feedback": q.bot_no_feedback,
            "abstained": q.abstained,
            "handled_by_shifters": q.handled_by_shifters,
            "resolved_at_end": q.resolved_at_end,
            "open_at_end": q.open_at_end,
            "backlog_at_end": q.backlog_at_end,
            "outcomes": {o: q.outcomes.get(o, 0) for o in OUTCOMES},
        },
        "daily": [
            {"day": d.day.isoformat(), **{o: d.counts.get(o, 0) for o in OUTCOMES}} for d in w.daily
        ],
        "first_response": {"on_duty": times(r.on_duty), "off_duty": times(r.off_duty)},
        "escalations": {
            "opened": es.opened,
            "replied": es.replied,
            "overdue": es.overdue,
            "open_at_end": es.open_at_end,
            "awaiting_at_end": es.awaiting_at_end,
            "by_target": [
                {
                    "target": x.target,
                    "opened": x.opened,
                    "replied": x.replied,
                    "overdue": x.overdue,
                    "open_at_end": x.open_at_end,
                    "awaiting_at_end": x.awaiting_at_end,
                    "median_reply_hours": x.median_reply_hours,
                    "oldest_open_hours": x.oldest_open_hours,
                }
                for x in es.by_target
            ],
            "oldest_open": None
            if oldest is None
            else {
                "id": oldest.id,
                "target": oldest.target,
                "thread_id": oldest.thread_id,
                "opened_at": iso_z(oldest.opened_at),
                "age_hours": oldest.age_hours,
                "replied": oldest.replied,
                "overdue": oldest.overdue,
            },
        },
        "coverage": {
            "slots": c.slots,
            "staffed": c.staffed,
            "trainee_only": c.trainee_only,
            "empty": c.empty,
            "by_slot": [
                {
                    "slot": b.slot,
                    "slots": b.slots,
                    "staffed": b.staffed,
                    "trainee_only": b.trainee_only,
                    "empty": b.empty,
                }
                for b in c.by_slot
            ],
            "days": [{"day": d.isoformat(), "slots": dict(s)} for d, s in c.days],
            "people": [
                {
                    "user": x.user,
                    "shifter_slots": x.shifter_slots,
                    "trainee_slots": x.trainee_slots,
                    "credit": x.credit,
                    "threads": x.threads,
                }
                for x in c.people
            ],
        },
        "knowledge_gaps": {
            "abstained": g.abstained,
            "clusters": [
                {"text": x.text, "count": x.count, "thread_ids": list(x.thread_ids)}
                for x in g.clusters
            ],
            "unhelpful_entries": [
                {
                    "entry_id": x.entry_id,
                    "title": x.title,
                    "not_helped": x.not_helped,
                    "answered": x.answered,
                }
                for x in g.unhelpful
            ],
        },
    }


def to_json(report: WeekReport) -> dict[str, Any]:
    """The report as JSON-ready data; keys are stable (a change bumps ``schema``).

    Top level: ``schema`` ("dastbot.weekly-report/1"), ``week`` and ``previous_week``
    (``YYYY-Www``), ``timezone``, ``slots`` (slot names in day order), ``this_week`` and
    ``previous_week_stats`` (the same shape, below), ``next_weeks`` (``[{day, slots: {slot:
    staffed|trainee-only|empty|off}}]`` for the 28 days after the week).

    A week: ``week``, ``start``/``end`` (UTC, ``...Z``); ``questions`` {asked, bot_answered,
    bot_helped, bot_not_helped, bot_no_feedback, abstained, handled_by_shifters, resolved_at_end,
    open_at_end, backlog_at_end, outcomes {bot_helped, shifters, resolved_otherwise,
    bot_no_feedback, waiting}}; ``daily`` [{day, <outcome>: n}]; ``first_response`` {on_duty,
    off_duty: {count, median_minutes, p90_minutes}} (null medians when no reply);
    ``escalations`` {opened, replied, overdue, open_at_end, awaiting_at_end, by_target [{target,
    opened, replied, overdue, open_at_end, awaiting_at_end, median_reply_hours,
    oldest_open_hours}], oldest_open {id, target, thread_id, opened_at, age_hours, replied,
    overdue} | null}; ``coverage`` {slots, staffed, trainee_only, empty, by_slot [{slot, slots,
    staffed, trainee_only, empty}], days [{day, slots}], people [{user, shifter_slots,
    trainee_slots, credit, threads}]}; ``knowledge_gaps`` {abstained, clusters [{text, count,
    thread_ids}], unhelpful_entries [{entry_id, title, not_helped, answered}]}.
    """
    return {
        "schema": SCHEMA,
        "week": report.week,
        "previous_week": report.previous.week,
        "timezone": report.timezone,
        "slots": list(report.slot_names),
        "this_week": _week_json(report.this),
        "previous_week_stats": _week_json(report.previous),
        "next_weeks": [{"day": d.isoformat(), "slots": dict(s)} for d, s in report.next_weeks],
    }


def _csv_value(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def csv_rows(report: WeekReport) -> Iterator[tuple[str, str, str, str]]:
    """(section, metric, this_week, previous_week) for every metric of the report."""
    t, p = report.this, report.previous

    def both(
        section: str, metric: str, a: float | None, b: float | None
    ) -> tuple[str, str, str, str]:
        return section, metric, _csv_value(a), _csv_value(b)

    for name in (
        "asked",
        "bot_answered",
        "bot_helped",
        "bot_not_helped",
        "bot_no_feedback",
        "abstained",
        "handled_by_shifters",
        "resolved_at_end",
        "open_at_end",
        "backlog_at_end",
    ):
        yield both("questions", name, getattr(t.questions, name), getattr(p.questions, name))
    for outcome in OUTCOMES:
        yield both(
            "outcomes",
            outcome,
            t.questions.outcomes.get(outcome, 0),
            p.questions.outcomes.get(outcome, 0),
        )
    for kind in ("on_duty", "off_duty"):
        a, b = getattr(t.first_response, kind), getattr(p.first_response, kind)
        yield both("first_response", f"{kind}_count", a.count, b.count)
        yield both("first_response", f"{kind}_median_minutes", a.median_minutes, b.median_minutes)
        yield both("first_response", f"{kind}_p90_minutes", a.p90_minutes, b.p90_minutes)
    for name in ("opened", "replied", "overdue", "open_at_end", "awaiting_at_end"):
        yield both("escalations", name, getattr(t.escalations, name), getattr(p.escalations, name))
    ta = {x.target: x for x in t.escalations.by_target}
    pa = {x.target: x for x in p.escalations.by_target}
    for target in sorted(set(ta) | set(pa)):
        for name in ("opened", "replied", "overdue", "open_at_end", "oldest_open_hours"):
            yield both(
                "escalations",
                f"{target}.{name}",
                getattr(ta[target], name) if target in ta else 0,
                getattr(pa[target], name) if target in pa else 0,
            )
    for name in ("slots", "staffed", "trainee_only", "empty"):
        yield both("coverage", name, getattr(t.coverage, name), getattr(p.coverage, name))
    ts = {x.slot: x for x in t.coverage.by_slot}
    ps = {x.slot: x for x in p.coverage.by_slot}
    for slot in report.slot_names:
        yield both(
            "coverage",
            f"{slot}.staffed",
            ts[slot].staffed if slot in ts else 0,
            ps[slot].staffed if slot in ps else 0,
        )
    tp = {x.user: x for x in t.coverage.people}
    pp = {x.user: x for x in p.coverage.people}
    for user in sorted(set(tp) | set(pp)):
        for name in ("credit", "threads"):
            yield both(
                "people",
                f"{user}.{name}",
                getattr(tp[user], name) if user in tp else 0,
                getattr(pp[user], name) if user in pp else 0,
            )
    next_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for day, statuses in report.next_weeks:
        for slot, status in statuses.items():
            if status != "off":
                next_counts[(week_label(day), slot)][status] += 1
    for (week, slot), tally in sorted(next_counts.items()):
        yield both("next_weeks", f"{week}.{slot}.staffed", tally["staffed"], None)
        yield both("next_weeks", f"{week}.{slot}.slots", sum(tally.values()), None)
    yield both(
        "knowledge_gaps",
        "abstained",
        t.knowledge_gaps.abstained,
        p.knowledge_gaps.abstained,
    )
    for x in t.knowledge_gaps.unhelpful:
        yield both("knowledge_gaps", f"{x.entry_id}.not_helped", x.not_helped, None)


def to_csv(report: WeekReport) -> str:
    """CSV with a header row ``section,metric,this_week,previous_week``; empty when unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "metric", "this_week", "previous_week"))
    writer.writerows(csv_rows(report))
    return out.getvalue()
