"""Generated quantities (`generated` statements, Stan's generated quantities block): parsed into
their own IR node, checked (new names; the model never reads them), lowered under `if
_pp_generate:` so NUTS never sees them, computed per posterior draw by `Posterior.generated()`, and
reported in summaries, `--json`, InferenceData, CSV and the ejected program. Small sample counts."""

import json

import numpy as np
import pytest
from scipy.stats import norm

import pplang
from pplang.spec import Role
from conftest import EXAMPLES
from pplang import ir
from pplang.diagnostics import PplangError
from test_workflow import pplang_cli

SCHOOLS = (EXAMPLES / "eight_schools.ppl").read_text()
GENERATED = """
generated diff = theta[1] - theta[2]
generated y_rep[n] ~ Normal(theta[n], sigma[n])
generated log_lik[n] = normal_lpdf(y[n] | theta[n], sigma[n])
generated y_rep_mean = mean(y_rep)
"""
DATA = EXAMPLES / "eight_schools.json"
SMALL = dict(chains=2, warmup=150, samples=200)


@pytest.fixture(scope="module")
def fit():
    model = pplang.compile(SCHOOLS + GENERATED, "schools_gq.ppl")
    return model.sample(DATA, seed=4, **SMALL)


def test_syntax_wraps_a_definition_or_a_draw():
    program = pplang.compile(SCHOOLS + GENERATED).program
    gen = [s for s in program.statements if isinstance(s, ir.Generated)]
    assert [type(g.stmt) for g in gen] == [ir.Define, ir.Sample, ir.Define, ir.Define]
    assert gen[1].stmt.lhs == ir.Lhs("y_rep", (ir.Name("n"),)) and gen[1].span.column == 1
    assert "Generated(" in ir.dump(program)


def test_statements_without_generated_compile_as_before():
    plain = pplang.compile(SCHOOLS)
    assert "_pp_generate" not in plain.python_source and plain.generated_names == []
    source = pplang.compile(SCHOOLS + GENERATED).python_source
    assert "def model(*, J, y=None, sigma, _pp_generate=False):" in source
    # the model's own lines are unchanged; the generated ones come after them, behind the flag
    before, after = source.split("    if _pp_generate:")
    body = plain.python_source.split("def model(*, J, y=None, sigma):\n")[1].split("\n\n\nreparam_config")[0]
    assert before.endswith(body + "\n")
    assert "numpyro.sample('y_rep', dist.Normal(theta, sigma))" in after


def test_generated_quantities_are_not_sites_of_the_nuts_model(fit):
    from numpyro import handlers

    import jax

    model = fit.model
    tr = handlers.trace(handlers.seed(model.numpyro_model, jax.random.PRNGKey(0))).get_trace(**fit.data)
    assert not set(model.generated_names) & set(tr)
    tr = handlers.trace(handlers.seed(model.numpyro_model, jax.random.PRNGKey(0))).get_trace(
        **fit.data, _pp_generate=True)
    assert set(model.generated_names) <= set(tr)
    # the same seed gives the same posterior draws with and without the generated statements
    plain = pplang.compile(SCHOOLS).sample(DATA, seed=4, **SMALL)
    assert set(plain.samples) == set(fit.samples)
    for name, draws in plain.samples.items():
        np.testing.assert_array_equal(draws, fit.samples[name])


def test_generated_deterministics_are_the_formula_applied_to_each_draw(fit):
    g, s = fit.generated(), fit.samples
    assert set(g) == {"diff", "y_rep", "log_lik", "y_rep_mean"}
    np.testing.assert_allclose(g["diff"], s["theta"][:, 0] - s["theta"][:, 1], rtol=1e-5, atol=1e-5)
    y, sigma = np.asarray(fit.data["y"]), np.asarray(fit.data["sigma"])
    np.testing.assert_allclose(g["log_lik"], norm.logpdf(y, s["theta"], sigma), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g["y_rep_mean"], g["y_rep"].mean(axis=1), rtol=1e-5, atol=1e-4)


def test_generated_draws_have_the_right_shape_and_centre(fit):
    g = fit.generated()
    assert g["y_rep"].shape == (400, 8) and g["diff"].shape == (400,)
    assert fit.generated(grouped=True)["y_rep"].shape == (2, 200, 8)
    theta, sigma = fit.samples["theta"], np.asarray(fit.data["sigma"])
    # y_rep[:, n] - theta[:, n] = sigma[n] * eps with eps fresh N(0, 1) draws, independent of each
    # other and of the chain (whatever its autocorrelation): the mean difference over S = 400
    # draws has sd sigma[n] / sqrt(S). 5 sd: a false failure has probability < 1e-5 over 8 schools.
    gap = g["y_rep"].mean(axis=0) - theta.mean(axis=0)
    assert np.all(np.abs(gap) < 5 * sigma / np.sqrt(400))
    # the draws are random, not the location itself, and their spread is the observation noise
    np.testing.assert_allclose((g["y_rep"] - theta).std(axis=0), sigma, rtol=0.25)
    # reproducible (key fold_in(PRNGKey(seed), 2)) and independent of the posterior predictive's key
    np.testing.assert_array_equal(fit.model.generate(fit.grouped_samples, fit.data, seed=4)["y_rep"],
                                  fit.generated(grouped=True)["y_rep"])
    assert not np.allclose(g["y_rep"], fit.predictive()["y"])


