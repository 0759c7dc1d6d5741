"""Posterior: the draws of a NUTS run, their summary (the table and ``--json``) and what can be
computed from them (predictive draws, generated quantities, log-likelihood, InferenceData)."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import _fmt_index
from .diagnostics import Diagnostic, PplangError
from .settings import DEFAULTS, SamplerSettings


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
    """The result of :meth:`Model.sample`: ``mcmc`` (the run's draws and NUTS statistics, with
    numpyro.infer.MCMC's ``get_samples``/``get_extra_fields``: :class:`pplang.reuse.Draws`), ``samples`` (dict of
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
    # a run with shard_data: what was split across devices (pplang.sharding.Report.record() and its line)
    sharding: dict | None = field(default=None, repr=False)

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
            stats = _summarize_together({name: grouped[name] for name in names if name in grouped})
            for name, by_stat in stats.items():
                for flat, idx in flat_names(name, np.shape(grouped[name])[2:]):
                    rows[flat] = {k: _finite_or_none(v[idx]) for k, v in by_stat.items()}
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
        if not rows and not self.discrete and not vars:
            notes.append("the model has no parameters (every quantity is data): there are no draws to summarise")
        elif self.num_chains < 2:
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
        if self.sharding is not None:
            out["sharding"] = self.sharding
        if self.model is not None and self.model.spec.auto:
            from .autoreparam import record

            out["reparam"] = record(self.model.spec)  # what `auto` chose, per site
        return out


def _summarize_together(arrays: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """``summarize`` of each (chain, draw, ...) array, computed in one call per dtype over all
    quantities side by side (so that many chains' statistics are split among threads by element,
    not only within one quantity). Each element's numbers depend on its own draws alone (the
    float64 sums of float32 draws for mean and sd can differ from a quantity alone in the last bits)."""
    from .convergence import summarize

    groups: dict[np.dtype, list[tuple[str, np.ndarray]]] = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind != "f":
            a = a.astype(float)
        groups.setdefault(a.dtype, []).append((name, a))
    out: dict[str, dict[str, np.ndarray]] = {}
    for members in groups.values():
        lead = members[0][1].shape[:2]
        if any(a.shape[:2] != lead for _, a in members):  # cannot stand side by side: one at a time
            out.update({name: summarize(a) for name, a in members})
            continue
        cols = np.concatenate([a.reshape(lead + (-1,)) for _, a in members], axis=2)
        together = summarize(cols)
        start = 0
        for name, a in members:
            width = int(np.prod(a.shape[2:], dtype=int))
            out[name] = {k: v[start:start + width].reshape(a.shape[2:]) for k, v in together.items()}
            start += width
    return {name: out[name] for name in arrays}


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
    def cell(x, k):  # a number too long for its column (the draws of an improper posterior) in e-notation
        text = "-" if x is None else f"{x:.{digits.get(k, 2)}f}"
        return f"{text:>10}" if len(text) <= 9 else f"{x:>10.3g}"

    if not params and not summary.get("discrete"):  # nothing was sampled: the notes say so
        return "\n".join(f"Note: {note}" for note in summary.get("notes", []))
    for name, s in params.items():
        row = "".join(cell(s[k], k) for k in keys)
        lines.append(f"{name:>{width + 2}}{row}")
    lines.append("")
    if summary.get("discrete"):
        from .discrete import format_block

        lines += [format_block(summary["discrete"]), ""]
    lines.append(f"Number of divergences: {summary['num_divergences']}")
    lines.extend(f"Parameterisation (auto): {r['summary']}" for r in summary.get("reparam", {}).values())
    if summary.get("sharding"):
        lines.append(f"Sharding: {summary['sharding']['summary']}")
    lines.extend(f"Note: {note}" for note in summary.get("notes", []))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the model
