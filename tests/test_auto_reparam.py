"""`auto`: pplang chooses the parameterisation per site and per group (pplang.autoreparam, the
spec -> spec capability, and pplang.autochoice, the measurement). CI-sized: the choices themselves
(which groups go which way) on the shipped data sets, the checks, the report, the cache, the
ejected program. ESS comparisons live in bench/auto_reparam.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pplang
from pplang import ir
from pplang.autoreparam import annotation, apply, describe, kind_of, mark_auto
from pplang.spec import AutoChoice, Role
from conftest import EXAMPLES, ROOT

SCHOOLS = EXAMPLES / "eight_schools_centered.ppl"
AUTO = EXAMPLES / "eight_schools_auto.ppl"
DATA = {name: EXAMPLES / f"{name}.json" for name in ("eight_schools", "eight_schools_precise", "sixteen_schools")}


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test gets an empty choice cache (and JAX cache) of its own."""
    monkeypatch.setenv("PPLANG_CACHE_DIR", str(tmp_path / "cache"))


def pplang_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pplang.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)


def centring(model, data) -> np.ndarray:
    (choice,) = model.resolve(data).spec.auto
    return np.asarray(choice.centered).reshape(choice.shape)


# ----------------------------------------------------------------------------- checks


def test_auto_is_accepted_on_a_hierarchical_statement():
    model = pplang.load(AUTO)
    (theta,) = [s for s in model.spec.sites() if s.name == "theta"]
    assert isinstance(theta.reparam, ir.Auto) and model.has_auto
    assert "reparam: auto" in pplang.spec.dump(model.spec)
    # until the data are seen, the generated module samples it centred and says so
    assert "# theta: `auto`" in model.python_source and "reparam_config = {}" in model.python_source


@pytest.mark.parametrize("source, line, col, code, words", [
    ("a ~ Normal(0, 1) auto\n", 1, 18, "reparam-unsupported", "nothing to choose"),
    ("data y: real\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1) auto\n", 3, 19, "reparam-on-observed", "observed"),
    ("s ~ HalfNormal(1)\nd ~ Gamma(2, s) auto\n", 2, 17, "reparam-unsupported", "not a location-scale"),
    ("mu ~ Normal(0, 1)\ngenerated r ~ Normal(mu, 1) auto\n", 2, 29, "reparam-unsupported", "generated"),
    ("param x: real<lower=0>\ns ~ HalfNormal(1)\nx ~ Normal(0, s) auto\n", 3, 18, "reparam-unsupported", ""),
])
def test_auto_elsewhere_is_a_located_error(source, line, col, code, words):
    with pytest.raises(pplang.PplangError) as exc:
        pplang.compile(source)
    (d,) = exc.value.diagnostics
    assert (d.code, d.span.line, d.span.column) == (code, line, col)
    assert words in d.message


def test_reparam_auto_marks_only_eligible_sites_without_a_written_annotation():
    src = """data J: int
data y: real[J]
mu ~ Normal(0, 5)
tau ~ HalfCauchy(5)
local s = 2 * tau
a[n] ~ Normal(mu, tau)
b[n] ~ Normal(0, s)
c[n] ~ Normal(mu, tau) centered
d[n] ~ Normal(mu, tau) noncentered
e[n] ~ Normal(mu, tau) partial(0.3)
f[n] ~ Normal(0, 1)
y[n] ~ Normal(a[n] + b[n] + c[n] + d[n] + e[n] + f[n], 1)
"""
    spec = mark_auto(pplang.compile(src).spec)
    kinds = {s.name: type(s.reparam).__name__ for s in spec.sites() if s.role is Role.LATENT}
    assert kinds == {"mu": "Centered", "tau": "Centered", "a": "Auto", "b": "Auto", "c": "Centered",
                     "d": "NonCentered", "e": "Partial", "f": "Centered"}


