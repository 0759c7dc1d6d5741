"""User-defined functions (`def`), densities used with `~`, and the ODE solvers (diffrax).

Log densities are checked in float64 against independent computations (SciPy); ODE solutions
against scipy.integrate.solve_ivp. See docs/language.md, "User-defined functions" and "ODEs".
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import solve_ivp

import pplang
from pplang import ir
from pplang.diagnostics import PplangError
from conftest import EXAMPLES, ROOT

LV = EXAMPLES / "posteriordb" / "hudson_lynx_hare-lotka_volterra.ppl"
PK = EXAMPLES / "everyday" / "pk_one_compartment.ppl"
PK_TRUTH = {"ka": 1.1, "ke": 0.12, "V": 20.0, "sigma": 0.1}


@pytest.fixture(autouse=True)
def x64():
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def log_joint(model: pplang.Model, data: dict, values: dict, jit: bool = False) -> float:
    """The model's log joint density at constrained ``values`` (NumPyro's log_density)."""
    import jax
    from numpyro.infer.util import log_density

    kw = model.prepare_data(data)
    fn = lambda v: log_density(model.numpyro_model, (), kw, v)[0]  # noqa: E731
    return float((jax.jit(fn) if jit else fn)(values))


def trace(model: pplang.Model, data: dict, values: dict | None = None) -> dict:
    """Site values of one run of the model (latents from ``values``)."""
    import jax
    from numpyro import handlers

    kw = model.prepare_data(data)
    run = handlers.substitute(handlers.seed(model.numpyro_model, jax.random.PRNGKey(0)), data=values or {})
    return {k: np.asarray(s["value"]) for k, s in handlers.trace(run).get_trace(**kw).items()}


def diagnostic(src: str):
    with pytest.raises(PplangError) as exc:
        pplang.compile(src, "m.ppl")
    return exc.value.diagnostics[0]


# ----------------------------------------------------------------------------- functions


def test_a_function_is_typed_at_each_call():
    """`total` is typed for a vector and for a matrix: two instances, two Python functions that
    reduce different axes, each call with its own result type."""
    src = ("def total(x) = sum(x)\n"
           "data N: int\ndata K: int\ndata a: vector[N]\ndata B: matrix[N, K]\n"
           "s1 = total(a)\ns2 = total(B)\ns3 = total(a * 2)\n")
    model = pplang.compile(src)
    insts = model.spec.functions
    assert [(f.name, f.number, [t.dims for _, t in f.params]) for f in insts] == [
        ("total", 1, [(ir.Name("N"),)]), ("total", 2, [(ir.Name("N"), ir.Name("K"))])]
    assert "def total(x):" in model.python_source and "def _pp_total_2(x):" in model.python_source
    data = {"N": 3, "K": 2, "a": [1.0, 2.0, 3.0], "B": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}
    tr = trace(model, data)
    assert (tr["s1"], tr["s2"], tr["s3"]) == (6.0, 21.0, 12.0)


def test_calls_in_a_plate_are_mapped_and_functions_call_earlier_functions():
    src = ("def sq(x) = x * x\n"
           "def norm2(v) {\n  local s = sum(sq(v))\n  return sqrt(s)\n}\n"
           "data N: int\ndata K: int\ndata X: matrix[N, K]\n"
           "d[n] = norm2(X[n])\n")
    model = pplang.compile(src)
    assert "jnp.vectorize(norm2, signature='(a0_0)->()')" in model.python_source
    X = np.array([[3.0, 4.0], [6.0, 8.0], [1.0, 0.0]])
    tr = trace(model, {"N": 3, "K": 2, "X": X.tolist()})
    np.testing.assert_allclose(tr["d"], np.linalg.norm(X, axis=1))


def test_lpdf_with_tilde_is_target_plus_equals():
    """`y[n] ~ skew_normal(...)` for a user `skew_normal_lpdf` adds the same log density as
    `target += skew_normal_lpdf(y[n] | ...)`, and both equal SciPy's skew-normal density."""
    fn = "def skew_normal_lpdf(y, xi, omega, alpha) = log(2) + normal_lpdf(y | xi, omega) + log(Phi(alpha * (y - xi) / omega))\n"
    head = fn + "data N: int\ndata y: real[N]\nxi ~ Normal(0, 3)\nparam omega: real<lower=0>\nomega ~ HalfNormal(2)\n"
    data = {"N": 4, "y": [-0.3, 0.8, 1.7, 2.4]}
    values = {"xi": 0.4, "omega": 1.3}
    by_tilde = pplang.compile(head + "y[n] ~ skew_normal(xi, omega, 4)\n")
    by_target = pplang.compile(head + "target += skew_normal_lpdf(y[n] | xi, omega, 4)\n")
    lp_tilde, lp_target = log_joint(by_tilde, data, values), log_joint(by_target, data, values)
    expected = (stats.norm.logpdf(0.4, 0, 3) + stats.halfnorm.logpdf(1.3, scale=2)
                + stats.skewnorm.logpdf(data["y"], 4, loc=0.4, scale=1.3).sum())
    assert lp_tilde == pytest.approx(expected, rel=1e-12)
    assert lp_target == pytest.approx(expected, rel=1e-12)
    # a user density on a declared parameter is its prior: no improper-prior warning
    prior = pplang.compile(fn + "param mu: real\nmu ~ skew_normal(0, 1, 2)\n")
    assert not [w for w in prior.warnings if w.code == "improper-prior"]
    assert log_joint(prior, {}, {"mu": 0.7}) == pytest.approx(stats.skewnorm.logpdf(0.7, 2), rel=1e-12)


