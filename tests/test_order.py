"""Statement order (pplang.order): declared parameters exist before any statement, as in Stan's
model block, so a prior may read a parameter whose own `~` is written below it; the generated code
samples that parameter first. Models already in order generate the same code (the goldens)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import pplang
from pplang import PplangError

HEAD = "data N: int\ndata y: real[N]\nparam mu: real\nparam tau: real<lower=0>\n"
BELOW = HEAD + "mu ~ Normal(1, tau)\ntau ~ HalfNormal(2)\ny[n] ~ Normal(mu, 1)\n"
ABOVE = HEAD + "tau ~ HalfNormal(2)\nmu ~ Normal(1, tau)\ny[n] ~ Normal(mu, 1)\n"
ELEMENTS = ("data N: int\ndata y: real[N]\nparam m: vector[2]\nparam tau: real<lower=0>\n"
            "m[1] ~ Normal(0, tau)\nm[2] ~ Normal(3, 1)\ntau ~ HalfNormal(1)\ny[n] ~ Normal(m[1] + m[2], 1)\n")
DATA = {"N": 3, "y": [0.1, 0.5, -0.2]}


@pytest.fixture(autouse=True)
def x64():
    from pplang.runtime import precision

    with precision(float64=True):
        yield


def log_density(src: str, point: dict) -> float:
    from numpyro.infer.util import log_density as numpyro_log_density

    model = pplang.compile(src)
    return float(numpyro_log_density(model.numpyro_model, (), model.prepare_data(DATA), point)[0])


def model_code(src: str) -> str:
    code = pplang.compile(src).python_source
    return code[code.index("def model("):code.index("reparam_config =")]


def test_a_prior_read_above_its_parameters_statement_samples_that_parameter_first():
    code = model_code(BELOW)
    assert code.index("numpyro.sample('tau'") < code.index("numpyro.sample('mu'")
    assert code == model_code(ABOVE)  # the same program as the model written in order
    y = np.array(DATA["y"])
    for mu, tau in [(0.3, 0.7), (-1.0, 2.5)]:
        exact = (stats.norm(1, tau).logpdf(mu) + stats.halfnorm(scale=2).logpdf(tau)
                 + stats.norm(mu, 1).logpdf(y).sum())
        assert log_density(BELOW, {"mu": mu, "tau": tau}) == pytest.approx(exact, abs=1e-10)


def test_an_element_prior_reading_a_later_parameter():
    """`m[1] ~ Normal(0, tau)` above `tau ~ ...`: before, the run failed with Python's
    UnboundLocalError shown as a runtime error."""
    y = np.array(DATA["y"])
    m, tau = np.array([0.4, 2.8]), 0.9
    exact = (stats.norm(0, tau).logpdf(m[0]) + stats.norm(3, 1).logpdf(m[1]) + stats.halfnorm().logpdf(tau)
             + stats.norm(m.sum(), 1).logpdf(y).sum())
    assert log_density(ELEMENTS, {"m": m, "tau": tau}) == pytest.approx(exact, abs=1e-10)
    post = pplang.compile(ELEMENTS).sample(DATA, chains=1, warmup=30, samples=20, seed=0)
    assert post.samples["m"].shape == (20, 2)


def test_models_in_order_are_not_rearranged():
    from pplang.order import order

    spec = pplang.compile(ABOVE).spec
    assert order(spec) is spec


def test_a_prior_that_depends_on_its_own_parameter_is_refused_at_the_statement():
    src = HEAD + "s = tau * 2\ntau ~ HalfNormal(s)\nmu ~ Normal(0, 1)\ny[n] ~ Normal(mu, 1)\n"
    with pytest.raises(PplangError) as exc:
        pplang.compile(src, "cycle.ppl")
    d = exc.value.diagnostics[0]
    assert d.code == "unsupported" and d.span.line == 5 and '"tau" is read here' in d.message
    assert "line 6" in d.message and d.help
