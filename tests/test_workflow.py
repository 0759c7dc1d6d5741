"""The Bayesian workflow around one model file: posterior predictive, log-likelihood, prediction on
new data, netCDF/CSV results, plots, the model graph and the ejected program. Small sample counts:
these check names, shapes and plumbing; the statistics are checked elsewhere."""

import json
import os
import shutil
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES, ROOT, record_output
from pplang.results import csv_columns, load_fit, sha256

SMALL = dict(chains=2, warmup=100, samples=100)


def pplang_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "pplang.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, timeout=300)
    record_output(r.stderr)
    return r


def png_size(path):
    """(width, height) read from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def schools():
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    return model.sample(EXAMPLES / "eight_schools.json", seed=1, **SMALL)


@pytest.fixture(scope="module")
def regression():
    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    return model.sample(EXAMPLES / "linear_regression.json", seed=2, **SMALL)


# ----------------------------------------------------------------------------- predictive, log-likelihood


def test_posterior_predictive_names_and_shapes(schools, regression):
    rep = schools.predictive()
    assert set(rep) == {"y"} and rep["y"].shape == (200, 8)
    assert schools.predictive(grouped=True)["y"].shape == (2, 100, 8)
    ll = schools.log_likelihood()
    assert set(ll) == {"y"} and ll["y"].shape == (2, 100, 8) and np.all(np.isfinite(ll["y"]))
    rep = regression.predictive()
    assert set(rep) == {"y"} and rep["y"].shape == (200, 20)
    # replicated data follows the fitted line: it tracks the observations closely
    y = np.asarray(regression.data["y"])
    assert np.corrcoef(rep["y"].mean(axis=0), y)[0, 1] > 0.95


def test_log_likelihood_matches_the_normal_density(regression):
    from scipy.stats import norm

    s = regression.grouped_samples
    d = regression.data
    want = norm.logpdf(d["y"], s["alpha"][..., None] + s["beta"][..., None] * d["x"], s["sigma"][..., None])
    np.testing.assert_allclose(regression.log_likelihood()["y"], want, rtol=1e-4, atol=1e-4)


def test_predict_on_new_data_with_a_different_n(regression, tmp_path):
    new = {"N": 3, "x": [0.0, 1.0, 10.0]}  # observed y absent
    pred = regression.predict(new)
    assert set(pred) == {"y"} and pred["y"].shape == (200, 3)
    s = regression.samples
    np.testing.assert_allclose(pred["y"][:, 2].mean(), (s["alpha"] + 10 * s["beta"]).mean(), atol=0.5)
    # the same predictions from a fit read back from disk, model taken from the file
    path = regression.save(tmp_path / "fit.nc")
    fit = load_fit(path)
    assert fit.warnings == [] and fit.model.source == regression.model.source
    np.testing.assert_allclose(fit.predict(new)["y"], regression.predict(new, grouped=True)["y"], rtol=1e-6)


def test_predict_refuses_a_change_of_latent_shape(schools):
    with pytest.raises(pplang.PplangError) as exc:
        schools.predict({"J": 3, "sigma": [1.0, 1.0, 1.0]})
    (d,) = exc.value.diagnostics  # theta, not also NumPyro's theta_decentered
    assert d.code == "fit-mismatch" and d.message == '"theta" has shape (8,) in the fit but (3,) with the new data'
    # the same J with new measurement errors is fine: observed y is optional
    assert schools.predict({"J": 8, "sigma": [1.0] * 8})["y"].shape == (200, 8)


# ----------------------------------------------------------------------------- files


def test_netcdf_round_trip_has_every_group(schools, tmp_path):
    import arviz as az

    prior = schools.model.prior_predictive(EXAMPLES / "eight_schools.json", samples=50, seed=1)
    path = schools.save(tmp_path / "fit.nc", predictive=True, prior=prior)
    idata = az.from_netcdf(path)
    assert set(idata.groups()) == {"posterior", "posterior_predictive", "log_likelihood", "sample_stats", "prior",
                                   "prior_predictive", "observed_data", "constant_data"}
    post = idata.posterior
    assert set(post.data_vars) == {"mu", "tau", "theta"} and set(idata.prior.data_vars) == {"mu", "tau", "theta"}
    assert post["theta"].dims == ("chain", "draw", "J") and list(post["J"].values) == list(range(1, 9))
    np.testing.assert_array_equal(post["theta"].values, schools.grouped_samples["theta"])
    assert {"diverging", "tree_depth", "energy"} <= set(idata.sample_stats.data_vars)
    assert idata.sample_stats["diverging"].dtype == bool
    assert idata.posterior_predictive["y"].shape == (2, 100, 8)
    assert idata.log_likelihood["y"].shape == (2, 100, 8)
    np.testing.assert_array_equal(idata.observed_data["y"].values, [28, 8, -3, 7, -1, 1, 18, 12])
    assert idata.prior["tau"].shape == (1, 50) and idata.prior_predictive["y"].shape == (1, 50, 8)
    attrs = post.attrs
    assert attrs["model_sha256"] == sha256((EXAMPLES / "eight_schools.ppl").read_text())
    assert attrs["model_source"] == (EXAMPLES / "eight_schools.ppl").read_text()
    assert attrs["data_file"].endswith("eight_schools.json") and attrs["seed"] == 1
    from pplang.settings import DEFAULTS

    assert json.loads(attrs["settings"]) == {**DEFAULTS.as_dict(), "chains": 2, "warmup": 100, "samples": 100,
                                             "seed": 1}
    assert json.loads(attrs["reparam"]) == {"theta": "noncentered"}
    # ArviZ's own functions work on it (100 draws: Pareto-k warnings are expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.all(np.isfinite(az.loo(idata).elpd_loo))


def test_csv_has_one_column_per_quantity(schools, tmp_path):
    path = schools.save(tmp_path / "fit.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    theta = [f"theta[{i}]" for i in range(1, 9)]
    assert header == ["chain", "draw", "mu", "tau", *theta]  # not NumPyro's theta_decentered
    assert len(lines) == 1 + 200
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(table[:, 0], np.repeat([0, 1], 100))
    np.testing.assert_allclose(table[:, 4:12], schools.samples["theta"], rtol=1e-6)
    # matrices are named row-major, 1-based
    cols = csv_columns({"posterior": {"m": np.zeros((1, 2, 2, 3))}})
    assert list(cols)[2:5] == ["m[1,1]", "m[1,2]", "m[1,3]"] and "m[2,3]" in cols


def test_a_fit_read_back_predicts_as_the_fit_did(schools, tmp_path):
    """The file holds the model's quantities only (theta, not NumPyro's theta_decentered): prediction
    runs the model as written on them, and gives the same draws as the fit in memory."""
    fit = load_fit(schools.save(tmp_path / "fit.nc"))
    assert set(fit.samples) == {"mu", "tau", "theta"}
    new = {"J": 8, "sigma": [2.0] * 8}
    np.testing.assert_allclose(fit.predict(new)["y"], schools.predict(new, grouped=True)["y"], rtol=1e-5)
    np.testing.assert_allclose(fit.predict(new)["y"].mean(axis=(0, 1)), schools.samples["theta"].mean(axis=0),
                               atol=0.5)


def test_nothing_a_user_reads_names_numpyro_auxiliary_sites(schools, tmp_path, capsys):
    import arviz as az

    from pplang.cli import main
    from pplang.plots import default_vars, plot

    model = schools.model
    assert model.auxiliary_sites == {"theta_decentered": "theta"}
    assert "theta_decentered" in schools.samples  # NumPyro's own draws keep it
    prior = model.prior_predictive(EXAMPLES / "eight_schools.json", samples=5)
    assert set(prior) == {"mu", "tau", "theta", "y"}
    assert main(["prior", str(EXAMPLES / "eight_schools.ppl"), "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "Variable: theta\n" in out and "_decentered" not in out and "_pp" not in out
    # a fit saved by an older pplang holds theta_decentered: plots still show the model's names only
    draws = {k: v for k, v in schools.grouped_samples.items()}
    old = az.from_dict(posterior=draws, attrs={"reparam": '{"theta": "noncentered"}'})
    assert default_vars(old) == ["mu", "tau", "theta"]
    with pytest.raises(pplang.PplangError) as exc:
        plot(old, "trace", ["nope"], tmp_path / "x.png")
    assert exc.value.diagnostics[0].help == "variables: mu, tau, theta"


# ----------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def cli_fit(tmp_path_factory):
    """`pplang run --predict --prior --output` on the regression example."""
    d = tmp_path_factory.mktemp("cli")
    r = pplang_cli("run", EXAMPLES / "linear_regression.ppl", "--chains", 2, "--warmup", 100, "--samples", 100,
                   "--predict", "--prior", "-o", d / "fit.nc", "--json")
    assert r.returncode == 0, r.stderr
    return d, json.loads(r.stdout)


def test_run_predict_and_output(cli_fit):
    import arviz as az

    d, out = cli_fit
    assert out["output"] == str(d / "fit.nc")
    assert set(out["posterior_predictive"]) == {f"y[{i}]" for i in range(1, 21)}
    assert out["posterior_predictive"]["y[1]"]["observed"] == 1.098
    idata = az.from_netcdf(d / "fit.nc")
    assert {"posterior_predictive", "prior", "prior_predictive", "log_likelihood"} <= set(idata.groups())
    assert os.path.getsize(d / "fit.nc") > 10_000


def test_predict_command(cli_fit, tmp_path):
    d, _ = cli_fit
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"N": 2, "x": [0.0, 1.0]}))
    r = pplang_cli("predict", EXAMPLES / "linear_regression.ppl", "--fit", d / "fit.nc", "--data", new, "--json",
                   "-o", tmp_path / "pred.csv")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["predictions"]
    assert set(out) == {"y[1]", "y[2]"} and 1.5 < out["y[2]"]["mean"] - out["y[1]"]["mean"] < 2.8
    assert (tmp_path / "pred.csv").read_text().splitlines()[0] == "chain,draw,y[1],y[2]"
    r = pplang_cli("predict", EXAMPLES / "linear_regression.ppl", "--fit", tmp_path / "nope.nc", "--data", new)
    assert r.returncode == 1 and "error[fit-file]" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("kind", ["pair", "ppc", "trace"])
def test_plot_writes_a_real_picture(cli_fit, kind, tmp_path):
    d, _ = cli_fit
    out = tmp_path / f"{kind}.png"
    r = pplang_cli("plot", d / "fit.nc", "--kind", kind, "-o", out)
    assert r.returncode == 0, r.stderr
    w, h = png_size(out)
    assert w >= 300 and h >= 200 and out.stat().st_size > 10_000


def test_pair_plot_defaults_to_the_parameters(cli_fit, tmp_path, monkeypatch):
    """The regression's generated log_lik[20] and y_new made a 23 x 23 grid (30-50 s, unreadable)."""
    import arviz as az
    import matplotlib.pyplot as plt

    from pplang.plots import plot
    from pplang.results import read_netcdf

    d, _ = cli_fit
    asked = []

    def pair(idata, var_names, **kwargs):
        asked.append(var_names)
        return plt.subplots(2, 2)[1]

    monkeypatch.setattr(az, "plot_pair", pair)
    plot(read_netcdf(d / "fit.nc"), "pair", None, tmp_path / "pair.png")
    plot(read_netcdf(d / "fit.nc"), "pair", ["alpha", "y_new"], tmp_path / "pair2.png")
    assert asked == [["alpha", "beta", "sigma"], ["alpha", "y_new"]]


