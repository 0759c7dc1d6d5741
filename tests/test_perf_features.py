"""Start-up and iteration speed features (the numbers themselves live in bench/)."""

import json
import os
import subprocess
import sys

from conftest import EXAMPLES, ROOT


def _run(cache_dir, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PPLANG_CACHE_DIR=str(cache_dir))
    args = [EXAMPLES / "eight_schools.ppl", "--chains", 2, "--warmup", 50, "--samples", 50, "--json", *extra]
    r = subprocess.run([sys.executable, "-m", "pplang.cli", "run", *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_compilation_cache_is_written_and_reused(tmp_path):
    first = _run(tmp_path)
    assert any(tmp_path.iterdir()), "the persistent cache directory stayed empty"
    assert first["timing"]["cache_misses"] > 0
    second = _run(tmp_path)
    assert second["timing"]["cache_hits"] > 0 and second["timing"]["cache_misses"] == 0
    assert second["parameters"] == first["parameters"]  # same seed, same draws
    assert {"import_s", "compile_s", "jit_s", "sample_s"} <= set(second["timing"])


def test_no_cache_flag_leaves_the_cache_alone(tmp_path):
    out = _run(tmp_path, "--no-cache")
    assert not any(tmp_path.iterdir())
    assert out["timing"]["cache_hits"] == 0


def test_chain_methods_run_on_two_cpu_devices(tmp_path):
    """`parallel` spreads chains over JAX devices (two CPU devices forced with XLA_FLAGS)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PPLANG_CACHE_DIR=str(tmp_path),
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    results = {}
    for method in ("parallel", "sequential", "vectorized"):
        r = subprocess.run([sys.executable, "-m", "pplang.cli", "run", str(EXAMPLES / "eight_schools.ppl"),
                            "--chains", "2", "--warmup", "100", "--samples", "100", "--json",
                            "--chain-method", method], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["chain_method"] == method and out["num_chains"] == 2
        results[method] = out["parameters"]["mu"]
    # every method runs two chains from the same keys, but as different compiled programs (pmap of
    # NumPyro's loop; one jitted run with lax.map or vmap over chains), which round differently, and
    # NUTS amplifies that: the runs agree within Monte Carlo error, 4 sd of the difference of two
    # means whose standard errors are sd / sqrt(ess_bulk)
    def mcse(row):
        return row["sd"] / row["ess_bulk"] ** 0.5

    for a, b in (("parallel", "sequential"), ("sequential", "vectorized")):
        bound = 4 * (mcse(results[a]) ** 2 + mcse(results[b]) ** 2) ** 0.5
        assert abs(results[a]["mean"] - results[b]["mean"]) < bound, (a, b, results[a], results[b])
