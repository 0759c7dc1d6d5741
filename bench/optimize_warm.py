"""Benchmark: `pplang optimize examples/eight_schools.ppl` end to end (process start to exit) on a
warm cache, beside `pplang laplace` and `pplang run` of the same model for comparison;
alternating, several repetitions.

Usage: python bench/optimize_warm.py [--reps 5] [--no-run] [--cache DIR]
Both use one cache directory (default: a fresh temporary one; ``$PPLANG_CACHE_DIR`` is set to it),
filled by one untimed run of each first. Prints the median process wall time of each, every run's
time, and the load average before and after (timings on a busy machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "eight_schools.ppl"


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - t


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-run", action="store_true", help="time pplang optimize only (no laplace, no run)")
    ap.add_argument("--cache", help="cache directory (default: a new temporary one)")
    args = ap.parse_args()
    env = {**os.environ, "PPLANG_CACHE_DIR": args.cache or tempfile.mkdtemp(prefix="pplang-bench-optimize-")}
    cli = [sys.executable, "-m", "pplang.cli"]
    commands = {"pplang optimize": cli + ["optimize", str(MODEL)]}
    if not args.no_run:
        commands["pplang laplace"] = cli + ["laplace", str(MODEL)]
        commands["pplang run"] = cli + ["run", str(MODEL), "--no-progress"]
    cold = {name: timed(cmd, env) for name, cmd in commands.items()}  # fills the cache
    before = load()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.reps):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, env))
    print(f"model: {MODEL.relative_to(ROOT)}; warm cache; process wall, median of {args.reps} (interleaved)")
    for name, ts in times.items():
        print(f"{name + ',':17} warm: median {statistics.median(ts):5.2f} s  runs {', '.join(f'{x:.2f}' for x in ts)}"
              f"  (cold, filling the cache: {cold[name]:.2f} s)")
    print(f"load average (1, 5, 15 min): before {before}; after {load()}")


if __name__ == "__main__":
    main()
