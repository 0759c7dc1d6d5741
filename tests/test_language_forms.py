"""Models written the way a Stan user first writes them: each form compiles to the model it says
(log density against scipy/numpy at fixed values, float64)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import pplang
from pplang import PplangError


@pytest.fixture(autouse=True)
def x64():
    from pplang.runtime import precision

    with precision(float64=True):  # scoped: JAX's process-wide flag is left alone
        yield


def log_joint(src: str, data: dict, values: dict) -> tuple[pplang.Model, float]:
    from numpyro.infer.util import log_density

    model = pplang.compile(src)
    kw = model.prepare_data(data)
    return model, float(log_density(model.numpyro_model, (), kw, values)[0])


def draws(src: str, data: dict, n: int = 2, seed: int = 0) -> dict:
    import jax
    from numpyro.infer import Predictive

    model = pplang.compile(src)
    out = Predictive(model.numpyro_model, num_samples=n)(jax.random.PRNGKey(seed), **model.prepare_data(data))
    return {k: np.asarray(v) for k, v in out.items()}


Y = [1.0, 2.0, 3.5]


def test_target_with_a_plate_index():
    """`target += normal_lpdf(y[n] | mu, sigma)` gave `unknown name "n"`."""
    _, ld = log_joint("data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\ntarget += normal_lpdf(y[n] | mu, 2)\n",
                      {"N": 3, "y": Y}, {"mu": 0.5})
    assert ld == pytest.approx(stats.norm.logpdf(0.5) + stats.norm(0.5, 2).logpdf(Y).sum(), abs=1e-10)


def test_target_with_two_plate_indices_sums_over_the_index_set():
    src = "data N: int\ndata K: int\ndata X: matrix[N, K]\nmu ~ Normal(0, 1)\ntarget += normal_lpdf(X[n, k] | mu * k, 1)\n"
    X = np.arange(6.0).reshape(3, 2)
    _, ld = log_joint(src, {"N": 3, "K": 2, "X": X.tolist()}, {"mu": 0.3})
    assert ld == pytest.approx(stats.norm.logpdf(0.3) + stats.norm(0.3 * np.arange(1, 3), 1).logpdf(X).sum(), abs=1e-10)


def test_elementwise_priors_on_a_declared_vector():
    """`phi[1] ~ Normal(0, 1)`, `phi[2] ~ Normal(3, 1)` was refused (and target += gave a false
    improper-prior warning)."""
    model, ld = log_joint("param phi: vector[2]\nphi[1] ~ Normal(0, 1)\nphi[2] ~ Normal(3, 1)\n", {},
                          {"phi": np.array([0.2, 2.5])})
    assert ld == pytest.approx(stats.norm.logpdf(0.2) + stats.norm(3).logpdf(2.5), abs=1e-12)
    assert not model.warnings
    with pytest.raises(PplangError) as exc:
        pplang.compile("param phi: vector[2]\nphi[1] ~ Normal(0, 1)\nphi[1] ~ Normal(3, 1)\n")
    assert exc.value.diagnostics[0].code == "duplicate-definition"
    with pytest.raises(PplangError) as exc:
        pplang.compile("param phi: vector[2]\nphi[3] ~ Normal(0, 1)\n")
    assert exc.value.diagnostics[0].code == "index-out-of-range"


def test_distribution_on_a_defined_quantity():
    """`err ~ Normal(0, sigma)` where err is defined was a duplicate-definition with no hint."""
    src = "data T: int\ndata y: real[T]\nmu ~ Normal(0, 1)\nerr[t] = y[t] - mu\nerr ~ Normal(0, 2)\n"
    model, ld = log_joint(src, {"T": 3, "y": Y}, {"mu": 0.5})
    assert ld == pytest.approx(stats.norm.logpdf(0.5) + stats.norm(0, 2).logpdf(np.array(Y) - 0.5).sum(), abs=1e-10)
    assert not model.warnings  # a residual reads data: a likelihood term, no Jacobian warning
    model = pplang.compile("a ~ Normal(0, 1)\nb = exp(a)\nb ~ Normal(0, 1)\n")
    assert [w.code for w in model.warnings] == ["jacobian"]


def test_arma_recursion_reads_first_elements_and_puts_a_density_on_the_errors():
    """posteriordb's arma11 as a Stan user writes it: `err[1] = y[1] - nu[1]` reads nu[1]
    defined just before; `err ~ Normal(0, sigma)` after the loop."""
    src = """data T: int
