"""End-to-end benchmark: the bot and the fake Mattermost server as separate processes on loopback.

Starts ``python -m tests.fakes.fake_mattermost --port 0`` (in the clone's root) and ``python -m
dastbot run --ready-json`` (packaged knowledge base, a fresh database), and measures:

* start-up: bot process start -> its ready line, and -> its first websocket ``hello`` (the first
  200 from its ``/healthz``, which needs the websocket);
* questions: N questions at R per second from alice, bob and carol, posted over the fake's REST
  API with the users' tokens (most match the knowledge base, some do not); a websocket listener
  counts the bot's first replies; latency is the fake's ``create_at`` of the question to the
  ``create_at`` of the bot's first reply in its thread (``props.dastbot_key`` answer:/abstain:),
  read from ``/_fake/state`` at the end; replies lost (none after the grace period) and
  duplicated (more than one first reply);
* the bot's peak RSS (``VmHWM`` of ``/proc/<pid>/status``) at the end.

Prints the figures and PASS/FAIL against the targets (p99 <= 50 ms, RSS <= 120 MB, ready <= 1.5 s,
nothing lost or duplicated); exits 1 when a target fails.

    python bench/bench_e2e.py                          # 1,000 questions at 50/s
    python bench/bench_e2e.py --questions 200 --rate 100 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dastbot.answering.knowledge import load_knowledge, packaged_knowledge  # noqa: E402

TARGET_P99_MS = 50.0
TARGET_RSS_MB = 120.0
TARGET_READY_S = 1.5
USERS = ("alice", "bob", "carol")
UNRELATED = (
    "Where can I find the cafeteria menu for next week?",
    "Is the group meeting on Thursday moved to the small room?",
    "Who keeps the keys of the basement laboratory?",
    "Can somebody recommend a good book on statistics?",
)
JSON = dict[str, Any]


@dataclass
class Results:
    ready_s: float = 0.0
    hello_s: float = 0.0
    questions: int = 0
    sent_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    post_errors: int = 0
    rss_mb: float = 0.0
    answered: int = 0
    abstained: int = 0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def questions(n: int, seed: int) -> list[str]:
    """``n`` questions: 80% phrasings from the packaged knowledge base, 20% unrelated."""
    rng = random.Random(seed)
    patterns = [p for entry in load_knowledge(packaged_knowledge()) for p in entry.patterns]
    out = []
    for i in range(n):
        text = rng.choice(patterns) if rng.random() < 0.8 else rng.choice(UNRELATED)
        out.append(f"{text} (question {i})")
    return out


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_fake() -> tuple[asyncio.subprocess.Process, JSON]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.fake_mattermost",
        "--port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    return process, json.loads(line)


async def wait_healthy(session: aiohttp.ClientSession, url: str, timeout: float) -> None:
    """Until the bot's /healthz says 200 (websocket connected: the first hello)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.002)
    raise TimeoutError("the bot's websocket did not connect")


async def listen(fake: JSON, replies: set[str], done: asyncio.Event, total: int) -> None:
    """Count the bot's first replies as the websocket announces them (as user carol)."""
    url = fake["url"].replace("http", "ws", 1) + "/api/v4/websocket"
    token = fake["users"]["carol"]["token"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json(
            {"seq": 1, "action": "authentication_challenge", "data": {"token": token}}
        )
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            if event.get("event") != "posted":
                continue
            post = json.loads(event["data"]["post"])
            key = str((post.get("props") or {}).get("dastbot_key", ""))
            if key.startswith(("answer:", "abstain:")):
                replies.add(key.split(":", 1)[1])
                if len(replies) >= total:
                    done.set()


async def run(args: argparse.Namespace) -> Results:
    results = Results(questions=args.questions)
    texts = questions(args.questions, args.seed)
    fake_process, fake = await start_fake()
    work = Path(tempfile.mkdtemp(prefix="dastbot-bench-"))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "DASTBOT_MATTERMOST_URL": fake["url"],
        "DASTBOT_MATTERMOST_TOKEN": fake["users"]["dastbot"]["token"],
        "DASTBOT_SLASH_TOKEN": "bench-slash-token",
        "DASTBOT_HTTP_PORT": str(port),
        "DASTBOT_HTTP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DASTBOT_HTTP_METRICS_PORT": "0",
        "DASTBOT_DB": str(work / "bench.db"),
    }
    bot: asyncio.subprocess.Process | None = None
    log = (work / "bot.log").open("w")
    try:
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            bot = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dastbot",
                "run",
                "--ready-json",
                cwd=work,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            assert bot.stdout is not None
            line = await asyncio.wait_for(bot.stdout.readline(), 30)
            if not line:
                raise RuntimeError(f"the bot exited; see {work / 'bot.log'}")
            results.ready_s = time.perf_counter() - started
            await wait_healthy(session, f"http://127.0.0.1:{port}/healthz", 30)
            results.hello_s = time.perf_counter() - started

            replies: set[str] = set()
            all_replied = asyncio.Event()
            listener = asyncio.ensure_future(listen(fake, replies, all_replied, args.questions))
            await asyncio.sleep(0.2)  # the listener's socket is up
            channel = fake["channels"]["dast-help"]
            sessions = {
                user: aiohttp.ClientSession(
                    headers={"Authorization": f"Bearer {fake['users'][user]['token']}"}
                )
                for user in USERS
            }

            async def ask(i: int, text: str) -> None:
                user = USERS[i % len(USERS)]
                body = {"channel_id": channel, "message": text}
                try:
                    async with sessions[user].post(f"{fake['url']}/api/v4/posts", json=body) as r:
                        if r.status != 201:
                            results.post_errors += 1
                except aiohttp.ClientError:
                    results.post_errors += 1

            loop = asyncio.get_running_loop()
            begin = loop.time()
            tasks = []
            for i, text in enumerate(texts):
                delay = begin + i / args.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(ask(i, text)))
            await asyncio.gather(*tasks)
            results.sent_s = loop.time() - begin
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_replied.wait(), args.grace)
            await asyncio.sleep(0.5)  # late duplicates, if any
            results.rss_mb = peak_rss_mb(bot.pid)
            listener.cancel()
            for s in sessions.values():
                await s.close()
            async with session.get(f"{fake['url']}/_fake/state") as response:
                state = await response.json()
        measure(results, state, fake)
    finally:
        for process in (bot, fake_process):
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
        log.close()
    return results


