"""The command line as a user meets it: run, check, compile, errors with file:line:col."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, record_output


def pplang(*args, cwd=None, input=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "pplang.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, input=input, timeout=300)
    record_output(r.stderr)
    return r


def test_version_and_help():
    r = pplang("--version")
    assert r.returncode == 0 and r.stdout.startswith("pplang ")
    r = pplang("--help")
    assert r.returncode == 0 and "run" in r.stdout and "check" in r.stdout


def test_run_json_finds_sidecar_data_and_reports_one_based_names(tmp_path):
    r = pplang("run", EXAMPLES / "eight_schools.ppl", "--chains", 2, "--warmup", 100, "--samples", 100,
               "--seed", 3, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["parameters"]) == {"mu", "tau", *(f"theta[{i}]" for i in range(1, 9))}
    assert out["num_chains"] == 2 and out["num_samples"] == 100 and out["seed"] == 3
    assert isinstance(out["num_divergences"], int)
    assert out["data"].endswith("eight_schools.json")
    assert {"compile_s", "sample_s"} <= set(out["timing"])
    assert "Traceback" not in r.stderr


def test_centered_variant_uses_the_shared_sidecar(tmp_path):
    r = pplang("run", EXAMPLES / "eight_schools_centered.ppl", "--chains", 1, "--warmup", 50, "--samples", 50,
               "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["data"].endswith("eight_schools.json")
    # one chain: R-hat cannot be computed, and the output says so instead of printing a number
    assert all(row["r_hat"] is None for row in out["parameters"].values())
    assert all(row["ess_bulk"] > 0 for row in out["parameters"].values())
    assert "one chain" in out["notes"][0]


def test_run_table_has_the_seed_columns():
    r = pplang("run", EXAMPLES / "eight_schools_manual.ppl", "--chains", 2, "--warmup", 100, "--samples", 100)
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header == ["mean", "std", "median", "5.0%", "95.0%", "ess_bulk", "ess_tail", "r_hat"]
    assert "theta_0[8]" in r.stdout and "Number of divergences:" in r.stdout
    assert "Note:" not in r.stdout  # two chains: R-hat is computed


def test_data_flag_overrides_sidecar(tmp_path):
    data = json.loads((EXAMPLES / "eight_schools.json").read_text())
    data["y"] = [100.0] * 8
    f = tmp_path / "other.json"
    f.write_text(json.dumps(data))
    r = pplang("run", EXAMPLES / "eight_schools.ppl", "--data", f, "--chains", 1, "--warmup", 200,
               "--samples", 200, "--json")
    assert r.returncode == 0, r.stderr
    # with every school at 100, the school effects follow the data (tau is free to grow)
    assert json.loads(r.stdout)["parameters"]["theta[1]"]["mean"] > 50


def test_check_and_compile():
    r = pplang("check", EXAMPLES / "eight_schools.ppl")
    assert r.returncode == 0
    r = pplang("compile", EXAMPLES / "eight_schools.ppl")
    assert r.returncode == 0 and "LocScaleReparam(centered=0)" in r.stdout
    r = pplang("compile", EXAMPLES / "eight_schools.ppl", "--emit", "ir")
    assert r.returncode == 0 and "NonCentered" in r.stdout


BAD = [
    ("syntax", "mu ~ Normal(0, 5\ntau ~ HalfCauchy(5)\n", 1, "syntax-error"),  # the unclosed '('
    ("syntax-eof", "mu ~ Normal(0, 5) +\n", 1, "syntax-error"),
    ("unknown-dist", "mu ~ Normall(0, 5)\n", 1, "unknown-distribution"),
    ("unknown-name", "mu ~ Normal(0, sigmaa)\n", 1, "unknown-name"),
    ("reparam-observed", "data y: real\ny ~ Normal(0, 1) noncentered\n", 2, "reparam-on-observed"),
]


@pytest.mark.parametrize("label,source,line,code", BAD, ids=[b[0] for b in BAD])
def test_errors_are_located_and_never_tracebacks(tmp_path, label, source, line, code):
    f = tmp_path / "bad.ppl"
    f.write_text(source)
    for cmd in ("check", "run"):
        r = pplang(cmd, f)
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        assert f"error[{code}]" in r.stderr
        assert f"bad.ppl:{line}:" in r.stderr
        assert "^" in r.stderr
    r = pplang("check", f, "--format", "concise")
    assert f"bad.ppl:{line}:" in r.stderr and f"[{code}]" in r.stderr


def test_unknown_distribution_suggests_the_close_name(tmp_path):
    f = tmp_path / "m.ppl"
    f.write_text("mu ~ Normall(0, 5)\n")
    r = pplang("check", f)
    assert 'did you mean "Normal"?' in r.stderr
    assert " | mu ~ Normall(0, 5)" in r.stderr
    caret_line = r.stderr.splitlines()[r.stderr.splitlines().index("1 | mu ~ Normall(0, 5)") + 1]
    assert caret_line.endswith("     ^^^^^^^")


def test_missing_data_field_points_at_the_declaration(tmp_path):
    f = tmp_path / "m.ppl"
    f.write_text((EXAMPLES / "eight_schools.ppl").read_text())
    (tmp_path / "m.json").write_text(json.dumps({"J": 8, "y": [1.0] * 8}))
    r = pplang("run", f, "--chains", 1, "--samples", 10, "--warmup", 10)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error[missing-data]" in r.stderr and '"sigma"' in r.stderr
    assert "m.ppl:5:" in r.stderr


@pytest.mark.parametrize("data,code,text", [
    pytest.param({"J": 8, "y": [1.0] * 7, "sigma": [1.0] * 8}, "data-shape", "shape (8)", id="data-shape"),
    pytest.param({"J": 8, "y": [1.0] * 8, "sigma": [1.0] * 7 + [-1.0]}, "data-constraint", "sigma[8]",
                 id="data-constraint"),
    pytest.param({"J": 8.5, "y": [1.0] * 8, "sigma": [1.0] * 8}, "data-type", "not a whole number", id="data-type"),
])
def test_bad_data_is_reported_before_sampling(tmp_path, data, code, text):
    f = tmp_path / "d.json"
    f.write_text(json.dumps(data))
    r = pplang("run", EXAMPLES / "eight_schools.ppl", "--data", f)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"error[{code}]" in r.stderr and text in r.stderr


def test_missing_model_file():
    r = pplang("check", "nope.ppl")
    assert r.returncode == 1 and "cannot read nope.ppl" in r.stderr and "Traceback" not in r.stderr


def test_explain():
    r = pplang("explain", "unbound-index")
    assert r.returncode == 0 and "unbound-index" in r.stdout


def test_prior_predictive_matches_the_analytic_prior():
    """mu ~ Normal(0, 5): with 4000 draws the mean's Monte Carlo sd is 5/sqrt(4000) = 0.079 and the
    variance's is about 25*sqrt(2/4000) = 0.56; the bounds are 4 of those."""
    r = pplang("prior", EXAMPLES / "eight_schools.ppl", "--samples", 4000, "--seed", 1, "--json")
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)["variables"]
    assert v["mu"]["shape"] == [4000] and v["y"]["shape"] == [4000, 8] and v["theta"]["shape"] == [4000, 8]
    assert abs(v["mu"]["mean"]) < 4 * 0.079
    assert abs(v["mu"]["variance"] - 25) < 4 * 0.56
    r = pplang("prior", EXAMPLES / "eight_schools_centered.ppl", "--samples", 10)
    assert r.returncode == 0 and "Variable: tau" in r.stdout and "Shape: (10, 8)" in r.stdout


def test_check_does_not_import_jax():
    code = ("import sys, pplang.cli; rc = pplang.cli.main(['check', %r]);"
            "assert 'jax' not in sys.modules and 'numpyro' not in sys.modules; sys.exit(rc)"
            % str(EXAMPLES / "eight_schools.ppl"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr


def test_extra_data_field_is_a_warning(tmp_path):
    data = json.loads((EXAMPLES / "eight_schools.json").read_text())
    data["school_names"] = ["A"] * 8
    f = tmp_path / "d.json"
    f.write_text(json.dumps(data))
    r = pplang("run", EXAMPLES / "eight_schools.ppl", "--data", f, "--chains", 1, "--warmup", 20, "--samples", 20,
               "--json")
    assert r.returncode == 0, r.stderr
    assert 'warning[data-file]: the data field "school_names" is not declared' in r.stderr
    assert any(w["code"] == "data-file" for w in json.loads(r.stdout)["warnings"])
