"""How the bot's costs grow with years of history: 1, 3 and 9.3 years of ``dastbot demo-data``.

For each size it builds the database once (``dastbot demo-data --weeks N --end END --seed 1``,
kept under ``bench/.cache/``, which git ignores, and reused while the demo code is unchanged),
works on a migrated copy of it, and measures (medians of ``--runs`` runs):

* ``dastbot report`` of the last complete week, markdown and chart, end to end (a subprocess),
  its CPU time (less sensitive than wall time to other work on the machine) and peak RSS; the
  report's computation alone (``build_report``, in this process);
* the bot (``dastbot run`` against the fake Mattermost server, both subprocesses): process start
  to the first 200 from ``/healthz`` (and the bot's CPU time until then), at the first start
  (which builds the knowledge base's index) and the median of ``--runs`` restarts (which read
  it); ``/healthz`` and ``/dast escalations`` latency seen from the client, and the length of
  that listing; the length of ``/dast status`` as a shifter; a question's post to the bot's
  reply in its thread (the fake's ``create_at`` of both); the bot's peak RSS (``VmHWM``) at the end;
* the sweep (``App.tick``: due jobs, the outbox flush, the gauges) as it blocks the event loop,
  in this process, every 30 simulated seconds after the first.

It prints a table with a column per size, and beside the 3- and 9.3-year columns what a cost
linear in the history would be (the 1-year figure times 3 and 9.3), so that growth shows at a
glance; then PASS/FAIL against the targets of issue 16. ``--cache DIR`` measures databases
built elsewhere (e.g. by an older version, to compare code on the same data).

    python bench/bench_history.py                      # 1, 3 and 9.3 years, 3 runs each
    python bench/bench_history.py --years 1 9.3 --runs 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dastbot.app import App  # noqa: E402
from dastbot.kernel.clock import FakeClock  # noqa: E402
from dastbot.kernel.config import load_config  # noqa: E402
from dastbot.kernel.models import OutMessage  # noqa: E402
from dastbot.report.demo_rota import DEMO_ROSTER  # noqa: E402
from dastbot.report.stats import build_report  # noqa: E402
from dastbot.report.weeks import last_complete_week  # noqa: E402
from dastbot.shifts.calendar import Calendar  # noqa: E402
from dastbot.store import Store  # noqa: E402

END = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Monday 16 March 2026, 00:00 in Zurich
SEED = 1
SLASH_TOKEN = "bench-slash-token"
SHIFTER = "carol"
"""A user of the fake server, put on the roster as a shifter (roles are bound to user ids)."""
JSON = dict[str, Any]

ROWS: tuple[tuple[str, str, str], ...] = (
    ("report_s", "`dastbot report`, last week, md + chart", "s"),
    ("report_cpu_s", "… its CPU time (user + system)", "s"),
    ("compute_ms", "report computation alone", "ms"),
    ("first_startup_s", "first start-up to `/healthz` 200 (builds the knowledge index)", "s"),
    ("first_startup_cpu_s", "… the bot's CPU time until then", "s"),
    ("startup_s", "restart to `/healthz` 200", "s"),
    ("startup_cpu_s", "… the bot's CPU time until then", "s"),
    ("report_rss_mb", "peak RSS, `dastbot report`", "MB"),
    ("bot_rss_mb", "peak RSS, the bot", "MB"),
    ("healthz_ms", "`/healthz`", "ms"),
    ("escalations_ms", "`/dast escalations`", "ms"),
    ("escalations_chars", "… its characters", ""),
    ("status_chars", "`/dast status` as a shifter, characters", ""),
    ("sweep_ms", "30 s sweep, blocking the event loop", "ms"),
    ("reply_ms", "post → threaded reply", "ms"),
)
TARGETS: tuple[tuple[str, str, Callable[[dict[float, JSON]], bool]], ...] = (
    ("report <= 1.2 s at 9.3 y", "report_s", lambda r: _last(r)["report_s"] <= 1.2),
    (
        "report within 1.25x of 1 y",
        "report_s",
        lambda r: _last(r)["report_s"] <= 1.25 * _first(r)["report_s"],
    ),
    (
        "start-up <= 1.2 s (first start and restarts)",
        "startup_s",
        lambda r: max(_last(r)["first_startup_s"], _last(r)["startup_s"]) <= 1.2,
    ),
    (
        "peak RSS <= 110 MB",
        "report_rss_mb",
        lambda r: max(_last(r)["report_rss_mb"], _last(r)["bot_rss_mb"]) <= 110,
    ),
    ("/healthz <= 5 ms", "healthz_ms", lambda r: _last(r)["healthz_ms"] <= 5),
    ("/dast escalations <= 20 ms", "escalations_ms", lambda r: _last(r)["escalations_ms"] <= 20),
    ("sweep blocks <= 10 ms", "sweep_ms", lambda r: _last(r)["sweep_ms"] <= 10),
    (
        "replies within the post limit",
        "status_chars",
        lambda r: max(_last(r)["status_chars"], _last(r)["escalations_chars"]) <= 16383,
    ),
)


def _first(results: dict[float, JSON]) -> JSON:
    return results[min(results)]


def _last(results: dict[float, JSON]) -> JSON:
    return results[max(results)]


# --- databases ---------------------------------------------------------------------------------


def demo_fingerprint() -> str:
    """Changes whenever the code that writes demo data (or the schema) changes."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "dastbot").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(("dastbot/report/demo", "dastbot/store/", "dastbot/questions/")):
            digest.update(rel.encode() + path.read_bytes())
    for path in sorted((REPO / "knowledge").rglob("*.yaml")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def weeks_of(years: float) -> int:
    return round(years * 52.18)


def built_database(cache: Path, years: float, reuse_any: bool) -> Path:
    """The demo database of ``years`` in ``cache``, built first when missing."""
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"history-{years:g}y-*.db"
    if reuse_any:
        found = sorted(cache.glob(pattern))
        if found:
            return found[0]
    path = cache / f"history-{years:g}y-{demo_fingerprint()}.db"
    if path.is_file():
        return path
    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dastbot",
            "demo-data",
            "--weeks",
            str(weeks_of(years)),
            "--end",
            END.isoformat(),
            "--seed",
            str(SEED),
            "--db",
            str(partial),
        ],
        cwd=cache,
        env=_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    print(f"  built {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def working_copy(source: Path, folder: Path) -> Path:
    """A copy of ``source`` migrated by this code (migration is not measured)."""
    target = folder / "bench.db"
    shutil.copyfile(source, target)
    Store.open(target).close()
    return target


def counts(path: Path) -> JSON:
    store = Store.open(path)
    try:
        out = {}
        for table in ("questions", "events", "outbox", "seen_posts", "escalations"):
            out[table] = int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        out["mb"] = round(path.stat().st_size / 1e6)
        return out
    finally:
        store.close()


# --- measurements ------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": os.environ.get("HOME", "/tmp"),
        **extra,
    }


