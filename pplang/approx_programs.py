"""The work of ``pplang optimize`` and ``pplang laplace`` as a few traced programs, compiled once per
model, data shapes and settings, kept in the process and (with ``cache``) exported to disk as
:mod:`pplang.reuse` does for NUTS.

Run eagerly, their set-up went op by op (NumPyro's ``initialize_model``, the Hessian at the mode,
the draws that judge the estimate, the boundary check): some 350 small programs lowered one at a
time in every process, besides the jitted optimiser traced again in each. Here the same
computation is up to four programs of (PRNG key, arrays), none traced in a warm process:

- ``mode``: the density's set-up, the starting points (:meth:`Density.traced_inits`), the
  optimiser from each, and at each end point the objective's value, gradient and Hessian (and
  the posterior's Hessian where the objective is another), and the standard normal draws;
- ``point``: the same values at another point (only when Newton steps move an end point);
- ``judge``: log p and the constrained values of the normal approximation's draws and of the
  estimate, the estimate's log density, and the latent sites' bounds there;
- ``rise``: the objective at the points of the boundary check (only when some site is bounded).

The host work between them (Newton's linear algebra, the normal approximation, PSIS, the
verdicts) is the NumPy code the eager path runs. Where a program cannot be traced (the model
needs concrete data), finds no starting point, or the model solves an ODE (:func:`usable`), the
caller runs the eager path, which reports as before.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from . import approx_diagnostics as honesty
from . import reuse

MAX_KEPT = 16
_kept: "OrderedDict[tuple, Callable]" = OrderedDict()
_not_traceable: set[str] = set()  # generated sources whose tracing needs concrete data
traces = {"count": 0}  # programs traced in this process (the tests count them)


def forget() -> None:
    """Drop every kept program."""
    _kept.clear()
    _not_traceable.clear()


def usable(model) -> bool:
    """Whether the programs apply: not to a model that solves an ODE (diffrax's checks are host
    callbacks, which ``jax.export`` cannot serialise, so no later process could load the programs,
    and compiling them cold took longer than the eager path), nor to one whose tracing needs
    concrete data."""
    return not model.spec.solvers and model.python_source not in _not_traceable


# ----------------------------------------------------------------------------- programs


def _call(name: str, model, static: dict, settings, body: Callable, rng_key, args: dict, cache: bool):
    """``body(density, rng_key, args)`` as a program kept under (name, model, settings, shapes):
    traced once per process, or loaded from the exported programs on disk with ``cache``."""
    import jax

    sig = tuple(sorted((k, reuse._signature(v)) for k, v in static.items()))
    shapes = repr(jax.tree.map(lambda a: (tuple(np.shape(a)), str(a.dtype)), args))
    key = ("approx-" + name, model.python_source, tuple(sorted(asdict(settings).items() - {("seed", settings.seed)})),
           sig, shapes, bool(jax.config.jax_enable_x64))
    fn = _kept.get(key)
    if fn is None:
        def program(rng_key, args):
            from .optimizers import Density

            traces["count"] += 1
            density = Density(model, {**static, **args["data"]}, jax.random.fold_in(rng_key, 0))
            return body(density, rng_key, args)

        fn = jax.jit(program)
        fn = reuse._stored(key, fn, rng_key, args) if cache else fn
    out = fn(rng_key, args)
    _kept[key] = fn
    _kept.move_to_end(key)
    while len(_kept) > MAX_KEPT:
        _kept.popitem(last=False)
    return jax.tree.map(np.asarray, out)


def _objective(density, settings):
    jacobian = getattr(settings, "jacobian", True)
    return density.objective(jacobian=jacobian, priors=not getattr(settings, "mle", False))


def _needs_posterior_hessian(settings) -> bool:
    return not getattr(settings, "jacobian", True)  # optimize's MAP and MLE: the objective is not -log p


def _at(density, objective, settings, u) -> dict:
    import jax

    value, grad = jax.value_and_grad(objective)(u)
    out = {"value": value, "grad": grad, "hessian": density.hessian(objective)(u)}
    if _needs_posterior_hessian(settings):
        out["posterior_hessian"] = density.hessian(density.neg_log_p)(u)
    return out


def _mode_body(settings, draws: int):
    def body(density, rng_key, args):
        import jax

        from .optimizers import optimiser

        objective = _objective(density, settings)
        starts, found = density.traced_inits(jax.random.fold_in(rng_key, 1), settings.restarts)
        run = optimiser(objective, settings)
        runs = [run(u0) for u0 in starts]
        return {"found": found, "runs": runs, "at": [_at(density, objective, settings, r[0]) for r in runs],
                "eps": jax.random.normal(jax.random.fold_in(rng_key, 2), (draws, density.dim))}
    return body


def _point_body(settings):
    def body(density, rng_key, args):
        return _at(density, _objective(density, settings), settings, args["u"])
    return body


def _bounds(support) -> dict:
    """A support constraint's bounds (``lower_bound``, ``upper_bound``) as arrays."""
    import jax.numpy as jnp

    while hasattr(support, "base_constraint"):
        support = support.base_constraint
    return {n: jnp.asarray(getattr(support, n)) for n in ("lower_bound", "upper_bound") if hasattr(support, n)}


def _judge_body(density, rng_key, args):
    import jax
    import jax.numpy as jnp

    u = args["u"]
    z, estimate = density.unravel(u), density.constrained(u[None])
    return {"log_p": jax.vmap(density.log_p)(args["U"]), "draws": density.constrained(args["U"]),
            "estimate": estimate, "neg_log_p": density.neg_log_p(u), "z": z,
            "positions": density.unravel(jnp.arange(density.dim)),
            "bounds": {k: _bounds(s) for k, s in density.supports(z, estimate).items()}}