def test_generated_quantity_from_new_covariate_data():
    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    src = model.source + "data x_star: real\ngenerated mu_star = alpha + beta * x_star\n"
    data = {**json.loads((EXAMPLES / "linear_regression.json").read_text()), "x_star": 10.0}
    post = pplang.compile(src).sample(data, chains=1, warmup=100, samples=100, seed=0)
    g = post.generated()
    assert set(g) == {"log_lik", "y_new", "mu_star"} and g["log_lik"].shape == (100, 20)
    np.testing.assert_allclose(g["mu_star"], post.samples["alpha"] + 10 * post.samples["beta"], rtol=1e-5)


@pytest.mark.parametrize("src, code, line", [
    ("mu ~ Normal(0, 1)\ngenerated d = 2 * mu\nz ~ Normal(d, 1)\n", "generated-in-model", 3),
    ("mu ~ Normal(0, 1)\ngenerated mu = 2\n", "duplicate-definition", 2),
    ("data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)\ngenerated y ~ Normal(mu, 1)\n", "duplicate-definition", 4),
    ("mu ~ Normal(0, 1)\ngenerated r ~ Normal(mu, 1) noncentered\n", "reparam-unsupported", 2),
    ("mu ~ Normal(0, 1)\ngenerated target += mu\n", "syntax-error", 2),
])
def test_misuse_is_a_located_diagnostic(src, code, line):
    with pytest.raises(PplangError) as exc:
        pplang.compile(src)
    d = exc.value.diagnostics[0]
    assert d.code == code and d.span.line == line


def test_discrete_generated_draws_are_allowed():
    model = pplang.compile("mu ~ Normal(0, 1)\ngenerated k ~ Poisson(exp(mu))\n")
    assert model.spec.symbols["k"].role is Role.GENERATED and model.spec.symbols["k"].type.elem == "int"


def test_summary_names_are_one_based(fit):
    params = fit.summary()["parameters"]
    assert "diff" in params and "y_rep_mean" in params
    assert [f"y_rep[{i}]" for i in range(1, 9)] == [k for k in params if k.startswith("y_rep[")]
    assert list(params)[:2] == ["mu", "tau"]  # the model's quantities first, generated ones after
    assert params["diff"]["mean"] == pytest.approx(float(fit.generated()["diff"].mean()), rel=1e-5)


def test_run_json_and_csv_on_the_regression_example(tmp_path):
    r = pplang_cli("run", EXAMPLES / "linear_regression.ppl", "--chains", 1, "--warmup", 50, "--samples", 50,
                   "--json", "-o", tmp_path / "fit.csv")
    assert r.returncode == 0, r.stderr
    params = json.loads(r.stdout)["parameters"]
    assert {"alpha", "y_new", "log_lik[1]", "log_lik[20]"} <= set(params)
    header = (tmp_path / "fit.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["chain", "draw", "alpha", "beta", "sigma"] and header[-1] == "y_new"
    assert "log_lik[20]" in header


def test_inference_data_has_them_in_the_posterior_group(fit, tmp_path):
    idata = fit.to_arviz(predictive=False)
    post = idata.posterior
    assert post["y_rep"].dims == ("chain", "draw", "J") and post["diff"].dims == ("chain", "draw")
    np.testing.assert_array_equal(post["log_lik"].values, fit.generated(grouped=True)["log_lik"])
    # a fit read back still predicts: the generated variables are not mistaken for latents
    fit.save(tmp_path / "fit.nc")
    back = pplang.load_fit(tmp_path / "fit.nc")
    assert "y_rep" in back.samples and back.predict(DATA)["y"].shape == (2, 200, 8)


def test_ejected_program_computes_the_same_generated_quantities(fit):
    from pplang.eject import eject

    namespace = {"__name__": "ejected"}
    exec(compile(eject(fit.model), "<ejected>", "exec"), namespace)
    assert namespace["GENERATED"] == fit.model.generated_names
    ours = namespace["generate"](fit.grouped_samples, fit.data, fit.seed)
    for name, want in fit.generated(grouped=True).items():
        np.testing.assert_allclose(ours[name], want, rtol=1e-6, atol=1e-6)


def test_graph_marks_generated_quantities():
    from pplang.graph import to_dot

    dot = to_dot(pplang.compile(SCHOOLS + GENERATED).spec, "m")
    assert '"y_rep" [label="generated\\ny_rep ~ Normal", shape=ellipse, style=dotted]' in dot
    assert '"theta" -> "diff"' in dot