def write_config(folder: Path) -> Path:
    lines = ["roster:", f"  - {{user: {SHIFTER}, zone: EU, level: shifter}}"]
    for person in DEMO_ROSTER:
        roles = f", roles: [{', '.join(person.roles)}]" if person.roles else ""
        lines.append(
            f"  - {{user: {person.user}, zone: {person.zone}, level: {person.level}{roles}}}"
        )
    path = folder / "bot.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure_report(db: Path, folder: Path, runs: int) -> tuple[float, float, float]:
    """(median wall seconds, median CPU seconds, largest peak RSS MB) of ``dastbot report`` with
    its chart."""
    week = last_complete_week(END, Calendar(load_config(None, {}).shifts).zone)
    times: list[float] = []
    cpu: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dastbot",
                "report",
                "--config",
                str(folder / "bot.yaml"),
                "--db",
                str(db),
                "--week",
                week,
                "--chart",
                str(folder / "report.png"),
            ],
            cwd=folder,
            env=_env(),
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - started)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"dastbot report failed with {process.returncode}")
        rss.append(usage.ru_maxrss / 1024)
        cpu.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(times), statistics.median(cpu), max(rss)


def measure_compute(db: Path, folder: Path, runs: int) -> float:
    config = load_config(folder / "bot.yaml", {})
    calendar = Calendar(config.shifts)
    week = last_complete_week(END, calendar.zone)
    store = Store.open(db)
    try:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            build_report(store, week, calendar, config.roster)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    finally:
        store.close()


