"""A repeated Model.sample reuses its compiled sampler (pplang.reuse): no re-tracing or re-compiling,
the same draws as a first run, and memory that stays flat."""

import json

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES
from pplang import reuse
from pplang.diagnostics import PplangError

SETTINGS = dict(chains=2, warmup=100, samples=50, cache=False)


@pytest.fixture
def model_and_data():
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    return model, json.loads((EXAMPLES / "eight_schools.json").read_text())


def _shifted(data, by):
    return {**data, "y": [v + by for v in data["y"]]}


def test_a_repeated_call_reuses_and_gives_a_first_runs_draws(model_and_data):
    """New data of the same shapes and a new seed: the kept program runs (no compile), and its draws
    are bit for bit those of a first run on that data and seed (after everything kept is dropped)."""
    model, data = model_and_data
    reuse.forget()
    first = model.sample(data, seed=1, **SETTINGS)
    again = model.sample(_shifted(data, 0.5), seed=2, **SETTINGS)
    assert first.timing["reused"] is False and again.timing["reused"] is True
    assert again.timing["jit_s"] < 0.5 * first.timing["jit_s"]
    reuse.forget()
    cold = pplang.load(EXAMPLES / "eight_schools.ppl").sample(_shifted(data, 0.5), seed=2, **SETTINGS)
    assert cold.timing["reused"] is False
    for k in cold.samples:
        np.testing.assert_array_equal(again.samples[k], cold.samples[k])
    np.testing.assert_array_equal(again.sample_stats()["lp"], cold.sample_stats()["lp"])


def test_an_earlier_posterior_is_not_changed_by_a_later_run(model_and_data):
    model, data = model_and_data
    first = model.sample(data, seed=3, **SETTINGS)
    kept = {k: v.copy() for k, v in first.samples.items()}
    model.sample(_shifted(data, 2.0), seed=4, **SETTINGS)
    for k, v in kept.items():
        np.testing.assert_array_equal(first.samples[k], v)


def test_other_shapes_or_settings_compile_their_own(model_and_data):
    model, data = model_and_data
    model.sample(data, seed=0, **SETTINGS)
    nine = {"J": 9, "y": data["y"] + [1.0], "sigma": data["sigma"] + [10.0]}
    assert model.sample(nine, seed=0, **SETTINGS).timing["reused"] is False
    assert model.sample(data, seed=0, **{**SETTINGS, "samples": 60}).timing["reused"] is False
    assert model.sample(data, seed=5, **SETTINGS).timing["reused"] is True


def test_memory_maps_stay_flat_over_repeated_calls(model_and_data):
    """Each plain MCMC.run left ~720 memory mappings behind; reused runs leave none."""
    from pplang.jitcache import _count_memory_maps

    if _count_memory_maps() is None:
        pytest.skip("no /proc/self/maps on this system")
    model, data = model_and_data
    model.sample(data, seed=0, **SETTINGS)
    before = _count_memory_maps()
    for i in range(8):
        model.sample(_shifted(data, 0.1 * i), seed=i, **SETTINGS)
    assert _count_memory_maps() - before < 50


def test_a_start_that_fails_is_reported_as_in_a_plain_run():
    """Inside one compiled run NumPyro cannot raise its initialisation error; the run is repeated
    with the plain MCMC.run, which reports it."""
    model = pplang.compile("mu ~ Normal(0, 1)\ntarget += log(-1 + 0 * mu)\n", "bad.ppl")
    with pytest.raises((PplangError, pplang.diagnostics.InternalError)) as plain:
        model.sample({}, progress_bar=True, **SETTINGS)  # the plain path
    with pytest.raises(type(plain.value)) as reused:
        model.sample({}, **SETTINGS)
    assert str(reused.value) == str(plain.value)


@pytest.mark.slow
def test_two_hundred_calls_grow_memory_by_at_most_50_mb(model_and_data):
    """Issue 15's bound: 200 calls (same shapes, new data and seed each time), RSS growth <= 50 MB."""
    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))

    if not __import__("os").path.exists("/proc/self/status"):
        pytest.skip("no /proc on this system")
    model, data = model_and_data
    model.sample(data, seed=0, **SETTINGS)
    model.sample(_shifted(data, 0.01), seed=1, **SETTINGS)
    before = rss_mb()
    for i in range(200):
        post = model.sample(_shifted(data, 0.01 * i), seed=i, **SETTINGS)
        assert post.timing["reused"]
    assert rss_mb() - before <= 50


def test_an_exported_program_is_loaded_by_a_later_run_and_a_damaged_one_replaced(model_and_data, tmp_path,
                                                                                 monkeypatch):
    """With the cache on, the first run exports its program; a run in a fresh state (nothing kept in
    the process) loads it and gives the same draws; a damaged entry is deleted, traced again and
    rewritten, still with the same draws."""
    monkeypatch.setenv("PPLANG_CACHE_DIR", str(tmp_path))
    model, data = model_and_data
    settings = {**SETTINGS, "cache": True}
    reuse.forget()
    first = model.sample(data, seed=3, **settings)
    entries = list((tmp_path / "programs").glob("*.jaxexport"))
    assert len(entries) == 1
    reuse.forget()
    loaded = model.sample(data, seed=3, **settings)
    np.testing.assert_array_equal(loaded.samples["theta"], first.samples["theta"])
    entries[0].write_bytes(b"not a program")
    reuse.forget()
    repaired = model.sample(data, seed=3, **settings)
    np.testing.assert_array_equal(repaired.samples["theta"], first.samples["theta"])
    assert entries[0].stat().st_size > 1000


def test_a_program_that_cannot_be_exported_is_reused_in_the_process_only(tmp_path, monkeypatch):
    """An ODE model: diffrax's runtime checks are host callbacks, which jax.export cannot serialise.
    The run still succeeds, nothing is written to programs/, and a second call reuses the program."""
    monkeypatch.setenv("PPLANG_CACHE_DIR", str(tmp_path))
    src = ("def decay(t, y, k) = -k * y\ndata N: int\ndata ts: real[N]\ndata obs: real[N]\n"
           "param k: real<lower=0>\nk ~ LogNormal(0, 1)\n"
           "y = ode_rk45_tol(decay, [1], 0, ts, 1e-6, 1e-6, 100, k)\nobs[n] ~ Normal(y[n, 1], 0.1)\n")
    model = pplang.compile(src, "decay.ppl")
    data = {"N": 3, "ts": [0.5, 1.0, 2.0], "obs": [0.62, 0.35, 0.14]}
    settings = dict(chains=1, warmup=50, samples=30, cache=True)
    reuse.forget()
    first = model.sample(data, seed=0, **settings)
    again = model.sample(data, seed=1, **settings)
    assert first.timing["reused"] is False and again.timing["reused"] is True
    assert not list((tmp_path / "programs").glob("*.jaxexport"))
    assert 0.5 < float(np.mean(again.samples["k"])) < 1.5  # exp(-k t) through (0.62, 0.35, 0.14): k ~ 1
