"""Regressions for the typed core: programs pplang accepts mean exactly what they say.

Each test is one defect from the typed-core issue, seen as a user sees it: the trace's site shapes,
the log density against scipy, the generated code's behaviour, or the located message.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import pplang
from pplang import PplangError
from pplang.spec import Method, Role


@pytest.fixture
def x64():
    from pplang.runtime import precision

    with precision(float64=True):  # scoped: JAX's process-wide flag is left alone
        yield


def trace(model, data, values=None):
    """Site shapes (model variables only) and the log joint at ``values``."""
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_uniform
    from numpyro.infer.util import log_density

    kw = model.prepare_data(data)
    seeded = handlers.seed(model.numpyro_model, 0)
    tr = handlers.trace(handlers.substitute(seeded, substitute_fn=init_to_uniform)).get_trace(**kw)
    shapes = {k: np.shape(s["value"]) for k, s in tr.items() if s["type"] == "sample" and not k.startswith("_pp")}
    ld = float(log_density(model.numpyro_model, (), kw, values)[0]) if values is not None else None
    return shapes, ld


@pytest.mark.parametrize("container, prior, value, ref", [
    ("positive_ordered", "Exponential(1)", [0.5, 1.0, 2.0], lambda v: stats.expon.logpdf(v).sum()),
    ("ordered", "Normal(0, 5)", [-1.0, 0.5, 2.0], lambda v: stats.norm(0, 5).logpdf(v).sum()),
    ("simplex", "Gamma(2, 1)", [0.2, 0.3, 0.5], lambda v: stats.gamma(2).logpdf(v).sum()),
])
def test_whole_vector_prior_on_a_constrained_vector(container, prior, value, ref, x64):
    """`mu ~ Exponential(1)` on a positive_ordered[K] sampled a K x K matrix."""
    model = pplang.compile(f"data K: int\nparam mu: {container}[K]\nmu ~ {prior}\n")
    shapes, ld = trace(model, {"K": 3}, {"mu": np.array(value)})
    assert shapes == {"mu": (3,)}
    assert ld == pytest.approx(ref(np.array(value)), abs=1e-9)
    # one prior for every element of an ordered vector: its order statistics, drawable (test_ordered_priors)
    assert model.spec.sites()[0].method is (Method.FLAT if container == "simplex" else Method.SORTED)


def test_elementwise_prior_on_an_ordered_vector(x64):
    """`c[k] ~ Normal(0, 5)` on an ordered vector died with AssertionError."""
    model = pplang.compile("data K: int\nparam c: ordered[K]\nc[k] ~ Normal(k, 5)\n")
    c = np.array([-1.0, 0.5, 2.0])
    shapes, ld = trace(model, {"K": 3}, {"c": c})
    assert shapes == {"c": (3,)}
    assert ld == pytest.approx(stats.norm(np.arange(1, 4), 5).logpdf(c).sum(), abs=1e-9)


def test_poisson_log_is_poisson_with_log_rate(x64):
    """PoissonLog passed check, then failed at run time (NumPyro has no PoissonLog)."""
    model = pplang.compile("data N: int\ndata y: int[N]\na ~ Normal(0, 1)\ny[i] ~ PoissonLog(a)\n"
                           "target += poisson_log_lpmf(y[1] | a)\n")
    _, ld = trace(model, {"N": 3, "y": [1, 2, 3]}, {"a": 0.3})
    rate = np.exp(0.3)
    want = stats.norm.logpdf(0.3) + stats.poisson(rate).logpmf([1, 2, 3]).sum() + stats.poisson(rate).logpmf(1)
    assert ld == pytest.approx(want, abs=1e-9)


def test_matrix_times_plate_indexed_row(x64):
    """`L @ z[j]` with z: matrix[J, 2] compiled to `L @ z` and failed in dot_general."""
    from numpyro.infer import Predictive
    import jax

    model = pplang.compile("data J: int\nparam L: matrix[2, 2]\nparam z: matrix[J, 2]\nL[a, b] ~ Normal(0, 1)\n"
                           "z[j, k] ~ Normal(0, 1)\nb[j] = L @ z[j]\n")
    draws = Predictive(model.numpyro_model, num_samples=2)(jax.random.PRNGKey(0), **model.prepare_data({"J": 4}))
    L, z, b = (np.asarray(draws[k]) for k in ("L", "z", "b"))
    assert b.shape == (2, 4, 2)
    np.testing.assert_allclose(b, np.einsum("sik,sjk->sji", L, z), rtol=1e-12)


def test_index_range_from_a_later_left_side():
    """`z[n] ~ ...` then `y[n] ~ Normal(z[n], 1)` (y declared) was refused as unbound-index."""
    model = pplang.compile("data J: int\ndata y: real[J]\nz[n] ~ Normal(0, 1)\ny[n] ~ Normal(z[n], 1)\n")
    assert model.spec.symbols["z"].type.shape == (pplang.ir.Name("J"),)


def test_a_definition_can_be_given_a_size(x64):
    """A deterministic or local could not be given a size; the hint said to declare it, which was
    a duplicate-definition."""
    with pytest.raises(PplangError) as exc:
        pplang.compile("data J: int\nmu ~ Normal(0, 1)\nx[n] = mu * n\n")
    (d,) = exc.value.diagnostics
    assert d.code == "unbound-index" and "x[n]: real[J] = ..." in d.help
    model = pplang.compile("data J: int\nmu ~ Normal(0, 1)\nx[n]: real[J] = mu * n\nlocal w: vector[J] = x * 2\n"
                           "s = sum(w)\n")
    from numpyro.infer import Predictive
    import jax

    draws = Predictive(model.numpyro_model, num_samples=3)(jax.random.PRNGKey(1), J=3)
    np.testing.assert_allclose(draws["x"], draws["mu"][:, None] * np.arange(1, 4))
    np.testing.assert_allclose(draws["s"], 12 * draws["mu"])
    assert model.spec.symbols["w"].role is Role.LOCAL and "w" not in draws


def _hier(codes, G=5, declared=False):
    src = ("data N: int\ndata G: int\ndata group: int[N]\ndata y: int[N]\nmu_a ~ Normal(0, 1)\n"
           + ("param a: real[G]\n" if declared else "") + "a[i] ~ Normal(mu_a, 1)\n"
           "y[i] ~ BernoulliLogit(a[group[i]])\n")
    data = {"N": len(codes), "G": G, "group": list(codes), "y": [0, 1] * (len(codes) // 2)}
    return pplang.compile(src), data


def test_zero_based_index_data_is_refused_with_a_hint():
    """0-based codes wrapped to the last group; codes above G were clamped to it."""
    model, data = _hier([0, 1, 2, 3, 4, 0], declared=True)
    with pytest.raises(PplangError) as exc:
        model.prepare_data(data)
    (d,) = exc.value.diagnostics
    assert d.code == "index-out-of-range" and (d.span.line, d.span.column) == (8, 23)
    assert 'group[1] = 0 is outside 1..5' in d.message and "0-based" in d.help
    model, data = _hier([1, 2, 7, 3, 4, 5], declared=True)
    with pytest.raises(PplangError) as exc:
        model.prepare_data(data)
    assert "group[3] = 7 is outside 1..5" in exc.value.diagnostics[0].message
    model, data = _hier([1, 2, 3, 4, 5, 1], declared=True)
    model.prepare_data(data)
    assert not model.data_warnings


def test_unread_parameter_elements_are_warned():
    """`a[i] ~ ...` next to `a[group[i]]` gave `a` N elements, N - G of them never used, silently."""
    model, data = _hier([1, 2, 3, 4, 5, 1, 2, 3])
    model.prepare_data(data)
    (w,) = model.data_warnings
    assert w.code == "unused-elements" and '"a" has 8 elements but the model reads only 5' in w.message


def test_check_with_data_runs_the_data_checks_without_jax(tmp_path):
    model, data = _hier([0, 1, 2, 3, 4, 0], declared=True)
    (tmp_path / "m.ppl").write_text(model.source)
    (tmp_path / "d.json").write_text(json.dumps(data))
    code = ("import sys, pplang.cli as c\nrc = c.main(['check', sys.argv[1], '--data', sys.argv[2]])\n"
            "assert 'jax' not in sys.modules, 'check imported JAX'\nsys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.ppl"), str(tmp_path / "d.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "error[index-out-of-range]" in r.stderr and "Traceback" not in r.stderr


def test_file_name_never_reaches_code(tmp_path):
    """A model file name holding a newline put code into the generated module."""
    model = pplang.compile("x ~ Normal(0, 1)\n", path="evil\nimport os; os._exit(3)\n.ppl")
    lines = model.python_source.splitlines()
    assert lines[0].startswith("# Generated by pplang from evil\\nimport os")
    assert not any(line.startswith("import os") for line in lines)
    compile(model.python_source, "<check>", "exec")


def test_spec_dump_and_roles():
    model = pplang.load(pplang.compiler.Path(__file__).resolve().parent.parent / "examples" / "eight_schools.ppl")
    text = pplang.spec.dump(model.spec)
    assert "site theta (latent) ~ Normal" in text and "reparam: noncentered" in text
    assert model.spec.symbols["y"].observed and model.spec.symbols["tau"].type.constraint == "positive"
    assert [s.name for s in model.spec.symbols.values() if s.role is Role.LATENT] == ["mu", "tau", "theta"]
    # the symbol table records uses: sigma is read on line 10
    assert [r.line for r in model.spec.symbols["sigma"].refs] == [10]


def test_one_bad_definition_gives_one_error():
    with pytest.raises(PplangError) as exc:
        pplang.compile("mu ~ Normall(0, 1)\ny = mu + 1\nz = 2 * mu\n")
    assert [d.code for d in exc.value.diagnostics] == ["unknown-distribution"]


@pytest.mark.parametrize("decl, stmt, method, dist_name, value, ref", [
    ("param s: real", "s ~ Normal(1, 2)", Method.PLAIN, "Normal", 0.7, stats.norm(1, 2).logpdf(0.7)),
    ("param s: real<lower=0>", "s ~ Normal(0, 2)", Method.HALF, "HalfNormal", 0.7, stats.halfnorm(0, 2).logpdf(0.7)),
    ("param s: real<lower=0>", "s ~ Normal(1, 2)", Method.TRUNCATED, "TruncatedNormal", 0.7,
     stats.truncnorm((0 - 1) / 2, np.inf, 1, 2).logpdf(0.7)),
    ("param s: real<lower=1>", "s ~ Gamma(2, 1)", Method.FLAT, "ImproperUniform", 1.7,
     stats.gamma(2).logpdf(1.7)),
])
def test_each_lowering_method(decl, stmt, method, dist_name, value, ref, x64):
    """Every lowering method reaches the generated code (the site's distribution type) and gives
    the density the language defines (FLAT: the prior's density, not renormalised, as Stan)."""
    from numpyro import handlers

    model = pplang.compile(f"{decl}\n{stmt}\n")
    (site,) = model.spec.sites()
    assert site.method is method
    tr = handlers.trace(handlers.substitute(handlers.seed(model.numpyro_model, 0), {"s": value})).get_trace()
    fn = tr["s"]["fn"]
    names = {type(fn).__name__, type(getattr(fn, "base_dist", fn)).__name__}
    assert dist_name in names or dist_name == "TruncatedNormal" and "LeftTruncatedDistribution" in names
    _, ld = trace(model, {}, {"s": np.array(value)})
    assert ld == pytest.approx(ref, abs=1e-9)


def test_text_is_normalised_for_every_entry_point(tmp_path):
    """A lone \\r and a byte-order mark were treated differently by compile() and load()."""
    text = "\ufeffmu ~ Normal(0, 1)\r\nsigma ~ HalfNormal(1)\ry = mu\n"
    (tmp_path / "m.ppl").write_bytes(text.encode())
    a, b = pplang.compile(text), pplang.load(tmp_path / "m.ppl")
    assert a.spec.reported == b.spec.reported == ["mu", "sigma", "y"]


def test_invalid_utf8_is_a_located_syntax_error(tmp_path):
    (tmp_path / "m.ppl").write_bytes(b"mu ~ Normal(0, 1)\nx = 1 # caf\xe9\n")
    with pytest.raises(PplangError) as exc:
        pplang.load(tmp_path / "m.ppl")
    (d,) = exc.value.diagnostics
    assert d.code == "syntax-error" and (d.span.line, d.span.column) == (2, 12) and "UTF-8" in d.message


def test_huge_loop_start_is_not_materialised():
    """`for t in 100000000:T` built a Python list of the range in check (50 s, 4 GB)."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(PplangError) as exc:
        pplang.compile("data T: int\nfor t in 100000000:T {\n  x[t] = t\n}\n")
    assert time.perf_counter() - t0 < 5 and exc.value.diagnostics[0].code == "unsupported"


def test_check_time_is_linear_in_statements():
    """check time grew quadratically in the number of latents whose range is inferred."""
    import time

    def seconds(n):
        """CPU seconds of this process (not wall time, which other processes on a shared machine
        inflate at random), the least of three compilations."""
        src = "data N: int\ndata x: real[N]\n" + "".join(f"z{i}[n] ~ Normal(x[n], 1)\n" for i in range(n))
        times = []
        for _ in range(3):
            t0 = time.process_time()
            pplang.compile(src)
            times.append(time.process_time() - t0)
        return min(times)

    small, large = seconds(300), seconds(3000)
    assert large < 35 * small  # linear: ~10x; quadratic would be ~100x


def test_decentered_name_clash_is_refused():
    with pytest.raises(PplangError) as exc:
        pplang.compile("data J: int\ndata y: real[J]\ntheta_decentered ~ Normal(0, 1)\nmu ~ Normal(0, 1)\n"
                       "theta[j] ~ Normal(mu, 1) noncentered\ny[j] ~ Normal(theta[j], 1)\n")
    assert [d.code for d in exc.value.diagnostics] == ["reserved-name"]


def test_too_many_plates_is_a_located_error():
    idx = ", ".join(f"i{k}" for k in range(40))
    with pytest.raises(PplangError) as exc:
        pplang.compile(f"data N: int\nparam a: real[{', '.join(['N'] * 40)}]\na[{idx}] ~ Normal(0, 1)\n")
    assert exc.value.diagnostics[0].code == "unsupported" and exc.value.diagnostics[0].span.line == 3


def test_an_empty_index_set_is_a_data_error():
    """A size of 0 reached NumPyro as `AssertionError: size of plate should be positive`."""
    model = pplang.compile("data J: int\ndata y: real[J]\nmu ~ Normal(0, 1)\ny[j] ~ Normal(mu, 1)\n")
    with pytest.raises(PplangError) as exc:
        model.prepare_data({"J": 0, "y": []})
    (d,) = exc.value.diagnostics
    assert d.code == "data-shape" and d.span.line == 4 and "J is 0" in d.message
