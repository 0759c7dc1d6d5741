"""Error files: each tests/errors/*.ppl marks its expected diagnostics inline, as mypy's test data
does: `# E: <message part> [code]` (error) or `# W: ... [code]` (warning) on the line they belong
to. Every marker must be matched, and unmarked lines must be clean."""

import re
from pathlib import Path

import pytest

import pplang
from pplang.diagnostics import CATALOGUE, PplangError, render

ERRORS = Path(__file__).parent / "errors"
MARK = re.compile(r"#\s*(E|W):\s*(.*?)\s*\[([a-z-]+)\]\s*$")

# codes whose trigger is not a model file -> the test that triggers it ("module.test", or
# "module.test[id]" for one case of a parametrised test). Checked: the test must exist, must not be
# slow (so every run checks it), and fails when it did not produce the code (tests/conftest.py).
COVERED_ELSEWHERE = {
    "missing-data": "test_cli.test_missing_data_field_points_at_the_declaration",
    "data-type": "test_cli.test_bad_data_is_reported_before_sampling[data-type]",
    "data-shape": "test_cli.test_bad_data_is_reported_before_sampling[data-shape]",
    "data-constraint": "test_cli.test_bad_data_is_reported_before_sampling[data-constraint]",
    "data-not-finite": "test_errors.test_non_finite_data",
    "data-file": "test_safety.test_data_files_are_parsed_as_json_only",
    "no-data-file": "test_errors.test_no_data_file",
    "file-not-found": "test_cli.test_missing_model_file",
    "runtime-error": "test_errors.test_library_errors_point_at_the_model_line",
    "divergent-transitions": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "funnel-reparam": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "high-rhat": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "low-ess": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "max-treedepth": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "low-ebfmi": "test_advice.test_each_sampling_warning_on_draws_that_show_it",
    "fit-file": "test_workflow.test_predict_command",
    "fit-mismatch": "test_workflow.test_predict_refuses_a_change_of_latent_shape",
    "output-format": "test_workflow.test_bad_output_suffix_is_refused_before_sampling",
    "output-path": "test_bad_input.test_bad_input[run-output-dir-missing-nc]",
    "plot-error": "test_workflow.test_plot_errors_are_diagnostics",
    "graphviz-missing": "test_workflow.test_graph_image_without_graphviz_is_a_diagnostic",
    "unused-elements": "test_typed_core.test_unread_parameter_elements_are_warned",
    "bad-setting": "test_settings.test_bad_settings_are_refused_before_the_model_is_read",
    "bad-init": "test_settings.test_initial_values_are_checked_against_the_model",
    "unknown-var": "test_settings.test_vars_are_checked_before_sampling",
    "approximation-unreliable": "test_inference_modes.test_eight_schools_pathfinder_is_flagged_unreliable",
    "approximation-doubtful": "test_inference_modes.test_each_check_has_its_warning",
    "approximation-biased": "test_inference_modes.test_a_mode_away_from_a_skewed_posterior_mean_is_flagged",
    "optimizer-not-converged": "test_inference_modes.test_each_check_has_its_warning",
    "mode-at-boundary": "test_inference_modes.test_eight_schools_map_sits_at_tau_zero_and_says_so",
    "hessian-not-positive-definite": "test_inference_modes.test_each_check_has_its_warning",
    "elbo-not-converged": "test_inference_modes.test_each_check_has_its_warning",
    "restarts-disagree": "test_inference_modes.test_restarts_find_both_modes_of_a_bimodal_density",
    "enumeration-size": "test_discrete.test_large_enumerations_are_warned_with_their_size",
    "missing-value": "test_missing.test_covariate_without_a_distribution_is_an_error_that_says_what_to_write",
    "auto-reparam": "test_auto_reparam.test_reparam_auto_with_nothing_to_choose_says_so",
    "initial-point": "test_numeric_faults.test_a_sampler_that_cannot_start_names_the_statement",
    "data-precision": "test_numeric_faults.test_data_beyond_float32_range_suggests_float64",
    "size-too-large": "test_numeric_faults.test_sizes_above_the_array_limit_are_refused_before_allocating",
    "non-finite-summary": "test_numeric_faults.test_an_improper_posterior_is_flagged_as_not_converged",
    "nan-draws": "test_numeric_faults.test_nan_quantities_and_models_without_parameters",
    "cache": "test_cache.test_an_unsafe_cache_path_is_not_used",
    "shard-unsupported": "test_sharding.test_a_model_without_a_row_plate_runs_unsharded_with_a_located_warning",
    "distributed-start": "test_sharding.test_a_process_that_cannot_join_is_told_plainly",
}


