"""Time of one weekly report on a year of history: compute, then render markdown, JSON and chart.

Builds 52 weeks of demo data (``dastbot.report.demo.fill_demo``, about 12 questions per working
day) in a temporary SQLite file, then computes and renders the report of the last complete week
several times (the first pass also pays matplotlib's import) and prints each stage's median and
maximum against the target of 2 s for the whole report.

    python bench/bench_report.py                       # 52 weeks, 7 passes
    python bench/bench_report.py --weeks 52 --passes 7 --seed 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dastbot.kernel.config import load_config
from dastbot.report.chart import chart_png
from dastbot.report.demo import fill_demo
from dastbot.report.export import to_json
from dastbot.report.render import to_markdown
from dastbot.report.stats import build_report
from dastbot.report.weeks import last_complete_week
from dastbot.shifts.calendar import Calendar
from dastbot.store import Store

TARGET_S = 2.0
END = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Monday 16 March 2026, 00:00 in Zurich


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = load_config(None, {})
    calendar = Calendar(config.shifts)
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.db")
        started = time.perf_counter()
        summary = fill_demo(store, args.weeks, END, args.seed, config)
        built = time.perf_counter() - started
        print(
            f"demo data: {args.weeks} weeks, {summary.questions} questions, {summary.events} "
            f"events, {summary.escalations} escalations in {built:.1f} s"
        )
        week = last_complete_week(END, calendar.zone)
        stages: dict[str, list[float]] = {"compute": [], "markdown": [], "json": [], "chart": []}
        totals: list[float] = []
        size = 0
        for _ in range(args.passes):
            t0 = time.perf_counter()
            report = build_report(store, week, calendar, config.roster)
            t1 = time.perf_counter()
            to_markdown(report)
            t2 = time.perf_counter()
            json.dumps(to_json(report))
            t3 = time.perf_counter()
            size = len(chart_png(report))
            t4 = time.perf_counter()
            for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                stages[name].append(seconds)
            totals.append(t4 - t0)
        store.close()
    print(f"report of {week} ({report.this.questions.asked} questions), {args.passes} passes:")
    for name, values in stages.items():
        print(
            f"  {name:9s} median {statistics.median(values) * 1000:7.1f} ms   "
            f"max {max(values) * 1000:7.1f} ms"
        )
    median, worst = statistics.median(totals), max(totals)
    print(
        f"  {'total':9s} median {median * 1000:7.1f} ms   max {worst * 1000:7.1f} ms   "
        f"(target <= {TARGET_S:.0f} s; chart {size / 1024:.0f} KiB)"
    )
    verdict = "OK" if worst <= TARGET_S else "OVER TARGET"
    print(f"{verdict}: worst pass {worst:.2f} s against {TARGET_S:.0f} s")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
