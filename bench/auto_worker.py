"""One `auto` benchmark run in a fresh process: python bench/auto_worker.py CASE VARIANT SEED
[--quick] [--settings C,W,S]. VARIANT is centred, noncentred or auto. Prints one JSON line: wall
seconds from process start to the summary statistics (import, compile, the choice, JIT, sampling),
the choice's own seconds, min bulk ESS over every reported scalar, leapfrog steps while sampling,
divergences, and what auto chose."""

from __future__ import annotations

import time

T_START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    case_name, variant, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from auto_cases import CASES

    case = CASES[case_name]
    chains, warmup, samples = case.settings
    if "--settings" in sys.argv:
        chains, warmup, samples = map(int, sys.argv[sys.argv.index("--settings") + 1].split(","))
    import numpy as np

    import pplang

    model = pplang.compile(case.source(variant), f"{case_name}_{variant}.ppl")
    post = model.sample(case.data(), chains=chains, warmup=warmup, samples=samples, seed=seed,
                        reparam="auto" if variant == "auto" else None)
    stats = post.statistics()
    ess = min(row["ess_bulk"] for row in stats.values() if row["ess_bulk"] is not None)
    wall = time.perf_counter() - T_START
    steps = int(np.sum(np.asarray(post.mcmc.get_extra_fields()["num_steps"])))
    chosen = "; ".join(f"{c.site}: {c.kind}" for c in post.model.spec.auto)
    print(json.dumps({
        "case": case_name, "variant": variant, "seed": seed, "wall_s": wall,
        "reparam_s": post.timing.get("reparam_s", 0.0), "jit_s": post.timing["jit_s"],
        "sample_s": post.timing["sample_s"], "min_ess_bulk": ess, "leapfrog": steps,
        "ess_per_1000_steps": 1000 * ess / steps, "ess_per_s": ess / wall,
        "divergences": post.num_divergences, "chosen": chosen,
        "cached": any(c.cached for c in post.model.spec.auto),
    }))


if __name__ == "__main__":
    main()
