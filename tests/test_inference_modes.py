"""Optimisation, Laplace, variational inference and Pathfinder as modes of the same model file,
and the checks that say when they are wrong (pplang/inference.py, pplang/approx_diagnostics.py).

The command-line tests call ``pplang.cli.main`` in this process (one JAX import for the file);
``tests/test_cli.py`` covers the subprocess path. Everything runs in float64 (the approximate
methods' default); the fixture puts JAX's global flag back afterwards.
"""

import json

import numpy as np
import pytest

from conftest import EXAMPLES

import pplang
from pplang.cli import main
from pplang.diagnostics import CATALOGUE

DATA = json.loads((EXAMPLES / "linear_regression.json").read_text())
ES_DATA = EXAMPLES / "eight_schools.json"

# examples/linear_regression.ppl has Normal(0, 10) priors on alpha and beta and HalfNormal(5) on
# sigma: wide, but they move the MAP by ~2e-4 from least squares. This variant has flat priors.
FLAT = """
data N: int<lower=0>
data x: real[N]
data y: real[N]
param alpha: real
param beta: real
param sigma: real<lower=0>
y[i] ~ Normal(alpha + beta * x[i], sigma)
"""


@pytest.fixture(autouse=True)
def x64():
    import jax

    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)


def least_squares():
    X = np.column_stack([np.ones(DATA["N"]), DATA["x"]])
    y = np.asarray(DATA["y"])
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    rss = float(np.sum((y - X @ coef) ** 2))
    return coef, rss


@pytest.fixture(scope="module")
def flat_model():
    return pplang.compile(FLAT, "flat_regression.ppl")


def run_cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------- optimisation


def test_optimize_with_flat_priors_is_least_squares(tmp_path, capsys):
    (tmp_path / "flat.ppl").write_text(FLAT)
    (tmp_path / "flat.json").write_text(json.dumps(DATA))
    rc, out, err = run_cli(capsys, "optimize", tmp_path / "flat.ppl", "--json")
    assert rc == 0, err
    est = {k: v["estimate"] for k, v in json.loads(out)["parameters"].items()}
    (a, b), rss = least_squares()
    assert abs(est["alpha"] - a) < 1e-4 and abs(est["beta"] - b) < 1e-4
    # with flat priors the MAP of sigma maximises -N log sigma - RSS / (2 sigma^2): sqrt(RSS / N)
    assert abs(est["sigma"] - np.sqrt(rss / DATA["N"])) < 1e-4
    result = json.loads(out)
    assert result["diagnostics"]["optimizer"]["converged"] and result["diagnostics"]["pareto_k"] < 0.7
    # the one warning is true: sigma's mode, sqrt(RSS / N), lies below its posterior mean (a scale's
    # posterior is skewed); alpha and beta, whose posteriors are symmetric, are not flagged
    assert [w["code"] for w in result["warnings"]] == ["approximation-biased"]
    shift = result["diagnostics"]["mean_shift"]
    assert shift["name"] == "sigma" and shift["posterior_mean"] > est["sigma"]


def test_jacobian_pushes_the_mode_of_a_positive_parameter_up(flat_model):
    """On the unconstrained scale u = log sigma the density gains the log Jacobian log sigma:
    -N log sigma + log sigma - RSS / (2 sigma^2) is maximised at sigma^2 = RSS / (N - 1), above
    the MAP's RSS / N (the test above). alpha and beta do not change (their transform is the
    identity). Three restarts find the same mode."""
    (a, b), rss = least_squares()
    jac = flat_model.optimize(DATA, jacobian=True, restarts=3)
    s_jac = jac.samples["sigma"][0]
    assert s_jac > np.sqrt(rss / DATA["N"]) + 0.01
    assert abs(s_jac - np.sqrt(rss / (DATA["N"] - 1))) < 1e-4
    assert abs(jac.samples["alpha"][0] - a) < 1e-4 and abs(jac.samples["beta"][0] - b) < 1e-4
    assert jac.diagnostics["estimate"] == "map_jacobian"
    opt = jac.diagnostics["optimizer"]
    assert opt["restarts"] == 3 and opt["restarts_agreeing"] == 3 and opt["distinct_optima"] == 1