def test_ppc_plot_of_a_fit_with_fewer_than_100_draws(cli_fit, tmp_path):
    """ArviZ's plot_ppc takes 100 replications by default: a short fit (2 x 20 draws) used to raise
    its TypeError; pplang plots every draw there is."""
    import arviz as az

    d, _ = cli_fit
    az.from_netcdf(d / "fit.nc").isel(draw=slice(0, 20)).to_netcdf(tmp_path / "short.nc")
    r = pplang_cli("plot", tmp_path / "short.nc", "--kind", "ppc", "-o", tmp_path / "ppc.png")
    assert r.returncode == 0, r.stderr
    assert png_size(tmp_path / "ppc.png")[0] >= 300


def test_plot_errors_are_diagnostics(schools, tmp_path):
    path = schools.save(tmp_path / "fit.nc")  # no posterior_predictive group
    r = pplang_cli("plot", path, "--kind", "ppc", "-o", tmp_path / "x.png")
    assert r.returncode == 1 and "error[plot-error]" in r.stderr and "--predict" in r.stderr
    r = pplang_cli("plot", path, "--vars", "nope", "-o", tmp_path / "x.png")
    assert r.returncode == 1 and "error[plot-error]" in r.stderr and "Traceback" not in r.stderr


def test_bad_output_suffix_is_refused_before_sampling(tmp_path):
    r = pplang_cli("run", EXAMPLES / "eight_schools.ppl", "-o", tmp_path / "fit.txt")
    assert r.returncode == 1 and "error[output-format]" in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- the graph