def test_recursion_is_refused_at_the_call():
    d = diagnostic("def f(x) = x + f(x - 1)\nmu ~ Normal(0, 1)\n")
    assert (d.code, d.span.line, d.span.column) == ("recursive-function", 1, 16)
    assert "calls itself" in d.message
    d = diagnostic("def f(x) = g(x)\ndef g(x) = f(x)\nmu ~ Normal(0, 1)\n")
    assert (d.code, d.span.line, d.span.column) == ("recursive-function", 1, 12)
    assert "defined at line 2" in d.message and "move `def g` above `def f`" in d.help


def test_an_error_in_a_body_is_located_there_and_names_the_call():
    src = "def first(x) = x[1]\nmu ~ Normal(0, 1)\nm = first(mu)\n"
    d = diagnostic(src)
    assert d.span.line == 1 and d.span.column == 16
    assert 'in function "first", called at line 3' in d.message
    assert "first(x: real)" in d.help


def test_a_function_sees_only_its_arguments():
    d = diagnostic("data N: int\ndef f(x) = x * N\nmu ~ Normal(0, 1)\n")
    assert d.code == "unknown-name" and d.span.line == 2 and "add a parameter" in d.help
    # a parameter named like a model quantity is the argument inside the body
    model = pplang.compile("def f(mu) = 2 * mu\nmu ~ Normal(0, 1)\nnu = f(3)\n")
    assert trace(model, {}, {"mu": 0.5})["nu"] == 6.0


def test_function_names_do_not_clash():
    assert diagnostic("def exp(x) = x\nmu ~ Normal(0, 1)\n").code == "duplicate-definition"
    assert diagnostic("def Normal_lpdf(y, m) = y\nmu ~ Normal(0, 1)\n").code == "duplicate-definition"
    assert diagnostic("def f(x) = x\nf ~ Normal(0, 1)\n").code == "duplicate-definition"
    assert diagnostic("data f: real\ndef f(x) = x\n").code == "duplicate-definition"


# ----------------------------------------------------------------------------- ODEs


def lotka_volterra(theta):
    return lambda t, z: [(theta[0] - theta[1] * z[1]) * z[0], (-theta[2] + theta[3] * z[0]) * z[1]]