def _rise_body(settings):
    def body(density, rng_key, args):
        import jax

        objective = _objective(density, settings)
        return {"points": jax.vmap(objective)(args["points"]), "at": objective(args["u"])}
    return body


# ----------------------------------------------------------------------------- the methods


class _Points:
    """The objective's value, gradient and Hessian at points: those the ``mode`` program computed,
    else from the ``point`` program."""

    def __init__(self, compute: Callable[[Any], dict], known: list[tuple[Any, dict]]):
        self._compute = compute
        self._memo = {np.asarray(u).tobytes(): at for u, at in known}

    def at(self, u) -> dict:
        key = np.asarray(u).tobytes()
        if key not in self._memo:
            self._memo[key] = self._compute(np.asarray(u))
        return self._memo[key]

    def value_grad(self, u):
        at = self.at(u)
        return at["value"], at["grad"]

    def hessian(self, u):
        return self.at(u)["hessian"]


def _split(kwargs: dict) -> tuple[dict, dict]:
    static = {k: v for k, v in kwargs.items() if reuse._static(v)}
    return static, {k: v for k, v in kwargs.items() if not reuse._static(v)}


def _mode(model, kwargs: dict, settings, draws: int, cache: bool):
    """The mode (:class:`pplang.optimizers.Mode`), the standard normal draws, the point values at
    the mode and a caller for later programs; None where the eager path must run."""
    import jax

    from .optimizers import settle

    static, data = _split(kwargs)
    rng_key = jax.random.PRNGKey(settings.seed)

    def call(name, body, **more):
        return _call(name, model, static, settings, body, rng_key, {"data": data, **more}, cache)

    try:
        out = call("mode", _mode_body(settings, draws))
    except reuse._tracing_errors():
        _not_traceable.add(model.python_source)
        return None
    if int(out["found"]) < settings.restarts:
        return None  # the eager path says no starting point was found
    runs = [tuple(r) for r in out["runs"]]
    points = _Points(lambda u: call("point", _point_body(settings), u=u),
                     [(r[0], at) for r, at in zip(runs, out["at"])])
    mode = settle(runs, points.value_grad, points.hessian, settings, int(out["eps"].shape[1]))
    return mode, out["eps"], points, call


def _boundary(call, settings, u, judged) -> list[dict]:
    """The boundary check (:meth:`pplang.optimizers.Density.boundary`) at ``u`` from the ``judge``
    program's values, the objective's rise from the ``rise`` program."""
    from .optimizers import boundary_points, boundary_verdict

    supports = {name: SimpleNamespace(**b) for name, b in judged["bounds"].items()}
    bounded, shifted = boundary_points(u, judged["z"], supports, judged["estimate"], judged["positions"])
    if not bounded:
        return []
    rise = call("rise", _rise_body(settings), points=shifted, u=u)
    return boundary_verdict(bounded, np.asarray(rise["points"], dtype=float) - float(rise["at"]))


def optimize(model, kwargs: dict, settings, khat_draws: int, cache: bool):
    """``pplang optimize``'s body (:func:`pplang.inference.optimize`) through the programs: (draws,
    diagnostics, log p, None), or None where the eager path must run."""
    from .optimizers import gaussian_from, nan_as_minus_inf

    found = _mode(model, kwargs, settings, khat_draws, cache)
    if found is None:
        return None
    mode, eps, points, call = found
    u = np.asarray(mode.u)
    hessian = points.at(u).get("posterior_hessian", mode.hessian)
    U, log_q = gaussian_from(eps, u, honesty.normal_from_hessian(hessian))
    judged = call("judge", _judge_body, U=U, u=u)
    k, lw = honesty.pareto_k(nan_as_minus_inf(judged["log_p"]) - log_q)
    shift = honesty.mean_shift(judged["draws"], lw, model.reported, estimate=judged["estimate"])
    diagnostics = {
        "estimate": "mle" if settings.mle else "map_jacobian" if settings.jacobian else "map",
        "pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k), "pareto_k_draws": khat_draws,
        "mean_shift": shift, "optimizer": mode.info, "hessian": honesty.hessian_report(mode.hessian),
        "boundary": _boundary(call, settings, u, judged),
    }
    return judged["estimate"], diagnostics, np.array([-float(judged["neg_log_p"])]), None


def laplace(model, kwargs: dict, settings, cache: bool):
    """``pplang laplace``'s body (:func:`pplang.inference.laplace`) through the programs: (draws,
    diagnostics, log p, log q), or None where the eager path must run."""
    from .optimizers import gaussian_from, nan_as_minus_inf

    found = _mode(model, kwargs, settings, settings.draws, cache)
    if found is None:
        return None
    mode, eps, points, call = found
    u = np.asarray(mode.u)
    U, log_q = gaussian_from(eps, u, honesty.normal_from_hessian(mode.hessian))
    judged = call("judge", _judge_body, U=U, u=u)
    log_p = nan_as_minus_inf(judged["log_p"])
    k, lw = honesty.pareto_k(log_p - log_q)
    draws = judged["draws"]
    diagnostics = {"pareto_k": k, "pareto_k_meaning": honesty.khat_meaning(k),
                   "importance_ess": honesty.importance_ess(lw),
                   "mean_shift": honesty.mean_shift(draws, lw, model.reported), "optimizer": mode.info,
                   "hessian": honesty.hessian_report(mode.hessian),
                   "boundary": _boundary(call, settings, u, judged)}
    return draws, diagnostics, log_p, log_q