def test_graph_dot_from_the_checked_ir():
    r = pplang_cli("graph", EXAMPLES / "eight_schools.ppl")
    assert r.returncode == 0, r.stderr
    dot = r.stdout
    assert dot.startswith('digraph "eight_schools"')
    assert '"theta" [label="theta ~ Normal\\nnoncentered", shape=ellipse]' in dot
    assert '"y" [label="y ~ Normal", shape=ellipse, style=filled' in dot  # observed: shaded
    assert '"sigma" [label="sigma", shape=box]' in dot  # data
    assert "subgraph cluster_1" in dot and 'label="J"' in dot
    cluster = dot[dot.index("subgraph cluster_1"):dot.index("}", dot.index("subgraph cluster_1"))]
    assert all(f'"{n}"' in cluster for n in ("theta", "y", "sigma")) and '"mu"' not in cluster
    for edge in ('"mu" -> "theta"', '"tau" -> "theta"', '"theta" -> "y"', '"sigma" -> "y"'):
        assert edge in dot
    assert '"J"' not in dot.replace('label="J"', "")  # a size only: shown as the plate's label
    manual = pplang_cli("graph", EXAMPLES / "eight_schools_manual.ppl").stdout
    assert '"theta" [label="theta =", shape=ellipse, style=dashed]' in manual and '"theta_0" -> "theta"' in manual
    assert "noncentered" not in pplang_cli("graph", EXAMPLES / "eight_schools_centered.ppl").stdout