def test_apply_renders_a_centring_per_group_as_an_array_literal():
    model = pplang.load(AUTO)
    choice = AutoChoice("theta", "per-group", (0.0,) * 3 + (1.0,) * 5, (8,), seconds=1.44)
    spec = apply(model.spec, (choice,))
    (theta,) = [s for s in spec.sites() if s.name == "theta"]
    assert theta.reparam == ir.PerElement((0.0,) * 3 + (1.0,) * 5, (8,))
    resolved = model.with_choice({"theta": {"auto": "per-group", "centered": list(choice.centered), "shape": [8]}})
    assert ("reparam_config = {'theta': LocScaleReparam(centered=jnp.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, "
            "1.0]))}") in resolved.python_source
    assert describe(choice) == "theta: non-centred for 3 groups (1-3), centred for 5 (4-8); chosen in 1.4 s"
    assert "auto choices (with the data):\n  theta: per-group" in pplang.spec.dump(spec)
    # whole choices become the ordinary annotations, so the generated code is the hand-written one
    assert annotation(AutoChoice("t", "", (1.0,) * 4, (4,))) == ir.Centered()
    assert annotation(AutoChoice("t", "", (0.0,) * 4, (4,))) == ir.NonCentered()
    assert annotation(AutoChoice("t", "", (0.25,), ())) == ir.Partial(0.25)
    assert kind_of(np.array([0.0, 0.5])) == "per-group partial"


def test_a_per_group_array_is_accepted_by_numpyro_outside_the_plate():
    """LocScaleReparam(centered=array) with the handler around the whole model (as generated):
    the centred groups sample theta itself, the others the standardised value."""
    import jax
    from numpyro import handlers

    model = pplang.load(AUTO).with_choice({"theta": {"centered": [0.0] * 4 + [1.0] * 4, "shape": [8]}})
    data = model.prepare_data(DATA["eight_schools"])
    tr = handlers.trace(handlers.seed(model.numpyro_model, jax.random.PRNGKey(0))).get_trace(**data)
    dec, theta = np.asarray(tr["theta_decentered"]["value"]), np.asarray(tr["theta"]["value"])
    mu, tau = float(tr["mu"]["value"]), float(tr["tau"]["value"])
    np.testing.assert_allclose(theta[4:], dec[4:], rtol=1e-6)
    np.testing.assert_allclose(theta[:4], mu + tau * dec[:4], rtol=1e-5)


# ----------------------------------------------------------------------------- the choice


def test_which_groups_go_which_way():
    """The issue's three data sets: vague schools non-centred, precise ones centred."""
    model = pplang.load(AUTO)
    np.testing.assert_array_equal(centring(model, DATA["eight_schools"]), np.zeros(8))
    np.testing.assert_array_equal(centring(model, DATA["eight_schools_precise"]), np.ones(8))
    np.testing.assert_array_equal(centring(model, DATA["sixteen_schools"]), [0.0] * 8 + [1.0] * 8)


def test_the_formula_and_the_guard_on_the_mixture():
    (choice,) = pplang.load(AUTO).resolve(DATA["sixteen_schools"]).spec.auto
    lam = np.asarray(choice.lam)
    assert np.all(lam[:8] < 0.5) and np.all(lam[8:] > 0.9)  # tau^2 / (tau^2 + sigma_j^2)
    scores = dict(choice.scores)
    assert set(scores) >= {"centred", "non-centred", "per-group"}
    assert scores["per-group"] >= max(scores["centred"], scores["non-centred"])  # never wins on a worse ELBO
    assert choice.kind == "per-group" and choice.seconds > 0 and not choice.cached


