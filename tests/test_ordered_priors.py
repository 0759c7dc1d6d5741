"""An ordered / positive_ordered parameter under one prior for every element (`mu ~ Normal(0, 5)` on
`ordered[K]`, the mixture and hidden-Markov idiom): its density on the ordered vectors is
K! prod f(mu_k), the law of K sorted draws from f, so the prior can be drawn (`pplang prior`, SBC,
`--prior`), not only sampled by NUTS. Priors that are not of that form keep their density and say
plainly why they cannot be drawn."""

import json

import numpy as np
import pytest
from scipy import stats

import pplang
from conftest import EXAMPLES
from pplang.diagnostics import PplangError

ORDERED = """data N: int
data y: real[N]
param mu: ordered[3]
param sigma: real<lower=0>
mu ~ Normal(1, 2)
sigma ~ HalfNormal(1)
y[n] ~ Normal(mu[2], sigma)
"""
DATA = {"N": 2, "y": [0.3, -0.1]}


def test_ordered_prior_draws_are_the_order_statistics():
    draws = pplang.compile(ORDERED, "ordered.ppl").prior_predictive(DATA, samples=4000, seed=3)["mu"]
    assert draws.shape == (4000, 3) and np.all(np.diff(draws, axis=1) > 0)
    # E[order statistics of 3 standard normals] = -3 / (2 sqrt(pi)), 0, 3 / (2 sqrt(pi)); each
    # statistic's sd is below 0.75 * 2, so 5 Monte Carlo standard errors are under 0.12
    expected = 1 + 2 * np.array([-1.5, 0.0, 1.5]) / np.sqrt(np.pi)
    np.testing.assert_allclose(draws.mean(axis=0), expected, atol=5 * 1.5 / np.sqrt(4000))
    # the elements of a row, taken in random order, are 3 independent draws from the prior
    assert stats.kstest(draws.ravel(), stats.norm(1, 2).cdf).pvalue > 1e-3


def test_positive_ordered_under_a_prior_on_the_reals_is_its_truncation():
    src = ORDERED.replace("ordered[3]", "positive_ordered[3]").replace("Normal(1, 2)", "Normal(0, 2)")
    draws = pplang.compile(src, "pos.ppl").prior_predictive(DATA, samples=3000, seed=1)["mu"]
    assert np.all(draws > 0) and np.all(np.diff(draws, axis=1) > 0)
    assert stats.kstest(draws.ravel(), stats.halfnorm(scale=2).cdf).pvalue > 1e-3


def test_the_sampled_density_is_stans(x64):
    """prod f(mu_k), Stan's density for `mu ~ normal(1, 2)` on an ordered vector: the order
    statistics' density without its constant K! (which does not change the posterior)."""
    from numpyro.infer.util import log_density

    model = pplang.compile(ORDERED, "ordered.ppl")
    params = {"mu": np.array([-0.5, 0.2, 2.0]), "sigma": np.array(0.7)}
    got = float(log_density(model.numpyro_model, (), model.prepare_data(DATA), params)[0])
    want = (stats.norm(1, 2).logpdf(params["mu"]).sum() + stats.halfnorm(scale=1).logpdf(0.7)
            + stats.norm(0.2, 0.7).logpdf(DATA["y"]).sum())
    assert got == pytest.approx(want, abs=1e-10)


def test_the_hmm_example_draws_from_its_prior():
    data = json.loads((EXAMPLES / "hmm.json").read_text())
    model = pplang.compile((EXAMPLES / "hmm.ppl").read_text(), "hmm.ppl")
    mu = model.prior_predictive(data, samples=50, seed=0)["mu"]
    assert mu.shape == (50, data["K"]) and np.all(np.diff(mu, axis=1) > 0)


def test_a_prior_that_cannot_be_drawn_says_why(tmp_path, capsys):
    """Normal(m, 1) with m a parameter on a positive_ordered vector: Stan's density (not normalised
    for the truncation, which depends on m) is kept, and drawing from it is refused at its statement."""
    from pplang.cli import main

    src = ORDERED.replace("ordered[3]", "positive_ordered[3]").replace(
        "mu ~ Normal(1, 2)", "param m: real\nm ~ Normal(0, 1)\nmu ~ Normal(m, 1)")
    with pytest.raises(PplangError) as exc:
        pplang.compile(src, "pos.ppl").prior_predictive(DATA, samples=3)
    (d,) = exc.value.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("improper-prior", 7, 1)
    assert d.message.startswith('the prior of "mu" is only a density over its declared support (positive_ordered)')
    assert "`mu ~ Normal(0, 5)`" in d.help
    f = tmp_path / "pos.ppl"
    f.write_text(src)
    (tmp_path / "pos.json").write_text(json.dumps(DATA))
    assert main(["prior", str(f)]) == 1
    err = capsys.readouterr().err
    assert "pos.ppl:7:1" in err and "has no prior" not in err and "Traceback" not in err
