"""Benchmark cases: each names a .ppl model, a hand-written NumPyro model, data made with a fixed
seed, and MCMC settings. ``quick`` settings keep `bench/run.py --quick` to a few minutes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    name: str
    ppl: Path
    handwritten: str  # attribute of bench/handwritten/models.py
    data: Callable[[bool], dict]
    settings: dict
    quick_settings: dict
    notes: str = ""
    float64: bool = False
    extra: dict = field(default_factory=dict)


def eight_schools_data(quick: bool) -> dict:
    return json.loads((ROOT / "examples" / "eight_schools.json").read_text())


def hier_logistic_data(quick: bool, n: int | None = None) -> dict:
    rng = np.random.default_rng(20261125)
    N, J, K = (n or (10_000 if quick else 100_000)), 1_000, 5
    X = rng.normal(size=(N, K))
    g = rng.integers(1, J + 1, size=N)
    a = rng.normal(-0.5, 0.8, size=J)
    beta = rng.normal(0, 0.5, size=K)
    p = 1 / (1 + np.exp(-(a[g - 1] + X @ beta)))
    y = (rng.random(N) < p).astype(int)
    return {"N": N, "J": J, "K": K, "X": X.tolist(), "g": g.tolist(), "y": y.tolist()}


def garch_data(quick: bool) -> dict:
    """A GARCH(1,1) series simulated with a fixed seed: mu 0.1, alpha0 0.05, alpha1 0.1, beta1 0.85."""
    rng = np.random.default_rng(7)
    T = 2_000 if quick else 10_000
    y, sigma = np.empty(T), np.empty(T)
    sigma[0] = 1.0
    y[0] = 0.1 + sigma[0] * rng.normal()
    for t in range(1, T):
        sigma[t] = np.sqrt(0.05 + 0.1 * (y[t - 1] - 0.1) ** 2 + 0.85 * sigma[t - 1] ** 2)
        y[t] = 0.1 + sigma[t] * rng.normal()
    return {"T": T, "y": y.tolist(), "sigma1": 1.0}


def gp_data(quick: bool) -> dict:
    rng = np.random.default_rng(11)
    N = 200 if quick else 500
    x = np.sort(rng.uniform(-5, 5, size=N))
    y = np.sin(x) + 0.3 * rng.normal(size=N)
    return {"N": N, "x": x.tolist(), "y": y.tolist()}


SEED_SETTINGS = {"chains": 8, "warmup": 1000, "samples": 5000}
CASES = [
    Case("eight_schools_noncentered", ROOT / "examples" / "eight_schools.ppl", "eight_schools_noncentered",
         eight_schools_data, SEED_SETTINGS, SEED_SETTINGS),
    Case("eight_schools_centered", ROOT / "examples" / "eight_schools_centered.ppl", "eight_schools",
         eight_schools_data, SEED_SETTINGS, SEED_SETTINGS),
    Case("hier_logistic", ROOT / "bench" / "models" / "hier_logistic.ppl", "hier_logistic", hier_logistic_data,
         {"chains": 4, "warmup": 500, "samples": 500}, {"chains": 2, "warmup": 200, "samples": 200},
         notes="N=100k (quick: 10k), J=1000, K=5"),
    Case("garch_T10k", ROOT / "bench" / "models" / "garch.ppl", "garch", garch_data,
         {"chains": 4, "warmup": 500, "samples": 500}, {"chains": 2, "warmup": 200, "samples": 200},
         notes="T=10,000 (quick: 2,000), variance recursion as lax.scan"),
    Case("gp_N500", ROOT / "bench" / "models" / "gp_regression.ppl", "gp_regression", gp_data,
         {"chains": 4, "warmup": 500, "samples": 500}, {"chains": 2, "warmup": 200, "samples": 200},
         notes="N=500 (quick: 200), Cholesky of an N x N kernel per gradient"),
]
