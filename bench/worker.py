"""One benchmark measurement in a fresh process (so JIT and peak memory are not shared):
python bench/worker.py CASE pplang|numpyro [--quick] [--n N]. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    case_name, impl = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    n = int(sys.argv[sys.argv.index("--n") + 1]) if "--n" in sys.argv else None
    from cases import CASES, hier_logistic_data

    case = next(c for c in CASES if c.name == case_name)
    settings = case.quick_settings if quick else case.settings
    raw = hier_logistic_data(quick, n) if (n and case.name == "hier_logistic") else case.data(quick)

    import jax
    import numpy as np

    if case.float64:
        jax.config.update("jax_enable_x64", True)
    from numpyro.diagnostics import effective_sample_size
    from numpyro.infer import MCMC, NUTS

    from pplang.jitcache import JitClock

    t_import = time.perf_counter() - T_START
    t0 = time.perf_counter()
    if impl == "pplang":
        import pplang

        model = pplang.load(case.ppl)
        fn = model.numpyro_model
        data = model.prepare_data(raw)
    else:
        import handwritten.models as hw

        fn = getattr(hw, case.handwritten)
        import pplang

        data = pplang.load(case.ppl).prepare_data(raw)  # identical arrays for both
    t_front = time.perf_counter() - t0 if impl == "pplang" else 0.0
    mcmc = MCMC(NUTS(fn), num_warmup=settings["warmup"], num_samples=settings["samples"],
                num_chains=settings["chains"], chain_method="vectorized", progress_bar=False)
    t1 = time.perf_counter()
    with JitClock() as clock:
        mcmc.run(jax.random.PRNGKey(0), **data)
        samples = mcmc.get_samples(group_by_chain=True)
        jax.block_until_ready(samples)
    run_s = time.perf_counter() - t1
    sample_s = run_s - clock.compile_s
    ess = []
    for k, v in samples.items():
        v = np.asarray(v)
        if v.ndim >= 2 and not k.endswith("_decentered"):
            e = np.asarray(effective_sample_size(v.reshape(v.shape[0], v.shape[1], -1)))
            ess.append(float(np.min(e)))
    out = {
        "case": case.name, "impl": impl, "import_s": t_import, "front_s": t_front, "jit_s": clock.compile_s,
        "sample_s": sample_s, "wall_s": time.perf_counter() - T_START, "min_ess": min(ess),
        "min_ess_per_s": min(ess) / sample_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "divergences": int(np.sum(np.asarray(mcmc.get_extra_fields()["diverging"]))),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
