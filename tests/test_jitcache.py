"""A process that fits many models never runs out of memory mappings (pplang.jitcache)."""

import json

import pytest

import pplang
from conftest import EXAMPLES
from pplang import jitcache


def test_caches_are_released_before_the_mapping_limit(monkeypatch):
    """With the limit set just above the process's current mappings, the next fit first drops JAX's
    compiled programs (the count falls), then compiles its own, and the fit is still correct."""
    import jax

    if jitcache._count_memory_maps() is None:
        pytest.skip("no /proc/self/maps on this system")
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    data = json.loads((EXAMPLES / "eight_schools.json").read_text())
    model.sample(data, chains=1, warmup=20, samples=20, cache=False)
    jax.jit(lambda x: x + 1)(1.0)  # something compiled is alive in the caches
    before = jitcache._count_memory_maps()
    monkeypatch.setattr(jitcache, "_memory_map_limit", lambda: before + 10)  # half of it is far exceeded
    assert jitcache.release_compiled_programs_if_needed()
    after = jitcache._count_memory_maps()
    assert after < before
    post = model.sample(data, chains=1, warmup=20, samples=20, cache=False)
    assert post.grouped_samples["mu"].shape == (1, 20)


def test_nothing_is_released_below_the_limit(monkeypatch):
    monkeypatch.setattr(jitcache, "_memory_map_limit", lambda: 10 ** 9)
    assert not jitcache.release_compiled_programs_if_needed()
