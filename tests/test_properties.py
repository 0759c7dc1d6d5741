"""Shape soundness and log densities, checked on random well-typed programs.

``tests/progen.py`` generates N_PROGRAMS programs (fixed seeds) with matching data, a value for
every latent and an independent reference (element-wise NumPy + scipy.stats). For each program:

1. pplang compiles it, or refuses it with located diagnostics (counted by code), never with
   another exception;
2. a trace of the model (``numpyro.handlers.trace`` + ``substitute`` with the generator's latent
   values, data from ``prepare_data``, eager, no MCMC: the trace ``log_density`` runs and returns)
   has exactly the sites the program defines, each with the shape of its static type (sample
   sites: the value and the distribution's batch + event shape), and its deterministic sites hold
   the reference values;
3. ``numpyro.infer.util.log_density`` (constrained values, no Jacobian) equals the reference log
   joint (every ``~`` statement and ``target +=``; flat parameters add 0) to 1e-6, in float64.

Failures are grouped by what went wrong; each group shows its smallest program. Reproduce one
with ``python tests/progen.py --seed S`` (source, data, latent values, expected sites and the
reference log density per statement).
"""

from __future__ import annotations

import collections
import re
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import pytest

import pplang
import progen

N_PROGRAMS = 500
FIRST_SEED = 1000
RTOL = ATOL = 1e-6

# What the generator must exercise across the N_PROGRAMS programs (tests/progen.py feature tags).
REQUIRED_FEATURES = {
    "type:real", "type:vector", "type:matrix", "type:simplex", "type:ordered", "type:positive_ordered",
    "type:cholesky_factor_corr", "bounds:lower=0", "bounds:interval", "prior:elementwise", "prior:whole",
    "dist:Exponential", "dist:Dirichlet", "dist:LKJCholesky", "undeclared-latent-indexed", "anchor-elsewhere",
    "index-data", "gather", "nested-gather", "matmul", "fn:dot_product", "define", "local", "target", "for-loop",
    "for-loop-plate", "noncentered", "derived-data", "range-index", "truncation", "mvn", "mixture", "generated",
    "flat-prior", "transpose",
}


@dataclass
class Outcome:
    seed: int
    program: progen.Program
    refused: list[str] = field(default_factory=list)  # diagnostic codes, when pplang refuses it
    compile_problems: dict[str, str] = field(default_factory=dict)  # category -> detail
    site_problems: dict[str, str] = field(default_factory=dict)
    density_problems: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.compile_problems or self.site_problems or self.density_problems)


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _message(exc: BaseException) -> str:
    """The exception's first line with numbers blanked, so that one bug makes one group."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {re.sub(r'[0-9]+', '#', text)[:120]}"


def _where(exc: BaseException, model) -> str:
    """The line of the generated NumPyro program (``model.python_source``) that raised."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<pplang:")]
    lines = model.python_source.splitlines()
    if frames and frames[-1].lineno and frames[-1].lineno <= len(lines):
        return f"\n      raised at generated line {frames[-1].lineno}: {lines[frames[-1].lineno - 1].strip()}"
    return ""


class Outcomes(list):
    def __repr__(self) -> str:  # pytest shows fixture values in tracebacks
        return f"<{len(self)} program outcomes>"


def _site_log_prob(site) -> float:
    """A sample site's log density exactly as numpyro.infer.util.log_density sums it."""
    import jax.numpy as jnp

    if site["intermediates"]:
        lp = site["fn"].log_prob(site["value"], site["intermediates"])
    else:
        lp = site["fn"].log_prob(site["value"])
    if site["scale"] is not None:
        lp = site["scale"] * lp
    return float(jnp.sum(lp))


