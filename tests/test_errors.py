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

# codes whose trigger is not a model file, and the test that covers each
COVERED_ELSEWHERE = {
    "missing-data": "test_cli.test_missing_data_field_points_at_the_declaration",
    "data-type": "test_cli.test_bad_data_is_reported_before_sampling",
    "data-shape": "test_cli.test_bad_data_is_reported_before_sampling",
    "data-constraint": "test_cli.test_bad_data_is_reported_before_sampling",
    "data-not-finite": "test_errors.test_non_finite_data",
    "data-file": "test_safety.test_data_files_are_parsed_as_json_only",
    "no-data-file": "test_errors.test_no_data_file",
    "file-not-found": "test_cli.test_missing_model_file",
    "runtime-error": "test_errors.test_runtime_errors_point_at_the_model_line",
    "divergent-transitions": "test_advice",
    "funnel-reparam": "test_advice",
    "high-rhat": "test_advice",
    "low-ess": "test_advice",
    "max-treedepth": "test_advice",
    "low-ebfmi": "test_advice",
    "fit-file": "test_workflow.test_predict_command",
    "fit-mismatch": "test_workflow.test_predict_refuses_a_change_of_latent_shape",
    "output-format": "test_workflow.test_bad_output_suffix_is_refused_before_sampling",
    "plot-error": "test_workflow.test_plot_errors_are_diagnostics",
    "graphviz-missing": "test_workflow.test_graph_image_needs_graphviz",
    "unused-elements": "test_typed_core.test_unread_parameter_elements_are_warned",
    "bad-setting": "test_settings.test_bad_settings_are_refused_before_the_model_is_read",
    "bad-init": "test_settings.test_initial_values_are_checked_against_the_model",
    "unknown-var": "test_settings.test_vars_are_checked_before_sampling",
    "approximation-unreliable": "test_inference_modes.test_eight_schools_laplace_is_flagged_unreliable",
    "approximation-doubtful": "test_inference_modes.test_each_check_has_its_warning",
    "optimizer-not-converged": "test_inference_modes.test_each_check_has_its_warning",
    "mode-at-boundary": "test_inference_modes.test_eight_schools_map_sits_at_tau_zero_and_says_so",
    "hessian-not-positive-definite": "test_inference_modes.test_each_check_has_its_warning",
    "elbo-not-converged": "test_inference_modes.test_each_check_has_its_warning",
    "restarts-disagree": "test_inference_modes.test_restarts_find_both_modes_of_a_bimodal_density",
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
    assert not missing, f"no error file covers: {sorted(missing)}"


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
