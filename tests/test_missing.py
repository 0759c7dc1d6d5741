"""Missing data: JSON null entries imputed as parameters or drawn from the predictive, the errors for
nulls that cannot be imputed, and (slow) posteriors against models with the entries deleted or
with explicit latents written by hand."""

import json
import subprocess
import sys

import numpy as np
import pytest

import pplang
from pplang.diagnostics import PplangError
from conftest import EXAMPLES, ROOT
from test_discrete import coal_exact, mcse

REGRESSION = """
data N: int
data x: real[N]
data y: real[N]
mu_x ~ Normal(0, 10)
sigma_x ~ HalfNormal(5)
x[i] ~ Normal(mu_x, sigma_x)
alpha ~ Normal(0, 10)
beta ~ Normal(0, 10)
sigma ~ HalfNormal(5)
y[i] ~ Normal(alpha + beta * x[i], sigma)
"""


def regression_data(n=40, seed=0, every=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 2.0, n)
    y = 1.0 + 0.5 * x + rng.normal(0, 0.5, n)
    xl = [None if k % every == 0 else round(float(v), 4) for k, v in enumerate(x)]
    return {"N": n, "x": xl, "y": y.round(4).tolist()}


def coal_with_nulls(years=(4, 71)):
    data = json.loads((EXAMPLES / "coal_mining.json").read_text())
    for t in years:
        data["y"][t - 1] = None
    return data


def test_null_response_is_masked_and_the_code_without_nulls_is_unchanged():
    model = pplang.load(EXAMPLES / "coal_mining.ppl")
    plain = model.python_source
    from pplang.missing import for_data

    imputed = for_data(model, coal_with_nulls())
    assert imputed is not model and model.python_source == plain
    assert imputed.spec.missing[0].mode == "masked"
    assert ".mask(_pp_observed_y), obs=y)" in imputed.python_source
    assert for_data(model, EXAMPLES / "coal_mining.json") is model


def test_missing_covariate_becomes_one_parameter_per_entry():
    data = regression_data(12)
    post = pplang.compile(REGRESSION).sample(data, chains=1, warmup=100, samples=50, seed=0)
    src = post.model.python_source
    assert "numpyro.sample('x[missing]', dist.ImproperUniform(constraints.real, (), (jnp.size(_pp_missing_x),)))" in src
    assert post.grouped_samples["x[missing]"].shape == (1, 50, 4)  # 4 missing entries, not a masked 12
    summary = post.summary()
    assert [k for k in summary["parameters"] if k.startswith("x[")] == ["x[1]", "x[4]", "x[7]", "x[10]"]
    assert "imputed 4 missing values of x: x[1], x[4], x[7], x[10]" in summary["notes"]
    idata = post.to_arviz(predictive=False)
    assert "x[4]" in idata.posterior and "x[missing]" not in idata.posterior
    assert np.isnan(idata.observed_data["x"].values[[0, 3, 6, 9]]).all()