def check_program(seed: int) -> Outcome:
    from numpyro import handlers
    from numpyro.infer.util import log_density

    prog = progen.generate(seed)
    out = Outcome(seed, prog)
    nlines = len(prog.source.splitlines())
    # 1. compile (and validate the data): a located PplangError, or a model
    try:
        model = pplang.compile(prog.source, f"seed{seed}.ppl")
        kwargs = model.prepare_data(prog.data)
        fn = model.numpyro_model
    except pplang.PplangError as exc:
        out.refused = [d.code for d in exc.diagnostics]
        for d in exc.diagnostics:
            if d.span is None or not 1 <= d.span.line <= nlines + 1:
                out.compile_problems[f"diagnostic [{d.code}] without a location in the program"] = str(d.span)
        if not exc.diagnostics:
            out.compile_problems["PplangError without diagnostics"] = str(exc)
        return out
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure being tested for
        out.compile_problems[f"compiling raised {_message(exc)}"] = repr(exc)
        return out

    # 2. trace with the generator's values. log_density runs exactly this trace,
    # trace(substitute(model, params)), and returns it: one eager run of the model serves both
    # properties (each run compiles a for loop's lax.scan afresh). Only when log_density raises is
    # the model traced on its own (seeded, so an unexpected latent site is sampled and reported).
    density_error = None
    try:
        lp, tr = log_density(fn, (), kwargs, prog.params)
        lp = float(lp)
    except Exception as exc:  # noqa: BLE001
        density_error = exc
        try:
            tr = handlers.trace(handlers.seed(handlers.substitute(fn, data=prog.params), 0)).get_trace(**kwargs)
        except Exception as exc:  # noqa: BLE001
            out.site_problems[f"tracing the model raised {_message(exc)}"] = repr(exc)[:300] + _where(exc, model)
            out.density_problems["not evaluated: tracing the model raised an exception"] = ""
            return out
    for name, site in tr.items():
        if site["type"] not in ("sample", "deterministic") or name.endswith("_decentered") or name.startswith("_pp"):
            continue
        want = prog.sites.get(name)
        if want is None:
            out.site_problems[f"unexpected {site['type']} site"] = name
            continue
        got_kind = "deterministic" if site["type"] == "deterministic" else (
            "observed" if site.get("is_observed") else "latent")
        if got_kind != want.kind:
            out.site_problems[f"{want.kind} site is {got_kind}: {want.origin}"] = name
            continue
        shapes = {"value": tuple(np.shape(site["value"]))}
        if site["type"] == "sample":
            shapes["distribution"] = tuple(site["fn"].batch_shape) + tuple(site["fn"].event_shape)
        wrong = {k: v for k, v in shapes.items() if v != want.shape}
        if wrong:
            out.site_problems[f"wrong shape of {want.kind} site, defined by: {want.origin}"] = (
                f"site {name!r}: {', '.join(f'{k} shape {v}' for k, v in wrong.items())}; "
                f"its static type is {want.shape}")
        elif name in prog.deterministic and not _close(site["value"], prog.deterministic[name]):
            out.site_problems[f"wrong value of deterministic site, defined by: {want.origin}"] = (
                f"site {name!r}: {np.round(np.asarray(site['value']), 4).tolist()}, "
                f"expected {np.round(prog.deterministic[name], 4).tolist()}")
    for name, want in prog.sites.items():
        if name not in tr:
            out.site_problems[f"missing {want.kind} site: {want.origin}"] = name

    # 3. the log joint against the reference, attributed to statements when it differs
    if density_error is not None:
        out.density_problems[f"log_density raised {_message(density_error)}"] = (
            repr(density_error)[:300] + _where(density_error, model))
        return out
    if not _close(lp, prog.log_joint):
        detail = f"log_density {lp:.8g}, reference {prog.log_joint:.8g}"
        site_lp = {n: _site_log_prob(s) for n, s in tr.items() if s["type"] == "sample"}
        blamed = []
        for term in prog.terms:
            got = sum(site_lp.pop(n, 0.0) for n in term.sites)
            if not _close(got, term.lp):
                blamed.append(f"line {term.line} `{term.src}`: {got:.8g}, expected {term.lp:.8g}")
                out.density_problems.setdefault(f"log density of: {term.kind}", "")
        extra = {n: v for n, v in site_lp.items() if v != 0.0}
        for n in extra:
            blamed.append(f"site {n!r} adds {extra[n]:.8g}")
            out.density_problems.setdefault("log density from a site no statement explains", "")
        if not blamed:
            out.density_problems.setdefault("log density (not attributable to one statement)", "")
        for key in out.density_problems:
            out.density_problems[key] = detail + "\n      " + "\n      ".join(blamed)
    return out


