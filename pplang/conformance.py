"""Conformance: run an ``examples/posteriordb`` model and compare it with its posteriordb reference.

The pass criterion is the one in ``../shared/conformance/README.md``; for every reported parameter:
1. run validity: R-hat <= 1.01, bulk ESS >= 400 (ArviZ's rank-normalised split versions), and no
   divergences in the run;
2. mean: |z| <= 4 with z = (mean - ref_mean) / sqrt(mcse^2 + ref_mcse_mean^2), and
   |mean - ref_mean| <= 0.25 ref_sd;
3. spread: |sd - ref_sd| <= 4 sqrt(mcse_sd^2 + ref_mcse_sd^2) (0.02 ref_sd stands in for
   ref_mcse_sd where the reference has none).
Used by ``tests/test_conformance.py`` and ``bench/conformance.py``. Imports ArviZ/JAX lazily.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .runtime import flat_names

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "posteriordb"
REFERENCES = Path(os.environ.get("PPLANG_CONFORMANCE", REPO.parent / "shared" / "conformance"))

RHAT_MAX = 1.01
ESS_MIN = 400
Z_MAX = 4.0
REL_MEAN_MAX = 0.25

# Sampler settings per posterior where NUTS's defaults are not enough (Stan's references used
# adapt_delta up to 0.999 and max_treedepth 15 for these). Everything else: the defaults.
SETTINGS: dict[str, dict] = {
    "eight_schools-eight_schools_noncentered": {"target_accept": 0.95},
    "eight_schools-eight_schools_centered": {"target_accept": 0.95},
    "kilpisjarvi_mod-kilpisjarvi": {"dense_mass": True},
    "kidiq-kidscore_interaction": {"dense_mass": True},
    "gp_pois_regr-gp_pois_regr": {"target_accept": 0.99},
    # posteriordb: adapt_delta 0.999, max_treedepth 15. At 0.999 the steps are small enough that
    # depth 10 cuts trees short (51 of 66 quantities pass, low ESS); depth 12 passes all 66. The
    # slowest posterior: its chains run vectorized, 207 s against 228 s one after the other on 2 busy
    # cores (all 66 pass either way, the smallest bulk ESS 1,764 of 4,000 draws, no divergence)
    "mcycle_gp-accel_gp": {"target_accept": 0.999, "max_tree_depth": 12, "chain_method": "vectorized"},
    "earnings-logearn_interaction": {"dense_mass": True},
    "mesquite-mesquite": {"target_accept": 0.95},
    "bball_drive_event_0-hmm_drive_0": {"target_accept": 0.9},
    # posteriordb: adapt_delta 0.99. The posterior is far narrower than the prior and has local modes
    # (other numbers of predator-prey cycles), so chains start where a Stan user would start them:
    # theta from the data's cycle (period ~10 years: alpha gamma ~ (2 pi / 10)^2) and equilibrium
    # (gamma / delta ~ 35 hares, alpha / beta ~ 20 lynx), z_init at the observed y_init. Vectorized
    # chains: one batched ODE solve per step, and one compilation instead of one per phase and chain.
    "hudson_lynx_hare-lotka_volterra": {"target_accept": 0.99, "dense_mass": True, "chain_method": "vectorized",
                                        "init": {"theta": [0.6, 0.03, 0.6, 0.02], "z_init": [30.0, 4.0],
                                                 "sigma": [0.3, 0.3]}},
}


@dataclass
class ParamCheck:
    """One reported parameter against its reference."""

    name: str
    mean: float
    sd: float
    ref_mean: float
    ref_sd: float
    z: float
    rhat: float
    ess_bulk: float
    ok_valid: bool
    ok_mean: bool
    ok_sd: bool

    @property
    def ok(self) -> bool:
        return self.ok_valid and self.ok_mean and self.ok_sd

    def why(self) -> str:
        bad = []
        if not self.ok_valid:
            bad.append(f"rhat={self.rhat:.3f} ess_bulk={self.ess_bulk:.0f}")
        if not self.ok_mean:
            bad.append(f"mean={self.mean:.4g} ref={self.ref_mean:.4g} z={self.z:.2f}")
        if not self.ok_sd:
            bad.append(f"sd={self.sd:.4g} ref_sd={self.ref_sd:.4g}")
        return f"{self.name}: " + ", ".join(bad)


@dataclass
class Result:
    """A posterior's conformance run: per-parameter checks plus run-level facts."""

    posterior: str
    checks: list[ParamCheck]
    divergences: int
    wall_s: float
    missing: list[str] = field(default_factory=list)

    @property
    def n_pass(self) -> int:
        return sum(c.ok for c in self.checks)

    @property
    def worst_z(self) -> float:
        return max((abs(c.z) for c in self.checks), default=float("nan"))

    @property
    def passed(self) -> bool:
        return not self.missing and self.divergences == 0 and self.n_pass == len(self.checks)

    def failures(self) -> list[str]:
        out = [f"{m}: not reported by the model" for m in self.missing]
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out + [c.why() for c in self.checks if not c.ok]


