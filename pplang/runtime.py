"""Runtime: data validation, executing the generated module, NUTS/MCMC, and results.

JAX and NumPyro are imported only here, and only when a model is actually run, so ``pplang
check`` and ``pplang compile`` stay fast.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import ir
from .spec import Role, Spec
from .diagnostics import Diagnostic, InternalError, PplangError, exception_text
from .lower_numpyro import Lowered
from .settings import CHAIN_METHODS, DEFAULTS, SamplerSettings  # noqa: F401 - CHAIN_METHODS re-exported

DECENTERED = "_decentered"  # NumPyro's auxiliary site of a LocScaleReparam: theta -> theta_decentered
# NUTS statistics kept per draw (ArviZ's sample_stats); collecting them does not change the draws
EXTRA_FIELDS = ("diverging", "num_steps", "energy", "potential_energy", "accept_prob", "adapt_state.step_size")


# ----------------------------------------------------------------------------- data


def read_data_file(path: str | Path) -> dict:
    """Read a JSON data file (the format Stan and posteriordb use)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PplangError([Diagnostic("data-file", f"cannot read data file {path}: {exc.strerror}",
                                      file=str(path))]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        span = ir.Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1)
        raise PplangError([Diagnostic("data-file", f"invalid JSON: {exc.msg}", span, file=str(path))],
                          source=text) from None
    if not isinstance(data, dict):
        raise PplangError([Diagnostic("data-file", "the data file must hold a JSON object", file=str(path))])
    return data


def const_eval(e: ir.Expr, values: dict[str, Any]):
    """Evaluate a size or bound expression over data values (literals, names, arithmetic,
    constant indexing)."""
    match e:
        case ir.Num(value=v, is_int=is_int):
            return int(v) if is_int else v
        case ir.Name(id=name):
            return values[name]
        case ir.Neg(operand=a):
            return -const_eval(a, values)
        case ir.BinOp(op=op, left=a, right=b):
            x, y = const_eval(a, values), const_eval(b, values)
            ops = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                   "^": lambda: x ** y}
            if op in ops:
                return ops[op]()
        case ir.Index(base=base, indices=idx):
            arr = np.asarray(values[base.id])
            return arr[tuple(int(const_eval(i, values)) - 1 for i in idx)]
        case ir.Call(func="sqrt", args=(a,)):
            return math.sqrt(const_eval(a, values))
    raise PplangError([Diagnostic("unsupported", "this size or bound expression cannot be evaluated before sampling",
                                  e.span)])


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "[" + ",".join(str(i + 1) for i in idx) + "]"


def prepare_data(spec: Spec, raw: dict, data_file: str | None = None) -> tuple[dict, list[Diagnostic]]:
    """Validate ``raw`` against the data declarations and convert it to arrays.

    Returns the values for the model (declared data only, ints as Python ints for sizes) and the
    warnings (extra fields). Raises :class:`PplangError` listing every problem found.
    """
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    values: dict[str, Any] = {}

    def fail(code, msg, decl, help=None):
        errors.append(Diagnostic(code, msg + (f" (in {data_file})" if data_file else ""), decl.span, help))

    for sym in spec.of_role(Role.DATA):
        decl = sym
        name = sym.name
        if name not in raw:
            fail("missing-data", f'the data has no field "{name}"', decl)
            continue
        try:
            arr = np.asarray(raw[name])
        except ValueError:
            fail("data-shape", f'"{name}" is a ragged list; expected a regular array', decl)
            continue
        if arr.dtype == bool:
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "O" and np.any(np.equal(arr, None)):
            fail("missing-value", f'"{name}" has missing values (null) at '
                 f"{name}{_fmt_index(tuple(np.argwhere(np.equal(arr, None))[0]))}", decl,
                 "missing values are imputed when the model is sampled (`pplang run`, Model.sample), not here")
            continue
        if arr.dtype.kind not in "iuf":
            fail("data-type", f'"{name}" must hold numbers, got {type(raw[name]).__name__}', decl)
            continue
        try:
            shape = tuple(int(const_eval(d, values)) for d in sym.type.shape)
        except (KeyError, PplangError, TypeError, ValueError):
            fail("data-shape", f'cannot work out the declared size of "{name}"', decl)
            continue
        if arr.shape != shape and not (arr.shape == () and shape == (1,)):
            want = "a single number" if not shape else f"shape ({', '.join(map(str, shape))})"
            got = "a single number" if not arr.shape else f"shape ({', '.join(map(str, arr.shape))})"
            fail("data-shape", f'"{name}" should be {want}, got {got}', decl)
            continue
        arr = arr.reshape(shape)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = tuple(np.argwhere(~np.isfinite(arr))[0]) if arr.shape else ()
            fail("data-not-finite", f'"{name}{_fmt_index(bad) if bad else ""}" is {arr[bad]} (write null for a '
                 "missing value)", decl, "NaN and infinity are not data: a missing value is JSON's null, which "
                 "pplang imputes when the model gives the data a distribution")
            continue
        if sym.type.elem == "int":
            if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
                bad = tuple(np.argwhere(arr != np.round(arr))[0]) if arr.shape else ()
                fail("data-type", f'"{name}" is declared int but {name}{_fmt_index(bad) if bad else ""} = '
                     f"{arr[bad]} is not a whole number", decl)
                continue
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float64)
        for kind, bound in (("lower", sym.type.lower), ("upper", sym.type.upper)):
            if bound is None:
                continue
            limit = const_eval(bound.node, values)
            ok = arr >= limit if kind == "lower" else arr <= limit
            if not np.all(ok):
                bad = tuple(np.argwhere(~np.asarray(ok))[0]) if arr.shape else ()
                rel = ">=" if kind == "lower" else "<="
                fail("data-constraint", f'"{name}{_fmt_index(bad) if bad else ""}" = {arr[bad]} breaks the '
                     f"declared bound {kind}={limit} (must be {rel} {limit})", decl)
                break
        values[name] = int(arr) if (sym.type.elem == "int" and arr.shape == ()) else (
            float(arr) if arr.shape == () else arr)
    if not errors:
        for chk in spec.size_checks:
            try:
                a, b = const_eval(chk.left, values), const_eval(chk.right, values)
            except (KeyError, PplangError):
                continue
            if int(a) != int(b):
                errors.append(Diagnostic("shape-mismatch", f"sizes differ with this data: {a} vs {b} ({chk.what})",
                                         chk.span))
    if not errors:
        from .datacheck import check_index_uses, check_plate_sizes

        errors += check_plate_sizes(spec, lambda e: const_eval(e, values))
        bad_index, unread = check_index_uses(spec, values, lambda e: const_eval(e, values)) if not errors else ([], [])
        errors += bad_index
        warnings += unread
    declared = {s.name for s in spec.of_role(Role.DATA)}
    for extra in sorted(set(raw) - declared):
        warnings.append(Diagnostic("data-file", f'the data field "{extra}" is not declared in the model and is ignored',
                                   severity="warning", file=data_file))
    if errors:
        raise PplangError(errors, warnings=warnings)
    return values, warnings


