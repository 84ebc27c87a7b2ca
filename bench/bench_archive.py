"""Import time and peak memory of `dastbot archive import` on a generated 20,000-mail mbox.

Generates the archive with ``bench/make_archive.py`` (unless ``--mbox`` names one), then runs
``dastbot archive import`` in a child process into a new SQLite file, three times:

1. the first import: wall time (and CPU time) and the child's peak resident memory
   (``ru_maxrss``), against the targets of 60 s and 200 MB;
2. the same archive again: it must add no row to any archive table;
3. a truncated copy and a file of binary garbage: both reported, the import exits normally.

    python bench/bench_archive.py                   # 20,000 mails, seed 1
    python bench/bench_archive.py --messages 5000 --keep /tmp/dast.mbox
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0
TARGET_MB = 200.0
TABLES = ("archive_messages", "archive_threads", "archive_weekly")


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # user + system time: what a busy shared machine does not inflate
    peak_mb: float  # this child's own peak resident memory (os.wait4's ru_maxrss)
    code: int
    stdout: str
    stderr: str


def run_import(paths: list[Path], db: Path, work: Path) -> Run:
    """One `dastbot archive import` in a child process, timed and measured."""
    command = [sys.executable, "-m", "dastbot", "archive", "import", *map(str, paths)]
    command += ["--db", str(db), "--no-progress"]
    out, err = work / "stdout.txt", work / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=REPO)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(
        seconds, cpu, usage.ru_maxrss / 1024, child.returncode, out.read_text(), err.read_text()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mbox", type=Path, help="import this mbox instead of generating one")
    parser.add_argument("--keep", type=Path, help="also keep the generated mbox here")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        mbox = args.mbox or args.keep or work / "archive.mbox"
        if args.mbox is None:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(REPO / "bench" / "make_archive.py"),
                 "--messages", str(args.messages), "--seed", str(args.seed), "--out", str(mbox)],
                check=True, capture_output=True,
            )  # fmt: skip
            print(f"generated {args.messages} mails ({mbox.stat().st_size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        db = work / "archive.db"

        run = run_import([mbox], db, work)
        print(run.stdout.strip())
        first = counts(db)
        fast, small = run.seconds <= TARGET_S, run.peak_mb <= TARGET_MB
        print(f"first import: {run.seconds:.1f} s wall, {run.cpu_seconds:.1f} s CPU (target "
              f"{TARGET_S:.0f} s: "
              f"{'ok' if fast else 'MISSED'}), peak memory {run.peak_mb:.0f} MB (target "
              f"{TARGET_MB:.0f} MB: {'ok' if small else 'MISSED'}); rows {first}")  # fmt: skip
        ok = ok and fast and small and run.code == 0

        run = run_import([mbox], db, work)
        again = counts(db)
        added = {t: again[t] - first[t] for t in TABLES}
        same = not any(added.values()) and run.code == 0
        print(f"re-import: {run.seconds:.1f} s, peak memory {run.peak_mb:.0f} MB, rows added "
              f"{added} ({'ok' if same else 'MISSED'})")  # fmt: skip
        ok = ok and same

        data = mbox.read_bytes()
        cut = work / "truncated.mbox"
        cut.write_bytes(data[: len(data) // 2 + 12345])
        junk = work / "garbage.mbox"
        junk.write_bytes(random.Random(args.seed).randbytes(1 << 20))
        run = run_import([cut, junk], work / "damaged.db", work)
        reported = [line for line in run.stderr.splitlines() if line.startswith("  ")]
        survived = run.code == 0 and bool(reported)
        verdict = "ok" if survived else "MISSED"
        print(f"truncated + garbage: exit {run.code} in {run.seconds:.1f} s, "
              f"{len(reported)} problem(s) reported ({verdict}):")  # fmt: skip
        for line in reported[:5]:
            print(f"  {line.strip()}")
        ok = ok and survived
    print(f"cores: {os.cpu_count()}; result: {'all targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