def posteriors() -> list[str]:
    """The posteriors that have a model file in examples/posteriordb, sorted."""
    return sorted(p.stem for p in EXAMPLES.glob("*.ppl"))


def load_reference(posterior: str) -> dict:
    return json.loads((REFERENCES / posterior / "reference.json").read_text())


def flat_draws(grouped: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"theta": (chains, draws, 8)}`` -> ``{"theta[1]": (chains, draws), ...}``."""
    out = {}
    for name, arr in grouped.items():
        arr = np.asarray(arr)
        for flat, idx in flat_names(name, arr.shape[2:]):
            out[flat] = arr[(slice(None), slice(None)) + idx]
    return out


def check_param(name: str, x: np.ndarray, ref: dict) -> ParamCheck:
    """Apply the criterion to draws ``x`` of shape (chains, draws)."""
    import arviz

    x = np.asarray(x, dtype=float)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    rhat = float(arviz.rhat(x))
    ess = float(arviz.ess(x, method="bulk"))
    mcse = float(arviz.mcse(x, method="mean"))
    mcse_sd = float(arviz.mcse(x, method="sd"))
    ref_mean, ref_sd = float(ref["mean"]), float(ref["sd"])
    ref_mcse = float(ref.get("mcse_mean") or 0.0)
    ref_mcse_sd = ref.get("mcse_sd")
    ref_mcse_sd = 0.02 * ref_sd if ref_mcse_sd is None or not math.isfinite(ref_mcse_sd) else float(ref_mcse_sd)
    denom = math.sqrt(mcse**2 + ref_mcse**2)
    z = (mean - ref_mean) / denom if denom > 0 else (0.0 if mean == ref_mean else math.inf)
    ok_valid = math.isfinite(rhat) and rhat <= RHAT_MAX and ess >= ESS_MIN
    ok_mean = abs(z) <= Z_MAX and abs(mean - ref_mean) <= REL_MEAN_MAX * ref_sd
    ok_sd = abs(sd - ref_sd) <= 4 * math.sqrt(mcse_sd**2 + ref_mcse_sd**2)
    return ParamCheck(name, mean, sd, ref_mean, ref_sd, z, rhat, ess, ok_valid, ok_mean, ok_sd)


def compare(posterior: str, grouped: dict[str, np.ndarray], divergences: int, wall_s: float = 0.0) -> Result:
    """Check grouped draws (name -> (chains, draws, ...)) against the posterior's reference."""
    reference = load_reference(posterior)["parameters"]
    draws = flat_draws(grouped)
    checks = [check_param(name, draws[name], ref) for name, ref in reference.items() if name in draws]
    missing = [name for name in reference if name not in draws]
    return Result(posterior, checks, divergences, wall_s, missing)


def run(posterior: str, model_path: str | Path | None = None, *, seed: int = 0, chains: int = 4,
        warmup: int = 1000, samples: int = 1000, chain_method: str | None = None, **settings) -> Result:
    """Sample ``examples/posteriordb/<posterior>.ppl`` (or ``model_path``) on the reference data in
    float64 and compare. ``settings`` override :data:`SETTINGS` (NUTS's target_accept, ...); the
    chains run one after the other unless ``chain_method`` or the posterior's settings say otherwise."""
    from .compiler import load

    model = load(model_path or EXAMPLES / f"{posterior}.ppl")
    opts = {"chain_method": "sequential", **SETTINGS.get(posterior, {}), **settings}
    if chain_method is not None:
        opts["chain_method"] = chain_method
    t0 = time.perf_counter()
    post = model.sample(REFERENCES / posterior / "data.json", chains=chains, warmup=warmup, samples=samples,
                        seed=seed, float64=True, **opts)
    wall = time.perf_counter() - t0
    grouped = post.mcmc.get_samples(group_by_chain=True)
    return compare(posterior, {k: grouped[k] for k in post.reported if k in grouped}, post.num_divergences, wall)


def table(results: list[Result]) -> str:
    """The summary table printed by ``bench/conformance.py``."""
    head = f"{'posterior':<42} {'params':>6} {'pass':>5} {'worst|z|':>9} {'div':>5} {'wall_s':>7}  status"
    lines = [head, "-" * len(head)]
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        lines.append(f"{r.posterior:<42} {len(r.checks) + len(r.missing):>6} {r.n_pass:>5} {r.worst_z:>9.2f} "
                     f"{r.divergences:>5} {r.wall_s:>7.1f}  {status}")
    return "\n".join(lines)
