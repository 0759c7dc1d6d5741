"""Stan's two ways of writing a statement about part of a series: a slice on the left of `~`
(`y[2:T] ~ ...`) and `~` in a `for` body (lifted out of the loop, over its range). Each is the
same model as the form written by hand (log densities at random points, float64), compiles to
one vectorised site, and is refused with a located message where it cannot be supported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import pplang
from pplang import PplangError

EVERYDAY = Path(__file__).parent.parent / "examples" / "everyday"


@pytest.fixture(autouse=True)
def x64():
    from pplang.runtime import precision

    with precision(float64=True):  # scoped: JAX's process-wide flag is left alone
        yield


def log_densities(src: str, data: dict, points: list[dict]) -> np.ndarray:
    from numpyro.infer.util import log_density

    model = pplang.compile(src)
    kw = model.prepare_data(data)
    return np.array([float(log_density(model.numpyro_model, (), kw, p)[0]) for p in points])


def model_source(src: str) -> str:
    """The generated `model(...)` function only."""
    code = pplang.compile(src).python_source
    return code[code.index("def model("):code.index("reparam_config =")]


HEAD = """data T: int
data y: vector[T]
param alpha: real
param beta: real
param sigma: real<lower=0>
alpha ~ Normal(0, 2)
beta ~ Normal(0, 1)
sigma ~ HalfNormal(2)
"""
AR1_SLICE = HEAD + "y[2:T] ~ Normal(alpha + beta * y[1:(T - 1)], sigma)\n"
AR1_LOOP = HEAD + "for t in 2:T {\n  y[t] ~ Normal(alpha + beta * y[t - 1], sigma)\n}\n"
AR1_HAND = HEAD + ("data y_next = y[2:T]\ndata y_prev = y[1:(T - 1)]\n"
                   "y_next[t] ~ Normal(alpha + beta * y_prev[t], sigma)\n")
RNG = np.random.default_rng(7)
Y = np.cumsum(RNG.normal(size=12))
POINTS = [{"alpha": a, "beta": b, "sigma": s}
          for a, b, s in zip(RNG.normal(size=5), RNG.normal(0, 0.5, 5), RNG.uniform(0.3, 3, 5))]


def ar1_exact(p: dict) -> float:
    prior = stats.norm(0, 2).logpdf(p["alpha"]) + stats.norm(0, 1).logpdf(p["beta"]) + \
        stats.halfnorm(scale=2).logpdf(p["sigma"])
    return prior + stats.norm(p["alpha"] + p["beta"] * Y[:-1], p["sigma"]).logpdf(Y[1:]).sum()


@pytest.mark.parametrize("src", [AR1_SLICE, AR1_LOOP], ids=["slice", "loop"])
def test_ar1_forms_have_the_hand_written_log_density(src):
    data = {"T": len(Y), "y": Y.tolist()}
    got = log_densities(src, data, POINTS)
    np.testing.assert_allclose(got, log_densities(AR1_HAND, data, POINTS), rtol=0, atol=1e-10)
    np.testing.assert_allclose(got, [ar1_exact(p) for p in POINTS], rtol=0, atol=1e-10)


@pytest.mark.parametrize("src", [AR1_SLICE, AR1_LOOP], ids=["slice", "loop"])
def test_one_vectorised_observed_site_and_no_python_loop(src):
    code = model_source(src)
    assert "for " not in code and "scan" not in code and code.count("numpyro.sample('y'") == 1
    assert "obs=" in code and "numpyro.plate(" in code
    from numpyro import handlers

    model = pplang.compile(src)
    tr = handlers.trace(handlers.seed(model.numpyro_model, 0)).get_trace(**model.prepare_data({"T": len(Y), "y": Y.tolist()}))
    assert tr["y"]["is_observed"] and np.shape(tr["y"]["value"]) == (len(Y) - 1,)
    np.testing.assert_array_equal(tr["y"]["value"], Y[1:])


GARCH = """data T: int
data y: vector[T]
data sigma1: real<lower=0>
param mu: real
param alpha0: real<lower=0>
param alpha1: real<lower=0, upper=1>
param beta1: real<lower=0, upper=1 - alpha1>
mu ~ Normal(0, 1)
sigma[1] = sigma1
for t in 2:T {
  sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]))
  BODY
}
AFTER
"""


def test_garch_with_the_observation_in_the_loop_is_the_model_written_after_it():
    inside = GARCH.replace("BODY", "y[t] ~ Normal(mu, sigma[t])").replace("AFTER", "")
    # by hand: the statement after the loop, over t in 2..T (a derived slice of y, sigma read at t + 1)
    after = GARCH.replace("BODY", "").replace(
        "AFTER", "data y_next = y[2:T]\ny_next[t] ~ Normal(mu, sigma[t + 1])")
    data = {"T": len(Y), "y": Y.tolist(), "sigma1": 0.7}
    points = [{"mu": m, "alpha0": a0, "alpha1": a1, "beta1": b1 * (1 - a1)}
              for m, a0, a1, b1 in zip(RNG.normal(size=4), RNG.uniform(0.1, 2, 4), RNG.uniform(0, 1, 4),
                                       RNG.uniform(0, 1, 4))]
    got = log_densities(inside, data, points)
    np.testing.assert_allclose(got, log_densities(after, data, points), rtol=0, atol=1e-10)
    for p, lp in zip(points, got):  # and against a direct computation
        s = [0.7]
        for t in range(1, len(Y)):
            s.append(np.sqrt(p["alpha0"] + p["alpha1"] * (Y[t - 1] - p["mu"]) ** 2 + p["beta1"] * s[-1] ** 2))
        want = stats.norm.logpdf(p["mu"]) + stats.norm(p["mu"], np.array(s[1:])).logpdf(Y[1:]).sum()
        assert lp == pytest.approx(want, abs=1e-10)
    code = model_source(inside)
    assert code.count("jax.lax.scan") == 1 and code.count("numpyro.sample('y'") == 1
    assert "_pp_cur_y" not in code  # the observation is not in the scan's step function


def test_target_in_a_loop_body_is_summed_over_the_loop_range():
    src = HEAD + "for t in 3:T {\n  target += normal_lpdf(y[t] | alpha + beta * y[t - 2], sigma)\n}\n"
    data = {"T": len(Y), "y": Y.tolist()}
    got = log_densities(src, data, POINTS)
    want = [ar1_exact(p) - stats.norm(p["alpha"] + p["beta"] * Y[:-1], p["sigma"]).logpdf(Y[1:]).sum()
            + stats.norm(p["alpha"] + p["beta"] * Y[:-2], p["sigma"]).logpdf(Y[2:]).sum() for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("stmt", ["for t in 2:T {\n  Y[t] ~ Normal(mu + Y[t - 1], 1)\n}",
                                  "M[t, k] = mu[k] + Y[t, k]\nY[2:T] ~ Normal(M[1:(T - 1)], 1)"], ids=["loop", "slice"])
def test_rows_of_a_matrix_with_an_implicit_plate(stmt):
    src = "data T: int\ndata Y: matrix[T, 2]\nparam mu: vector[2]\nmu ~ Normal(0, 1)\n" + stmt + "\n"
    Ymat = RNG.normal(size=(5, 2))
    mu = np.array([0.3, -0.2])
    got = log_densities(src, {"T": 5, "Y": Ymat.tolist()}, [{"mu": mu}])
    want = stats.norm.logpdf(mu).sum() + stats.norm(mu + Ymat[:-1], 1).logpdf(Ymat[1:]).sum()
    assert got[0] == pytest.approx(want, abs=1e-10)


def test_user_defined_density_in_a_loop_body_and_on_a_slice():
    fn = "def ar_lpdf(y, mu, s) = normal_lpdf(y | mu, s)\n"
    data = {"T": len(Y), "y": Y.tolist()}
    loop = fn + HEAD + "for t in 2:T {\n  y[t] ~ ar(alpha + beta * y[t - 1], sigma)\n}\n"
    sliced = fn + HEAD + "y[2:T] ~ ar(alpha + beta * y[1:(T - 1)], sigma)\n"
    want = [ar1_exact(p) for p in POINTS]
    for src in (loop, sliced):
        np.testing.assert_allclose(log_densities(src, data, POINTS), want, rtol=0, atol=1e-10)
        assert "for " not in model_source(src)


RW = """data T: int
data y: vector[T]
param mu: vector[T]
param tau: real<lower=0>
tau ~ HalfNormal(1)
mu[1] ~ Normal(0, 10)
PRIOR
y ~ Normal(mu, 1)
"""


@pytest.mark.parametrize("prior", ["mu[2:T] ~ Normal(mu[1:(T - 1)], tau)",
                                   "for t in 2:T {\n  mu[t] ~ Normal(mu[t - 1], tau)\n}"], ids=["slice", "loop"])
def test_random_walk_prior_on_a_declared_parameter(prior):
    src = RW.replace("PRIOR", prior)
    data = {"T": 6, "y": Y[:6].tolist()}
    points = [{"mu": RNG.normal(size=6), "tau": t} for t in (0.3, 1.0, 2.5)]
    got = log_densities(src, data, points)
    want = [stats.halfnorm.logpdf(p["tau"]) + stats.norm(0, 10).logpdf(p["mu"][0])
            + stats.norm(p["mu"][:-1], p["tau"]).logpdf(p["mu"][1:]).sum()
            + stats.norm(p["mu"], 1).logpdf(Y[:6]).sum() for p in points]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert "for " not in model_source(src)
    assert not pplang.compile(src.replace("mu[1] ~ Normal(0, 10)\n", "")).warnings  # a prior on part: not improper


def test_a_second_part_is_added_with_target():
    src = ("data T: int\ndata y: vector[T]\nmu ~ Normal(0, 1)\ny[2:3] ~ Normal(mu, 1)\n"
           "target += normal_lpdf(y[4:T] | mu, 2)\n")
    got = log_densities(src, {"T": 12, "y": Y.tolist()}, [{"mu": 0.4}])
    want = stats.norm.logpdf(0.4) + stats.norm(0.4, 1).logpdf(Y[1:3]).sum() + stats.norm(0.4, 2).logpdf(Y[3:]).sum()
    assert got[0] == pytest.approx(want, abs=1e-10)


def test_slice_with_a_data_offset_and_scalar_arguments():
    src = "data T: int\ndata K: int\ndata y: vector[T]\nmu ~ Normal(0, 1)\ny[(K + 1):T] ~ Normal(mu, 2)\n"
    got = log_densities(src, {"T": 12, "K": 3, "y": Y.tolist()}, [{"mu": 0.4}])
    assert got[0] == pytest.approx(stats.norm.logpdf(0.4) + stats.norm(0.4, 2).logpdf(Y[3:]).sum(), abs=1e-10)


def test_a_slice_of_the_wrong_length_is_a_located_error_with_a_hint():
    model = pplang.compile("data T: int\ndata y: vector[T]\nsigma ~ HalfNormal(1)\n"
                           "y[2:T] ~ Normal(y[1:(T - 2)], sigma)\n")
    with pytest.raises(PplangError) as exc:
        model.prepare_data({"T": 5, "y": [1, 2, 3, 4, 5]})
    d = exc.value.diagnostics[0]
    assert d.code == "shape-mismatch" and (d.span.line, d.span.column) == (4, 17)
    assert "y[2:T] has (T - 1) element(s)" in d.help
    with pytest.raises(PplangError) as exc:
        pplang.compile("data y: vector[5]\ny[2:5] ~ Normal([1, 2, 3], 1)\n")
    assert exc.value.diagnostics[0].code == "shape-mismatch" and "y[2:5] has 4 element(s)" in exc.value.diagnostics[0].help


@pytest.mark.parametrize("src, code, line, col", [
    ("y[2:3] ~ Normal(0, 1)\n", "invalid-lhs", 1, 3),                                  # not declared
    ("data Y: matrix[3, 2]\nY[2:3, k] ~ Normal(0, 1)\n", "invalid-lhs", 2, 3),          # not the only index
    ("param p: vector[3]\np ~ Normal(0, 1)\np[2:3] ~ Normal(0, 1)\n", "duplicate-definition", 3, 1),
    ("data T: int\nparam mu: real\nfor t in 2:T {\n  mu ~ Normal(0, 1)\n}\n", "invalid-lhs", 4, 3),
    ("data T: int\nfor t in 2:T {\n  z[t] ~ Normal(0, 1)\n}\n", "invalid-lhs", 3, 3),
    ("data T: int\ndata y: vector[T]\ny[2:3] ~ Normal(0, 1)\ny[4:T] ~ Normal(0, 2)\n", "duplicate-definition", 4, 1),
    ("data T: int\ndata y: vector[T]\ny ~ Normal(0, 1)\nfor t in 2:T {\n  y[t] ~ Normal(0, 2)\n}\n",
     "duplicate-definition", 5, 3),
])
def test_refusals_are_located(src, code, line, col):
    with pytest.raises(PplangError) as exc:
        pplang.compile(src)
    d = exc.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.column) == (code, line, col) and d.help


def test_posterior_same_draws_as_the_everyday_ar1_and_workflow_of_a_partial_observation():
    data = json.loads((EVERYDAY / "ar1.json").read_text())
    ar1 = (EVERYDAY / "ar1.ppl").read_text()
    slice_src = (EVERYDAY / "ar1_lhs.ppl").read_text()  # the example: ar1.ppl with y[2:T] on the left
    loop_src = slice_src.replace("y[2:T] ~ Normal(alpha + rho * y[1:(T - 1)], sigma)",
                                 "for t in 2:T {\n  y[t] ~ Normal(alpha + rho * y[t - 1], sigma)\n}")
    assert "y[2:T] ~" in slice_src and "for t in 2:T" in loop_src and "y_next" in ar1
    kw = dict(chains=2, warmup=200, samples=200, seed=3, float64=True, cache=False)
    ref = pplang.compile(ar1).sample(data, **kw)
    for src in (slice_src, loop_src):
        post = pplang.compile(src).sample(data, **kw)
        for k in ("alpha", "rho", "sigma"):
            np.testing.assert_allclose(post.samples[k], ref.samples[k], rtol=1e-8, atol=1e-10)
        ll = post.log_likelihood()["y"]
        assert ll.shape == (2, 200, data["T"] - 1)
        np.testing.assert_allclose(ll, ref.log_likelihood()["y_next"], rtol=1e-10, atol=1e-10)
        with pytest.raises(PplangError) as exc:  # y is read on the right: no replicated data
            post.predictive()
        assert exc.value.diagnostics[0].code == "unsupported"


def test_a_partial_observation_cannot_be_replicated_nor_drawn_from_the_prior():
    src = "data T: int\ndata y: vector[T]\nmu ~ Normal(0, 1)\ny[3:T] ~ Normal(mu, 1)\n"
    data = {"T": 6, "y": Y[:6].tolist()}
    model = pplang.compile(src)
    with pytest.raises(PplangError) as exc:
        model.prior_predictive(data, samples=3)
    d = exc.value.diagnostics[0]
    assert d.code == "unsupported" and d.span.line == 4 and "only part of observed \"y\"" in d.message and "cannot draw from the prior" in d.message
    post = model.sample(data, chains=1, warmup=50, samples=50, seed=0, cache=False)
    with pytest.raises(PplangError) as exc:
        post.predictive()
    assert exc.value.diagnostics[0].span.line == 4
    assert post.log_likelihood()["y"].shape == (1, 50, 4)
    idata = post.to_arviz()  # without posterior_predictive; observed data and log-likelihood of the part
    assert "posterior_predictive" not in idata.groups()
    assert idata.observed_data["y"].dims == ("y_part_dim_1",)
    assert list(idata.observed_data["y_part_dim_1"].values) == [3, 4, 5, 6]
    np.testing.assert_allclose(idata.observed_data["y"].values, Y[2:6])
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "y_part_dim_1")


def test_inferencedata_of_a_loop_observation_with_a_plate_index():
    src = ("data T: int\ndata K: int\ndata Y: matrix[T, 2]\nparam mu: vector[2]\nmu ~ Normal(0, 1)\n"
           "for t in (K + 1):T {\n  Y[t, k] ~ Normal(mu[k] + Y[t - K, k], 1)\n}\n")
    Ymat = RNG.normal(size=(5, 2))
    data = {"T": 5, "K": 2, "Y": Ymat.tolist()}
    got = log_densities(src, data, [{"mu": np.array([0.3, -0.2])}])
    want = stats.norm.logpdf([0.3, -0.2]).sum() + stats.norm(np.array([0.3, -0.2]) + Ymat[:3], 1).logpdf(Ymat[2:]).sum()
    assert got[0] == pytest.approx(want, abs=1e-10)
    post = pplang.compile(src).sample(data, chains=1, warmup=30, samples=30, seed=0, cache=False)
    idata = post.to_arviz()
    assert idata.observed_data["Y"].dims == ("Y_part_dim_1", "Y_part_dim_2")
    assert list(idata.observed_data["Y_part_dim_1"].values) == [3, 4, 5]
    np.testing.assert_allclose(idata.observed_data["Y"].values, Ymat[2:])
    assert idata.log_likelihood["Y"].shape == (1, 30, 3, 2)