@pytest.mark.parametrize("solver", ["ode_rk45", "ode_bdf"])
def test_ode_solution_matches_solve_ivp(solver):
    src = ("def dz_dt(t, z, theta) = [(theta[1] - theta[2] * z[2]) * z[1], (-theta[3] + theta[4] * z[1]) * z[2]]\n"
           "data N: int\ndata ts: real[N]\ndata theta: real[4]\ndata z0: real[2]\n"
           f"z = {solver}(dz_dt, z0, 0, ts, theta)\n")
    model = pplang.compile(src)
    ts = np.linspace(0.5, 20, 12)
    theta, z0 = [0.55, 0.028, 0.8, 0.024], [33.0, 6.0]
    z = trace(model, {"N": 12, "ts": ts.tolist(), "theta": theta, "z0": z0})["z"]
    ref = solve_ivp(lotka_volterra(theta), (0, 20), z0, t_eval=ts, rtol=1e-11, atol=1e-11, method="DOP853").y.T
    assert z.shape == (12, 2)
    np.testing.assert_allclose(z, ref, rtol=2e-5)


def test_stiff_ode_with_ode_bdf_tol():
    """Robertson's chemical kinetics: stiff (rates 0.04, 3e7, 1e4)."""
    src = ("def rober(t, y, k1, k2, k3) = [-k1 * y[1] + k3 * y[2] * y[3], k1 * y[1] - k3 * y[2] * y[3] - k2 * "
           "square(y[2]), k2 * square(y[2])]\n"
           "data N: int\ndata ts: vector[N]\n"
           "y = ode_bdf_tol(rober, [1, 0, 0], 0, ts, 1e-8, 1e-10, 100000, 0.04, 3e7, 1e4)\n")
    ts = np.array([0.1, 1.0, 10.0, 100.0])
    y = trace(pplang.compile(src), {"N": 4, "ts": ts.tolist()})["y"]

    def rober(t, y):
        return [-0.04 * y[0] + 1e4 * y[1] * y[2], 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2, 3e7 * y[1] ** 2]

    ref = solve_ivp(rober, (0, 100), [1, 0, 0], t_eval=ts, method="Radau", rtol=1e-10, atol=1e-14).y.T
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-9)


def test_ode_per_plate_element():
    """Each subject's decay solved on its own: the ODE call maps over the plate."""
    src = ("def decay(t, y, k) = -k * y\n"
           "data S: int\ndata T: int\ndata ts: real[T]\ndata k: real[S]\ndata y0: real[S]\n"
           "sol[s] = ode_rk45(decay, [y0[s]], 0, ts, k[s])\n")
    model = pplang.compile(src)
    assert "jnp.vectorize(lambda _pp_y0" in model.python_source
    ts, k, y0 = np.array([0.5, 1.0, 2.0]), np.array([0.3, 1.0, 2.0]), np.array([1.0, 2.0, 5.0])
    sol = trace(model, {"S": 3, "T": 3, "ts": ts.tolist(), "k": k.tolist(), "y0": y0.tolist()})["sol"]
    assert sol.shape == (3, 3, 1)
    np.testing.assert_allclose(sol[..., 0], y0[:, None] * np.exp(-k[:, None] * ts), rtol=1e-5)


