"""Numerically bad input (issue 14): a sampler that cannot start, data beyond 32-bit range, sizes
too large to allocate, diagnostics that are not finite. Each is a plain located message, never an
internal error."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, record_output


def pplang(*args, cwd=None, env=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    r = subprocess.run([sys.executable, "-m", "pplang.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, timeout=300)
    record_output(r.stderr)
    return r


def write(tmp_path, name, source, data):
    (tmp_path / f"{name}.ppl").write_text(source)
    (tmp_path / f"{name}.json").write_text(json.dumps(data) if not isinstance(data, str) else data)
    return tmp_path / f"{name}.ppl"


SHORT = ("--chains", 1, "--warmup", 20, "--samples", 20)

FAILED_STARTS = {
    "log-of-negative": ("param mu: real\nmu ~ Normal(0, 1)\ntarget += log(-1)\n", {}, 3,
                        "the value added to target is nan"),
    "tiny-scale": ("data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1e-30)\n", {"y": 1}, 3, "scale=1e-30"),
    "infinite-slope": ("mu ~ Normal(0, 1)\ntarget += sqrt(mu - mu)\n", {}, 2,
                       "the gradient of this statement's log density is not finite at the initial point (with "
                       "respect to mu = "),
}


@pytest.mark.parametrize("case", FAILED_STARTS, ids=str)
def test_a_sampler_that_cannot_start_names_the_statement(tmp_path, case):
    source, data, line, detail = FAILED_STARTS[case]
    path = write(tmp_path, case, source, data)
    r = pplang("run", path, *SHORT, "--format", "concise", env={"PPLANG_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stderr
    assert f"{path}:{line}:1: error: the " in r.stderr and "is not finite at the initial point" in r.stderr
    assert detail in r.stderr and "[initial-point]" in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


SUBNORMAL = ("data N: int\ndata y: real[N]\ndata sigma: real<lower=0>[N]\nmu ~ Normal(0, 1)\n"
             "y[n] ~ Normal(mu, sigma[n])\n")


def test_data_beyond_float32_range_suggests_float64(tmp_path):
    env = {"PPLANG_CACHE_DIR": str(tmp_path / "cache")}
    big = write(tmp_path, "big", "data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n", '{"y": 1e39}')
    r = pplang("run", big, *SHORT, env=env)
    assert r.returncode == 1 and "error[data-precision]" in r.stderr, r.stderr
    assert '"y" = 1e+39 is too large for 32-bit floats' in r.stderr and "--float64" in r.stderr
    assert "RuntimeWarning" not in r.stderr and "internal error" not in r.stderr
    tiny = write(tmp_path, "tiny", SUBNORMAL, '{"N": 2, "y": [1, 2], "sigma": [1, 1e-320]}')
    r = pplang("run", tiny, *SHORT, "--format", "concise", env=env)
    assert r.returncode == 1, r.stderr
    assert f"{tiny}:3:6: error: \"sigma[2]\"" in r.stderr and "too small for 32-bit floats" in r.stderr
    # in 64-bit the value is kept, and the statement whose density it breaks is named instead
    r = pplang("run", tiny, *SHORT, "--format", "concise", "--float64", env=env)
    assert r.returncode == 1 and "data-precision" not in r.stderr, r.stderr
    assert f"{tiny}:5:1: error: the log density of this statement is not finite" in r.stderr
    assert "at y[2] = 2" in r.stderr and "internal error" not in r.stderr


def test_a_tower_of_powers_as_a_size_is_refused_at_once(tmp_path):
    """`N ^ N ^ N` with N = 10 has ten billion digits: Python's big integers used to compute it for ever."""
    path = write(tmp_path, "tower", "data N: int\ndata y: real[N ^ N ^ N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n",
                 {"N": 10, "y": [1.0]})
    r = pplang("check", path)  # check reads no data: nothing to compute
    assert r.returncode == 0, r.stderr
    r = pplang("run", path, *SHORT, "--format", "concise", env={"PPLANG_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stderr
    assert f"{path}:2:14: error: this size is 10 ^ 10000000000, a number with about 10000000001 digits" in r.stderr
    assert "[size-too-large]" in r.stderr


def test_sizes_above_the_array_limit_are_refused_before_allocating():
    import pplang
    from pplang.diagnostics import PplangError

    model = pplang.compile("data N: int\nparam theta: real[N * N * N]\ntheta ~ Normal(0, 1)\n", "big.ppl")
    with pytest.raises(PplangError) as err:
        model.prepare_data({"N": 100_000})
    (diag,) = err.value.diagnostics
    assert diag.code == "size-too-large" and diag.span.line == 2
    assert diag.message.startswith('"theta" has 1,000,000,000,000,000 elements')
    assert model.prepare_data({"N": 10})["N"] == 10  # a thousand elements are fine


def test_an_improper_posterior_is_flagged_as_not_converged(tmp_path):
    """A flat prior on an unbounded parameter: the draws run off to 1e18 and beyond, R-hat is NaN.
    This used to print only a tree-depth warning, a table 200 characters wide and RuntimeWarnings."""
    path = write(tmp_path, "flat", "param mu: real\n", {})
    r = pplang("run", path, "--chains", 2, "--warmup", 200, "--samples", 200, "--format", "concise",
               env={"PPLANG_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stderr.splitlines() if "[non-finite-summary]" in x)
    assert line.startswith(f'{path}:1:7: warning: the draws of "mu" cannot be summarised (') and "mean " in line
    assert "RuntimeWarning" not in r.stderr
    row = next(x for x in r.stdout.splitlines() if x.split()[:1] == ["mu"])
    assert len(row) < 100 and "e+" in row  # the table keeps its columns


def test_nan_quantities_and_models_without_parameters(tmp_path):
    env = {"PPLANG_CACHE_DIR": str(tmp_path / "cache")}
    nan = write(tmp_path, "nan", "mu ~ Normal(0, 1)\nd = log(-1 - mu * mu)\nc = 2\n", {})
    r = pplang("run", nan, "--chains", 2, "--warmup", 100, "--samples", 100, "--format", "concise", env=env)
    assert r.returncode == 0, r.stderr
    assert f'{nan}:2:1: warning: "d" is NaN in every draw  [nan-draws]' in r.stderr
    assert "non-finite-summary" not in r.stderr  # the constant c has no R-hat, and needs none
    data_only = write(tmp_path, "data_only", "data y: real\ny ~ Normal(0, 1)\n", {"y": 1})
    r = pplang("run", data_only, "--chains", 2, "--warmup", 100, "--samples", 100, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("Note: the model has no parameters (every quantity is data): there are no draws "
                                "to summarise")
    assert "Warning" not in r.stderr
    r = pplang("run", data_only, "--chains", 2, "--warmup", 100, "--samples", 100, "--predict", env=env)
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr  # was a ValueError from Predictive
    assert "error[unsupported]: cannot draw replicated data: the model has no parameters" in r.stderr


def test_non_finite_statistics_are_a_warning_not_a_silence():
    """Draws whose mean and sd are not finite (overflowed to inf in two chains) get a warning at the
    statement; the other warnings, which compare numbers, used to skip them silently."""
    import numpy as np

    import pplang
    from conftest import EXAMPLES
    from pplang.advice import sampling_diagnostics
    from test_advice import _Draws, _healthy

    model = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    samples, extra = _healthy(np.random.default_rng(0))
    samples["tau"][:2] = np.inf
    got = [d for d in sampling_diagnostics(model, _Draws(model, samples, extra)) if d.code == "non-finite-summary"]
    assert len(got) == 1 and got[0].span.line == 7 and got[0].severity == "warning"
    assert got[0].message.startswith('the draws of "tau" cannot be summarised (mean inf, sd NaN)')


def test_a_tower_of_integer_powers_in_the_model_does_not_hang():
    """`w = M ^ M ^ M` over int data was Python's exact `**` in the generated code: it never finished."""
    import pplang

    model = pplang.compile("data M: int\nmu ~ Normal(0, 1)\nw = M ^ M ^ M\n", "tower.ppl")
    assert "jnp.power(M, jnp.power(M, M))" in model.python_source


def test_the_approximate_methods_say_the_same():
    import pplang
    from pplang.diagnostics import PplangError

    model = pplang.compile(FAILED_STARTS["log-of-negative"][0], "neg.ppl")
    with pytest.raises(PplangError) as err:
        model.optimize({})  # was an internal error: NumPyro's RuntimeError inside the located run
    assert [(d.code, d.span.line) for d in err.value.diagnostics] == [("initial-point", 3)]
    big = pplang.compile("data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n", "big.ppl")
    with pytest.raises(PplangError) as err:
        big.laplace({"y": 1e39}, float64=False)
    assert [d.code for d in err.value.diagnostics] == ["data-precision"]
