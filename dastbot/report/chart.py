"""The weekly report's chart (matplotlib, headless Agg canvas): the week's questions per day by
outcome, and the coverage of the next four weeks.

matplotlib is imported when a chart is drawn, not when the bot starts.
"""

from __future__ import annotations

import io

from dastbot.report.values import OUTCOME_LABELS, WeekReport

OUTCOME_COLOURS = {
    "bot_helped": "#2e7d32",
    "bot_no_feedback": "#a5d6a7",
    "shifters": "#1565c0",
    "resolved_otherwise": "#9e9e9e",
    "waiting": "#e65100",
}
STATUS_COLOURS = {
    "staffed": "#43a047",
    "trainee-only": "#fdd835",
    "empty": "#e53935",
    "off": "#eeeeee",
}
CHART_SIZE = (8.0, 5.6)
CHART_DPI = 100


def chart_png(report: WeekReport) -> bytes:
    """Two panels: the week's questions per day by outcome (stacked bars) and the coverage of
    the next four weeks (slots x days). 800 x 560 px, deterministic bytes (no timestamps)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    FigureCanvasAgg(figure)  # headless: the Agg canvas, set here rather than through pyplot
    bars, grid = figure.subplots(2, 1, height_ratios=(3, 1.25))
    figure.subplots_adjust(left=0.07, right=0.75, top=0.93, bottom=0.1, hspace=0.55)

    days = report.this.daily
    labels = [f"{d.day:%a}\n{d.day:%-d %b}" for d in days]
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    order = ("bot_helped", "bot_no_feedback", "shifters", "resolved_otherwise", "waiting")
    for outcome in order:
        heights = [d.counts.get(outcome, 0) for d in days]
        bars.bar(
            positions,
            heights,
            bottom=bottom,
            color=OUTCOME_COLOURS[outcome],
            label=OUTCOME_LABELS[outcome],
            width=0.7,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for x, total in zip(positions, bottom, strict=True):
        if total:
            bars.text(x, total, str(total), ha="center", va="bottom", fontsize=8)
    bars.set_xticks(positions, labels, fontsize=8)
    bars.tick_params(axis="y", labelsize=8)
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_ylim(0, max([*bottom, 1]) * 1.15)
    bars.set_ylabel("questions", fontsize=9)
    bars.set_title(
        f"Questions per day, {report.week} ({report.this.questions.asked} asked)", fontsize=10
    )
    bars.spines[["top", "right"]].set_visible(False)
    bars.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    statuses = ("staffed", "trainee-only", "empty", "off")
    colours = ListedColormap([STATUS_COLOURS[s] for s in statuses])
    cells = [
        [statuses.index(dict(row)[slot]) for _, row in report.next_weeks]
        for slot in report.slot_names
    ]
    grid.imshow(cells, cmap=colours, vmin=-0.5, vmax=len(statuses) - 0.5, aspect="auto")
    grid.set_yticks(range(len(report.slot_names)), report.slot_names, fontsize=8)
    mondays = [i for i, (day, _) in enumerate(report.next_weeks) if day.weekday() == 0]
    grid.set_xticks(mondays, [f"{report.next_weeks[i][0]:%a %-d %b}" for i in mondays], fontsize=8)
    grid.set_xticks([i + 0.5 for i in range(len(report.next_weeks))], minor=True)
    grid.set_yticks([i + 0.5 for i in range(len(report.slot_names))], minor=True)
    grid.grid(which="minor", color="white", linewidth=1.5)
    grid.tick_params(which="minor", length=0)
    for i in mondays[1:]:
        grid.axvline(i - 0.5, color="#424242", linewidth=1.5)
    first, last = report.next_weeks[0][0], report.next_weeks[-1][0]
    grid.set_title(f"Shift coverage, next 4 weeks ({first:%-d %b} to {last:%-d %b})", fontsize=10)
    names = {"trainee-only": "trainee only", "off": "off (weekend, holiday)"}
    grid.legend(
        handles=[Patch(color=STATUS_COLOURS[s], label=names.get(s, s)) for s in statuses],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.15),
        fontsize=8,
        frameon=False,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