def expected(path: Path):
    out = set()
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        m = MARK.search(line)
        if m:
            out.add((lineno, "error" if m.group(1) == "E" else "warning", m.group(3), m.group(2)))
    return out


def actual(path: Path):
    try:
        model = pplang.load(path)
        diags = model.warnings
    except PplangError as exc:
        diags = exc.diagnostics + exc.warnings
    return diags


@pytest.mark.parametrize("path", sorted(ERRORS.glob("*.ppl")), ids=lambda p: p.name)
def test_error_file(path):
    want = expected(path)
    got = actual(path)
    unmatched = []
    for line, sev, code, text in want:
        if not any(d.span.line == line and d.severity == sev and d.code == code and text in d.message for d in got):
            unmatched.append((line, sev, code, text))
    extra = [d for d in got if not any(d.span.line == w[0] and d.code == w[2] for w in want)]
    assert not unmatched, f"expected but not reported: {unmatched}\nreported: {got}"
    assert not extra, f"reported on unmarked lines: {extra}"


def test_every_code_is_covered():
    in_files = {code for p in ERRORS.glob("*.ppl") for _, _, code, _ in expected(p)}
    missing = set(CATALOGUE) - in_files - set(COVERED_ELSEWHERE)
    assert not missing, f"no error file or test covers: {sorted(missing)}"
    assert set(COVERED_ELSEWHERE) <= set(CATALOGUE), "COVERED_ELSEWHERE names codes the catalogue lacks"


@pytest.mark.parametrize("code", sorted(COVERED_ELSEWHERE))
def test_the_test_named_for_a_code_exists_and_runs_by_default(code):
    """The map points at a real test that the default run (-m "not slow") includes; that the test
    really produces the code is checked when it runs (the diagnostic_codes fixture)."""
    import importlib

    module, name = COVERED_ELSEWHERE[code].split(".", 1)
    func = getattr(importlib.import_module(module), name.split("[")[0], None)
    assert callable(func), f"{COVERED_ELSEWHERE[code]} does not exist"
    assert "slow" not in {m.name for m in getattr(func, "pytestmark", [])}, f"{COVERED_ELSEWHERE[code]} is slow"
    if "[" in name:
        ids = {p.id for m in func.pytestmark if m.name == "parametrize" for p in m.args[1] if hasattr(p, "id")}
        assert name.split("[")[1].rstrip("]") in ids, f"{COVERED_ELSEWHERE[code]}: no such case"


def test_full_rendering_golden():
    src = "data J: int\nmu ~ Normall(0, 5)\n"
    with pytest.raises(PplangError) as exc:
        pplang.compile(src, "examples/m.ppl")
    text = render(exc.value.diagnostics[0], src, "examples/m.ppl")
    assert text == (
        'error[unknown-distribution]: unknown distribution "Normall"\n'
        "  --> examples/m.ppl:2:6\n"
        "  |\n"
        "2 | mu ~ Normall(0, 5)\n"
        "  |      ^^^^^^^\n"
        'help: did you mean "Normal"?'
    )
    concise = render(exc.value.diagnostics[0], src, "examples/m.ppl", concise=True)
    assert concise == 'examples/m.ppl:2:6: error: unknown distribution "Normall"  [unknown-distribution]'


def test_non_finite_data():
    model = pplang.compile("data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\ny[i] ~ Normal(mu, 1)\n", "m.ppl")
    with pytest.raises(PplangError) as exc:
        model.prepare_data({"N": 2, "y": [1.0, float("nan")]})
    d = exc.value.diagnostics[0]
    assert d.code == "data-not-finite" and "y[2]" in d.message and d.span.line == 2


def test_no_data_file(tmp_path):
    from pplang.cli import main

    f = tmp_path / "lonely.ppl"
    f.write_text("data N: int\nmu ~ Normal(0, 1)\n")
    assert main(["run", str(f)]) == 1


def test_runtime_errors_point_at_the_model_line():
    model = pplang.compile("data N: int\ndata M: int\ndata x: real[N]\ndata z: real[M]\n"
                           "mu ~ Normal(0, 1)\nw = x + z\n", "m.ppl")
    with pytest.raises(PplangError) as exc:
        model.prepare_data({"N": 2, "M": 3, "x": [1.0, 2.0], "z": [1.0, 2.0, 3.0]})
    d = exc.value.diagnostics[0]
    assert d.code == "shape-mismatch" and d.span.line == 6 and "2 vs 3" in d.message


