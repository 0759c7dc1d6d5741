"""`local` definitions: intermediate values used by the model but neither stored nor reported."""

import numpy as np

import pplang

SRC = """data N: int
data x: real[N]
data y: real[N]
alpha ~ Normal(0, 10)
beta ~ Normal(0, 10)
sigma ~ HalfNormal(5)
{kw}mu[i] = alpha + beta * x[i]
y[i] ~ Normal(mu[i], sigma)
"""
DATA = {"N": 5, "x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [1.1, 2.9, 5.2, 7.1, 8.8]}


def test_local_values_are_not_sites_and_do_not_change_the_draws():
    reported = pplang.compile(SRC.format(kw=""))
    local = pplang.compile(SRC.format(kw="local "))
    assert "numpyro.deterministic('mu'" in reported.python_source
    assert "numpyro.deterministic" not in local.python_source
    a = reported.sample(DATA, chains=1, warmup=100, samples=100, seed=2)
    b = local.sample(DATA, chains=1, warmup=100, samples=100, seed=2)
    assert "mu" in a.samples and "mu" not in b.samples
    assert "mu[1]" in a.summary()["parameters"] and "mu[1]" not in b.summary()["parameters"]
    for k in ("alpha", "beta", "sigma"):
        np.testing.assert_array_equal(a.samples[k], b.samples[k])


def test_local_in_a_recursion_keeps_the_loop_output_unstored():
    src = ("data T: int<lower=2>\ndata y: real[T]\nparam mu: real\nparam phi: real<lower=-1, upper=1>\n"
           "local m[1] = mu\nfor t in 2:T {\n  m[t] = mu + phi * (y[t - 1] - mu)\n}\ny[t] ~ Normal(m[t], 1)\n")
    model = pplang.compile(src)
    assert "jax.lax.scan" in model.python_source and "numpyro.deterministic" not in model.python_source
    post = model.sample({"T": 4, "y": [0.1, 0.3, -0.2, 0.4]}, chains=1, warmup=50, samples=50, seed=0)
    assert set(post.samples) == {"mu", "phi"}


def test_local_is_a_keyword():
    try:
        pplang.compile("local ~ Normal(0, 1)\n")
    except pplang.PplangError as exc:
        assert exc.diagnostics[0].code == "syntax-error"
    else:
        raise AssertionError("`local` must not be usable as a name")