def test_adam_finds_the_same_mode(flat_model):
    (a, b), rss = least_squares()
    adam = flat_model.optimize(DATA, algorithm="adam", iter=4000, learning_rate=0.1)
    assert adam.diagnostics["optimizer"]["algorithm"] == "Adam"
    assert abs(adam.samples["alpha"][0] - a) < 1e-3 and abs(adam.samples["beta"][0] - b) < 1e-3
    assert abs(adam.samples["sigma"][0] - np.sqrt(rss / DATA["N"])) < 1e-3


def test_mle_drops_the_priors():
    """The example's Normal(0, 10) priors move the MAP ~2e-4 from least squares; --mle drops them."""
    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    (a, b), _ = least_squares()
    mle = model.optimize(EXAMPLES / "linear_regression.json", mle=True)
    assert abs(mle.samples["alpha"][0] - a) < 1e-5 and abs(mle.samples["beta"][0] - b) < 1e-5
    assert mle.diagnostics["estimate"] == "mle"


# ----------------------------------------------------------------------------- honesty on eight schools


@pytest.fixture(scope="module")
def eight_schools():
    return pplang.load(EXAMPLES / "eight_schools.ppl")


def codes(result):
    return {w.code for w in result.warnings}


def test_eight_schools_map_sits_at_tau_zero_and_says_so(eight_schools):
    r = eight_schools.optimize(ES_DATA)
    assert r.samples["tau"][0] < 1e-3
    assert {"mode-at-boundary", "approximation-unreliable"} <= codes(r)
    assert r.diagnostics["boundary"][0]["name"] == "tau"
    # the Jacobian's log tau keeps the unconstrained mode off the bound
    jac = eight_schools.optimize(ES_DATA, jacobian=True)
    assert jac.samples["tau"][0] > 1 and "mode-at-boundary" not in codes(jac)


@pytest.fixture(scope="module")
def es_laplace(eight_schools):
    import jax

    before = jax.config.jax_enable_x64
    yield eight_schools.laplace(ES_DATA)
    jax.config.update("jax_enable_x64", before)


def test_eight_schools_laplace_is_flagged_unreliable(es_laplace):
    assert es_laplace.diagnostics["pareto_k"] > 0.7 and "approximation-unreliable" in codes(es_laplace)
    message = next(w for w in es_laplace.warnings if w.code == "approximation-unreliable").message
    assert "`pplang run " in message and "eight_schools.ppl`" in message


