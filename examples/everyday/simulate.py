"""Simulated data for the everyday examples. Fixed seeds; writes <model>.json (the data) and
<model>.truth.json (the true parameter values) next to this script. Run:
    python examples/everyday/simulate.py
"""
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def write(name, data, truth):
    (HERE / f"{name}.json").write_text(json.dumps(data, indent=None) + "\n")
    (HERE / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def inv_logit(x):
    return 1 / (1 + np.exp(-x))


def hier_logistic(rng):
    G, N = 8, 800
    truth = {"mu_a": -0.5, "sigma_a": 0.8, "b": 1.2}
    a = rng.normal(truth["mu_a"], truth["sigma_a"], G)
    group = rng.integers(1, G + 1, N)
    x = rng.normal(0, 1, N)
    y = rng.binomial(1, inv_logit(a[group - 1] + truth["b"] * x))
    truth["a"] = a.tolist()
    return {"N": N, "G": G, "group": group.tolist(), "x": x.round(4).tolist(), "y": y.tolist()}, truth


def poisson_exposure(rng):
    N = 200
    truth = {"alpha": -1.0, "beta": 0.5}
    x = rng.normal(0, 1, N)
    exposure = rng.uniform(1, 20, N)
    y = rng.poisson(exposure * np.exp(truth["alpha"] + truth["beta"] * x))
    return {"N": N, "x": x.round(4).tolist(), "exposure": exposure.round(3).tolist(), "y": y.tolist()}, truth


def ar1(rng):
    T = 300
    truth = {"alpha": 0.5, "rho": 0.7, "sigma": 0.8}
    y = np.empty(T)
    y[0] = truth["alpha"] / (1 - truth["rho"])
    for t in range(1, T):
        y[t] = truth["alpha"] + truth["rho"] * y[t - 1] + rng.normal(0, truth["sigma"])
    return {"T": T, "y": y.round(4).tolist()}, truth


def ordinal(rng):
    N, K = 500, 4
    truth = {"beta": 1.0, "c": [-1.5, 0.0, 1.5]}
    x = rng.normal(0, 1, N)
    eta = truth["beta"] * x
    c = np.array(truth["c"])
    # P(y <= k) = inv_logit(c[k] - eta); outcomes 1..K (Stan's ordered_logistic)
    cum = inv_logit(c[None, :] - eta[:, None])
    u = rng.uniform(size=N)
    y = 1 + (u[:, None] > cum).sum(axis=1)
    return {"N": N, "K": K, "x": x.round(4).tolist(), "y": y.tolist()}, truth


def mixture(rng):
    N = 400
    truth = {"theta": 0.3, "mu": [-2.0, 2.0], "sigma": [1.0, 0.7]}
    z = rng.uniform(size=N) < truth["theta"]
    y = np.where(z, rng.normal(truth["mu"][0], truth["sigma"][0], N),
                 rng.normal(truth["mu"][1], truth["sigma"][1], N))
    return {"N": N, "y": y.round(4).tolist()}, truth


def dirichlet_categorical(rng):
    N, K = 500, 4
    truth = {"theta": [0.1, 0.2, 0.3, 0.4]}
    y = 1 + rng.choice(K, size=N, p=truth["theta"])
    return {"N": N, "K": K, "y": y.tolist(), "alpha": [1.0] * K}, truth


def varying_slopes(rng):
    J, N = 20, 600
    truth = {"mu_a": 1.0, "mu_b": -0.5, "tau": [0.8, 0.5], "rho": 0.4, "sigma": 0.5}
    tau = np.array(truth["tau"])
    R = np.array([[1, truth["rho"]], [truth["rho"], 1]])
    ab = rng.multivariate_normal([truth["mu_a"], truth["mu_b"]], np.diag(tau) @ R @ np.diag(tau), J)
    group = rng.integers(1, J + 1, N)
    x = rng.normal(0, 1, N)
    y = rng.normal(ab[group - 1, 0] + ab[group - 1, 1] * x, truth["sigma"])
    truth["a"] = ab[:, 0].tolist()
    truth["b"] = ab[:, 1].tolist()
    return {"N": N, "J": J, "group": group.tolist(), "x": x.round(4).tolist(), "y": y.round(4).tolist()}, truth


def zip_counts(rng):
    N = 500
    truth = {"gate": 0.3, "alpha": 1.0, "beta": 0.4}
    x = rng.normal(0, 1, N)
    lam = np.exp(truth["alpha"] + truth["beta"] * x)
    y = np.where(rng.uniform(size=N) < truth["gate"], 0, rng.poisson(lam))
    return {"N": N, "x": x.round(4).tolist(), "y": y.tolist()}, truth


def skew_normal(rng):
    N = 400
    truth = {"a": 0.5, "b": 0.8, "omega": 1.5, "alpha": 4.0}
    x = rng.normal(0, 1, N)
    # Azzalini's representation: xi + omega * (delta |u0| + sqrt(1 - delta^2) u1), delta = alpha / sqrt(1 + alpha^2)
    delta = truth["alpha"] / np.sqrt(1 + truth["alpha"] ** 2)
    u0, u1 = rng.normal(size=N), rng.normal(size=N)
    z = delta * np.abs(u0) + np.sqrt(1 - delta ** 2) * u1
    y = truth["a"] + truth["b"] * x + truth["omega"] * z
    return {"N": N, "x": x.round(4).tolist(), "y": y.round(4).tolist()}, truth


MODELS = {
    "hier_logistic": (hier_logistic, 1),
    "poisson_exposure": (poisson_exposure, 2),
    "ar1": (ar1, 3),
    "ordinal": (ordinal, 4),
    "mixture": (mixture, 5),
    "dirichlet_categorical": (dirichlet_categorical, 6),
    "varying_slopes": (varying_slopes, 7),
    "zip_counts": (zip_counts, 8),
    "skew_normal": (skew_normal, 9),
}

if __name__ == "__main__":
    for name, (fn, seed) in MODELS.items():
        data, truth = fn(np.random.default_rng(seed))
        write(name, data, truth)