@pytest.fixture(scope="module")
def float64():
    """float64 for this module only; the previous settings are restored afterwards, so nothing
    leaks into other tests. Most of this module's run time is XLA compiling each new eager
    operation once, so for CI time it also compiles with jax_disable_most_optimizations and turns
    off NumPyro's argument validation (one more compiled check per argument signature). Neither
    changes a value: a distribution built with invalid arguments then shows as a wrong log density
    instead of an exception, and still fails."""
    import jax
    import numpyro

    saved = {k: bool(jax.config.read(k)) for k in ("jax_enable_x64", "jax_disable_most_optimizations")}
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        with numpyro.validation_enabled(False):
            yield
    finally:
        for k, v in saved.items():
            jax.config.update(k, v)


@pytest.fixture(scope="module")
def outcomes(float64):
    start = time.perf_counter()
    results = Outcomes(check_program(seed) for seed in range(FIRST_SEED, FIRST_SEED + N_PROGRAMS))
    elapsed = time.perf_counter() - start
    refused = collections.Counter(code for o in results for code in dict.fromkeys(o.refused))
    failed = [o for o in results if o.failed]
    print(f"\n{len(results)} generated programs in {elapsed:.1f} s: {sum(bool(o.refused) for o in results)} refused "
          f"{dict(refused)}, {len(failed)} failed")
    return results


def _report(results: list[Outcome], attr: str, what: str) -> str:
    groups: dict[str, list[Outcome]] = collections.defaultdict(list)
    for o in results:
        for key in getattr(o, attr):
            groups[key].append(o)
    failed = {o.seed for o in results if getattr(o, attr)}
    lines = [f"{len(failed)} of {len(results)} programs: {what}"]
    for key, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        small = min(group, key=lambda o: (len(o.program.source.splitlines()), o.seed))
        seeds = ", ".join(str(o.seed) for o in group[:8]) + (", ..." if len(group) > 8 else "")
        lines += [f"\n[{len(group)}] {key}", f"    seeds: {seeds}",
                  f"    smallest: seed {small.seed}: {getattr(small, attr)[key]}",
                  "    " + small.program.source.rstrip().replace("\n", "\n    ")]
    return "\n".join(lines)


def test_refusals_are_located_diagnostics(outcomes):
    """A program pplang refuses is refused with a PplangError whose diagnostics have a line."""
    failing = sum(bool(o.compile_problems) for o in outcomes)
    assert failing == 0, _report(outcomes, "compile_problems", "not refused with located diagnostics")


def test_sites_have_their_static_shapes(outcomes):
    failing = sum(bool(o.site_problems) for o in outcomes)
    assert failing == 0, _report(outcomes, "site_problems", "sites differ from the program's static types")


def test_log_density_matches_reference(outcomes):
    failing = sum(bool(o.density_problems) for o in outcomes)
    assert failing == 0, _report(outcomes, "density_problems", "log density differs from the scipy reference")


def test_generator_covers_the_language(outcomes):
    """The programs exercise every construct the properties are about, and most are accepted (so
    the properties above are not vacuous)."""
    seen = set().union(*(o.program.features for o in outcomes))
    assert REQUIRED_FEATURES <= seen, sorted(REQUIRED_FEATURES - seen)
    accepted = sum(not o.refused for o in outcomes)
    assert accepted >= 0.9 * len(outcomes), f"only {accepted} of {len(outcomes)} generated programs compile"


def test_generator_is_deterministic():
    for seed in (FIRST_SEED, FIRST_SEED + 17):
        a, b = progen.generate(seed), progen.generate(seed)
        assert a.source == b.source and a.log_joint == b.log_joint
        assert a.data.keys() == b.data.keys() and all(np.array_equal(a.data[k], b.data[k]) for k in a.data)
        assert a.params.keys() == b.params.keys() and all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert progen.generate(FIRST_SEED).source != progen.generate(FIRST_SEED + 1).source


def test_cli_shows_a_program(capsys):
    progen.main(["--seed", str(FIRST_SEED), "--show", "2"])
    out = capsys.readouterr().out
    assert out.count("# seed ") == 2 and progen.generate(FIRST_SEED).source.rstrip() in out
    assert "# data" in out and "= log joint" in out
