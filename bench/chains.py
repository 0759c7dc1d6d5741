"""ESS per second against the number of vectorised chains (issue 15, item 4: GPUs want many chains).

Eight schools (non-centred, ``examples/eight_schools.ppl``), ``chain_method="vectorized"``, the same
warm-up and draws per chain for every chain count. Each chain count is sampled twice in one process:
the first call traces and compiles, the second reuses the compiled run (``pplang.reuse``), so its wall
time is sampling plus pplang's own work around it. Reported per chain count: the second call's wall
seconds, the smallest bulk ESS over every reported scalar, ESS per wall second, the time of the
summary statistics (rank-normalised R-hat, bulk and tail ESS over all chains) and the process's RSS.

    python bench/chains.py [--chains 8 64 256 1024 4096] [--warmup 1000] [--samples 1000] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from repeated_sample import rss_mb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", nargs="*", type=int, default=[8, 64, 256, 1024, 4096])
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--json", help="write the rows here as JSON")
    args = ap.parse_args()

    import jax

    import pplang

    model = pplang.load(ROOT / "examples" / "eight_schools.ppl")
    data = json.loads((ROOT / "examples" / "eight_schools.json").read_text())
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}); eight schools non-centred, "
          f"{args.warmup} warm-up + {args.samples} draws per chain, vectorised", flush=True)
    print(f"{'chains':>7} {'first s':>8} {'wall s':>8} {'min ESS':>10} {'ESS/s':>10} {'summary s':>10} "
          f"{'div':>6} {'RSS MB':>8}", flush=True)
    rows = []
    for n in args.chains:
        settings = dict(chains=n, warmup=args.warmup, samples=args.samples, chain_method="vectorized",
                        cache=False, progress_bar=False)
        t0 = time.perf_counter()
        model.sample(data, seed=1, **settings)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        post = model.sample(data, seed=2, **settings)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        stats = post.statistics()
        summary_s = time.perf_counter() - t1
        ess = min(row["ess_bulk"] for row in stats.values() if row["ess_bulk"] is not None)
        row = {"chains": n, "first_call_s": first, "wall_s": wall, "reused": post.timing.get("reused"),
               "min_ess_bulk": ess, "ess_per_s": ess / wall, "summary_s": summary_s,
               "divergences": post.num_divergences, "rss_mb": rss_mb(), "device": jax.devices()[0].device_kind}
        rows.append(row)
        print(f"{n:>7} {first:>8.2f} {wall:>8.2f} {ess:>10.0f} {ess / wall:>10.0f} {summary_s:>10.2f} "
              f"{post.num_divergences:>6} {row['rss_mb']:>8.0f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