def test_eight_schools_pathfinder_is_flagged_unreliable(capsys):
    rc, out, err = run_cli(capsys, "pathfinder", EXAMPLES / "eight_schools.ppl", "--paths", "2", "--draws", "500",
                           "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["method"] == "pathfinder" and result["diagnostics"]["pareto_k"] > 0.7
    assert "approximation-unreliable" in {w["code"] for w in result["warnings"]}
    assert len(result["diagnostics"]["paths"]["iterations"]) == 2 and result["num_draws"] == 500


def test_variational_is_flagged_on_the_centred_funnel():
    """Mean-field VI cannot follow the centred model's funnel; on the non-centred model its means
    are within 0.3 posterior sd of the reference (bench/approx.py), so no warning is due there."""
    centred = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    vi = centred.variational(ES_DATA, iter=3000)
    assert vi.diagnostics["pareto_k"] > 0.7 and "approximation-unreliable" in codes(vi)
    assert vi.diagnostics["elbo"]["steps"] == 3000


def test_restarts_find_both_modes_of_a_bimodal_density():
    """y ~ Normal(mu^2, 1) with y near 4 has modes near mu = 2 and mu = -2; the prior centred at 1
    makes mu = 2 the higher one."""
    model = pplang.compile("data y: real[3]\nmu ~ Normal(1, 10)\ny[i] ~ Normal(mu ^ 2, 1)\n", "bimodal.ppl")
    r = model.optimize({"y": [4.1, 3.9, 4.0]}, restarts=8)
    opt = r.diagnostics["optimizer"]
    assert opt["distinct_optima"] == 2 and opt["restarts_agreeing"] < opt["restarts_converged"] == 8
    assert r.samples["mu"][0] == pytest.approx(2.0, abs=0.01)
    assert "restarts-disagree" in codes(r)


def test_each_check_has_its_warning():
    """The warnings read the diagnostics' numbers: one per failed check, none when all pass."""
    from types import SimpleNamespace

    from pplang.approx_diagnostics import approximation_warnings

    def warned(**diagnostics):
        result = SimpleNamespace(label="Laplace (normal) approximation", diagnostics=diagnostics)
        return [w.code for w in approximation_warnings(result, "pplang run m.ppl")]

    opt = {"algorithm": "L-BFGS", "converged": True, "reason": "", "restarts": 1, "restarts_converged": 1,
           "restarts_agreeing": 1}
    assert warned(pareto_k=0.3, optimizer=opt, hessian={"positive_definite": True}) == []
    assert warned(pareto_k=0.6) == ["approximation-doubtful"]
    assert warned(pareto_k=0.71) == ["approximation-unreliable"]
    assert warned(optimizer={**opt, "converged": False, "reason": "it reached the iteration limit"}) == [
        "optimizer-not-converged"]
    assert warned(hessian={"positive_definite": False, "min_eigenvalue": -0.5}) == ["hessian-not-positive-definite"]
    assert warned(elbo={"converged": False, "steps": 100, "relative_change": 0.2}) == ["elbo-not-converged"]
    shift = {"name": "sigma", "shift_sd": 0.3, "approximation": 1.0, "posterior_mean": 1.3, "posterior_sd": 1.0}
    assert warned(pareto_k=0.4, mean_shift=shift) == ["approximation-biased"]
    assert warned(pareto_k=0.4, mean_shift={**shift, "shift_sd": 0.1}) == []
    # importance weights that cannot be trusted estimate nothing: only k-hat's warning
    assert warned(pareto_k=0.9, mean_shift=shift) == ["approximation-unreliable"]


def test_mean_shift_compares_against_the_importance_weighted_mean():
    from pplang.approx_diagnostics import mean_shift

    x = np.array([0.0, 1.0, 2.0, 3.0])
    flat = np.full(4, -np.log(4))
    assert mean_shift({"a": x}, flat, ["a"])["shift_sd"] == 0.0  # equal weights: the draws' own mean
    lw = np.log([0.1, 0.2, 0.3, 0.4])  # weighted mean 2.0, sd 1.0
    s = mean_shift({"a": x, "b": np.stack([x, x], 1)}, lw, ["a", "b"], estimate={"a": np.array([0.5]),
                                                                                   "b": np.array([[2.0, 4.5]])})
    assert s["name"] == "b[2]" and s["shift_sd"] == pytest.approx(2.5) and s["posterior_mean"] == pytest.approx(2.0)
    assert mean_shift({"a": x}, flat, ["other"]) is None


def test_a_mode_away_from_a_skewed_posterior_mean_is_flagged(tmp_path):
    """sigma's posterior from three observations is skewed: its mode (0.586) is 0.64 sd below its
    mean (0.804, sd 0.343 by quadrature). The normal at the mode covers the posterior (k-hat < 0.7),
    so the importance-weighted draws estimate the mean, and the point estimate is flagged."""
    model = pplang.compile("data N: int\ndata y: real[N]\nsigma ~ HalfNormal(1)\ny[n] ~ Normal(0, sigma)\n")
    r = model.optimize({"N": 3, "y": [0.3, -0.5, 0.9]})
    s = np.linspace(1e-4, 10, 200001)
    lp = -s**2 / 2 - 3 * np.log(s) - 1.15 / (2 * s**2)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    exact = float(w @ s)
    shift = r.diagnostics["mean_shift"]
    assert r.diagnostics["pareto_k"] < 0.7 and shift["name"] == "sigma"
    assert shift["posterior_mean"] == pytest.approx(exact, abs=0.05)  # about 3 Monte Carlo sds
    assert shift["approximation"] == pytest.approx(float(s[np.argmax(lp)]), abs=1e-3)
    assert "approximation-biased" in codes(r)
    laplace = model.laplace({"N": 3, "y": [0.3, -0.5, 0.9]})  # normal in log sigma: the right shape here
    assert "approximation-biased" not in codes(laplace) and laplace.diagnostics["mean_shift"]["shift_sd"] < 0.2


# ----------------------------------------------------------------------------- the shared interface


def test_results_share_the_posterior_interface(es_laplace):
    r = es_laplace
    assert set(r.samples) == {"mu", "tau", "theta"}  # never theta_decentered or _pp sites
    assert r.samples["theta"].shape == (1000, 8)
    s = r.summary()
    assert set(s["parameters"]) == {"mu", "tau", *(f"theta[{i}]" for i in range(1, 9))}
    assert {"mean", "sd", "median", "q5", "q95"} == set(s["parameters"]["mu"])
    assert s["method"] == "laplace" and s["num_draws"] == 1000
    assert r.predictive()["y"].shape == (1000, 8)
    idata = r.to_arviz()
    assert idata.posterior["theta"].shape == (1, 1000, 8)
    assert {"lp", "log_q"} <= set(idata.sample_stats.data_vars)
    assert idata.posterior.attrs["inference_method"] == "laplace"
    assert json.loads(idata.posterior.attrs["settings"])["draws"] == 1000


def test_fit_dispatches_every_method():
    from pplang import inference

    assert list(inference.METHODS) == ["nuts", "optimize", "laplace", "variational", "pathfinder"]
    with pytest.raises(pplang.PplangError, match="unknown inference method"):
        inference.fit(None, "advi")
    with pytest.raises(pplang.PplangError, match="--family must be one of meanfield, fullrank"):
        inference.variational(None, family="lowrank")


# ----------------------------------------------------------------------------- the command line


def test_optimize_prints_a_table(capsys):
    rc, out, err = run_cli(capsys, "optimize", EXAMPLES / "linear_regression.ppl")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("MAP estimate") and lines[1].split() == ["estimate"]
    assert any(line.split()[0] == "alpha" for line in lines[2:5])
    assert "Pareto k-hat" in out and "Optimiser: L-BFGS converged" in out and "Traceback" not in err


def test_laplace_table_with_warnings_on_stderr(capsys):
    rc, out, err = run_cli(capsys, "laplace", EXAMPLES / "eight_schools.ppl", "--draws", "300", "--format", "concise")
    assert rc == 0
    assert out.startswith("Laplace approximation") and out.splitlines()[1].split()[:2] == ["mean", "std"]
    assert "[approximation-unreliable]" in err and "`pplang run " in err and "eight_schools.ppl`" in err


def test_variational_json_vars_and_csv(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "variational", EXAMPLES / "linear_regression.ppl", "--iter", "2000", "--draws",
                           "100", "--json", "--vars", "beta", "-o", tmp_path / "vi.csv")
    assert rc == 0, err
    result = json.loads(out)
    assert result["method"] == "variational" and list(result["parameters"]) == ["beta"]
    assert "pareto_k" in result["diagnostics"] and result["diagnostics"]["elbo"]["steps"] == 2000
    assert result["data"].endswith("linear_regression.json")
    header = (tmp_path / "vi.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["chain", "draw", "alpha", "beta", "sigma"] and "y_new" in header  # generated too


@pytest.mark.parametrize("args, message", [
    (["--algorithm", "bfgs"], "--algorithm must be one of lbfgs, adam"),
    (["--restarts", "0"], "--restarts must be at least 1"),
    (["--mle", "--jacobian"], "--mle and --jacobian cannot be combined"),
])
def test_bad_settings_exit_1_before_anything_runs(capsys, args, message):
    rc, out, err = run_cli(capsys, "optimize", EXAMPLES / "eight_schools.ppl", *args)
    assert rc == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--iter", "many"], ["--bogus"], ["--family", "x", "--draws"]])
def test_malformed_flags_exit_1_with_a_plain_message(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(["variational", str(EXAMPLES / "eight_schools.ppl"), *args])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "error[bad-setting]" in err and "Traceback" not in err


@pytest.mark.parametrize("code", ["approximation-unreliable", "approximation-doubtful", "optimizer-not-converged",
                                  "mode-at-boundary", "hessian-not-positive-definite", "elbo-not-converged",
                                  "restarts-disagree"])
def test_every_honesty_code_is_explained(capsys, code):
    assert code in CATALOGUE
    rc, out, _ = run_cli(capsys, "explain", code)
    assert rc == 0 and out.startswith(code)


# ----------------------------------------------------------------------------- ODE models

ODE_DECAY = """
data T: int
data ts: real[T]
data y: real[T]
def rhs(t, z, k) = -k * z
k ~ LogNormal(0, 1)
sigma ~ HalfNormal(1)
z = ode_rk45_tol(rhs, [1.0], 0.0, ts, 1e-8, 1e-8, 10000, k)
y[t] ~ Normal(z[t, 1], sigma)
"""


def test_central_difference_hessian_matches_jax():
    import jax
    import jax.numpy as jnp

    from pplang.optimizers import central_difference_hessian

    def f(u):
        return jnp.sum(jnp.exp(0.3 * u) * u**2) + u[0] * u[1] ** 3

    u = jnp.array([0.4, -1.2, 2.0], dtype=jnp.float64)
    np.testing.assert_allclose(central_difference_hessian(f)(u), jax.hessian(f)(u), rtol=1e-6, atol=1e-7)


def test_optimize_works_through_an_ode_solve():
    """An ODE solve has no forward-mode derivative (diffrax's checkpointed adjoint), so JAX's Hessian
    fails there; pplang takes central differences of the exact gradient. The mode equals the one
    found with the closed-form solution z = exp(-k t), and the draws from the normal at the mode
    (k-hat) are scored through the solver."""
    from scipy.optimize import minimize
    from scipy.stats import halfnorm, lognorm, norm

    ts = np.linspace(0.5, 5, 10)
    y = np.exp(-0.7 * ts) + np.random.default_rng(0).normal(0, 0.05, 10)
    data = {"T": 10, "ts": ts.tolist(), "y": y.tolist()}
    model = pplang.compile(ODE_DECAY, "decay.ppl")
    r = model.optimize(data)
    assert r.diagnostics["optimizer"]["converged"] and r.diagnostics["hessian"]["positive_definite"]

    def neg(p):
        k, sigma = p
        if k <= 0 or sigma <= 0:
            return np.inf
        return -(lognorm.logpdf(k, 1) + halfnorm.logpdf(sigma) + norm.logpdf(y, np.exp(-k * ts), sigma).sum())

    best = minimize(neg, [0.5, 0.1], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}).x
    assert float(r.samples["k"][0]) == pytest.approx(best[0], rel=1e-4)
    assert float(r.samples["sigma"][0]) == pytest.approx(best[1], rel=1e-4)
    # the judging draws from the normal at the mode went through the solver too (laplace's draws are
    # made the same way, so calling it here would only compile the same pieces again: ~40 s of CI)
    assert np.isfinite(r.diagnostics["pareto_k"])


@pytest.mark.parametrize("example,line,name", [("coal_mining.ppl", 15, "tau"), ("hmm.ppl", 25, "z")])
def test_discrete_latents_are_a_located_refusal(example, line, name, capsys):
    """The approximate methods do not sum out discrete latents: a located error that points to
    `pplang run` (it was an internal error, an AssertionError inside NumPyro's initialisation)."""
    from pplang import cli

    assert cli.main(["optimize", str(EXAMPLES / example)]) == 1
    err = capsys.readouterr().err
    assert f"error[unsupported]: pplang optimize cannot sum out the discrete latent \"{name}\"" in err
    assert f"{example}:{line}:1" in err and "pplang run" in err
    with pytest.raises(pplang.PplangError) as exc:
        pplang.load(EXAMPLES / example).laplace(EXAMPLES / example.replace(".ppl", ".json"))
    assert exc.value.diagnostics[0].code == "unsupported"