# ----------------------------------------------------------------------------- results


def flat_names(name: str, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """``theta`` of shape (2,) -> [("theta[1]", (0,)), ("theta[2]", (1,))]; matrices as x[1,2]."""
    if not shape:
        return [(name, ())]
    return [(name + _fmt_index(idx), idx) for idx in np.ndindex(*shape)]


def precision(float64: bool):
    """A context in which JAX computes in double precision when ``float64``. Scoped: JAX's
    process-wide ``jax_enable_x64`` flag is left as it was."""
    import contextlib

    if not float64:
        return contextlib.nullcontext()
    import jax

    scoped = getattr(jax, "enable_x64", None)  # a configuration context in current JAX
    if scoped is None:  # older JAX
        from jax.experimental import enable_x64 as scoped
    return scoped(True)


def _flatten_chains(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.reshape((-1,) + v.shape[2:]) for k, v in arrays.items()}


@dataclass
class Posterior:
    """The result of :meth:`Model.sample`: ``mcmc`` (the numpyro.infer.MCMC), ``samples`` (dict of
    arrays, chains concatenated), ``reported`` (names shown in summaries), ``settings`` (the
    :class:`~pplang.settings.SamplerSettings` it ran with) and ``init`` (the initial values given,
    if any). ``model``, ``data`` (the model's keyword arguments) and ``data_file`` let it draw
    replicated data (:meth:`predictive`), predict on new data (:meth:`predict`) and build an ArviZ
    InferenceData (:meth:`to_arviz`, :meth:`save`)."""

    mcmc: Any
    reported: list[str]
    num_chains: int
    num_samples: int
    num_warmup: int
    seed: int
    chain_method: str
    timing: dict[str, float] = field(default_factory=dict)
    model: Any = None
    data: dict = field(default_factory=dict)
    data_file: str | None = None
    settings: SamplerSettings = DEFAULTS
    init: dict | None = None
    _predictive: dict | None = field(default=None, repr=False)
    _generated: dict | None = field(default=None, repr=False)
    _statistics: dict | None = field(default=None, repr=False)
    # enumerated discrete latents (pplang.discrete): draws, probabilities, values, recomputed deterministics
    discrete: dict | None = field(default=None, repr=False)
    # imputed missing data (pplang.missing): element name ("y[4]") -> (chains, draws)
    imputed: dict | None = field(default=None, repr=False)

    @property
    def settings_record(self) -> dict[str, Any]:
        """The settings as stored with a fit (``settings`` attr): every sampler setting, and the
        initial values when some were given."""
        init = {"init": {k: np.asarray(v).tolist() for k, v in self.init.items()}} if self.init else {}
        return {**self.settings.as_dict(), **init}

    @property
    def samples(self) -> dict[str, np.ndarray]:
        return _flatten_chains(self.grouped_samples)

    @property
    def grouped_samples(self) -> dict[str, np.ndarray]:
        """The draws with a leading chain axis: name -> array (chains, samples, ...); enumerated
        discrete latents by their draws from the conditional posterior."""
        out = {k: np.asarray(v) for k, v in self.mcmc.get_samples(group_by_chain=True).items()}
        if self.discrete:
            out.update(self.discrete["draws"])
            out.update(self.discrete["deterministic"])
        return out

    @property
    def num_divergences(self) -> int:
        return int(np.sum(np.asarray(self.mcmc.get_extra_fields()["diverging"])))

    def predictive(self, *, grouped: bool = False) -> dict[str, np.ndarray]:
        """Replicated data: one draw of every observed quantity per posterior draw, under the
        observed statement's name (``y``), as ArviZ's posterior_predictive group. Shapes are
        (chains * samples, ...) like :attr:`samples`, or (chains, samples, ...) when ``grouped``.
        The draws use ``jax.random.fold_in(jax.random.PRNGKey(seed), 1)``."""
        if self._predictive is None:
            with self._precision():
                self._predictive = self.model.replicate(self.grouped_samples, self.data, seed=self.seed)
        return self._predictive if grouped else _flatten_chains(self._predictive)

    def generated(self, *, grouped: bool = False) -> dict[str, np.ndarray]:
        """The generated quantities (``generated`` statements), computed once per posterior draw
        after sampling: name -> (chains * samples, ...) like :attr:`samples`, or (chains, samples,
        ...) when ``grouped``; empty when the model has none. ``~`` statements draw with the key
        ``jax.random.fold_in(jax.random.PRNGKey(seed), 2)``."""
        if self._generated is None:
            with self._precision():
                self._generated = self.model.generate(self.grouped_samples, self.data, seed=self.seed)
        return self._generated if grouped else _flatten_chains(self._generated)

    def log_likelihood(self) -> dict[str, np.ndarray]:
        """log p(y_i | draw) for every observation: name -> array (chains, samples, *obs shape)."""
        with self._precision():
            return self.model.log_likelihood(self.grouped_samples, self.data)

    def predict(self, data: dict | str | Path, *, seed: int | None = None, grouped: bool = False,
                data_file: str | None = None) -> dict[str, np.ndarray]:
        """Predict on new data without refitting: see :meth:`Model.predict`."""
        with self._precision():
            out = self.model.predict(self.grouped_samples, data, seed=self.seed if seed is None else seed,
                                     data_file=data_file)
        return out if grouped else _flatten_chains(out)

    def _precision(self):
        """Computations on the draws run in the precision they were sampled in."""
        return precision(self.settings.float64)

    def sample_stats(self) -> dict[str, np.ndarray]:
        """NUTS's per-draw statistics, (chains, samples) each, with ArviZ's names."""
        extra = {k: np.asarray(v) for k, v in self.mcmc.get_extra_fields(group_by_chain=True).items()}
        stats = {"diverging": extra["diverging"].astype(bool)}
        if "num_steps" in extra:
            stats["n_steps"] = extra["num_steps"]
            stats["tree_depth"] = (np.log2(np.maximum(extra["num_steps"], 1)).astype(np.int64) + 1)
        renames = {"energy": "energy", "potential_energy": "lp", "accept_prob": "acceptance_rate",
                   "adapt_state.step_size": "step_size"}
        for src, dst in renames.items():
            if src in extra:
                stats[dst] = -extra[src] if src == "potential_energy" else extra[src]
        return stats

    def to_arviz(self, *, predictive: bool | None = None, prior: dict | None = None):
        """An ``arviz.InferenceData`` with the groups posterior, sample_stats, log_likelihood,
        observed_data, constant_data, posterior_predictive (when ``predictive``; by default when
        the model allows replicated data) and prior / prior_predictive (when ``prior``, a dict
        from :meth:`Model.prior_predictive`, is given)."""
        from .results import posterior_to_arviz

        if predictive is None:
            try:
                self.model._check_replicable()
                predictive = True
            except PplangError:
                predictive = False
        return posterior_to_arviz(self, predictive=predictive, prior=prior)

    def save(self, path: str | Path, *, predictive: bool = False, prior: dict | None = None) -> Path:
        """Write the draws: ``.nc`` an ArviZ netCDF file, ``.csv`` one column per quantity."""
        from .results import save_posterior

        return save_posterior(self, Path(path), predictive=predictive, prior=prior)

    def statistics(self) -> dict[str, dict[str, float | None]]:
        """Per element (``theta[1]``) of every reported and generated quantity: ``mean``, ``sd``,
        ``median``, ``q5`` and ``q95`` (quantiles of all draws), ``r_hat`` (rank-normalised split
        R-hat), ``ess_bulk`` and ``ess_tail`` (:func:`pplang.convergence.summarize`), computed once;
        None where a number cannot be computed (R-hat from one chain). The warnings of
        :mod:`pplang.advice` read these same numbers."""
        if self._statistics is None:
            from .convergence import summarize

            grouped = self.grouped_samples
            names = list(self.reported)
            if self.model is not None:
                grouped.update(self.generated(grouped=True))
                names += self.model.generated_names
            rows: dict[str, dict[str, float | None]] = {}
            for name in names:
                if name not in grouped:
                    continue
                stats = summarize(grouped[name])
                for flat, idx in flat_names(name, np.shape(grouped[name])[2:]):
                    rows[flat] = {k: _finite_or_none(v[idx]) for k, v in stats.items()}
            for flat, draws in (getattr(self, "imputed", None) or {}).items():  # missing data, by element name
                stats = summarize(draws)
                rows[flat] = {k: _finite_or_none(v) for k, v in stats.items()}
            self._statistics = rows
        return self._statistics

    def summary(self, vars: list[str] | None = None) -> dict:
        """The same dictionary that ``pplang run --json`` prints; ``vars`` keeps the rows of
        those quantities (``theta``: every element; ``theta[3]``: one)."""
        rows = dict(self.statistics())
        if vars:
            rows = {k: rows[k] for k in select_rows(vars, rows, self.reported + (
                self.model.generated_names if self.model is not None else []))}
        notes = []
        if self.num_chains < 2:
            notes.append("R-hat cannot be computed from one chain (it compares chains): run 2 or more chains")
        extra = {}
        if self.discrete:
            from .discrete import summary_block

            extra["discrete"] = summary_block(self)
        if self.model is not None and self.model.spec.missing:
            from .missing import imputed_note

            notes += imputed_note(self.model)
        out = {
            "parameters": rows,
            "num_divergences": self.num_divergences,
            "num_chains": self.num_chains,
            "num_samples": self.num_samples,
            "num_warmup": self.num_warmup,
            "seed": self.seed,
            "chain_method": self.chain_method,
            "settings": self.settings_record,
            "notes": notes,
            "timing": self.timing,
            **extra,
        }
        if self.model is not None and self.model.spec.auto:
            from .autoreparam import record

            out["reparam"] = record(self.model.spec)  # what `auto` chose, per site
        return out


def _finite_or_none(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _element_base(name: str) -> str:
    return name.split("[", 1)[0].strip()


def check_vars(vars: list[str], names: list[str]) -> None:
    """Refuse ``--vars`` entries whose quantity (``theta`` of ``theta[3]``) is not one of ``names``
    (the reported and generated quantities): before sampling, so a typo costs nothing."""
    errors = []
    for v in vars:
        base = _element_base(v)
        if base not in names:
            match = difflib.get_close_matches(base, names, n=1)
            errors.append(Diagnostic("unknown-var", f'--vars: the model reports no quantity "{base}"',
                                     help=(f'did you mean "{match[0]}"? ' if match else "")
                                     + f"the quantities are {', '.join(names)}"))
    if errors:
        raise PplangError(errors)


def select_rows(vars: list[str], rows: dict, names: list[str]) -> list[str]:
    """The summary rows that ``vars`` names, in the order given: a quantity's name keeps all its
    elements, an element name (``theta[3]``; spaces ignored) keeps that one."""
    check_vars(vars, names)
    keep: list[str] = []
    for v in vars:
        v = v.replace(" ", "")
        hit = [k for k in rows if k == v or _element_base(k) == v]
        if not hit:
            elements = [k for k in rows if _element_base(k) == _element_base(v)]
            raise PplangError([Diagnostic("unknown-var", f"--vars: the summary has no element {v}", help=(
                f"the elements are {elements[0]} ... {elements[-1]} (1-based)" if elements else None))])
        keep += hit
    return list(dict.fromkeys(keep))


def format_summary(summary: dict) -> str:
    """The summary as a table: the seed tutorial's first columns, then ArviZ's diagnostics (the
    ones the warnings use); ``-`` where a number cannot be computed."""
    params = summary["parameters"]
    width = max([len(k) for k in params] + [4])
    cols = ["mean", "std", "median", "5.0%", "95.0%", "ess_bulk", "ess_tail", "r_hat"]
    keys = ["mean", "sd", "median", "q5", "q95", "ess_bulk", "ess_tail", "r_hat"]
    digits = {"ess_bulk": 0, "ess_tail": 0, "r_hat": 3}
    lines = [" " * (width + 2) + "".join(f"{c:>10}" for c in cols)]
    for name, s in params.items():
        row = "".join(f"{'-':>10}" if s[k] is None else f"{s[k]:>10.{digits.get(k, 2)}f}" for k in keys)
        lines.append(f"{name:>{width + 2}}{row}")
    lines.append("")
    if summary.get("discrete"):
        from .discrete import format_block

        lines += [format_block(summary["discrete"]), ""]
    lines.append(f"Number of divergences: {summary['num_divergences']}")
    lines.extend(f"Parameterisation (auto): {r['summary']}" for r in summary.get("reparam", {}).values())
    lines.extend(f"Note: {note}" for note in summary.get("notes", []))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the model


def _flat_prior_site(exc: BaseException) -> str | None:
    """The name of the site whose flat prior raised ``exc``: NumPyro's ImproperUniform (a
    ``param`` without a ``~`` statement) has a density but no sampler, so drawing from the prior
    raises a bare NotImplementedError. None when ``exc`` is something else."""
    if not isinstance(exc, NotImplementedError):
        return None
    from numpyro.distributions import ImproperUniform

    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    if not frames or not isinstance(frames[-1].f_locals.get("self"), ImproperUniform):
        return None
    for frame in reversed(frames):  # numpyro.sample(name, fn): the innermost call that drew it
        if (frame.f_globals.get("__name__") == "numpyro.primitives" and frame.f_code.co_name == "sample"
                and isinstance(frame.f_locals.get("fn"), ImproperUniform)):
            return str(frame.f_locals.get("name"))
    return None


def _without(spec: Spec, names: set[str]) -> Spec:
    """A view of ``spec`` whose data declarations exclude ``names`` (for prior predictive)."""
    import copy

    view = copy.copy(spec)
    view.symbols = {k: v for k, v in spec.symbols.items() if k not in names}
    return view


class Model:
    """A compiled pplang model. ``python_source`` is the generated NumPyro program; the
    ``numpyro_model`` and ``reparam_config`` attributes execute it (importing JAX) on first use."""

    def __init__(self, source: str, path: str, program: ir.Program, spec: Spec, lowered: Lowered):
        self.source = source
        self.path = path
        self.program = program
        self.spec = spec
        self.checked = spec  # the checked model (older name)
        self.python_source = lowered.source
        self._origins = lowered.origins
        self._namespace: dict | None = None
        self.data_warnings: list[Diagnostic] = []
        self.reparam_notes: list[Diagnostic] = []  # what `auto` has to say (set by resolve)

    @property
    def warnings(self) -> list[Diagnostic]:
        return self.spec.warnings

    def _module(self) -> dict:
        if self._namespace is None:
            namespace: dict = {"__name__": "pplang_generated"}
            try:
                code = compile(self.python_source, self._code_filename, "exec")
            except (SyntaxError, RecursionError, MemoryError) as exc:
                # only nesting beyond Python's own parser limits gets here (e.g. 200 parentheses)
                lineno = getattr(exc, "lineno", None) or 0
                line = self._origins[lineno - 1] if 0 < lineno <= len(self._origins) else 0
                text = self.source.splitlines()[line - 1] if line else ""
                raise PplangError([Diagnostic("syntax-error", "this expression is nested too deeply for Python",
                                              ir.Span(line, 1, line, len(text) + 1),
                                              "split it into several definitions with `local name = ...`")],
                                  source=self.source, file=self.path) from None
            exec(code, namespace)  # the source is generated from the IR: no user text is executed
            self._namespace = namespace
        return self._namespace

    @property
    def _code_filename(self) -> str:
        return f"<pplang:{self.path}>"

    @property
    def numpyro_model(self):
        return self._module()["model"]

    @property
    def reparam_config(self) -> dict:
        return self._module()["reparam_config"]

    @property
    def _as_written(self):
        """The NumPyro model without its reparameterisation: ``theta`` is a sample site again, not
        a deterministic function of ``theta_decentered``. The two define the same distribution;
        runs on posterior draws (replicated data, prediction, log-likelihood, generated
        quantities) use this one, so they need the draws of the model's own quantities only."""
        from numpyro.handlers import reparam

        model = self.numpyro_model
        while isinstance(model, reparam):
            model = model.fn
        return model

    @property
    def auxiliary_sites(self) -> dict[str, str]:
        """NumPyro's sample sites that are no quantity of the model -> the quantity they serve:
        ``{"theta_decentered": "theta"}`` for each reparameterised ``theta`` (LocScaleReparam).
        NumPyro's own draws (:attr:`Posterior.samples`) keep them; no summary, file, plot or message
        shows them."""
        return {f"{name}{DECENTERED}": name for name in self.reparam_config}

    def public(self, arrays: dict) -> dict[str, np.ndarray]:
        """``arrays`` without NumPyro's auxiliary sites and pplang's internal ``_pp*`` sites."""
        hidden = self.auxiliary_sites
        return {k: np.asarray(v) for k, v in arrays.items() if k not in hidden and not k.startswith("_pp")}

    @property
    def reported(self) -> list[str]:
        """Quantities shown in summaries: parameters, latents and deterministics, in model order."""
        return self.spec.reported

    @property
    def generated_names(self) -> list[str]:
        """The generated quantities (``generated`` statements), in model order."""
        return [s.name for s in self.spec.of_role(Role.GENERATED)]

    def prepare_data(self, data: dict | str | Path | None = None, data_file: str | None = None) -> dict:
        """Validate data (a dict or a JSON path) and add the derived data: the model's kwargs."""
        if isinstance(data, (str, Path)):
            data_file = str(data)
            data = read_data_file(data)
        try:
            values, self.data_warnings = prepare_data(self.spec, data or {}, data_file)
        except PplangError as exc:
            exc.source, exc.file = exc.source or self.source, exc.file or self.path
            raise
        derived = self._run_located(lambda: self._module()["transform_data"](**values))
        if self.spec.enum_uses:
            from .discrete import enumeration_warnings

            self.data_warnings += enumeration_warnings(self.spec, lambda e: const_eval(e, values))
        return {**values, **derived}

    def _run_located(self, fn):
        """Run ``fn``; an exception raised in generated code is reported at the .ppl line that
        produced that code. One that cannot be explained so is a bug: :class:`InternalError`."""
        try:
            return fn()
        except PplangError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a located diagnostic, else an internal error
            line = self._model_line(exc)
            diag = self._explain(exc, line)
            if diag is None:
                where = f" while running {self.path}:{line}" if line else ""
                raise InternalError(f"{exception_text(exc)}{where}") from exc
            raise PplangError([diag], source=self.source, file=self.path) from None

    def _model_line(self, exc: BaseException) -> int:
        """The .ppl line of the innermost generated-code frame in ``exc``'s traceback, or 0."""
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == self._code_filename and frame.lineno and frame.lineno <= len(self._origins):
                line = self._origins[frame.lineno - 1] or line
        return line

    def _explain(self, exc: Exception, line: int) -> Diagnostic | None:
        """A diagnostic at ``line`` that says what went wrong, or None when pplang cannot say."""
        if not line:
            return None
        text = self.source.splitlines()[line - 1]
        span = ir.Span(line, 1, line, len(text) + 1)
        flat = _flat_prior_site(exc)
        if flat is not None:
            at = re.search(rf"\b{re.escape(flat)}\b", text)  # the name, as the improper-prior warning marks it
            span = ir.Span(line, at.start() + 1, line, at.end() + 1) if at else span
            return Diagnostic("improper-prior", f'parameter "{flat}" has no prior (its density is flat over its '
                              "support), so it cannot be drawn from the prior", span,
                              f"add a prior to draw from, e.g. `{flat} ~ Normal(0, 10)`; sampling the posterior "
                              "(`pplang run` without --prior) works with the flat prior")
        msg = str(exc).strip()
        if not msg or msg == type(exc).__name__:  # a bare `assert` or `raise NotImplementedError` in a library
            return None
        return Diagnostic("runtime-error", f"{type(exc).__name__}: {msg.splitlines()[0]}", span)

    @property
    def observed(self) -> list[str]:
        """Names of the observed quantities (data on the left of ``~``), in model order."""
        return self.spec.observed

    def predictive_data(self, data: dict | str | Path | None, data_file: str | None = None) -> dict:
        """The model's kwargs for drawing the observed quantities: observed fields are dropped
        from ``data`` (they may be absent) and passed as None; sizes and covariates are checked."""
        observed = set(self.observed)
        if isinstance(data, (str, Path)):
            data_file, data = str(data), read_data_file(data)
        data = {k: v for k, v in (data or {}).items() if k not in observed}
        try:
            values, self.data_warnings = prepare_data(_without(self.spec, observed), data, data_file)
        except PplangError as exc:
            exc.source, exc.file = exc.source or self.source, exc.file or self.path
            raise
        # transform_data takes the declared data only: an observed derived quantity (`data z = log(y)`
        # then `z ~ ...`) is computed there and replaced by None like the others
        declared = {s.name for s in self.spec.of_role(Role.DATA)}
        missing = {k: None for k in observed if k in declared}
        derived = self._run_located(lambda: self._module()["transform_data"](**values, **missing))
        return {**values, **derived, **{k: None for k in observed}}

    def prior_predictive(self, data: dict | str | Path | None = None, *, samples: int = 1000, seed: int = 0,
                         float64: bool = False, data_file: str | None = None) -> dict[str, np.ndarray]:
        """Draw every latent, deterministic and observed quantity from the prior: observed data is
        dropped (only sizes and covariates are used), as ``Predictive(model, num_samples)``."""
        import jax
        from numpyro.infer import Predictive

        with precision(float64):
            kwargs = self.predictive_data(data, data_file)
            draws = self._run_located(lambda: Predictive(self.numpyro_model, num_samples=samples)(
                jax.random.PRNGKey(seed), **kwargs))
        shift = self._offsets(kwargs)  # NumPyro's outcomes -> the model's values (1-based categories)
        return {k: v + shift.get(k, 0) for k, v in self.public(draws).items()}

    def latent_shapes(self, kwargs: dict, *, as_written: bool = False) -> dict[str, tuple[int, ...]]:
        """The shape of every latent sample site given the model's kwargs: one trace at NUTS's kind
        of initial values. The sites NUTS samples (``theta_decentered`` for a non-centred
        ``theta``), or with ``as_written`` those of the model as written (``theta``)."""
        import jax
        from numpyro import handlers
        from numpyro.infer.initialization import init_to_uniform

        # values in each site's support, as NUTS's initialisation draws them: works for flat priors
        model = handlers.substitute(handlers.seed(self._as_written if as_written else self.numpyro_model,
                                                  jax.random.PRNGKey(0)), substitute_fn=init_to_uniform)
        tr = self._run_located(lambda: handlers.trace(model).get_trace(**kwargs))
        return {k: tuple(np.shape(s["value"])) for k, s in tr.items()
                if s["type"] == "sample" and not s.get("is_observed") and not k.startswith("_pp")
                and k not in self.observed}

    def _latents(self, samples: dict[str, np.ndarray], kwargs: dict) -> dict[str, np.ndarray]:
        """The draws of the latent sample sites only (deterministic quantities are recomputed),
        checked against the shapes the model has with ``kwargs``; ``samples`` has two leading
        (chain, draw) axes."""
        aux = self.auxiliary_sites
        errors: dict[str, Diagnostic] = {}
        out = {}
        shift = self._offsets(kwargs)
        for site, shape in self.latent_shapes(kwargs, as_written=True).items():
            name = aux.get(site, site)  # messages name the model's quantity, never NumPyro's site
            if site in shift and site in samples:  # the model's values -> NumPyro's outcomes (from 0)
                samples = {**samples, site: np.asarray(samples[site]) - shift[site]}
            if site not in samples:
                errors.setdefault(name, Diagnostic("fit-mismatch", f'the fit has no draws of "{name}"',
                                                   help="was the fit made with this model?"))
                continue
            have = tuple(np.shape(samples[site])[2:])
            if have != shape:
                errors.setdefault(name, Diagnostic(
                    "fit-mismatch", f'"{name}" has shape {have} in the fit but {shape} with the new data',
                    help="prediction reuses the fitted parameters, so the sizes that shape them must not "
                         "change; only the sizes of observations and covariates may"))
                continue
            out[site] = samples[site]
        if errors:
            raise PplangError(list(errors.values()), source=self.source, file=self.path)
        return out

    def _offsets(self, kwargs: dict) -> dict:
        """Sites whose model value is NumPyro's outcome plus an offset (Stan's 1-based categories,
        an enumerated DiscreteUniform's low): name -> offset, to turn draws of the NumPyro site
        into the model's values (and back, for posterior draws substituted into the model)."""
        from .spec import Site

        sites = [s for s in (*self.spec.items, *self.spec.generated) if isinstance(s, Site) and s.offset is not None]
        return {s.name: const_eval(s.offset, kwargs) for s in sites}

    def _check_replicable(self) -> None:
        """Replicated data cannot be drawn when an observed quantity is also read on a right side
        (``sigma[t] = ... y[t - 1]``): the model would need its observed values there."""
        from .checks import names_in

        observed = set(self.observed)

        def rhs(stmt):
            match stmt:
                case ir.Sample(dist=d):
                    return [*d.args, *(v for _, v in d.kwargs)]
                case ir.Define(value=v) | ir.Target(value=v):
                    return [v]
                case ir.For(body=body):
                    return [e for b in body for e in rhs(b)]
            return []

        for stmt in self.program.statements:
            used = set().union(*(names_in(e) for e in rhs(stmt))) & observed
            if used:
                name = sorted(used)[0]
                raise PplangError([Diagnostic(
                    "unsupported", f'cannot draw replicated data: observed "{name}" is also used on the right side here',
                    stmt.span, "posterior predictive and prediction draw every observed quantity afresh, so it "
                    "cannot also serve as a covariate; the log-likelihood is still available")],
                    source=self.source, file=self.path)

    def replicate(self, samples: dict[str, np.ndarray], data: dict, *, seed: int = 0) -> dict[str, np.ndarray]:
        """Posterior predictive: draw each observed quantity once per posterior draw (``samples``
        with (chain, draw) axes; ``data`` the model's kwargs). Returns name -> (chain, draw, ...)."""
        import jax
        from numpyro.infer import Predictive

        self._check_replicable()
        kwargs = {**data, **{k: None for k in self.observed}}
        latents = self._latents(samples, kwargs)
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=self.observed)
        draws = self._run_located(lambda: pred(key, **kwargs))
        shift = self._offsets(kwargs)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in self.observed if k in draws}

    def generate(self, samples: dict[str, np.ndarray], data: dict, *, seed: int = 0) -> dict[str, np.ndarray]:
        """The generated quantities for each posterior draw (``samples`` with (chain, draw) axes;
        ``data`` the model's kwargs, observed values included): the model run by ``Predictive``
        with ``_pp_generate=True`` on the latent draws, key ``fold_in(PRNGKey(seed), 2)``.
        Returns name -> (chain, draw, ...); empty when the model has none."""
        names = self.generated_names
        if not names:
            return {}
        import jax
        from numpyro.infer import Predictive

        from .lower_numpyro import GENERATE_FLAG

        latents = self._latents(samples, data)
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=names)
        draws = self._run_located(lambda: pred(key, **data, **{GENERATE_FLAG: True}))
        shift = self._offsets(data)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in names if k in draws}

    def log_likelihood(self, samples: dict[str, np.ndarray], data: dict) -> dict[str, np.ndarray]:
        """log p(y_i | draw) of every observation (``numpyro.infer.log_likelihood``): name ->
        array (chain, draw, *obs shape)."""
        from numpyro.infer import log_likelihood

        latents = self._latents(samples, data)
        ll = self._run_located(lambda: log_likelihood(self._as_written, latents, batch_ndims=2, **data))
        return {k: np.asarray(v) for k, v in ll.items() if not k.startswith("_pp")}

    def predict(self, samples: dict[str, np.ndarray], data: dict | str | Path, *, seed: int = 0,
                data_file: str | None = None) -> dict[str, np.ndarray]:
        """Predict on new data without refitting: for each posterior draw (``samples`` with
        (chain, draw) axes), draw the observed quantities and recompute the deterministic ones
        with the new covariates and sizes. Observed fields may be absent from ``data``; latent
        shapes must not change. Returns name -> (chain, draw, ...)."""
        import jax
        from numpyro.infer import Predictive

        self._check_replicable()
        kwargs = self.predictive_data(data, data_file)
        latents = self._latents(samples, kwargs)
        sites = self.observed + [s.name for s in self.spec.of_role(Role.DETERMINISTIC)]
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=sites)
        draws = self._run_located(lambda: pred(key, **kwargs))
        shift = self._offsets(kwargs)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in sites if k in draws}

    @property
    def has_auto(self) -> bool:
        """Whether some statement's parameterisation is still to be chosen (``auto``)."""
        return any(isinstance(s.reparam, ir.Auto) for s in self.spec.sites())

    def resolve(self, data: dict | str | Path | None = None, *, reparam: str | None = None, cache: bool = True,
                data_file: str | None = None, prepared: bool = False) -> Model:
        """This model with every ``auto`` parameterisation chosen for ``data`` (a dict, a JSON path,
        or with ``prepared`` the model's keyword arguments from :meth:`prepare_data`); with
        ``reparam="auto"``, every eligible statement without a parameterisation written is chosen
        for too. The choice is cached by model and data (``cache=False``: neither read nor
        written). ``resolved.spec.auto`` holds what was chosen; ``resolved.python_source`` samples
        it; the notes (``resolved.reparam_notes``) say when there was nothing to choose."""
        if reparam not in (None, "auto"):
            raise PplangError([Diagnostic("bad-setting", f'reparam must be "auto" or None, got {reparam!r}')])
        if reparam is None and not self.has_auto:
            return self
        from .autoreparam import resolve

        kwargs = data if prepared else self.prepare_data(data, data_file)
        t0 = time.perf_counter()
        out, notes = self._run_located(lambda: resolve(self, kwargs, reparam=reparam, cache=cache))
        if out is self:  # nothing to choose: the same model, with the notes saying so
            import copy

            out = copy.copy(self)
        out.reparam_notes = notes
        out.reparam_s = time.perf_counter() - t0
        out.data_warnings = self.data_warnings
        return out

    def with_choice(self, chosen: dict) -> Model:
        """This model with the parameterisations ``chosen`` applied: site name -> {"centered":
        [...], "shape": [...]}, as a fit records what ``auto`` chose (:func:`pplang.results.reparam_used`)."""
        from .autoreparam import from_record
        from .lower_numpyro import lower

        rec = {k: {"kind": v.get("auto", "per-group"), **v} for k, v in chosen.items()}
        spec = from_record(self.spec, rec)
        out = Model(self.source, self.path, self.program, spec, lower(spec, Path(self.path).name))
        out.data_warnings = self.data_warnings
        return out

    def sample(self, data: dict | str | Path | None = None, *, chains: int = DEFAULTS.chains,
               warmup: int = DEFAULTS.warmup, samples: int = DEFAULTS.samples, seed: int = DEFAULTS.seed,
               chain_method: str = DEFAULTS.chain_method, progress_bar: bool = False,
               float64: bool = DEFAULTS.float64, data_file: str | None = None,
               target_accept: float = DEFAULTS.target_accept, dense_mass: bool = DEFAULTS.dense_mass,
               max_tree_depth: int = DEFAULTS.max_tree_depth, thin: int = DEFAULTS.thin,
               init: dict | str | Path | None = None, cache: bool = True, reparam: str | None = None) -> Posterior:
        """Run NUTS: ``MCMC(NUTS(model), ...).run(jax.random.PRNGKey(seed), **data)``, with the
        defaults of :data:`pplang.settings.DEFAULTS` (``pplang run``'s). ``target_accept``,
        ``dense_mass`` and ``max_tree_depth`` are NUTS's settings (Stan's adapt_delta, dense_e
        metric and max_treedepth); ``thin`` keeps every thin-th of the ``samples`` draws per chain.
        ``init`` (a dict, a JSON file or inline JSON) gives starting values of latent parameters on
        their natural scale, used by every chain (NumPyro's ``init_to_value``). Settings and
        initial values are checked before sampling (:class:`PplangError`). ``cache`` keeps compiled
        samplers in JAX's persistent compilation cache (see :mod:`pplang.jitcache`) and ``auto``
        choices in pplang's. ``reparam="auto"`` lets pplang choose the parameterisation of every
        eligible statement without one written (``pplang run --reparam auto``); statements
        annotated ``auto`` are always chosen for. The run then samples ``posterior.model``, the
        resolved model (:meth:`resolve`), and ``posterior.timing["reparam_s"]`` is the time the
        choice took (about 0 when cached)."""
        from .missing import for_data

        imputed = for_data(self, data)  # nulls in the data: the model compiled for its missing entries
        if imputed is not self:
            return imputed.sample(data, chains=chains, warmup=warmup, samples=samples, seed=seed,
                                  chain_method=chain_method, progress_bar=progress_bar, float64=float64,
                                  data_file=data_file, target_accept=target_accept, dense_mass=dense_mass,
                                  max_tree_depth=max_tree_depth, thin=thin, init=init, cache=cache,
                                  reparam=reparam)
        settings = SamplerSettings(chains=chains, warmup=warmup, samples=samples, seed=seed,
                                   chain_method=chain_method, target_accept=target_accept,
                                   max_tree_depth=max_tree_depth, dense_mass=dense_mass, thin=thin,
                                   float64=float64).check()
        if reparam not in (None, "auto"):
            raise PplangError([Diagnostic("bad-setting", f'reparam must be "auto" or None, got {reparam!r}')])
        timing: dict[str, float] = {}
        t0 = time.perf_counter()
        import jax
        from numpyro.infer import MCMC, NUTS, init_to_value

        from .inits import check_init, read_init
        from .jitcache import JitClock, enable_persistent_cache

        if cache:
            enable_persistent_cache()
        timing["import_s"] = time.perf_counter() - t0
        with precision(float64):
            kwargs = self.prepare_data(data, data_file)
            model = self
            if reparam is not None or self.has_auto:  # `auto`: choose (in the run's precision), then sample that
                model = self.resolve(kwargs, reparam=reparam, cache=cache, prepared=True)
                timing["reparam_s"] = getattr(model, "reparam_s", 0.0)
            if isinstance(init, (str, Path)):
                init = read_init(str(init))
            init_values = check_init(model, init, kwargs) if init else None
            strategy = {"init_strategy": init_to_value(values=init_values)} if init_values else {}
            kernel = NUTS(model.numpyro_model, target_accept_prob=target_accept, dense_mass=dense_mass,
                          max_tree_depth=max_tree_depth, **strategy)
            mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains, thinning=thin,
                        chain_method=chain_method, progress_bar=progress_bar)
            t1 = time.perf_counter()
            with JitClock() as clock:
                model._run_located(lambda: mcmc.run(jax.random.PRNGKey(seed), extra_fields=EXTRA_FIELDS, **kwargs))
                jax.block_until_ready(mcmc.get_samples())
        run_s = time.perf_counter() - t1
        timing["jit_s"] = clock.compile_s
        timing["sample_s"] = run_s - clock.compile_s
        timing["cache_hits"], timing["cache_misses"] = clock.cache_hits, clock.cache_misses
        data_file = data_file or (str(data) if isinstance(data, (str, Path)) else None)
        post = Posterior(mcmc, model.reported, chains, samples, warmup, seed, chain_method, timing,
                         model=model, data=kwargs, data_file=data_file, settings=settings,
                         init=dict(init) if init else None)
        if model.spec.enumerated:  # draws and probabilities of the discrete latents NUTS did not see
            from .discrete import discrete_posterior

            t2 = time.perf_counter()
            grouped = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
            with precision(float64):
                post.discrete = model._run_located(lambda: discrete_posterior(model, grouped, kwargs, seed))
            timing["discrete_s"] = time.perf_counter() - t2
        return post

    # approximate inference: the same model and data, other methods (pplang/inference.py)
    def optimize(self, data: dict | str | Path | None = None, **options):
        """The posterior mode (MAP), the mode in the unconstrained space (``jacobian=True``) or the
        maximum likelihood estimate (``mle=True``): :func:`pplang.inference.optimize`."""
        from .inference import optimize

        return optimize(self, data, **options)

    def laplace(self, data: dict | str | Path | None = None, **options):
        """Draws from the normal approximation at the unconstrained mode: :func:`pplang.inference.laplace`."""
        from .inference import laplace

        return laplace(self, data, **options)

    def variational(self, data: dict | str | Path | None = None, **options):
        """Mean-field or full-rank variational inference (SVI): :func:`pplang.inference.variational`."""
        from .inference import variational

        return variational(self, data, **options)

    def pathfinder(self, data: dict | str | Path | None = None, **options):
        """Multi-path Pathfinder (BlackJAX): :func:`pplang.inference.pathfinder`."""
        from .inference import pathfinder

        return pathfinder(self, data, **options)