def test_graph_image_without_graphviz_is_a_diagnostic(tmp_path, monkeypatch):
    import pplang.graph

    monkeypatch.setattr(pplang.graph.shutil, "which", lambda name: None)
    with pytest.raises(pplang.PplangError) as exc:
        pplang.graph.render("digraph m {}\n", tmp_path / "g.png")
    d = exc.value.diagnostics[0]
    assert d.code == "graphviz-missing" and "g.dot" in d.help and not (tmp_path / "g.png").exists()


def test_graph_title_is_escaped():
    from pplang.graph import to_dot

    dot = to_dot(pplang.compile("mu ~ Normal(0, 1)\n").checked, 'a"b\\\nc')
    assert dot.splitlines()[0] == 'digraph "a\\"b__c" {'


def test_graph_image_needs_graphviz(tmp_path):
    r = pplang_cli("graph", EXAMPLES / "eight_schools.ppl", "-o", tmp_path / "g.svg")
    if shutil.which("dot") is None:
        assert r.returncode == 1 and "error[graphviz-missing]" in r.stderr and "Traceback" not in r.stderr
    else:
        assert r.returncode == 0 and "<svg" in (tmp_path / "g.svg").read_text()


def test_graph_and_check_do_not_import_jax_and_run_does_not_import_arviz(tmp_path):
    code = ("import sys, pplang.cli\n"
            "assert pplang.cli.main(['graph', %r, '-o', %r]) == 0\n"
            "assert 'jax' not in sys.modules and 'arviz' not in sys.modules\n"
            "assert pplang.cli.main(['run', %r, '--chains', '1', '--warmup', '20', '--samples', '20']) == 0\n"
            "assert 'arviz' not in sys.modules and 'matplotlib' not in sys.modules\n"
            % (str(EXAMPLES / "eight_schools.ppl"), str(tmp_path / "g.dot"), str(EXAMPLES / "linear_regression.ppl")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


# ----------------------------------------------------------------------------- eject


def test_ejected_program_takes_file_names_as_literals(tmp_path, capsys):
    """A model or data file name is free text: a quote or a line break in it neither breaks the
    program nor becomes code."""
    from pplang.cli import main

    model = tmp_path / 'my "schools"\nimport os; os.system("touch PWNED").ppl'
    data = tmp_path / 'da"ta\nexit(3).json'
    model.write_text((EXAMPLES / "eight_schools.ppl").read_text())
    data.write_text((EXAMPLES / "eight_schools.json").read_text())
    out = tmp_path / "prog.py"
    assert main(["compile", str(model), "--data", str(data), "-o", str(out)]) == 0
    text = out.read_text()
    assert not any(line.startswith(("import os", "exit(3)")) for line in text.splitlines())
    assert '# Generated by pplang from my "schools"\\nimport os;' in text
    namespace = {"__name__": "ejected"}
    exec(compile(text, str(out), "exec"), namespace)
    assert namespace["DEFAULT_DATA"] == str(data)
    assert set(namespace["load_data"](namespace["DEFAULT_DATA"])) == {"J", "y", "sigma"}
    namespace["main"](["--chains", "1", "--warmup", "10", "--samples", "10", "--save", str(tmp_path / "d.npz")])
    assert set(np.load(tmp_path / "d.npz").files) == {"mu", "tau", "theta"}
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()


def test_ejected_data_loading_matches_prepare_data():
    from pplang.eject import eject

    for name in ("eight_schools", "linear_regression"):
        model = pplang.load(EXAMPLES / f"{name}.ppl")
        namespace = {"__name__": "ejected"}
        exec(compile(eject(model), f"<{name}>", "exec"), namespace)
        ours = namespace["load_data"](str(EXAMPLES / f"{name}.json"))
        want = model.prepare_data(EXAMPLES / f"{name}.json")
        assert ours.keys() == want.keys()
        for k in want:
            assert type(ours[k]) is type(want[k])
            np.testing.assert_array_equal(ours[k], want[k])
            assert np.asarray(ours[k]).dtype == np.asarray(want[k]).dtype


def test_ejected_program_gives_the_same_draws_as_pplang_run(tmp_path):
    import arviz as az

    prog = tmp_path / "model.py"
    r = pplang_cli("compile", EXAMPLES / "eight_schools.ppl", "-o", prog)
    assert r.returncode == 0, r.stderr
    text = prog.read_text()
    assert "def load_data(path):" in text and "MCMC(kernel" in text and "LocScaleReparam(centered=0)" in text
    settings = ["--chains", "2", "--warmup", "50", "--samples", "50", "--seed", "3", "--thin", "2",
                "--target-accept", "0.9", "--max-tree-depth", "8", "--init", '{"mu": 1.5, "theta_decentered": 0}']
    r = subprocess.run([sys.executable, str(prog), *settings, "--save", str(tmp_path / "draws.npz")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "theta" in r.stdout and "r_hat" in r.stdout  # the printed summary
    assert "_decentered" not in r.stdout and "Number of divergences:" in r.stdout
    r = pplang_cli("run", EXAMPLES / "eight_schools.ppl", *settings, "-o", tmp_path / "run.nc")
    assert r.returncode == 0, r.stderr
    ejected = np.load(tmp_path / "draws.npz")
    posterior = az.from_netcdf(tmp_path / "run.nc").posterior
    assert set(ejected.files) == set(posterior.data_vars)
    for name in ejected.files:
        np.testing.assert_array_equal(ejected[name], posterior[name].values)


def test_replicated_data_is_refused_when_the_observed_data_is_also_a_covariate():
    model = pplang.compile("data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\ny[n] ~ Normal(mu + 0.1 * y[n], 1)\n")
    with pytest.raises(pplang.PplangError) as exc:
        model.replicate({}, {})
    d = exc.value.diagnostics[0]
    assert d.code == "unsupported" and d.span.line == 4 and '"y"' in d.message
