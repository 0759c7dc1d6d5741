"""Everyday models (examples/everyday/): each recovers the parameters it was simulated from
(examples/everyday/simulate.py, fixed seeds; the true values are in <model>.truth.json).

Tolerance: every true value within 4 posterior standard deviations of the posterior mean. The
data sets are moderate (200-800 observations), so the posterior sds are small (a few hundredths
to a few tenths) and a wrong sign, scale, offset or an off-by-one index moves the mean by many
sds; 4 sd (two-sided tail ~6e-5 for a normal posterior) keeps the ~70 checks below from failing
by chance if a seed or the sampler changes, where a 99% interval would fail one check in ~1.4
on average across them."""

import json
import time

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES

EVERYDAY = EXAMPLES / "everyday"


def truth_of(name):
    return json.loads((EVERYDAY / f"{name}.truth.json").read_text())


def fit(name, samples=300):
    model = pplang.load(EVERYDAY / f"{name}.ppl")
    t0 = time.perf_counter()
    post = model.sample(EVERYDAY / f"{name}.json", chains=4, warmup=300, samples=samples, seed=0)
    wall = time.perf_counter() - t0
    print(f"{name}: sampled in {wall:.1f} s, {post.num_divergences} divergences")
    return post


def check(post, name, expected, extra=None):
    """expected: {site: true value (scalar or array)}; every element within 4 posterior sd.
    extra: derived draws {name: array} checked as sites."""
    samples = dict(post.samples, **(extra or {}))
    lines = []
    for site, true in expected.items():
        draws = np.asarray(samples[site])
        true = np.asarray(true, dtype=float)
        mean, sd = draws.mean(axis=0), draws.std(axis=0)
        z = np.abs(mean - true) / sd
        lines.append(f"  {site}: true {np.round(true, 3).tolist()} mean {np.round(mean, 3).tolist()} "
                     f"sd {np.round(sd, 3).tolist()} max|z| {z.max():.2f}")
        assert np.all(z < 4), f"{name}.{site} not recovered:\n" + "\n".join(lines)
    print("\n".join(lines))


pytestmark = pytest.mark.slow


def test_hier_logistic():
    t = truth_of("hier_logistic")
    post = fit("hier_logistic")
    check(post, "hier_logistic", {k: t[k] for k in ("mu_a", "sigma_a", "b", "a")})


def test_poisson_exposure():
    t = truth_of("poisson_exposure")
    check(fit("poisson_exposure"), "poisson_exposure", {k: t[k] for k in ("alpha", "beta")})


def test_ar1():
    t = truth_of("ar1")
    check(fit("ar1"), "ar1", {k: t[k] for k in ("alpha", "rho", "sigma")})


def test_ordinal():
    t = truth_of("ordinal")
    check(fit("ordinal"), "ordinal", {k: t[k] for k in ("beta", "c")})


def test_mixture():
    t = truth_of("mixture")
    check(fit("mixture"), "mixture", {k: t[k] for k in ("theta", "mu", "sigma")})


def test_dirichlet_categorical():
    t = truth_of("dirichlet_categorical")
    post = fit("dirichlet_categorical")
    check(post, "dirichlet_categorical", {"theta": t["theta"]})
    assert np.all(np.asarray(post.samples["theta"]).min(axis=0) > 0)


def test_varying_slopes():
    t = truth_of("varying_slopes")
    post = fit("varying_slopes")
    s = post.samples
    beta, mu = np.asarray(s["beta"]), np.asarray(s["mu"])   # beta: (draws, J, 2), deviations from mu
    extra = {"rho": np.asarray(s["Omega"])[:, 0, 1],
             "a": mu[:, None, 0] + beta[:, :, 0], "b": mu[:, None, 1] + beta[:, :, 1]}
    check(post, "varying_slopes", {"mu": [t["mu_a"], t["mu_b"]], "tau": t["tau"], "rho": t["rho"],
                                   "sigma": t["sigma"], "a": t["a"], "b": t["b"]}, extra)


def test_zip_counts():
    t = truth_of("zip_counts")
    check(fit("zip_counts"), "zip_counts", {k: t[k] for k in ("gate", "alpha", "beta")})


def test_skew_normal_user_density():
    """A user-defined `skew_normal_lpdf` used with `~` (docs/language.md, "Densities")."""
    t = truth_of("skew_normal")
    check(fit("skew_normal"), "skew_normal", t)
