"""``pplang optimize`` (and ``laplace``) run as a few traced programs (pplang/approx_programs.py): a
second optimize in one process, or in a process that finds them on disk, traces nothing and gives
identical results; the programs agree with the eager path to float precision (their data are
arguments, not constants XLA can fold, so the last bits may differ). PSIS (pplang/psis.py) equals
ArviZ's psislw.
"""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import EXAMPLES

import pplang
from pplang import approx_programs

ES_DATA = EXAMPLES / "eight_schools.json"
ROOT = EXAMPLES.parent


@pytest.fixture(scope="module")
def eight_schools():
    return pplang.load(EXAMPLES / "eight_schools.ppl")


def _same(a, b):
    assert a.diagnostics == b.diagnostics
    assert a.draws.keys() == b.draws.keys()
    for k in a.draws:
        np.testing.assert_array_equal(a.draws[k], b.draws[k])


def test_a_second_optimize_in_the_process_traces_nothing_and_gives_the_same_result(eight_schools):
    approx_programs.forget()
    before = approx_programs.traces["count"]
    first = eight_schools.optimize(ES_DATA, cache=False)
    traced = approx_programs.traces["count"] - before
    assert traced >= 3  # mode, judge, rise (and point only when Newton steps move an end point)
    again = eight_schools.optimize(ES_DATA, cache=False)
    assert approx_programs.traces["count"] - before == traced
    _same(first, again)
    other_seed = eight_schools.optimize(ES_DATA, cache=False, seed=4)  # the seed is an argument
    assert approx_programs.traces["count"] - before == traced
    assert other_seed.diagnostics["optimizer"]["converged"]


def test_laplace_runs_through_the_same_programs(eight_schools, monkeypatch):
    approx_programs.forget()
    before = approx_programs.traces["count"]
    first = eight_schools.laplace(ES_DATA, cache=False, draws=200)
    traced = approx_programs.traces["count"] - before
    again = eight_schools.laplace(ES_DATA, cache=False, draws=200)
    assert traced >= 2 and approx_programs.traces["count"] - before == traced
    _same(first, again)
    monkeypatch.setattr(approx_programs, "usable", lambda model: False)
    eager = eight_schools.laplace(ES_DATA, cache=False, draws=200)
    for k in eager.draws:
        np.testing.assert_allclose(first.draws[k], eager.draws[k], rtol=1e-9, atol=1e-12)
    assert first.diagnostics["pareto_k"] == pytest.approx(eager.diagnostics["pareto_k"], rel=1e-9)


WARM = """
import json, sys
import pplang
from pplang import approx_programs
r = pplang.load(sys.argv[1]).optimize(sys.argv[2], jacobian=True)
print(json.dumps({"traces": approx_programs.traces["count"], "draws": {k: v.tolist() for k, v in r.draws.items()},
                  "diagnostics": r.diagnostics}))
"""


def test_a_warm_cache_process_loads_the_programs_traces_nothing_and_gives_the_same_result(tmp_path):
    env = {"PPLANG_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    def run():
        out = subprocess.run([sys.executable, "-c", WARM, str(EXAMPLES / "eight_schools.ppl"), str(ES_DATA)],
                             capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        return json.loads(out.stdout)

    cold = run()
    # mode and judge (no bounded element is near its bound with the Jacobian: no rise program)
    assert cold["traces"] == 2 and len(list((tmp_path / "programs").glob("*.jaxexport"))) == 2
    warm = run()
    assert warm["traces"] == 0
    assert warm["draws"] == cold["draws"] and warm["diagnostics"] == cold["diagnostics"]


# each flag reaches the traced programs (two per case: the eager path costs ~350 small compilations)
@pytest.mark.parametrize("options", [{}, {"jacobian": True, "restarts": 3}, {"mle": True, "algorithm": "adam"}])
def test_the_programs_agree_with_the_eager_path(eight_schools, monkeypatch, options):
    traced = eight_schools.optimize(ES_DATA, cache=False, **options)
    monkeypatch.setattr(approx_programs, "usable", lambda model: False)
    eager = eight_schools.optimize(ES_DATA, cache=False, **options)
    # MAP's tau sits where the density is flat (condition number 2.6e9): 7e-11 relative there
    for k in eager.draws:
        np.testing.assert_allclose(traced.draws[k], eager.draws[k], rtol=1e-9, atol=1e-12)
    a, b = traced.diagnostics, eager.diagnostics
    assert a["optimizer"]["reason"] == b["optimizer"]["reason"]
    assert a["optimizer"]["iterations"] == b["optimizer"]["iterations"]
    assert a["optimizer"]["newton_steps"] == b["optimizer"]["newton_steps"]
    assert [x["name"] for x in a["boundary"]] == [x["name"] for x in b["boundary"]]
    assert a["hessian"]["positive_definite"] == b["hessian"]["positive_definite"]
    assert a["pareto_k"] == pytest.approx(b["pareto_k"], rel=1e-9)
    assert [d.code for d in traced.warnings] == [d.code for d in eager.warnings]


def test_newton_steps_after_lbfgs_go_through_the_point_program(monkeypatch):
    """L-BFGS stopped at its iteration limit: Newton steps finish the job, each point's values
    from the ``point`` program."""
    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    data = EXAMPLES / "linear_regression.json"
    approx_programs.forget()
    traced = model.optimize(data, cache=False, iter=5)
    assert "approx-point" in [key[0] for key in approx_programs._kept]
    monkeypatch.setattr(approx_programs, "usable", lambda model: False)
    eager = model.optimize(data, cache=False, iter=5)
    a, b = traced.diagnostics["optimizer"], eager.diagnostics["optimizer"]
    assert a["newton_steps"] == b["newton_steps"] == 5 and a["reason"] == b["reason"]
    for k in eager.draws:
        np.testing.assert_allclose(traced.draws[k], eager.draws[k], rtol=1e-9)


def test_psis_equals_arviz_psislw():
    import arviz as az

    from pplang.psis import smooth

    rng = np.random.default_rng(1)
    for size in (5, 20, 1000):
        for x in (rng.normal(size=size) * 3, rng.standard_t(2, size=size), -rng.exponential(size=size),
                  np.log(rng.pareto(0.5, size=size) + 1e-300)):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected_lw, expected_k = az.psislw(x.copy(), reff=1.0)
                lw, k = smooth(x)
            assert k == float(expected_k) or (np.isnan(k) and np.isnan(float(expected_k)))
            np.testing.assert_array_equal(lw, np.asarray(expected_lw))