def test_lotka_volterra_log_density_and_gradient():
    """The posteriordb model: its log density against SciPy's (solve_ivp + log-normal), and a
    finite gradient under jax.grad, through the solver (one compiled value_and_grad)."""
    import jax
    from numpyro.infer.util import log_density

    model = pplang.load(LV)
    data = _lv_data()
    theta, z_init, sigma = np.array([0.55, 0.028, 0.8, 0.024]), np.array([33.0, 6.0]), np.array([0.25, 0.3])
    kw = model.prepare_data(data)
    lp, grads = jax.jit(jax.value_and_grad(lambda v: log_density(model.numpyro_model, (), kw, v)[0]))(
        {"theta": theta, "z_init": z_init, "sigma": sigma})
    y, ts = np.array(data["y"]), np.array(data["ts"], float)
    z = solve_ivp(lotka_volterra(theta), (0, ts[-1]), z_init, t_eval=ts, rtol=1e-10, atol=1e-10).y.T
    expected = (stats.norm.logpdf(theta[[0, 2]], 1, 0.5).sum() + stats.norm.logpdf(theta[[1, 3]], 0.05, 0.05).sum()
                + stats.lognorm.logpdf(sigma, 1, scale=np.exp(-1)).sum()
                + stats.lognorm.logpdf(z_init, 1, scale=10).sum()
                + stats.lognorm.logpdf(data["y_init"], sigma, scale=z_init).sum()
                + stats.lognorm.logpdf(y, sigma, scale=z).sum())
    assert float(lp) == pytest.approx(expected, abs=0.05)  # the model solves with rtol 1e-5, atol 1e-3
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    assert np.abs(grads["theta"]).max() > 1


def _lv_data() -> dict:
    """The Hudson's Bay data of the conformance folder, when it is there; else a stand-in simulated
    from the same dynamics (log-normal noise around an LV solution, as the real pelts lie), so the
    residuals, and with them the effect of the solver's tolerances on the log density, are as small."""
    path = ROOT.parent / "shared" / "conformance" / "hudson_lynx_hare-lotka_volterra" / "data.json"
    if path.is_file():
        return json.loads(path.read_text())
    rng = np.random.default_rng(0)
    ts = np.arange(1, 21)
    z = solve_ivp(lotka_volterra([0.55, 0.028, 0.8, 0.024]), (0, 20), [33.0, 6.0], t_eval=ts,
                  rtol=1e-10, atol=1e-10).y.T
    return {"N": 20, "ts": ts.tolist(), "y_init": [30.0, 4.0],
            "y": (z * np.exp(rng.normal(0, 0.25, z.shape))).round(1).tolist()}


def test_a_failed_solve_is_a_non_finite_log_density_not_an_exception():
    """max_num_steps reached: NaN solution, so the (jitted) log density is not finite; the
    runtime's concrete traces (initial values, shapes) run without NumPyro's validation error."""
    src = ("def decay(t, y, k) = -k * y\ndata N: int\ndata ts: real[N]\ndata obs: real[N]\n"
           "param k: real<lower=0>\nk ~ LogNormal(0, 1)\n"
           "y = ode_rk45_tol(decay, [1], 0, ts, 1e-8, 1e-8, 3, k)\nobs[n] ~ Normal(y[n, 1], 0.1)\n")
    model = pplang.compile(src)
    data = {"N": 2, "ts": [50.0, 100.0], "obs": [0.1, 0.1]}
    assert not np.isfinite(log_joint(model, data, {"k": 5.0}, jit=True))
    shapes = model.latent_shapes(model.prepare_data(data))
    assert shapes["k"] == ()


