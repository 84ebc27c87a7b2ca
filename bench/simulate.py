"""A simulated year of dastbot in about a minute: the real bot under a virtual clock, a simulated
Mattermost with its rules and faults, a population of askers, shifters, coordinators and
escalation targets, restarts (kill -9 inside a send too), and invariants checked every simulated
hour (see bench/sim/invariants.py). A failing run prints the command that replays it.

    python bench/simulate.py --seed 1 --weeks 52 --faults 1
    python bench/simulate.py --seeds 1-10 --weeks 52      # ten seeds, one after the other
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim.runner import failure_report, simulate


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-", 1)
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=_seeds, help="several seeds: 1-10 or 3,5,8")
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument(
        "--faults", type=float, default=1.0, help="fault rate multiplier (0 = no faults)"
    )
    parser.add_argument("--workdir", type=Path, help="where the database goes (default: temp)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    failed = 0
    for seed in args.seeds or [args.seed]:
        with tempfile.TemporaryDirectory() as tmp:
            summary, checker = simulate(seed, args.weeks, args.faults, args.workdir or Path(tmp))
        print(summary.text())
        if checker.violations:
            failed += 1
            print("\n".join(failure_report(summary, checker)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
