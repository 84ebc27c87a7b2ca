"""Answer latency while ``/dast kb reload`` loads a 5,000-entry knowledge base, against the same
questions without a reload, in one run.

A 5,000-entry knowledge base (the shipped one plus perturbed copies, as in bench_match.py) is
written to a temporary folder, in files of 1,000 entries. The router answers it (a real store
in memory, a chat that records). Questions from bench/eval/realistic-dev.yaml arrive at a fixed
rate; each one's latency is the time from its arrival to its answer being sent. Run 1 has a
coordinator run ``/dast kb reload`` as the first question arrives and keeps the questions coming
until the reload has finished; run 2 sends the same questions at the same times without a
reload. Target: every answer of run 1 within 100 ms of the same question's answer in run 2.

    python bench/bench_reload.py                     # 5,000 entries, a question every 50 ms
    python bench/bench_reload.py --entries 5000 --interval 0.05 --budget-ms 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_match import scaled_kb  # noqa: E402

from dastbot.answering.answers import LiveKnowledge  # noqa: E402
from dastbot.answering.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from dastbot.kernel.clock import SystemClock  # noqa: E402
from dastbot.kernel.config import Config, load_config  # noqa: E402
from dastbot.kernel.models import Command, OutMessage, Post  # noqa: E402
from dastbot.kernel.settings import Person  # noqa: E402
from dastbot.router import Router  # noqa: E402
from dastbot.store import Store  # noqa: E402

CHANNEL = "c" * 26


class Recorder:
    """A chat that accepts every message and notes when each question's answer went out."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.count = 0

    async def send(self, msg: OutMessage) -> str:
        self.count += 1
        if msg.root_id:
            self.sent_at.setdefault(msg.root_id, time.perf_counter())
        return f"bot{self.count:022d}"

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        return None

    async def user_timezone(self, user_id: str) -> str | None:
        return None

    async def react(self, post_id: str, emoji: str) -> None:
        return None

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    def permalink(self, post_id: str) -> str:
        return f"https://chat.example.org/atlas/pl/{post_id}"


def write_kb(kb: KnowledgeBase, folder: Path, per_file: int = 1000) -> None:
    rows = [
        {
            "id": e.id,
            "title": e.title,
            "category": e.category,
            "patterns": list(e.patterns),
            "answer": e.answer,
            "escalate_to": e.escalate_to,
        }
        for e in kb.entries
    ]
    for i in range(0, len(rows), per_file):
        text = yaml.safe_dump(rows[i : i + per_file], sort_keys=False, allow_unicode=True)
        (folder / f"part{i // per_file:02d}.yaml").write_text(text, encoding="utf-8")


def questions() -> list[str]:
    data = yaml.safe_load((REPO / "bench" / "eval" / "realistic-dev.yaml").read_text())
    return [str(q["text"]) for q in data]


def make_router(config: Config, knowledge: LiveKnowledge) -> tuple[Router, Recorder]:
    chat = Recorder()
    router = Router(config, Store.memory(), chat, SystemClock(), knowledge, bot_user_id="bot")
    return router, chat


async def run(
    config: Config, kb_dir: Path, texts: Sequence[str], interval: float, count: int, reload: bool
) -> tuple[list[float], float]:
    """Latencies (ms) of ``count`` questions (at least until the reload ends), and the reload's
    duration (s; 0 without one)."""
    knowledge = LiveKnowledge.load(kb_dir, config)
    router, chat = make_router(config, knowledge)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    arrived: dict[str, float] = {}
    tasks: list[asyncio.Task[bool]] = []
    reloading: asyncio.Task[object] | None = None
    reload_s = 0.0

    async def reload_now() -> object:
        nonlocal reload_s
        began = time.perf_counter()
        reply = await router.on_command(
            Command(user_id="u-cora", user_name="cora", channel_id=CHANNEL, text="kb reload")
        )
        reload_s = time.perf_counter() - began
        assert reply.text.startswith("Reloaded the knowledge base"), reply.text
        return reply

    def more() -> bool:
        if reload:
            return reloading is None or not reloading.done()
        return i < count

    i = 0
    while more():
        await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
        if reload and reloading is None:
            reloading = asyncio.ensure_future(reload_now())
        post_id = f"q{i:025d}"
        post = Post(post_id, CHANNEL, f"u{i % 7}", f"user{i % 7}", texts[i % len(texts)],
                    datetime.now().astimezone())  # fmt: skip
        arrived[post_id] = time.perf_counter()
        tasks.append(asyncio.ensure_future(router.on_post(post)))
        i += 1
    await asyncio.gather(*tasks)
    if reloading is not None:
        await reloading
    router.store.close()
    latencies = [(chat.sent_at[pid] - t) * 1000 for pid, t in arrived.items()]
    return latencies, reload_s


def percentile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def describe(name: str, values: Sequence[float]) -> str:
    return (
        f"{name}: {len(values)} answers, p50 {percentile(values, 50):.1f} ms, "
        f"p99 {percentile(values, 99):.1f} ms, max {max(values):.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between questions")
    parser.add_argument("--budget-ms", type=float, default=100.0)
    args = parser.parse_args(argv)

    shipped = load_knowledge(REPO / "knowledge")
    kb = scaled_kb(shipped, args.entries)
    texts = questions()
    with tempfile.TemporaryDirectory() as tmp:
        kb_dir = Path(tmp)
        write_kb(kb, kb_dir)
        config = load_config(None, {}).model_copy(
            update={
                "kb": str(kb_dir),
                "contacts": str(REPO / "knowledge" / "contacts.yaml"),
                "sites": str(REPO / "knowledge" / "sites.yaml"),
                "roster": [Person(user="cora", zone="EU", level="shifter", roles=["coordinator"])],
            }
        )
        with_reload, reload_s = asyncio.run(
            run(config, kb_dir, texts, args.interval, 0, reload=True)
        )
        without, _ = asyncio.run(
            run(config, kb_dir, texts, args.interval, len(with_reload), reload=False)
        )
    deltas = [a - b for a, b in zip(with_reload, without, strict=True)]
    worst = max(range(len(deltas)), key=deltas.__getitem__)
    print(f"knowledge base: {len(kb)} entries; reload took {reload_s:.1f} s (in a child process)")
    print(describe("during the reload", with_reload))
    print(describe("without a reload", without))
    ratio = percentile(with_reload, 99) / percentile(without, 99)
    print(
        f"largest delay of one answer by the reload: {deltas[worst]:.1f} ms (question {worst}: "
        f"{with_reload[worst]:.1f} vs {without[worst]:.1f} ms); p99 ratio {ratio:.2f}"
    )
    ok = deltas[worst] <= args.budget_ms
    print(f"target: every answer within {args.budget_ms:.0f} ms of the no-reload run: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
