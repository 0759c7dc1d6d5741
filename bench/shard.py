"""Data-parallel sharding (``--shard-data``) of the hierarchical logistic regression at N = 1,000,000.

For 1, 2 and 4 forced CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=D``), one fresh
process each: ``bench/models/hier_logistic.ppl`` (J = 1,000 groups, K = 5 covariates; data from
``bench/cases.py``'s generator, fixed seed) sampled with ``Model.sample(devices=D)``, 2 vectorized
chains, float32. Two programs per process, each compiled once and then called ``--reps`` times
(pplang keeps the compiled run, so the repeats time sampling only):

- sampling s: 10 warm-up + 20 draws per chain (maximum tree depth 3, at most 7 leapfrog steps
  per draw, so the run's length does not depend on how far adaptation got): the wall time of the
  compiled run (``posterior.timing["sample_s"]``: placing the data and running the program, without
  reading and checking the data), the median over calls; ``call s`` is the whole ``Model.sample`` call;
- per gradient: the same run with 10 draws instead of 20 (same seed, so the same first draws):
  the difference in sampling time over the difference in leapfrog steps (NumPyro's ``num_steps``,
  the most of either chain per draw; both chains' gradients are one evaluation);
- first calls s: the first call of both programs (tracing, compiling, running).

With D = 1 the unsharded run (no ``devices``) is measured too. The machine has 2 cores, so 4
devices share 2 cores: expect little speed-up.

    python bench/shard.py [--n 1000000] [--reps 3] [--devices 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "bench" / "models" / "hier_logistic.ppl"
WARMUP, SHORT, LONG, DEPTH = 10, 10, 20, 3  # iterations per chain, and NUTS's maximum tree depth


def data(n: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(20261125)
    j, k = 1_000, 5
    x = rng.normal(size=(n, k))
    g = rng.integers(1, j + 1, size=n)
    a = rng.normal(-0.5, 0.8, size=j)
    beta = rng.normal(0, 0.5, size=k)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a[g - 1] + x @ beta)))).astype(np.int64)
    return {"N": n, "J": j, "K": k, "X": x, "g": g, "y": y}


def steps(post) -> int:
    """Leapfrog steps of the run's draws: per draw the most of any chain (vectorized chains step
    together until the last one's trajectory ends)."""
    import numpy as np

    return int(np.sum(np.max(post.mcmc.get_extra_fields(group_by_chain=True)["num_steps"], axis=0)))


def worker(devices: int, n: int, reps: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import pplang

    model = pplang.load(MODEL)
    d = data(n)
    out: dict = {"devices": devices}
    variants = [("sharded", {"devices": devices})] + ([("unsharded", {})] if devices == 1 else [])
    settings = dict(chains=2, warmup=WARMUP, max_tree_depth=DEPTH, cache=False)
    for label, placement in variants:
        row: dict = {}
        calls, long, grads = [], [], []
        for rep in range(reps + 1):  # the first call of each program compiles it
            t0 = time.perf_counter()
            a = model.sample(d, samples=SHORT, seed=rep, **settings, **placement)
            t1 = time.perf_counter()
            b = model.sample(d, samples=LONG, seed=rep, **settings, **placement)
            t2 = time.perf_counter()
            if rep == 0:
                row["first_calls_s"] = t2 - t0
                row["sharding"] = (b.sharding or {}).get("summary", "-")
                continue
            calls.append(t2 - t1)
            long.append(b.timing["sample_s"])
            grads.append((b.timing["sample_s"] - a.timing["sample_s"]) / max(steps(b) - steps(a), 1))
        row["call_s"] = statistics.median(calls)
        row["wall_s"] = statistics.median(long)
        row["ms_per_gradient"] = 1000 * statistics.median(grads)
        out[label] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.reps)))
        return
    rows = []
    for dev in args.devices:
        env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={dev}")
        r = subprocess.run([sys.executable, __file__, "--worker", str(dev), "--n", str(args.n), "--reps",
                            str(args.reps)], capture_output=True, text=True, env=env)
        if r.returncode:
            sys.exit(r.stderr[-3000:])
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"hier_logistic N = {args.n:,}, 2 chains, float32, medians of {args.reps} calls after the compiling one")
    print(f"{'devices':>8} {'run':>10} {'sampling s':>11} {'ms/gradient':>12} {'call s':>7} {'first calls s':>14}"
          "  sharding")
    for row in rows:
        for label in ("unsharded", "sharded"):
            if label in row:
                r = row[label]
                print(f"{row['devices']:>8} {label:>10} {r['wall_s']:>11.2f} {r['ms_per_gradient']:>12.2f} "
                      f"{r['call_s']:>7.2f} {r['first_calls_s']:>14.1f}  {r['sharding']}")


if __name__ == "__main__":
    main()