class NullChat:
    """A chat that accepts every message (the sweep's sends cost nothing here)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, msg: OutMessage) -> str:
        self.sent += 1
        return f"p{self.sent}"

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        return None

    async def user_timezone(self, user_id: str) -> str | None:
        return None

    async def react(self, post_id: str, emoji: str) -> None:
        return None

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    def permalink(self, post_id: str) -> str:
        return f"https://chat.example/p/{post_id}"

    async def check_destination(self, target: str) -> str:
        return ""


async def measure_sweep(db: Path, folder: Path, runs: int) -> float:
    """Median time of one tick (sweep, flush, gauges) every 30 s after a first catching-up tick;
    everything in it but the chat's sends runs on the event loop."""
    config = load_config(folder / "bot.yaml", {"db": str(db)})
    clock = FakeClock(END + timedelta(minutes=5))
    store = Store.open(db)
    try:
        app = App(config, NullChat(), clock, store=store)
        await app.start()
        times = []
        for _ in range(max(runs, 5)):
            clock.set(clock.now() + timedelta(seconds=30))
            started = time.perf_counter()
            await app.tick()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _stop(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


async def measure_bot(db: Path, folder: Path, runs: int) -> JSON:
    fake = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.fake_mattermost",
        "--port",
        "0",
        cwd=REPO,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
    )
    bot: asyncio.subprocess.Process | None = None
    log = (folder / "bot.log").open("w")
    out: JSON = {}
    try:
        assert fake.stdout is not None
        info = json.loads(await asyncio.wait_for(fake.stdout.readline(), 30))
        port = free_port()
        env = _env(
            DASTBOT_MATTERMOST_URL=info["url"],
            DASTBOT_MATTERMOST_TOKEN=info["users"]["dastbot"]["token"],
            DASTBOT_SLASH_TOKEN=SLASH_TOKEN,
            DASTBOT_HTTP_PORT=str(port),
            DASTBOT_HTTP_PUBLIC_URL=f"http://127.0.0.1:{port}",
            DASTBOT_HTTP_METRICS_PORT="0",
            DASTBOT_DB=str(db),
        )
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:

            async def start() -> tuple[asyncio.subprocess.Process, float, float]:
                started = time.perf_counter()
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "dastbot",
                    "run",
                    "--config",
                    str(folder / "bot.yaml"),
                    cwd=folder,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log,
                )
                while True:
                    if process.returncode is not None or time.perf_counter() - started > 120:
                        raise RuntimeError(f"the bot did not become healthy; see {folder}/bot.log")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"{base}/healthz") as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.005)
                return process, time.perf_counter() - started, cpu_seconds(process.pid)

            # The first start builds the knowledge base's index and keeps it beside the
            # database (answering.index_cache); the restarts after it read it from there.
            bot, out["first_startup_s"], out["first_startup_cpu_s"] = await start()
            restarts: list[tuple[float, float]] = []
            for _ in range(runs):
                await _stop(bot)
                bot, seconds, cpu = await start()
                restarts.append((seconds, cpu))
            out["startup_s"] = statistics.median(s for s, _ in restarts)
            out["startup_cpu_s"] = statistics.median(c for _, c in restarts)
            await asyncio.sleep(1.0)  # past the first sweep

            async def timed(call: Callable[[], Any], n: int) -> tuple[float, Any]:
                times, result = [], None
                for _ in range(n):
                    t0 = time.perf_counter()
                    result = await call()
                    times.append(time.perf_counter() - t0)
                return statistics.median(times) * 1000, result

            async def healthz() -> int:
                async with session.get(f"{base}/healthz") as response:
                    await response.read()
                    return response.status

            def slash(text: str) -> Callable[[], Any]:
                form = {
                    "token": SLASH_TOKEN,
                    "team_id": "team",
                    "team_domain": "atlas",
                    "channel_id": info["channels"]["dast-help"],
                    "channel_name": "dast-help",
                    "user_id": info["users"][SHIFTER]["id"],
                    "user_name": SHIFTER,
                    "command": "/dast",
                    "text": text,
                    "trigger_id": "t",
                    "response_url": "",
                }

                async def call() -> str:
                    body = urllib.parse.urlencode(form)
                    headers = {"Content-Type": "application/x-www-form-urlencoded"}
                    async with session.post(f"{base}/slash", data=body, headers=headers) as r:
                        reply = await r.json(content_type=None)
                    return str(reply.get("text", ""))

                return call

            out["healthz_ms"], _ = await timed(healthz, max(runs, 20))
            out["escalations_ms"], listing = await timed(slash("escalations"), max(runs, 5))
            out["escalations_chars"] = len(listing)
            _, status = await timed(slash("status"), 1)
            out["status_chars"] = len(status)
            out["reply_ms"] = await reply_latency(session, info, max(runs, 5))
            out["bot_rss_mb"] = peak_rss_mb(bot.pid)
    finally:
        await _stop(bot)
        await _stop(fake)
        log.close()
    return out