def test_diffrax_is_imported_only_by_models_that_solve_an_ode():
    assert "diffrax" not in pplang.load(EXAMPLES / "eight_schools.ppl").python_source
    code = ("import sys, pplang\n"
            f"m = pplang.load({str(EXAMPLES / 'eight_schools.ppl')!r})\n"
            "m.numpyro_model\n"
            "assert 'diffrax' not in sys.modules, 'diffrax imported'\n"
            f"m = pplang.load({str(PK)!r})\n"
            "m.numpyro_model\n"
            "assert 'diffrax' in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert r.returncode == 0, r.stderr


def test_ode_arguments_are_checked():
    head = "def f(t, y, k) = -k * y\ndata N: int\ndata ts: real[N]\nk ~ LogNormal(0, 1)\n"
    d = diagnostic(head + "y = ode_rk45(f, [1, 2], 0, ts)\n")
    assert d.code == "bad-arguments" and "passes it t, y and the 0 argument(s) after ts" in d.message
    d = diagnostic(head + "y = ode_rk45_tol(f, [1], 0, ts, k, 1e-6, 100, k)\n")
    assert d.code == "invalid-type" and "relative tolerance" in d.message
    d = diagnostic(head + "y = ode_rk45(g, [1], 0, ts, k)\n")
    assert d.code == "bad-arguments" and "must name a function defined with `def`" in d.message
    d = diagnostic("def f(t, y) = sum(y)\ndata N: int\ndata ts: real[N]\ny = ode_bdf(f, [1, 2], 0, ts)\n")
    assert d.code == "shape-mismatch" and "must return the derivative of the state" in d.message
    d = diagnostic(head + "y = integrate_ode_rk45(f, [1], 0, ts, k)\n")
    assert d.code == "unsupported" and "ode_rk45_tol(f, y0, t0, ts, rtol, atol, max_num_steps, theta" in d.help


# ----------------------------------------------------------------------------- the everyday example


def simulate_pk(seed: int = 20241126) -> dict:
    """The data of examples/everyday/pk_one_compartment.json, from its truth (see the model's header)."""
    dose, ka, ke, V, sigma = 500.0, PK_TRUTH["ka"], PK_TRUTH["ke"], PK_TRUTH["V"], PK_TRUTH["sigma"]
    t = np.array([0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24])
    c = dose * ka / (V * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))
    conc = c * np.exp(sigma * np.random.default_rng(seed).standard_normal(len(t)))
    return {"N": len(t), "times": t.tolist(), "conc": np.round(conc, 3).tolist(), "dose": dose}


def test_pk_data_are_the_simulation_from_the_truth():
    data, simulated = json.loads(PK.with_suffix(".json").read_text()), simulate_pk()
    assert data.keys() == simulated.keys()
    for key, value in simulated.items():
        np.testing.assert_allclose(data[key], value, rtol=0, atol=1e-12)


def test_pk_log_density_against_the_closed_form():
    model = pplang.load(PK)
    data = json.loads(PK.with_suffix(".json").read_text())
    values = {"ka": 1.3, "ke": 0.1, "V": 18.0, "sigma": 0.2}
    t, conc = np.array(data["times"]), np.array(data["conc"])
    c = 500 * 1.3 / (18 * (1.3 - 0.1)) * (np.exp(-0.1 * t) - np.exp(-1.3 * t))
    expected = (stats.lognorm.logpdf(0.1, 0.5, scale=0.1) + stats.lognorm.logpdf(1.3, 1)
                + stats.lognorm.logpdf(18, 0.5, scale=20) + stats.halfnorm.logpdf(0.2, scale=0.5)
                + stats.lognorm.logpdf(conc, 0.2, scale=c).sum())
    assert log_joint(model, data, values) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_pk_posterior_recovers_the_truth():
    post = pplang.load(PK).sample(PK.with_suffix(".json"), chains=4, warmup=400, samples=400, seed=1,
                                  chain_method="vectorized", float64=True)
    assert post.num_divergences == 0
    for name, truth in PK_TRUTH.items():
        x = np.asarray(post.samples[name])
        lo, hi = np.quantile(x, [0.025, 0.975])
        assert lo < truth < hi, (name, lo, truth, hi)
    assert abs(np.mean(post.samples["ke"]) - PK_TRUTH["ke"]) < 0.15 * PK_TRUTH["ke"]
    assert abs(np.mean(post.samples["V"]) - PK_TRUTH["V"]) < 0.15 * PK_TRUTH["V"]


def test_docs_name_every_ode_solver():
    from pplang.ode import SOLVERS

    docs = (ROOT / "docs" / "language.md").read_text()
    for name in SOLVERS:
        assert f"`{name}(" in docs, name
