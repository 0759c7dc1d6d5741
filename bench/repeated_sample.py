"""Repeated ``Model.sample`` in one process (issue 15: a notebook cell re-run, a simulation study).

Eight schools, 2 chains x (990 warm-up + 500 draws), new data (y shifted) and a new seed each call.
For every call after the first it reports the call's wall time against the time of the compiled run
alone (the kept program called directly on the same inputs), and the process's RSS and memory-map
count over all calls. ``--plain`` times NumPyro's own ``MCMC.run`` per call instead (what pplang did
before ``pplang.reuse``; fewer calls, it is slow and leaks).

    python bench/repeated_sample.py [--calls 200] [--plain]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def maps() -> int:
    return sum(1 for _ in open("/proc/self/maps"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--plain", action="store_true")
    args = ap.parse_args()

    import jax

    import pplang
    from pplang import reuse

    model = pplang.load(ROOT / "examples" / "eight_schools.ppl")
    data = json.loads((ROOT / "examples" / "eight_schools.json").read_text())
    settings = dict(chains=2, warmup=990, samples=500, cache=False, progress_bar=args.plain)
    walls, runs, rss, nmaps = [], [], [], []
    for i in range(args.calls):
        d = {**data, "y": [v + 0.01 * i for v in data["y"]]}
        t0 = time.perf_counter()
        post = model.sample(d, seed=i, **settings)
        walls.append(time.perf_counter() - t0)
        if i and not args.plain:  # the compiled run alone, on the same inputs
            fn = next(reversed(reuse._kept.values()))
            kw = model.prepare_data(d)
            arrays = {k: v for k, v in kw.items() if not reuse._static(v)}
            t1 = time.perf_counter()
            jax.block_until_ready(fn(jax.random.PRNGKey(i), arrays))
            runs.append(time.perf_counter() - t1)
        rss.append(rss_mb())
        nmaps.append(maps())
        assert post.num_samples == 500
    later = walls[1:]
    print(f"calls: {args.calls} ({'plain MCMC.run' if args.plain else 'pplang.reuse'})")
    print(f"first call: {walls[0]:.2f} s; later calls: median {statistics.median(later):.3f} s")
    if runs:
        ratios = [w / r for w, r in zip(later, runs)]
        print(f"compiled run alone: median {statistics.median(runs):.3f} s; "
              f"call / run: median {statistics.median(ratios):.2f}, 90th pct "
              f"{sorted(ratios)[int(0.9 * len(ratios))]:.2f}")
    print(f"RSS: after call 1 {rss[0]:.0f} MB, after call {args.calls} {rss[-1]:.0f} MB "
          f"(growth {rss[-1] - rss[0]:+.0f} MB); memory maps {nmaps[0]} -> {nmaps[-1]}")


if __name__ == "__main__":
    main()
