"""Simulation-based calibration (pplang sbc; pplang.sbc)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES, ROOT, record_output
from pplang import sbc
from pplang.diagnostics import PplangError

SMALL = dict(reps=30, chains=1, warmup=150, samples=150, seed=0)


def test_ranks_of_a_correct_fit_are_in_range_and_pass():
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    result = sbc.calibrate(model, EXAMPLES / "eight_schools.json", **SMALL)
    assert set(result.ranks) == {"mu", "tau", *(f"theta[{j}]" for j in range(1, 9))}
    for name, ranks in result.ranks.items():
        assert ranks.shape == (30,) and ranks.min() >= 0 and ranks.max() <= 99
    # 30 replications cannot show small miscalibration; they must not flag a correct model (alpha 0.001)
    assert all(t["p"] >= 0.001 for t in result.tests.values())


def test_a_biased_fit_is_flagged(monkeypatch):
    """Posterior draws of mu shifted up by 3 prior sd: the drawn truths rank near 0 for every
    replication, and the chi-square test flags mu (and only quantities it touched)."""
    from pplang.runtime import Model

    sample = Model.sample

    def biased(self, *args, **kwargs):
        post = sample(self, *args, **kwargs)
        post.mcmc.samples["mu"] = post.mcmc.samples["mu"] + 15.0
        return post

    monkeypatch.setattr(Model, "sample", biased)
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    result = sbc.calibrate(model, EXAMPLES / "eight_schools.json", **SMALL)
    assert result.tests["mu"]["p"] < 1e-6 and np.mean(result.ranks["mu"] < 10) > 0.8
    assert result.summary()["quantities"]["mu"]["uniform"] is False


def test_bad_settings_are_refused_before_fitting():
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    with pytest.raises(PplangError, match="bins dividing"):
        sbc.calibrate(model, EXAMPLES / "eight_schools.json", reps=10, draws=50, bins=10)
    with pytest.raises(PplangError, match="keeps only"):
        sbc.calibrate(model, EXAMPLES / "eight_schools.json", reps=10, chains=1, samples=50)


def test_command_line_json_and_plot(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pplang.cli", "sbc", str(EXAMPLES / "eight_schools.ppl"), "--reps", "12",
                        "--chains", "1", "--warmup", "100", "--samples", "100", "--json",
                        "--plot", str(tmp_path / "ranks.png")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    record_output(r.stderr)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reps"] == 12 and set(out["quantities"]) >= {"mu", "tau", "theta[1]"}
    assert (tmp_path / "ranks.png").stat().st_size > 1000
