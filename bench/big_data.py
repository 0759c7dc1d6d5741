"""Time per gradient of a large-data model on the default device (issue 15: data that outgrow a device).

``bench/models/hier_logistic.ppl`` (non-centred as written, or ``--centred``) with the data of
``bench/cases.py`` at ``--n`` rows, J = 1,000 groups, K = 5. Two calls in one process: the first
traces and compiles, the second reuses the compiled run; the second's sampling seconds divided by
its leapfrog steps is the time of one gradient step for all chains together.

    python bench/big_data.py [--n 1000000] [--chains 4] [--warmup 100] [--samples 100] [--centred]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--centred", action="store_true")
    ap.add_argument("--json", help="append the row here as a JSON line")
    args = ap.parse_args()

    import jax
    import numpy as np

    import pplang
    from cases import hier_logistic_data

    source = (ROOT / "bench" / "models" / "hier_logistic.ppl").read_text()
    if args.centred:
        source = source.replace("a[j] ~ Normal(mu_a, sigma_a) noncentered", "a[j] ~ Normal(mu_a, sigma_a)")
    model = pplang.compile(source, "hier_logistic.ppl")
    data = hier_logistic_data(False, n=args.n)
    settings = dict(chains=args.chains, warmup=args.warmup, samples=args.samples, cache=False, progress_bar=False)
    t0 = time.perf_counter()
    model.sample(data, seed=0, **settings)
    first = time.perf_counter() - t0
    post = model.sample(data, seed=1, **settings)
    steps = int(np.sum(np.asarray(post.mcmc.get_extra_fields()["num_steps"])))
    # leapfrog steps are summed over chains; vectorised chains take them together, so the time
    # of one step of all chains is the sampling time over the steps of the longest chain
    per_chain = np.asarray(post.mcmc.get_extra_fields(group_by_chain=True)["num_steps"]).sum(axis=1)
    row = {"device": jax.devices()[0].device_kind, "n": args.n, "chains": args.chains,
           "parameterisation": "centred" if args.centred else "non-centred",
           "first_call_s": first, "sample_s": post.timing["sample_s"], "reused": post.timing.get("reused"),
           "leapfrog_total": steps, "leapfrog_longest_chain": int(per_chain.max()),
           "ms_per_step": 1000 * post.timing["sample_s"] / max(int(per_chain.max()), 1)}
    print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
