"""Benchmark runner: each case with pplang and with a hand-written NumPyro model of the same
posterior, side by side in the same invocation (alternating, each run in a fresh process), several
repetitions; prints medians and the ratio pplang / hand-written.

Usage: python bench/run.py [--quick] [--reps 3] [--cases eight_schools_noncentered hier_logistic]
       python bench/run.py --jit-scaling    # hier_logistic JIT time at N = 10k vs 100k
Columns: compile = parse + check + lower (pplang only) + JIT; sample = sampling wall time without
JIT; ESS/s = bulk ESS (numpyro) of the slowest scalar quantity per sampling second; peak = max RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cases import CASES  # noqa: E402


def measure(case: str, impl: str, quick: bool, n: int | None = None) -> dict:
    cmd = [sys.executable, str(HERE / "worker.py"), case, impl] + (["--quick"] if quick else [])
    cmd += ["--n", str(n)] if n else []
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{case}/{impl} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    ap.add_argument("--jit-scaling", action="store_true")
    args = ap.parse_args()
    if args.jit_scaling:
        for n in (10_000, 100_000):
            rows = [measure("hier_logistic", "pplang", True, n) for _ in range(args.reps)]
            print(f"hier_logistic N={n:>7}: JIT median {med(rows, 'jit_s'):.2f} s "
                  f"(runs {', '.join(format(r['jit_s'], '.2f') for r in rows)})")
        return
    header = (f"{'case':<27}{'impl':<9}{'compile s':>10}{'sample s':>10}{'total s':>9}{'ESS/s':>9}"
              f"{'peak MB':>9}{'div':>6}")
    print(header)
    print("-" * len(header))
    for name in args.cases:
        rows = {"pplang": [], "numpyro": []}
        for _ in range(args.reps):
            for impl in ("numpyro", "pplang"):
                rows[impl].append(measure(name, impl, args.quick))
        for impl in ("numpyro", "pplang"):
            rs = rows[impl]
            compile_s = med(rs, "front_s") + med(rs, "jit_s")
            print(f"{name:<27}{impl:<9}{compile_s:>10.2f}{med(rs, 'sample_s'):>10.2f}{med(rs, 'wall_s'):>9.2f}"
                  f"{med(rs, 'min_ess_per_s'):>9.0f}{med(rs, 'peak_rss_mb'):>9.0f}{int(med(rs, 'divergences')):>6}")
        p, h = rows["pplang"], rows["numpyro"]
        print(f"{'':<27}{'ratio':<9}{(med(p, 'front_s') + med(p, 'jit_s')) / med(h, 'jit_s'):>10.3f}"
              f"{med(p, 'sample_s') / med(h, 'sample_s'):>10.3f}{med(p, 'wall_s') / med(h, 'wall_s'):>9.3f}"
              f"{med(p, 'min_ess_per_s') / med(h, 'min_ess_per_s'):>9.3f}{med(p, 'peak_rss_mb') / med(h, 'peak_rss_mb'):>9.3f}")
    print(f"\n{'quick' if args.quick else 'full'} settings, medians of {args.reps} runs per cell, alternating.")


if __name__ == "__main__":
    main()
