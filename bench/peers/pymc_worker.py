"""Peer measurement: one case with PyMC + nutpie, in a fresh process, printing one JSON line like
bench/worker.py. Needs the optional peers environment (`pip install pymc nutpie`); never used by CI.

    /path/to/peers-venv/bin/python bench/peers/pymc_worker.py CASE [--quick] [--sampler nutpie|pymc]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(case: str, d: dict):
    import numpy as np
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as m:
        if case.startswith("eight_schools"):
            mu = pm.Normal("mu", 0, 5)
            tau = pm.HalfCauchy("tau", 5)
            if case.endswith("noncentered"):
                eta = pm.Normal("theta_decentered", 0, 1, shape=d["J"])
                theta = pm.Deterministic("theta", mu + tau * eta)
            else:
                theta = pm.Normal("theta", mu, tau, shape=d["J"])
            pm.Normal("y", theta, np.asarray(d["sigma"]), observed=np.asarray(d["y"]))
        elif case == "hier_logistic":
            mu_a = pm.Normal("mu_a", 0, 2.5)
            sigma_a = pm.HalfNormal("sigma_a", 1)
            z = pm.Normal("a_decentered", 0, 1, shape=d["J"])
            a = mu_a + sigma_a * z
            beta = pm.Normal("beta", 0, 1, shape=d["K"])
            g = np.asarray(d["g"]) - 1
            pm.Bernoulli("y", logit_p=a[g] + pt.dot(np.asarray(d["X"]), beta), observed=np.asarray(d["y"]))
        elif case == "garch_T10k":
            y = np.asarray(d["y"])
            mu = pm.Flat("mu")
            alpha0 = pm.HalfFlat("alpha0")
            alpha1 = pm.Uniform("alpha1", 0, 1)
            beta1 = pm.Uniform("beta1", 0, 1 - alpha1)
            pm.Potential("beta1_flat", pt.log(1 - alpha1))  # Stan's flat prior on the triangle

            def step(y_prev, sig_prev, mu, a0, a1, b1):
                return pt.sqrt(a0 + a1 * (y_prev - mu) ** 2 + b1 * sig_prev ** 2)

            import pytensor

            sig, _ = pytensor.scan(step, sequences=[y[:-1]], outputs_info=[pt.as_tensor(d["sigma1"])],
                                   non_sequences=[mu, alpha0, alpha1, beta1])
            sigma = pt.concatenate([pt.as_tensor([d["sigma1"]]), sig])
            pm.Normal("y", mu, sigma, observed=y)
        elif case == "gp_N500":
            x = np.asarray(d["x"])[:, None]
            rho = pm.InverseGamma("rho", 5, 5)
            alpha = pm.HalfNormal("alpha", 1)
            sigma = pm.HalfNormal("sigma", 1)
            cov = alpha ** 2 * pm.gp.cov.ExpQuad(1, ls=rho)
            K = cov(x) + sigma ** 2 * pt.eye(d["N"])
            pm.MvNormal("y", mu=np.zeros(d["N"]), chol=pt.linalg.cholesky(K), observed=np.asarray(d["y"]))
        else:
            raise SystemExit(f"no PyMC model for {case}")
    return m


def main() -> None:
    case_name = sys.argv[1]
    quick = "--quick" in sys.argv
    sampler = sys.argv[sys.argv.index("--sampler") + 1] if "--sampler" in sys.argv else "nutpie"
    from cases import CASES

    case = next(c for c in CASES if c.name == case_name)
    settings = case.quick_settings if quick else case.settings
    d = case.data(quick)
    import arviz as az
    import numpy as np

    t0 = time.perf_counter()
    model = build(case_name, d)
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
        t_compile = time.perf_counter() - t0
        t1 = time.perf_counter()
        idata = nutpie.sample(compiled, draws=settings["samples"], tune=settings["warmup"], chains=settings["chains"],
                              seed=0, progress_bar=False)
    else:
        import pymc as pm

        t_compile = 0.0
        t1 = time.perf_counter()
        with model:
            idata = pm.sample(draws=settings["samples"], tune=settings["warmup"], chains=settings["chains"],
                              cores=2, random_seed=0, progressbar=False, compute_convergence_checks=False)
    sample_s = time.perf_counter() - t1
    ess = az.ess(idata.posterior)
    min_ess = min(float(np.min(ess[v].values)) for v in ess.data_vars if not v.endswith("_decentered"))
    div = int(idata.sample_stats["diverging"].values.sum()) if "diverging" in idata.sample_stats else -1
    print(json.dumps({"case": case_name, "impl": sampler, "import_s": 0.0, "front_s": t_compile, "jit_s": 0.0,
                      "sample_s": sample_s, "wall_s": time.perf_counter() - T_START, "min_ess": min_ess,
                      "min_ess_per_s": min_ess / sample_s,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "divergences": div}))


if __name__ == "__main__":
    main()