def test_check_exit_codes_and_strict(tmp_path):
    from pplang.cli import main

    f = tmp_path / "w.ppl"
    f.write_text("data N: int\ndata y: real[N]\nparam s: real<lower=0>\ny[i] ~ Normal(0, s)\n")
    assert main(["check", str(f)]) == 0  # a warning (improper prior) is allowed
    assert main(["check", "--strict", str(f)]) == 1
    f.write_text("x ~ Nrmal(0, 1)\n")
    assert main(["check", str(f)]) == 1


def test_library_errors_point_at_the_model_line():
    """An error NumPyro raises while running the model is reported at the .ppl statement."""
    model = pplang.compile("data n: int\nmu ~ Normal(0, 1)\nx = rep_vector(mu, n)\n", "m.ppl")
    with pytest.raises(PplangError) as exc:
        model.prior_predictive({"n": -1}, samples=2)
    (d,) = exc.value.diagnostics
    assert d.code == "runtime-error" and d.span.line == 3 and "nonnegative" in d.message


FLAT = "data N: int\ndata y: real[N]\nparam sigma: real<lower=0>\ny[i] ~ Normal(0, sigma)\n"


def test_prior_draws_of_a_flat_parameter_say_it_has_no_prior(tmp_path, capsys):
    """NumPyro's flat prior (ImproperUniform) has no sampler and raises a bare NotImplementedError."""
    from pplang.cli import main

    model = pplang.compile(FLAT, "flat.ppl")
    with pytest.raises(PplangError) as exc:
        model.prior_predictive({"N": 2, "y": [1.0, 2.0]}, samples=3)
    (d,) = exc.value.diagnostics
    assert (d.code, d.span.line, d.span.column, d.span.end_column) == ("improper-prior", 3, 7, 12)
    assert d.message == ('parameter "sigma" has no prior (its density is flat over its support), so it cannot be '
                         "drawn from the prior")
    assert "`sigma ~ Normal(0, 10)`" in d.help
    f = tmp_path / "flat.ppl"
    f.write_text(FLAT)
    (tmp_path / "flat.json").write_text('{"N": 2, "y": [1.0, 2.0]}')
    assert main(["prior", str(f)]) == 1
    err = capsys.readouterr().err
    assert "error[improper-prior]: parameter \"sigma\" has no prior" in err and "flat.ppl:3:7" in err
    assert "NotImplementedError" not in err and "Traceback" not in err


def test_an_unexplained_library_error_is_an_internal_error(tmp_path, capsys, monkeypatch):
    """A bare exception with nothing to say (NumPyro's `assert`) is a pplang bug: exit status 2,
    "please report", the traceback only with --debug (before or after the command)."""
    import numpyro.distributions as dist

    from pplang.cli import main
    from pplang.diagnostics import InternalError

    def broken(self, key, sample_shape=()):
        raise AssertionError

    monkeypatch.setattr(dist.Normal, "sample", broken)
    with pytest.raises(InternalError) as exc:
        pplang.compile("x ~ Normal(0, 1)\n", "m.ppl").prior_predictive(samples=2)
    assert str(exc.value) == "AssertionError while running m.ppl:1"
    assert isinstance(exc.value.__cause__, AssertionError)
    f = tmp_path / "m.ppl"
    f.write_text("x ~ Normal(0, 1)\n")
    assert main(["prior", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"internal error: AssertionError while running {f}:1\n")
    assert "please report" in err and "--debug" in err and "Traceback" not in err
    assert "AssertionError: AssertionError" not in err
    for argv in (["--debug", "prior", str(f)], ["prior", str(f), "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "internal error: AssertionError" in err


def test_an_exception_outside_the_model_is_an_internal_error(tmp_path, capsys, monkeypatch):
    import pplang.cli

    def broken(args):
        raise ValueError("boom")

    monkeypatch.setattr(pplang.cli, "cmd_check", broken)
    assert pplang.cli.main(["check", "m.ppl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("internal error: ValueError: boom\n") and "please report" in err and "Traceback" not in err


def test_prior_predictive_of_an_observed_derived_quantity():
    """`data z = log(y)` then `z ~ ...`: z is computed from the data, then drawn afresh."""
    model = pplang.compile("data N: int\ndata earn: real<lower=0>[N]\ndata log_earn = log(earn)\n"
                           "mu ~ Normal(0, 1)\nlog_earn[n] ~ Normal(mu, 1)\n")
    draws = model.prior_predictive({"N": 3, "earn": [1.0, 2.0, 3.0]}, samples=4)
    assert set(draws) == {"mu", "log_earn"} and draws["log_earn"].shape == (4, 3)
