"""Equivalence of the compiled Eight Schools models with hand-written NumPyro (the seed's
es_0, es_1 and es_0 under LocScaleReparam), and the posterior facts the seed shows."""

import jax
from functools import partial

import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro import handlers
from numpyro.infer import MCMC, NUTS

import pplang
from conftest import EXAMPLES
from reference_models import es_0, es_1, es_2

CASES = {
    "eight_schools_centered": es_0,
    "eight_schools_manual": es_1,
    "eight_schools": es_2,
}


def _trace(model, data, seed=0):
    return handlers.trace(handlers.seed(model, jax.random.PRNGKey(seed))).get_trace(**data)


def _structure(trace):
    out = {}
    for name, site in trace.items():
        if site["type"] not in ("sample", "deterministic"):
            continue
        fn = site.get("fn")
        while fn is not None and hasattr(fn, "base_dist") and type(fn).__name__ == "ExpandedDistribution":
            fn = fn.base_dist
        out[name] = (site["type"], type(fn).__name__ if fn is not None else None,
                     np.shape(site["value"]), bool(site.get("is_observed", False)))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_trace_structure_matches_hand_written(name, eight_schools_data):
    model = pplang.load(EXAMPLES / f"{name}.ppl")
    data = model.prepare_data(eight_schools_data)
    ours = _structure(_trace(model.numpyro_model, data))
    theirs = _structure(_trace(CASES[name], data))
    assert ours == theirs
    assert ours["y"][3] is True and ours["y"][2] == (8,)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_prior_draws_and_log_density(name, eight_schools_data):
    from numpyro.infer.util import log_density

    model = pplang.load(EXAMPLES / f"{name}.ppl")
    data = model.prepare_data(eight_schools_data)
    t_ours = _trace(model.numpyro_model, data, seed=3)
    t_theirs = _trace(CASES[name], data, seed=3)
    params = {k: s["value"] for k, s in t_ours.items() if s["type"] == "sample" and not s["is_observed"]}
    for k, v in params.items():
        np.testing.assert_array_equal(v, t_theirs[k]["value"])
    lp_ours, _ = log_density(model.numpyro_model, (), data, params)
    lp_theirs, _ = log_density(CASES[name], (), data, params)
    np.testing.assert_allclose(lp_ours, lp_theirs, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_mcmc_samples_as_hand_written(name, eight_schools_data):
    model = pplang.load(EXAMPLES / f"{name}.ppl")
    post = model.sample(eight_schools_data, chains=2, warmup=150, samples=100, seed=7)
    data = model.prepare_data(eight_schools_data)
    sizes = {k: v for k, v in data.items() if np.ndim(v) == 0}
    arrays = {k: v for k, v in data.items() if k not in sizes}

    @jax.jit  # a whole run compiled as one program, as pplang.reuse runs it (and a NumPyro expert would)
    def hand_written_run(key, arrays):
        mcmc = MCMC(NUTS(partial(CASES[name], **sizes)), num_warmup=150, num_samples=100, num_chains=2,
                    chain_method="vectorized", progress_bar=False)
        mcmc.run(key, **arrays)
        return mcmc.get_samples()

    theirs = hand_written_run(jax.random.PRNGKey(7), arrays)
    assert set(post.samples) == set(theirs)
    for k in theirs:
        np.testing.assert_allclose(post.samples[k], theirs[k], rtol=1e-5, atol=1e-6)


def test_noncentered_annotation_reaches_the_generated_code():
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    from numpyro.infer.reparam import LocScaleReparam

    assert set(model.reparam_config) == {"theta"}
    assert isinstance(model.reparam_config["theta"], LocScaleReparam)
    assert model.reparam_config["theta"].centered == 0
    assert "with numpyro.plate('J', J):" in model.python_source
    assert "for " not in model.python_source.split("def model", 1)[1]
    centered = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    assert centered.reparam_config == {}


def test_summary_names_are_one_based_and_include_deterministics(eight_schools_data):
    post = pplang.load(EXAMPLES / "eight_schools_manual.ppl").sample(
        eight_schools_data, chains=2, warmup=100, samples=100, seed=0)
    s = post.summary()
    names = list(s["parameters"])
    assert names[:2] == ["mu", "tau"]
    assert "theta[1]" in names and "theta[8]" in names and "theta[0]" not in names
    assert "theta_0[8]" in names
    row = s["parameters"]["theta[3]"]
    assert set(row) == {"mean", "sd", "median", "q5", "q95", "ess_bulk", "ess_tail", "r_hat"}
    assert s["num_chains"] == 2 and s["num_samples"] == 100 and s["seed"] == 0
    assert np.isclose(row["mean"], post.samples["theta"][:, 2].mean())