def test_cli_prints_the_imputed_line(tmp_path):
    data = tmp_path / "coal.json"
    data.write_text(json.dumps(coal_with_nulls((4, 18, 41))))
    r = subprocess.run([sys.executable, "-m", "pplang.cli", "run", str(EXAMPLES / "coal_mining.ppl"), "--data",
                        str(data), "--chains", "1", "--warmup", "50", "--samples", "50", "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "imputed 3 missing values of y: y[4], y[18], y[41]" in out["notes"]
    assert {"y[4]", "y[18]", "y[41]", "tau"} <= set(out["parameters"])
    assert "tau" in out["discrete"]


def test_covariate_without_a_distribution_is_an_error_that_says_what_to_write():
    src = REGRESSION.replace("x[i] ~ Normal(mu_x, sigma_x)\n", "")
    with pytest.raises(PplangError) as err:
        pplang.compile(src).sample(regression_data(12), chains=1, warmup=10, samples=10)
    (d,) = err.value.diagnostics
    assert d.code == "missing-value" and d.span.line == 3
    assert '"x" has 4 missing value(s) (null) at x[1], x[4], x[7], x[10]' in d.message
    assert "`x[i] ~ Normal(mu_x, sigma_x)`" in d.help


def test_nulls_in_sizes_indices_and_discrete_covariates_are_errors():
    src = "data N: int\ndata g: int[N]\ndata y: real[N]\nparam a: vector[2]\na ~ Normal(0, 1)\ny[i] ~ Normal(a[g[i]], 1)\n"
    with pytest.raises(PplangError) as err:
        pplang.compile(src).sample({"N": 2, "g": [1, None], "y": [0.0, 1.0]}, chains=1, warmup=5, samples=5)
    assert "used as a size or an index" in err.value.diagnostics[0].message
    src = ("data N: int\ndata k: int[N]\ndata y: real[N]\nr ~ Exponential(1)\nk[i] ~ Poisson(r)\n"
           "y[i] ~ Normal(k[i], 1)\n")
    with pytest.raises(PplangError) as err:
        pplang.compile(src).sample({"N": 2, "k": [1, None], "y": [0.0, 1.0]}, chains=1, warmup=5, samples=5)
    assert "discrete (Poisson)" in err.value.diagnostics[0].message


def test_nan_is_an_error_that_says_to_write_null():
    with pytest.raises(PplangError) as err:
        pplang.compile(REGRESSION).prepare_data({"N": 2, "x": [1.0, float("nan")], "y": [0.0, 1.0]})
    (d,) = err.value.diagnostics
    assert d.code == "data-not-finite" and "write null for a missing value" in d.message and "null" in d.help


def test_check_accepts_imputable_nulls(tmp_path):
    data = tmp_path / "coal.json"
    data.write_text(json.dumps(coal_with_nulls()))
    r = subprocess.run([sys.executable, "-m", "pplang.cli", "check", str(EXAMPLES / "coal_mining.ppl"), "--data",
                        str(data)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and "ok" in r.stderr, r.stderr


# ----------------------------------------------------------------------------- posteriors (slow)


@pytest.mark.slow
def test_coal_mining_with_null_years_equals_the_data_with_them_deleted():
    """Two null years: the posterior of tau and the rates is the exact one computed with those years
    left out of the likelihood (their positions kept), and they are drawn from the predictive."""
    data = coal_with_nulls((4, 71))
    y = np.array([0 if v is None else v for v in data["y"]])
    keep = np.ones(len(y), bool)
    keep[[3, 70]] = False
    p, mean, _ = coal_exact(y, keep)
    post = pplang.load(EXAMPLES / "coal_mining.ppl").sample(data, chains=4, warmup=500, samples=1000, seed=0)
    q = np.array(post.summary()["discrete"]["tau"]["probabilities"]["tau"])
    assert 0.5 * np.abs(q - p).sum() < 0.02
    for k, name in enumerate(("e", "l")):
        m, se = mcse(post, name)
        assert abs(m - mean[k]) < 4 * se, (name, m, mean[k], se)
    # y[4] (before the change) is drawn from Poisson(e) mostly, y[71] from Poisson(l)
    draws = post.imputed
    assert abs(draws["y[4]"].mean() - mean[0]) < 0.25 and abs(draws["y[71]"].mean() - mean[1]) < 0.2


@pytest.mark.slow
def test_missing_covariate_matches_a_hand_written_model_with_explicit_latents():
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    from pplang.convergence import summarize

    data = regression_data(60, seed=4, every=3)  # a third (20 of 60) of x is missing
    x = np.array([np.nan if v is None else v for v in data["x"]])
    mis, obs = np.flatnonzero(np.isnan(x)), np.flatnonzero(~np.isnan(x))
    y = np.array(data["y"])

    def reference():
        mu_x = numpyro.sample("mu_x", dist.Normal(0, 10))
        sigma_x = numpyro.sample("sigma_x", dist.HalfNormal(5))
        with numpyro.plate("missing", len(mis)):
            x_mis = numpyro.sample("x_mis", dist.Normal(mu_x, sigma_x))
        with numpyro.plate("observed", len(obs)):
            numpyro.sample("x_obs", dist.Normal(mu_x, sigma_x), obs=x[obs])
        full = jnp.zeros(len(x)).at[obs].set(x[obs]).at[mis].set(x_mis)
        alpha = numpyro.sample("alpha", dist.Normal(0, 10))
        beta = numpyro.sample("beta", dist.Normal(0, 10))
        sigma = numpyro.sample("sigma", dist.HalfNormal(5))
        with numpyro.plate("N", len(x)):
            numpyro.sample("y", dist.Normal(alpha + beta * full, sigma), obs=y)

    mcmc = MCMC(NUTS(reference), num_warmup=500, num_samples=1000, num_chains=4, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1))
    ref = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    post = pplang.compile(REGRESSION).sample(data, chains=4, warmup=500, samples=1000, seed=0)
    pairs = [(n, ref[n]) for n in ("mu_x", "sigma_x", "alpha", "beta", "sigma")]
    pairs += [(f"x[{i + 1}]", ref["x_mis"][..., k]) for k, i in enumerate(mis[:6])]
    for name, draws in pairs:
        s = summarize(draws)
        m2, se2 = float(s["mean"]), float(s["sd"] / np.sqrt(s["ess_bulk"]))
        m1, se1 = mcse(post, name)
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2), (name, m1, m2)


def test_ejected_program_imputes_as_pplang_run_does(tmp_path):
    """`pplang compile -o` with data holding nulls: the program is compiled for them, fills and
    passes their positions itself, and gives the same draws as `pplang run`, imputed entries
    included (a latent covariate and a masked response)."""
    import arviz as az

    data = regression_data(12)
    data["y"][4] = None
    (tmp_path / "m.ppl").write_text(REGRESSION)
    (tmp_path / "m.json").write_text(json.dumps(data))
    prog = tmp_path / "prog.py"
    cli = [sys.executable, "-m", "pplang.cli"]
    r = subprocess.run([*cli, "compile", tmp_path / "m.ppl", "--data", tmp_path / "m.json", "-o", prog],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    settings = ["--chains", "2", "--warmup", "60", "--samples", "40", "--seed", "5"]
    r = subprocess.run([sys.executable, str(prog), *settings, "--save", str(tmp_path / "draws.npz")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "x[1]" in r.stdout and "y[5]" in r.stdout and "[missing]" not in r.stdout
    r = subprocess.run([*cli, "run", tmp_path / "m.ppl", "--data", tmp_path / "m.json", *settings,
                        "-o", tmp_path / "run.nc"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    ejected = np.load(tmp_path / "draws.npz")
    posterior = az.from_netcdf(tmp_path / "run.nc").posterior
    imputed = [n for n in ejected.files if "[" in n]
    assert sorted(imputed) == sorted(["x[1]", "x[4]", "x[7]", "x[10]", "y[5]"])
    for name in ejected.files:
        if name in imputed:
            continue
        np.testing.assert_array_equal(ejected[name], posterior[name].values, err_msg=name)
    post = pplang.compile(REGRESSION).sample(data, chains=2, warmup=60, samples=40, seed=5)
    for name in imputed:
        np.testing.assert_array_equal(ejected[name], post.imputed[name], err_msg=name)


def test_ejected_program_imputes_values_that_depend_on_a_discrete_latent(tmp_path):
    """Coal mining with null years: the imputed counts depend on tau, which the ejected program
    draws as pplang does (it used to draw tau from its prior there, giving y[61] a mean of 1.50
    against 0.82); its imputed draws equal pplang's."""
    import importlib.util

    from pplang.eject import eject
    from pplang.missing import for_data

    data = coal_with_nulls((4, 61))
    model = for_data(pplang.load(EXAMPLES / "coal_mining.ppl"), data)
    (tmp_path / "prog.py").write_text(eject(model))
    (tmp_path / "data.json").write_text(json.dumps(data))
    spec = importlib.util.spec_from_file_location("ejected_coal_nulls", tmp_path / "prog.py")
    prog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prog)
    settings = dict(chains=2, warmup=100, samples=100, seed=2)
    prog.main([str(tmp_path / "data.json"), *[f"--{k}={v}" for k, v in settings.items()],
               "--save", str(tmp_path / "draws.npz")])
    ejected = np.load(tmp_path / "draws.npz")
    post = pplang.load(EXAMPLES / "coal_mining.ppl").sample(data, **settings)
    for name in ("tau", "e", "l"):
        np.testing.assert_array_equal(ejected[name], post.grouped_samples[name], err_msg=name)
    for name in ("y[4]", "y[61]"):
        np.testing.assert_array_equal(ejected[name], post.imputed[name], err_msg=name)


@pytest.mark.slow
def test_intervals_of_missing_covariates_cover_the_truth():
    """Over 50 simulated data sets (40 rows, 30% of x missing at random positions), the 90% intervals
    of the imputed x cover the true values at least 85% of the time. With 600 intervals the
    binomial sd of the coverage at the nominal 90% is 1.2 points, so 85% is about 4 sd below it
    (the intervals within a data set share their parameters, which widens that a little). The fits
    share one compiled sampler: the positions of the nulls are arguments, not constants."""
    model = pplang.compile(REGRESSION)
    rng = np.random.default_rng(2026)
    covered, total = 0, 0
    for rep in range(50):
        x = rng.normal(1.0, 2.0, 40)
        y = 1.0 + 0.5 * x + rng.normal(0, 0.5, 40)
        missing = rng.choice(40, size=12, replace=False)
        xl = [None if k in missing else float(v) for k, v in enumerate(x)]
        post = model.sample({"N": 40, "x": xl, "y": y.tolist()}, chains=2, warmup=300, samples=300, seed=rep)
        assert rep == 0 or post.timing["reused"]
        for k in missing:
            draws = post.imputed[f"x[{k + 1}]"]
            lo, hi = np.quantile(draws, [0.05, 0.95])
            covered += lo <= x[k] <= hi
            total += 1
    assert total == 600
    print(f"90% intervals of missing x: {covered} of {total} cover the truth")
    assert covered / total >= 0.85, covered / total