async def reply_latency(session: aiohttp.ClientSession, info: JSON, n: int) -> float:
    """Median ms from a question's ``create_at`` to the bot's first reply in its thread."""
    url = info["url"]
    headers = {"Authorization": f"Bearer {info['users']['alice']['token']}"}
    bot_id = info["users"]["dastbot"]["id"]
    channel = info["channels"]["dast-help"]
    latencies = []
    for i in range(n):
        body = {"channel_id": channel, "message": f"How do I get a grid proxy? (bench {i})"}
        async with session.post(f"{url}/api/v4/posts", json=body, headers=headers) as response:
            post = await response.json()
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            async with session.get(
                f"{url}/api/v4/posts/{post['id']}/thread", headers=headers
            ) as response:
                thread = await response.json()
            replies = [p["create_at"] for p in thread["posts"].values() if p["user_id"] == bot_id]
            if replies:
                latencies.append(min(replies) - post["create_at"])
                break
            await asyncio.sleep(0.01)
    return float(statistics.median(latencies)) if latencies else float("nan")


def measure(source: Path, runs: int) -> JSON:
    with tempfile.TemporaryDirectory(prefix="dastbot-history-") as name:
        folder = Path(name)
        write_config(folder)
        db = working_copy(source, folder)
        result: JSON = {"rows": counts(db)}
        report = measure_report(db, folder, runs)
        result["report_s"], result["report_cpu_s"], result["report_rss_mb"] = report
        result["compute_ms"] = measure_compute(db, folder, runs)
        result.update(asyncio.run(measure_bot(db, folder, runs)))
        result["sweep_ms"] = asyncio.run(measure_sweep(db, folder, runs))
        return result


# --- output ------------------------------------------------------------------------------------


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:,.0f}"


def table(results: dict[float, JSON]) -> str:
    sizes = sorted(results)
    first = sizes[0]
    head = [""]
    for years in sizes:
        head.append(f"{years:g} y")
        if years != first:
            head.append(f"linear {years / first:g}x")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    cells = ["history: questions / events / outbox / seen posts / MB"]
    for years in sizes:
        rows = results[years]["rows"]
        counts = (rows[t] for t in ("questions", "events", "outbox", "seen_posts"))
        cells.append(" / ".join(f"{n:,}" for n in counts) + f" / {rows['mb']}")
        if years != first:
            cells.append("")
    lines.append("| " + " | ".join(cells) + " |")
    for key, label, unit in ROWS:
        cells = [label]
        base = results[first][key]
        for years in sizes:
            cells.append(_fmt(results[years][key], unit))
            if years != first:
                cells.append(_fmt(base * years / first, unit))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, nargs="+", default=[1.0, 3.0, 9.3])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=REPO / "bench" / ".cache",
        help="where built databases are kept (default bench/.cache)",
    )
    parser.add_argument(
        "--reuse-any",
        action="store_true",
        help="use any cached database of the right size, even one built by other code",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args(argv)
    results: dict[float, JSON] = {}
    for years in sorted(args.years):
        source = built_database(args.cache, years, args.reuse_any)
        print(f"measuring {years:g} years ({source.name})", file=sys.stderr)
        results[years] = measure(source, args.runs)
    if args.json:
        print(json.dumps({f"{y:g}": r for y, r in results.items()}, indent=1))
    else:
        print(table(results))
    if len(results) < 2:
        return 0
    print()
    verdicts = [(name, check(results)) for name, _, check in TARGETS]
    for name, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
