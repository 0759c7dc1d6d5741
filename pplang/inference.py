"""Inference methods: NUTS and four approximate methods, as modes of the same model file.

``METHODS`` is the table: NUTS (``pplang run``, :meth:`Model.sample`), optimisation
(``pplang optimize``: MAP, the mode with the Jacobian, or maximum likelihood), the Laplace
approximation (``pplang laplace``), variational inference (``pplang variational``: NumPyro's
AutoNormal or AutoMultivariateNormal with SVI) and Pathfinder (``pplang pathfinder``:
BlackJAX's multi-path implementation). Each row names its settings (a dataclass whose fields are
the command-line flags, checked before anything runs) and its runner. They share data preparation
(:meth:`Model.prepare_data`), NumPyro's unconstrained parameter space (:class:`Density`) and one
result interface: ``samples``, ``summary()``, ``to_arviz()``, ``save()``, ``predictive()``,
``generated()``, ``predict()`` — :class:`~pplang.runtime.Posterior` for NUTS,
:class:`Approximation` for the rest, whose ``diagnostics`` and ``warnings`` say how far to trust
it (:mod:`pplang.approx_diagnostics`). Optimisers and unconstrained densities live in
:mod:`pplang.optimizers`. JAX, NumPyro, optax and BlackJAX are imported only when a method runs.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import approx_diagnostics as honesty
from .diagnostics import Diagnostic, PplangError
from .guards import COUNT_MAX, seed_problem, whole_problem
from .runtime import Model, flat_names, select_rows
from .settings import SamplerSettings

KHAT_DRAWS = 1000  # draws of the normal approximation that judge a point estimate


# ----------------------------------------------------------------------------- settings


def _opt(default, help: str, least: float | None = None, choices: tuple = (), flag: str | None = None):
    """A settings field: its default, help text and checks (``least``: the smallest value;
    ``choices``), read by :func:`problems` and by the command line."""
    return field(default=default, metadata={"help": help, "least": least, "choices": choices, "flag": flag})


SEED_HELP = "the run uses jax.random.PRNGKey(SEED)"
F64_HELP = "run in double precision (the default; --float32 turns it off)"


@dataclass(frozen=True, slots=True)
class OptimizeSettings:
    """``pplang optimize``: the posterior mode (MAP) over the declared parameters, without the
    Jacobian (``jacobian=True``: the mode in the unconstrained space; ``mle=True``: priors dropped)."""

    algorithm: str = _opt("lbfgs", "the optimiser: L-BFGS or Adam", choices=("lbfgs", "adam"))
    jacobian: bool = _opt(False, "find the mode in the unconstrained space (log density plus the log Jacobian "
                                 "of the constraining transforms), as Stan's jacobian=1")
    mle: bool = _opt(False, "maximum likelihood: drop the priors (the ~ statements of parameters); observed "
                            "statements and target += stay")
    restarts: int = _opt(1, "optimise from K random initial points and keep the best", least=1)
    iter: int = _opt(2000, "maximum optimiser iterations", least=1)
    learning_rate: float = _opt(0.05, "adam's initial step size (it decays to 1%% over --iter)", least=0)
    seed: int = _opt(0, SEED_HELP)
    float64: bool = _opt(True, F64_HELP)


@dataclass(frozen=True, slots=True)
class LaplaceSettings:
    """``pplang laplace``: draws from the normal approximation at the mode of the posterior in the
    unconstrained space, with covariance the inverse Hessian there (Stan's laplace method)."""

    draws: int = _opt(1000, "draws from the normal approximation", least=1)
    algorithm: str = _opt("lbfgs", "the optimiser that finds the mode", choices=("lbfgs", "adam"))
    restarts: int = _opt(1, "optimise from K random initial points and keep the best", least=1)
    iter: int = _opt(2000, "maximum optimiser iterations", least=1)
    learning_rate: float = _opt(0.05, "adam's initial step size", least=0)
    seed: int = _opt(0, SEED_HELP)
    float64: bool = _opt(True, F64_HELP)


@dataclass(frozen=True, slots=True)
class VariationalSettings:
    """``pplang variational``: a normal approximation in the unconstrained space fitted by SVI
    (maximising the ELBO with Adam): ``meanfield`` (NumPyro's AutoNormal, independent) or
    ``fullrank`` (AutoMultivariateNormal, correlated)."""

    family: str = _opt("meanfield", "AutoNormal (meanfield: independent) or AutoMultivariateNormal (fullrank)",
                       choices=("meanfield", "fullrank"))
    iter: int = _opt(10000, "SVI steps", least=1)
    learning_rate: float = _opt(0.01, "Adam's initial step size (it decays to a tenth over --iter)", least=0)
    draws: int = _opt(1000, "draws from the fitted approximation", least=1)
    seed: int = _opt(0, SEED_HELP)
    float64: bool = _opt(True, F64_HELP)


@dataclass(frozen=True, slots=True)
class PathfinderSettings:
    """``pplang pathfinder``: multi-path Pathfinder (Zhang et al. 2022), BlackJAX's implementation:
    ``paths`` L-BFGS runs, each giving the normal approximation of highest ELBO along its path;
    their draws pooled and importance-resampled (PSIS) to ``draws``."""

    paths: int = _opt(4, "independent L-BFGS paths (Stan's num_paths)", least=1)
    draws: int = _opt(1000, "draws after importance resampling; each path contributes as many before", least=1)
    iter: int = _opt(1000, "maximum L-BFGS iterations per path (Stan's max_lbfgs_iters)", least=1)
    elbo_draws: int = _opt(25, "draws that estimate the ELBO at each point of a path (num_elbo_draws)", least=1)
    history_size: int = _opt(5, "L-BFGS history (Stan's history_size)", least=1)
    seed: int = _opt(0, SEED_HELP)
    float64: bool = _opt(True, F64_HELP)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def problems(settings) -> list[str]:
    """What is wrong with ``settings``, as command-line flags name them (empty: nothing)."""
    out = []
    for f in fields(settings):
        value, meta = getattr(settings, f.name), f.metadata
        if isinstance(f.default, bool):
            if not isinstance(value, bool):
                out.append(f"{flag(f.name)} must be true or false, got {value!r}")
        elif meta["choices"]:
            if value not in meta["choices"]:
                out.append(f"{flag(f.name)} must be one of {', '.join(meta['choices'])}, got {value!r}")
        elif isinstance(f.default, int):
            found = (seed_problem(flag(f.name), value) if f.name == "seed"
                     else whole_problem(flag(f.name), value, meta["least"], COUNT_MAX))
            if found:
                out.append(found)
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                or (meta["least"] is not None and value <= meta["least"]):
            out.append(f"{flag(f.name)} must be a number above {meta['least']}, got {value!r}")
    if isinstance(settings, OptimizeSettings) and settings.mle and settings.jacobian:
        out.append("--mle and --jacobian cannot be combined: the Jacobian adjusts a density over the parameters, "
                   "and a likelihood is not one")
    return out


def check(settings):
    """``settings``, or a :class:`PplangError` (``bad-setting``) listing every problem."""
    found = problems(settings)
    if found:
        raise PplangError([Diagnostic("bad-setting", p) for p in found])
    return settings


def make_settings(cls, options: dict):
    """``cls(**options)``, refusing names that are not among its fields."""
    names = [f.name for f in fields(cls)]
    unknown = [k for k in options if k not in names]
    if unknown:
        raise PplangError([Diagnostic("bad-setting", f"unknown setting {k!r}; the settings are {', '.join(names)}")
                           for k in unknown])
    return check(cls(**options))


# ----------------------------------------------------------------------------- results


LABELS = {
    "optimize": "point estimate",
    "laplace": "Laplace (normal) approximation",
    "variational": "variational approximation",
    "pathfinder": "Pathfinder approximation",
}


@dataclass
class Approximation:
    """The result of an approximate method. ``method`` ("optimize", "laplace", "variational",
    "pathfinder"); ``draws``: every NumPyro site's draws (S, ...), S = 1 for a point estimate;
    ``settings`` (the method's settings dataclass); ``diagnostics`` (Pareto k-hat and what it
    means, optimiser convergence, Hessian, boundary, ELBO: plain numbers, as ``--json`` prints
    them) and ``warnings`` (catalogued :class:`Diagnostic` warnings); ``log_p``/``log_q`` per draw
    (the log density and the approximation's, on the unconstrained scale). The same interface as
    :class:`~pplang.runtime.Posterior`: :attr:`samples` holds the reported quantities only (never
    NumPyro's ``theta_decentered`` or ``_pp`` sites)."""

    method: str
    draws: dict[str, np.ndarray]
    model: Model
    data: dict
    data_file: str | None
    settings: Any
    diagnostics: dict
    timing: dict = field(default_factory=dict)
    log_p: np.ndarray | None = None
    log_q: np.ndarray | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    _generated: dict | None = field(default=None, repr=False)
    _predictive: dict | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return LABELS[self.method]

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def reported(self) -> list[str]:
        return self.model.reported

    @property
    def num_chains(self) -> int:
        return 1

    @property
    def num_samples(self) -> int:
        return int(next(iter(self.draws.values())).shape[0]) if self.draws else 0

    @property
    def is_point(self) -> bool:
        return self.method == "optimize"

    @property
    def samples(self) -> dict[str, np.ndarray]:
        """The reported quantities, name -> (draws, ...) (one draw for a point estimate)."""
        return {k: v for k, v in self.draws.items() if k in self.reported}

    @property
    def grouped_samples(self) -> dict[str, np.ndarray]:
        """Every site's draws with a leading chain axis of 1: (1, draws, ...). Keeps the latent
        sites NumPyro samples (``theta_decentered``), which prediction from a saved fit needs."""
        return {k: v[None] for k, v in self.draws.items() if not k.startswith("_pp")}

    @property
    def settings_record(self) -> dict[str, Any]:
        return {"method": self.method, **asdict(self.settings)}

    def generated(self, *, grouped: bool = False) -> dict[str, np.ndarray]:
        """The generated quantities per draw (see :meth:`Posterior.generated`)."""
        if self._generated is None:
            self._generated = self.model.generate(self.grouped_samples, self.data, seed=self.seed)
        return self._generated if grouped else _ungroup(self._generated)

    def predictive(self, *, grouped: bool = False) -> dict[str, np.ndarray]:
        """Replicated data, one draw of every observed quantity per draw (see
        :meth:`Posterior.predictive`); a point estimate gives one replicated data set."""
        if self._predictive is None:
            self._predictive = self.model.replicate(self.grouped_samples, self.data, seed=self.seed)
        return self._predictive if grouped else _ungroup(self._predictive)

    def log_likelihood(self) -> dict[str, np.ndarray]:
        return self.model.log_likelihood(self.grouped_samples, self.data)

    def predict(self, data: dict | str | Path, *, seed: int | None = None, grouped: bool = False,
                data_file: str | None = None) -> dict[str, np.ndarray]:
        out = self.model.predict(self.grouped_samples, data, seed=self.seed if seed is None else seed,
                                 data_file=data_file)
        return out if grouped else _ungroup(out)

    def sample_stats(self) -> dict[str, np.ndarray]:
        """``lp`` (log density, unconstrained scale) and ``log_q`` (the approximation's) per draw."""
        stats = {}
        for name, values in (("lp", self.log_p), ("log_q", self.log_q)):
            if values is not None and np.size(values) == self.num_samples:
                stats[name] = np.asarray(values, dtype=float).reshape(1, -1)
        return stats

    def statistics(self) -> dict[str, dict[str, float | None]]:
        """Per element of every reported and generated quantity: the ``estimate`` of a point
        estimate, else ``mean``, ``sd``, ``median``, ``q5`` and ``q95`` of the draws."""
        arrays = {**self.samples, **self.generated()}
        rows = {}
        for name in self.reported + self.model.generated_names:
            if name not in arrays:
                continue
            x = np.asarray(arrays[name], dtype=float)
            if self.is_point:
                stats = {"estimate": x[0]}
            else:
                with np.errstate(all="ignore"):
                    q5, q95 = np.quantile(x, (0.05, 0.95), axis=0)
                    stats = {"mean": x.mean(0), "sd": x.std(0, ddof=1) if len(x) > 1 else np.full(x.shape[1:], np.nan),
                             "median": np.median(x, 0), "q5": q5, "q95": q95}
            for flat, idx in flat_names(name, x.shape[1:]):
                rows[flat] = {k: _finite(v[idx]) for k, v in stats.items()}
        return rows

    def summary(self, vars: list[str] | None = None) -> dict:
        """What ``pplang optimize|laplace|variational|pathfinder --json`` prints."""
        rows = self.statistics()
        if vars:
            rows = {k: rows[k] for k in select_rows(vars, rows, self.reported + self.model.generated_names)}
        return {
            "method": self.method,
            "parameters": rows,
            "diagnostics": self.diagnostics,
            "num_draws": self.num_samples,
            "seed": self.seed,
            "settings": self.settings_record,
            "warnings": [{"code": d.code, "message": d.message, "help": d.help} for d in self.warnings],
            "timing": self.timing,
        }

    def to_arviz(self, *, predictive: bool | None = None, prior: dict | None = None):
        """An ``arviz.InferenceData`` (one chain) with the groups of ``Posterior.to_arviz``; every
        group's attrs record ``inference_method`` and the settings."""
        from .results import posterior_to_arviz

        if predictive is None:
            try:
                self.model._check_replicable()
                predictive = True
            except PplangError:
                predictive = False
        idata = posterior_to_arviz(self, predictive=predictive, prior=prior)
        for group in idata.groups():
            getattr(idata, group).attrs["inference_method"] = self.method
        return idata

    def save(self, path: str | Path, *, predictive: bool = False, prior: dict | None = None) -> Path:
        """``.nc`` (ArviZ netCDF) or ``.csv``, as :meth:`Posterior.save`."""
        from .results import save_posterior

        return save_posterior(self, Path(path), predictive=predictive, prior=prior)


def _ungroup(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.reshape((-1,) + v.shape[2:]) for k, v in arrays.items()}


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------- the methods


def _start(model: Model, data, data_file, settings, cache: bool, lazy: bool = False):
    """Shared set-up: the data (``Model.prepare_data``), the unconstrained density (None when
    ``lazy``: the body makes it if it needs it, :func:`_density`), a key."""
    import jax

    from .jitcache import enable_persistent_cache

    if cache:
        enable_persistent_cache()
    kwargs = model.prepare_data(data, data_file)
    if not settings.float64:  # data that 32-bit floats cannot hold (as Model.sample checks)
        from .datacheck import check_float32_range

        errors = check_float32_range(model.spec, kwargs)
        if errors:
            raise PplangError(errors, source=model.source, file=model.path)
    key = jax.random.PRNGKey(settings.seed)
    return kwargs, None if lazy else _density(model, kwargs, settings), key


def _density(model: Model, kwargs: dict, settings):
    """The unconstrained density (:class:`pplang.optimizers.Density`) of the model with ``kwargs``."""
    import jax

    from .optimizers import Density

    return Density(model, kwargs, jax.random.fold_in(jax.random.PRNGKey(settings.seed), 0))


def _located_start(model: Model, kwargs: dict, seed: int, fn: Callable):
    """``fn()``; NumPyro's failure to find a finite initial point becomes a located ``initial-point``
    error (:mod:`pplang.initcheck`), as for NUTS."""
    from .initcheck import explain_failed_start, is_failed_start

    try:
        return fn()
    except RuntimeError as exc:
        if not is_failed_start(exc):
            raise
        raise explain_failed_start(model, kwargs, None, seed) from None


def _refuse_discrete(model: Model, method: str) -> None:
    """The approximate methods work on the continuous parameters' density with nothing summed out:
    a model with discrete latents (enumerated, or a hidden Markov chain) is a located error."""
    latents = [(s.name, s.span) for s in model.spec.enumerated] + [(c.name, c.first.span) for c in model.spec.chains]
    if latents:
        name, span = latents[0]
        raise PplangError([Diagnostic(
            "unsupported", f'pplang {method} cannot sum out the discrete latent "{name}" yet',
            span=span, help=f"`pplang run {Path(model.path).name}` sums it out exactly and reports its posterior")],
            source=model.source, file=model.path)


def _run(model: Model, method: str, settings, data, data_file, cache, body: Callable,
         lazy: bool = False) -> Approximation:
    """Run ``body(kwargs, density, key) -> (draws, diagnostics, log_p, log_q)`` in the settings'
    precision, time it, and attach the honesty warnings (``lazy``: the body gets no density)."""
    from .jitcache import JitClock
    from .optimizers import precision

    _refuse_discrete(model, method)
    data_file = data_file or (str(data) if isinstance(data, (str, Path)) else None)
    t0 = time.perf_counter()
    with precision(settings.float64), JitClock() as clock:
        kwargs, density, key = _start(model, data, data_file, settings, cache, lazy)
        draws, diagnostics, log_p, log_q = model._run_located(lambda: _located_start(
            model, kwargs, settings.seed, lambda: body(kwargs, density, key)))
    timing = {"fit_s": time.perf_counter() - t0, "jit_s": clock.compile_s}
    result = Approximation(method, draws, model, kwargs, data_file, settings, diagnostics, timing, log_p, log_q)
    from .jitcache import cache_warnings

    result.warnings = cache_warnings() + honesty.approximation_warnings(result, f"pplang run {model.path}")
    return result


def _judge(density, u, hessian, key, names: list[str]) -> dict:
    """Pareto k-hat of the normal approximation N(u, hessian^-1) against the posterior, on
    KHAT_DRAWS draws: how far a point estimate with this curvature can be trusted; and how far the
    estimate is from the posterior mean that those draws, importance-weighted, estimate."""
    from .optimizers import gaussian_draws

    chol = honesty.normal_from_hessian(hessian)
    U, log_q = gaussian_draws(key, u, chol, KHAT_DRAWS)
    k, lw = honesty.pareto_k(density.log_p_batch(U) - log_q)
    shift = honesty.mean_shift(density.constrain(U), lw, names, estimate=density.constrain(u[None]))
    return {"pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k), "pareto_k_draws": KHAT_DRAWS,
            "mean_shift": shift}


def optimize(model: Model, data=None, *, data_file: str | None = None, cache: bool = True,
             **options) -> Approximation:
    """The posterior mode (MAP) over the declared parameters, without the Jacobian: see
    :class:`OptimizeSettings` for the options (``jacobian``, ``mle``, ``algorithm``, ``restarts``,
    ``iter``, ``learning_rate``, ``seed``, ``float64``). Its Pareto k-hat judges a normal
    approximation at the estimate (with the posterior's curvature there) against the posterior."""
    settings = make_settings(OptimizeSettings, options)

    def body(kwargs, density, key):
        import jax

        from . import approx_programs

        if approx_programs.usable(model):  # the traced programs; the eager path where they do not apply
            found = approx_programs.optimize(model, kwargs, settings, KHAT_DRAWS, cache)
            if found is not None:
                return found
        density = _density(model, kwargs, settings)

        from .optimizers import find_mode

        objective = density.objective(jacobian=settings.jacobian, priors=not settings.mle)
        mode = find_mode(density, objective, settings, jax.random.fold_in(key, 1))
        hessian = mode.hessian
        posterior_hessian = hessian if settings.jacobian else np.asarray(density.hessian(density.neg_log_p)(mode.u))
        diagnostics = {
            "estimate": "mle" if settings.mle else "map_jacobian" if settings.jacobian else "map",
            **_judge(density, mode.u, posterior_hessian, jax.random.fold_in(key, 2), model.reported),
            "optimizer": mode.info, "hessian": honesty.hessian_report(hessian),
            "boundary": density.boundary(mode.u, objective),
        }
        return density.constrain(mode.u[None]), diagnostics, np.array([-float(density.neg_log_p(mode.u))]), None

    return _run(model, "optimize", settings, data, data_file, cache, body, lazy=True)


def laplace(model: Model, data=None, *, data_file: str | None = None, cache: bool = True,
            **options) -> Approximation:
    """Draws from the normal approximation at the mode of the posterior in the unconstrained space
    (log density plus log Jacobian) with covariance the inverse Hessian there: see
    :class:`LaplaceSettings`."""
    settings = make_settings(LaplaceSettings, options)

    def body(kwargs, density, key):
        import jax

        from . import approx_programs
        from .optimizers import find_mode, gaussian_draws

        if approx_programs.usable(model):  # the traced programs; the eager path where they do not apply
            found = approx_programs.laplace(model, kwargs, settings, cache)
            if found is not None:
                return found
        density = _density(model, kwargs, settings)

        mode = find_mode(density, density.neg_log_p, settings, jax.random.fold_in(key, 1))
        hessian = mode.hessian
        chol = honesty.normal_from_hessian(hessian)
        U, log_q = gaussian_draws(jax.random.fold_in(key, 2), mode.u, chol, settings.draws)
        log_p = density.log_p_batch(U)
        k, lw = honesty.pareto_k(log_p - log_q)
        draws = density.constrain(U)
        diagnostics = {"pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k),
                       "importance_ess": honesty.importance_ess(lw),
                       "mean_shift": honesty.mean_shift(draws, lw, model.reported), "optimizer": mode.info,
                       "hessian": honesty.hessian_report(hessian),
                       "boundary": density.boundary(mode.u, density.neg_log_p)}
        return draws, diagnostics, log_p, log_q

    return _run(model, "laplace", settings, data, data_file, cache, body, lazy=True)


def variational(model: Model, data=None, *, data_file: str | None = None, cache: bool = True,
                **options) -> Approximation:
    """SVI with NumPyro's AutoNormal (``family="meanfield"``) or AutoMultivariateNormal
    (``"fullrank"``), Adam with a decaying step size, starting from the Laplace approximation
    when L-BFGS finds a mode (else as NumPyro starts): see :class:`VariationalSettings`."""
    settings = make_settings(VariationalSettings, options)

    def body(kwargs, density, key):
        import jax

        from .optimizers import find_mode, fit_svi, gaussian_draws

        # start from the Laplace approximation when L-BFGS finds a mode: SVI's small steps then
        # refine it instead of travelling (a regression on dollars has log sigma near 10)
        mode = find_mode(density, density.neg_log_p, LaplaceSettings(seed=settings.seed), jax.random.fold_in(key, 3))
        start = None
        if mode.info["converged"]:
            start = (mode.u, mode.hessian)
        loc, chol, losses = fit_svi(density, settings, jax.random.fold_in(key, 1), start)
        U, log_q = gaussian_draws(jax.random.fold_in(key, 2), loc, chol, settings.draws)
        log_p = density.log_p_batch(U)
        k, lw = honesty.pareto_k(log_p - log_q)
        draws = density.constrain(U)
        diagnostics = {"pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k),
                       "importance_ess": honesty.importance_ess(lw),
                       "mean_shift": honesty.mean_shift(draws, lw, model.reported), "family": settings.family,
                       "start": "laplace" if start is not None else "random",
                       "elbo": honesty.elbo_convergence(losses)}
        return draws, diagnostics, log_p, log_q

    return _run(model, "variational", settings, data, data_file, cache, body)


def pathfinder(model: Model, data=None, *, data_file: str | None = None, cache: bool = True,
               **options) -> Approximation:
    """Multi-path Pathfinder (BlackJAX), importance-resampled with PSIS weights: see
    :class:`PathfinderSettings`."""
    settings = make_settings(PathfinderSettings, options)

    def body(kwargs, density, key):
        import jax

        from .optimizers import run_pathfinder

        U, log_p, log_q, paths = run_pathfinder(density, settings, jax.random.fold_in(key, 1))
        k, lw = honesty.pareto_k(log_p - log_q)
        rng = np.random.default_rng(np.asarray(jax.random.key_data(jax.random.fold_in(key, 2))).ravel())
        weights = np.exp(lw - lw.max())
        pick = rng.choice(len(lw), size=settings.draws, replace=True, p=weights / weights.sum())
        diagnostics = {"pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k),
                       "importance_ess": honesty.importance_ess(lw), "paths": paths,
                       "optimizer": paths.pop("optimizer")}
        return density.constrain(U[pick]), diagnostics, log_p[pick], log_q[pick]

    return _run(model, "pathfinder", settings, data, data_file, cache, body)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class InferenceMethod:
    """One row of :data:`METHODS`: ``name``, the ``command`` that runs it, a one-line ``summary``,
    its ``settings`` dataclass, whether it is ``approximate`` and its runner
    ``run(model, data, **options)``."""

    name: str
    command: str
    summary: str
    settings: type
    approximate: bool
    run: Callable[..., Any]


def _nuts(model: Model, data=None, **options):
    return model.sample(data, **options)


METHODS: dict[str, InferenceMethod] = {m.name: m for m in (
    InferenceMethod("nuts", "run", "sample the posterior with NUTS (exact up to Monte Carlo error)",
                    SamplerSettings, False, _nuts),
    InferenceMethod("optimize", "optimize", "the posterior mode (MAP), the mode with the Jacobian, or the MLE",
                    OptimizeSettings, True, optimize),
    InferenceMethod("laplace", "laplace", "draws from a normal approximation at the mode (unconstrained space)",
                    LaplaceSettings, True, laplace),
    InferenceMethod("variational", "variational", "a mean-field or full-rank normal approximation fitted by SVI",
                    VariationalSettings, True, variational),
    InferenceMethod("pathfinder", "pathfinder", "multi-path Pathfinder (BlackJAX), importance-resampled",
                    PathfinderSettings, True, pathfinder),
)}


def fit(model: Model, method: str = "nuts", data=None, **options):
    """Run ``method`` (a key of :data:`METHODS`) on ``model``: a ``Posterior`` for NUTS, an
    :class:`Approximation` otherwise; ``options`` are the method's settings."""
    if method not in METHODS:
        raise PplangError([Diagnostic("bad-setting", f"unknown inference method {method!r}; the methods are "
                                      f"{', '.join(METHODS)}")])
    return METHODS[method].run(model, data, **options)