def test_information_from_a_logistic_likelihood_per_group():
    """Bernoulli-logit data, groups of very different sizes: the big groups are centred, the
    groups with two observations non-centred (the curvature comes from the likelihood)."""
    rng = np.random.default_rng(1)
    sizes = [400] * 5 + [2] * 5
    g = np.repeat(np.arange(1, 11), sizes)
    a = rng.normal(0.0, 1.0, size=10)
    y = (rng.random(g.size) < 1 / (1 + np.exp(-a[g - 1]))).astype(int)
    src = """data N: int
data J: int
data g: int<lower=1>[N]
data y: int<lower=0, upper=1>[N]
param a: vector[J]
mu ~ Normal(0, 2)
sigma ~ HalfNormal(1)
a[j] ~ Normal(mu, sigma)
y[i] ~ BernoulliLogit(a[g[i]])
"""
    model = pplang.compile(src)
    data = {"N": int(g.size), "J": 10, "g": g.tolist(), "y": y.tolist()}
    resolved = model.resolve(data, reparam="auto")
    (choice,) = resolved.spec.auto
    np.testing.assert_array_equal(np.asarray(choice.centered), [1.0] * 5 + [0.0] * 5)


def test_the_choice_is_cached_by_model_and_data(monkeypatch, tmp_path):
    model = pplang.load(SCHOOLS)
    first = model.resolve(DATA["sixteen_schools"], reparam="auto")
    assert list((tmp_path / "cache" / "reparam").glob("*.json"))

    def fail(*a, **k):
        raise AssertionError("measured again")

    monkeypatch.setattr("pplang.autochoice.measure", fail)
    again = pplang.load(SCHOOLS).resolve(DATA["sixteen_schools"], reparam="auto")
    (a,), (b,) = first.spec.auto, again.spec.auto
    assert b.cached and not a.cached and a.centered == b.centered and b.seconds == a.seconds
    assert describe(b).endswith("(cached: no time this run)")
    assert again.python_source == first.python_source
    # the annotation and the flag are the same model; a file's name is not part of it
    assert pplang.load(AUTO).resolve(DATA["sixteen_schools"]).spec.auto[0].cached
    other = model.resolve(DATA["eight_schools"], reparam="auto")  # other data: measured anew
    assert "measured again" in other.reparam_notes[0].message
    # cache=False neither reads nor writes
    monkeypatch.undo()
    monkeypatch.setenv("PPLANG_CACHE_DIR", str(tmp_path / "cache"))
    assert not model.resolve(DATA["sixteen_schools"], reparam="auto", cache=False).spec.auto[0].cached


def test_a_failed_measurement_samples_centred_and_says_why(monkeypatch):
    def broken(*a, **k):
        raise FloatingPointError("no finite ELBO")

    monkeypatch.setattr("pplang.autochoice.measure", broken)
    resolved = pplang.load(AUTO).resolve(DATA["eight_schools"])
    (choice,) = resolved.spec.auto
    assert choice.kind == "centred"
    (note,) = resolved.reparam_notes
    assert note.code == "auto-reparam" and "no finite ELBO" in note.message and "sampled centred" in note.message


def test_reparam_auto_with_nothing_to_choose_says_so():
    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    resolved = model.resolve(EXAMPLES / "linear_regression.json", reparam="auto")
    assert resolved is model or resolved.python_source == model.python_source
    (note,) = resolved.reparam_notes
    assert note.code == "auto-reparam" and "no statement to choose for" in note.message
    # explicit annotations are overrides: the non-centred eight schools has nothing left to choose
    nc = pplang.load(EXAMPLES / "eight_schools.ppl")
    assert nc.resolve(DATA["eight_schools"], reparam="auto").python_source == nc.python_source


def test_models_without_auto_generate_the_same_code():
    for name in ("eight_schools", "eight_schools_centered", "eight_schools_manual", "linear_regression"):
        model = pplang.load(EXAMPLES / f"{name}.ppl")
        assert model.resolve(EXAMPLES / "eight_schools.json" if "schools" in name else None) is model
        golden = (ROOT / "tests" / "golden" / f"{name}.py").read_text()
        assert model.python_source == golden


# ----------------------------------------------------------------------------- run, report, eject, fit