def measure(results: Results, state: JSON, fake: JSON) -> None:
    bot_id = fake["users"]["dastbot"]["id"]
    channel = fake["channels"]["dast-help"]
    asked = {
        p["id"]: p["create_at"]
        for p in state["posts"]
        if p["channel_id"] == channel and not p["root_id"] and p["user_id"] != bot_id
    }
    firsts: dict[str, list[int]] = {}
    for post in state["posts"]:
        key = str((post.get("props") or {}).get("dastbot_key", ""))
        kind, _, thread = key.partition(":")
        if post["user_id"] == bot_id and kind in ("answer", "abstain"):
            firsts.setdefault(thread, []).append(post["create_at"])
            results.answered += kind == "answer"
            results.abstained += kind == "abstain"
    for question, created in asked.items():
        replies = firsts.get(question, [])
        if not replies:
            results.lost += 1
            continue
        results.duplicated += len(replies) > 1
        results.latencies_ms.append(float(min(replies) - created))
    results.lost += results.questions - len(asked)  # posts the fake refused


def report(results: Results, args: argparse.Namespace) -> bool:
    p50, p99 = results.percentile(50), results.percentile(99)
    rss, ready = results.rss_mb, results.ready_s
    checks = [
        ("p99 latency", f"{p99:.1f} ms", f"<= {TARGET_P99_MS:g} ms", p99 <= TARGET_P99_MS),
        ("peak RSS", f"{rss:.1f} MB", f"<= {TARGET_RSS_MB:g} MB", rss <= TARGET_RSS_MB),
        ("ready", f"{ready:.2f} s", f"<= {TARGET_READY_S:g} s", ready <= TARGET_READY_S),
        ("replies lost", str(results.lost), "0", results.lost == 0),
        ("replies duplicated", str(results.duplicated), "0", results.duplicated == 0),
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "questions": results.questions,
                    "rate": args.rate,
                    "sent_s": round(results.sent_s, 2),
                    "ready_s": round(results.ready_s, 3),
                    "hello_s": round(results.hello_s, 3),
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "max_ms": max(results.latencies_ms, default=float("nan")),
                    "lost": results.lost,
                    "duplicated": results.duplicated,
                    "post_errors": results.post_errors,
                    "rss_mb": round(results.rss_mb, 1),
                    "pass": {name: ok for name, _, _, ok in checks},
                }
            )
        )
    else:
        print(f"start-up: ready line {results.ready_s:.2f} s, first hello {results.hello_s:.2f} s")
        print(
            f"questions: {results.questions} at {args.rate:g}/s (sent in {results.sent_s:.1f} s; "
            f"{results.answered} answered, {results.abstained} abstained, "
            f"{results.post_errors} refused by the server)"
        )
        mean = statistics.fmean(results.latencies_ms) if results.latencies_ms else float("nan")
        print(
            f"post-to-reply latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {mean:.1f} ms, "
            f"max {max(results.latencies_ms, default=float('nan')):.1f} ms"
        )
        print(f"replies lost: {results.lost}, duplicated: {results.duplicated}")
        print(f"bot peak RSS (VmHWM): {results.rss_mb:.1f} MB")
        for name, value, target, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {value} (target {target})")
    return all(ok for *_, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="questions per second")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds to wait for replies")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    return 0 if report(results, args) else 1


if __name__ == "__main__":
    sys.exit(main())