data y: real[T]
mu ~ Normal(0, 10)
phi ~ Normal(0, 2)
theta ~ Normal(0, 2)
sigma ~ Cauchy(0, 2.5) T[0, ]
nu[1] = mu + phi * mu
err[1] = y[1] - nu[1]
for t in 2:T {
  nu[t] = mu + phi * y[t - 1] + theta * err[t - 1]
  err[t] = y[t] - nu[t]
}
err ~ Normal(0, sigma)
"""
    y = np.array([0.3, -0.2, 1.1, 0.7])
    v = {"mu": 0.1, "phi": 0.5, "theta": -0.3, "sigma": 0.8}
    _, ld = log_joint(src, {"T": 4, "y": y.tolist()}, v)
    nu, err = np.zeros(4), np.zeros(4)
    nu[0] = v["mu"] + v["phi"] * v["mu"]
    err[0] = y[0] - nu[0]
    for t in range(1, 4):
        nu[t] = v["mu"] + v["phi"] * y[t - 1] + v["theta"] * err[t - 1]
        err[t] = y[t] - nu[t]
    want = (stats.norm(0, 10).logpdf(v["mu"]) + stats.norm(0, 2).logpdf([v["phi"], v["theta"]]).sum()
            + stats.halfcauchy(0, 2.5).logpdf(v["sigma"]) + stats.norm(0, v["sigma"]).logpdf(err).sum())
    assert ld == pytest.approx(want, abs=1e-10)


def test_derived_data_element_by_element_and_slices():
    """`data Xc[n, k] = X[n, k] - mean(X[:, k])` was refused; `X[:, 2:K]` did not parse and
    `X[1:N, 2:K]` was refused (one range per indexing)."""
    X = np.random.default_rng(0).normal(size=(4, 3))
    model = pplang.compile("data N: int\ndata K: int\ndata X: matrix[N, K]\n"
                           "data Xc[n, k] = X[n, k] - mean(X[:, k])\ndata B = X[1:N, 2:K]\ndata C = X[2:, 3]\n"
                           "mu ~ Normal(0, 1)\n")
    kw = model.prepare_data({"N": 4, "K": 3, "X": X.tolist()})
    np.testing.assert_allclose(kw["Xc"], X - X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(kw["B"], X[:, 1:])
    np.testing.assert_allclose(kw["C"], X[1:, 2])


def test_multi_indexing_with_an_integer_array():
    """`theta[g]` with g an integer array was refused."""
    out = draws("data N: int\ndata G: int\ndata g: int[N]\nparam theta: vector[G]\ntheta ~ Normal(0, 1)\n"
                "per_row = theta[g] * 2\n", {"N": 4, "G": 2, "g": [2, 1, 2, 2]})
    np.testing.assert_allclose(out["per_row"], 2 * out["theta"][:, [1, 0, 1, 1]])


def test_column_slice_inside_a_plate():
    X = np.random.default_rng(1).normal(size=(4, 3))
    out = draws("data N: int\ndata K: int\ndata X: matrix[N, K]\nmu ~ Normal(0, 1)\ns[k] = sd(X[:, k]) * mu\n"
                "r[n] = sum(X[n, 2:K])\n", {"N": 4, "K": 3, "X": X.tolist()})
    np.testing.assert_allclose(out["s"], out["mu"][:, None] * X.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(out["r"][0], X[:, 1:].sum(axis=1), rtol=1e-12)


def test_frictions_found_by_writing_the_everyday_models():
    """What a Stan user hits first: `.*`, std_normal, a flat prior on a bounded interval, an
    undeclared varying intercept read through bounded index data, and a lag's advice."""
    model = pplang.compile("param rho: real<lower=-1, upper=1>\ndata N: int\ndata y: real[N]\n"
                           "y[n] ~ Normal(rho, 1)\nz = y .* y ./ 2\n")
    assert not model.warnings  # a flat density on a bounded interval is a proper uniform
    with pytest.raises(PplangError) as exc:
        pplang.compile("z ~ std_normal()\n")
    assert "`Normal(0, 1)`" in exc.value.diagnostics[0].help
    model = pplang.compile("data N: int\ndata G: int\ndata group: int<lower=1, upper=G>[N]\ndata y: int[N]\n"
                           "mu_a ~ Normal(0, 1)\na[g] ~ Normal(mu_a, 1)\ny[n] ~ BernoulliLogit(a[group[n]])\n")
    assert model.spec.symbols["a"].type.shape == (pplang.ir.Name("G"),)
    model = pplang.compile("data T: int\ndata y: real[T]\nrho ~ Normal(0, 1)\ny[t] ~ Normal(rho * y[t - 1], 1)\n")
    with pytest.raises(PplangError) as exc:
        model.prepare_data({"T": 3, "y": [1.0, 2.0, 3.0]})
    assert exc.value.diagnostics[0].code == "index-out-of-range" and "lag" in exc.value.diagnostics[0].help
    with pytest.raises(PplangError) as exc:
        pplang.compile("data N: int\ndata y: real[N]\nz ~ Normal(0, 1)\ny[n] ~ Normall(z, 1)\n")
    assert [d.code for d in exc.value.warnings] == []  # no spurious unused-data next to an error