def test_run_reports_the_choice_in_json_text_and_the_fit(tmp_path):
    out = tmp_path / "fit.nc"
    r = pplang_cli("run", SCHOOLS, "--data", DATA["sixteen_schools"], "--reparam", "auto", "--chains", "2",
                   "--warmup", "100", "--samples", "100", "--json", "--vars", "mu", "tau", "-o", out)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    rep = summary["reparam"]["theta"]
    assert rep["summary"].startswith("theta: non-centred for 8 groups (1-8), centred for 8 (9-16); chosen in ")
    assert rep["kind"] == "per-group" and rep["centered"] == [0.0] * 8 + [1.0] * 8
    assert "reparam_s" in summary["timing"]
    import arviz as az

    attrs = az.from_netcdf(out).posterior.attrs
    stored = json.loads(attrs["reparam"])["theta"]
    assert stored["auto"] == "per-group" and stored["centered"] == [0.0] * 8 + [1.0] * 8
    # a fit read back holds the model's own quantities (never NumPyro's theta_decentered), and
    # prediction works from them
    fit = pplang.load_fit(out)
    assert "theta" in fit.samples and "theta_decentered" not in fit.samples
    assert fit.predict(DATA["sixteen_schools"])["y"].shape == (2, 100, 16)
    r = pplang_cli("run", AUTO, "--data", DATA["sixteen_schools"], "--chains", "1", "--warmup", "20",
                   "--samples", "20")
    assert r.returncode == 0, r.stderr
    assert "Parameterisation (auto): theta: non-centred for 8 groups (1-8), centred for 8 (9-16)" in r.stdout
    assert "(cached: no time this run)" in r.stdout  # same model and data as the first run


def test_the_ejected_program_reproduces_the_choice_and_the_draws(tmp_path):
    import arviz as az

    prog = tmp_path / "model.py"
    r = pplang_cli("compile", AUTO, "--data", DATA["sixteen_schools"], "-o", prog)
    assert r.returncode == 0, r.stderr
    assert "# auto: theta: non-centred for 8 groups (1-8), centred for 8 (9-16)" in r.stderr
    text = prog.read_text()
    assert ("LocScaleReparam(centered=jnp.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, "
            "1.0, 1.0, 1.0, 1.0]))") in text
    settings = ["--chains", "2", "--warmup", "50", "--samples", "50", "--seed", "3"]
    r = subprocess.run([sys.executable, str(prog), *settings, "--save", str(tmp_path / "draws.npz")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    r = pplang_cli("run", AUTO, "--data", DATA["sixteen_schools"], *settings, "-o", tmp_path / "run.nc")
    assert r.returncode == 0, r.stderr
    ejected = np.load(tmp_path / "draws.npz")
    posterior = az.from_netcdf(tmp_path / "run.nc").posterior
    assert set(ejected.files) == set(posterior.data_vars) and "theta_decentered" not in ejected.files
    for name in ejected.files:
        np.testing.assert_array_equal(ejected[name], posterior[name].values)


def test_compile_needs_data_to_choose(tmp_path):
    lonely = tmp_path / "m.ppl"
    lonely.write_text(AUTO.read_text())
    r = pplang_cli("compile", lonely)
    assert r.returncode == 1 and "no-data-file" in r.stderr and "`auto` chooses" in r.stderr


def test_api_sample_with_reparam_auto():
    post = pplang.load(SCHOOLS).sample(DATA["eight_schools_precise"], chains=1, warmup=30, samples=30,
                                       reparam="auto")
    assert post.model.spec.auto[0].kind == "centred" and "theta_decentered" not in post.samples
    assert post.summary()["reparam"]["theta"]["summary"].startswith("theta: centred (all 8 groups); chosen in")
    assert post.timing["reparam_s"] >= 0
    with pytest.raises(pplang.PplangError) as exc:
        pplang.load(SCHOOLS).sample(DATA["eight_schools"], reparam="noncentred")
    assert exc.value.diagnostics[0].code == "bad-setting"
