"""The machinery of the approximate methods (:mod:`pplang.inference`): a model's log density over
NumPyro's flat unconstrained parameter vector, L-BFGS and Adam (optax) with Stan's convergence
tests, normal draws, SVI with AutoNormal / AutoMultivariateNormal, and BlackJAX's Pathfinder.

Imported only when an approximate method runs (it imports JAX, NumPyro and optax at module level).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import approx_diagnostics as honesty
from .diagnostics import Diagnostic, PplangError

# Stan's L-BFGS defaults (tol_rel_obj and tol_rel_grad are multiples of machine epsilon)
TOL_OBJ = 1e-12
TOL_REL_OBJ = 1e4
TOL_GRAD = 1e-8
TOL_PARAM = 1e-8
ADAM_TOL_GRAD = 1e-3  # Adam stops when the gradient's largest element is below this
# a run that stopped on a small change (2, 3, 4) with a gradient larger than this times
# max(1, |log density|) stalled rather than converged
STALL_GRAD = 1e-3
# after L-BFGS: up to NEWTON_STEPS damped Newton steps, until the decrease a Newton step predicts
# is below NEWTON_TOL * max(1, |log density|)
NEWTON_STEPS = 20
NEWTON_TOL = 1e-10
# Pathfinder's L-BFGS stops when the log density changes by less than this (BlackJAX's ftol,
# absolute; its default 1e-5 stopped badly scaled regressions far from the mode)
PATHFINDER_FTOL = 1e-9
REASONS = {
    0: "running",
    1: "the gradient is below its tolerance",
    2: "the change in the log density is below its tolerance",
    3: "the relative change in the log density is below its tolerance",
    4: "the change in the parameters is below its tolerance",
    5: "the log density or its gradient stopped being finite",
    6: "it reached the iteration limit",
    7: "the line search stopped making progress while the gradient is still large",
    8: "the Newton decrement is still large: the point is not the mode",
    9: "Newton steps from where the optimiser stopped reached the mode",
}
CONVERGED = (1, 2, 3, 4)


@contextlib.contextmanager
def precision(float64: bool):
    """Double precision when ``float64``: JAX's global flag is set, as ``Model.sample(float64=True)``
    does (a scoped ``jax.enable_x64`` leaves compiled programs that later float32 calls trip over)."""
    if float64:
        jax.config.update("jax_enable_x64", True)
    yield


def _drop_priors(model):
    """The model with every latent site's density masked out (``--mle``): observed statements and
    ``target +=`` (observed factor sites) stay."""
    from numpyro.primitives import Messenger

    class DropPriors(Messenger):
        def process_message(self, msg):
            if msg["type"] == "sample" and not msg["is_observed"]:
                msg["fn"] = msg["fn"].mask(False)

    return DropPriors(model)


class Density:
    """A model's log density over the flat unconstrained vector u of its latent sites (NumPyro's
    ``biject_to`` transforms, the space NUTS samples): ``log_p(u)`` includes the log Jacobian of
    the constraining transforms (it is the posterior density of u); :meth:`objective` gives the
    variants optimisation needs."""

    def __init__(self, model, kwargs: dict, key):
        from numpyro.infer import init_to_uniform
        from numpyro.infer.util import initialize_model

        self.model_fn = model.numpyro_model
        self.solves_odes = bool(model.spec.solvers)
        self.kwargs = kwargs
        from .initcheck import explain_failed_start, is_failed_start

        def start():
            try:
                return initialize_model(key, self.model_fn, model_kwargs=kwargs, init_strategy=init_to_uniform)
            except RuntimeError as exc:  # no finite initial point: name the statement (pplang.initcheck)
                if not is_failed_start(exc):
                    raise
                raise explain_failed_start(model, kwargs, None, 0) from None

        info = model._run_located(start)
        self.z0 = info.param_info.z
        self.u0, self.unravel = ravel_pytree(self.z0)
        if self.u0.size == 0:
            raise PplangError([Diagnostic("unsupported", "the model has no parameters to infer",
                                          help="`pplang prior` draws a model without parameters")],
                              source=model.source, file=model.path)
        self.dim = int(self.u0.size)
        self._potential = info.potential_fn
        self._postprocess = info.postprocess_fn
        self._batch_log_p = jax.jit(jax.vmap(self.log_p))

    def log_p(self, u):
        return -self._potential(self.unravel(u))

    def hessian(self, f):
        """The Hessian function of ``f`` (of u): JAX's, or central differences of the gradient for
        a model that solves an ODE (no forward mode through the solver's adjoint)."""
        return central_difference_hessian(f) if self.solves_odes else jax.hessian(f)

    def neg_log_p(self, u):
        return self._potential(self.unravel(u))

    def log_p_batch(self, U) -> np.ndarray:
        """log p of each row of U, as float64 NumPy (NaN -> -inf)."""
        return nan_as_minus_inf(self._batch_log_p(jnp.asarray(U)))

    def objective(self, *, jacobian: bool, priors: bool):
        """The function of u to minimise: -log p(u) with the Jacobian (the mode in the
        unconstrained space), else -log p(theta(u), y) (the mode over the declared parameters,
        where the constraining map only reparameterises the search); ``priors=False`` drops the
        latent sites' densities (maximum likelihood)."""
        if jacobian and priors:
            return self.neg_log_p
        from numpyro.infer.util import constrain_fn, log_density

        target = self.model_fn if priors else _drop_priors(self.model_fn)
        model_fn, kwargs, unravel = self.model_fn, self.kwargs, self.unravel

        if jacobian:
            raise ValueError("the Jacobian adjusts a density over the parameters; a likelihood is not one")

        def f(u):
            return -log_density(target, (), kwargs, constrain_fn(model_fn, (), kwargs, unravel(u)))[0]
        return f

    def constrain(self, U) -> dict[str, np.ndarray]:
        """Every latent and deterministic site for each row of U: name -> (rows, ...)."""
        return {k: np.asarray(v) for k, v in jax.jit(self.constrained)(jnp.asarray(U)).items()}

    def constrained(self, U) -> dict:
        """:meth:`constrain` as JAX arrays (to be traced)."""
        out = jax.vmap(lambda u: self._postprocess(self.unravel(u)))(U)
        return {k: v for k, v in out.items() if not k.startswith("_pp")}

    def inits(self, key, n: int):
        """``n`` starting points drawn as NumPyro's ``init_to_uniform`` does (uniform in (-2, 2)
        on the unconstrained scale) where the log density and its gradient are finite."""
        value_grad = jax.jit(jax.vmap(jax.value_and_grad(self.log_p)))
        found = []
        for attempt in range(100):
            cand = jax.random.uniform(jax.random.fold_in(key, attempt), (n, self.dim), minval=-2.0, maxval=2.0,
                                      dtype=self.u0.dtype)
            v, g = value_grad(cand)
            ok = np.asarray(jnp.isfinite(v) & jnp.all(jnp.isfinite(g), axis=1))
            found += list(np.asarray(cand)[ok])
            if len(found) >= n:
                return jnp.asarray(np.stack(found[:n]))
        raise PplangError([Diagnostic("runtime-error", "found no starting point with a finite log density in "
                                      "100 tries", help="check the data against the priors and bounds")])

    def traced_inits(self, key, n: int):
        """:meth:`inits` as one loop that can be traced: the same points, and how many were found
        (fewer than ``n``: 100 tries were not enough, and :meth:`inits` says so)."""
        value_grad = jax.vmap(jax.value_and_grad(self.log_p))

        def body(c):
            attempt, count, found = c
            cand = jax.random.uniform(jax.random.fold_in(key, attempt), (n, self.dim), minval=-2.0, maxval=2.0,
                                      dtype=self.u0.dtype)
            v, g = value_grad(cand)
            ok = jnp.isfinite(v) & jnp.all(jnp.isfinite(g), axis=1)
            at = jnp.where(ok, count + jnp.cumsum(ok) - 1, n)  # in order of the rows, as inits keeps them
            return attempt + 1, count + jnp.sum(ok).astype(count.dtype), found.at[at].set(cand, mode="drop")

        start = (jnp.int32(0), jnp.int32(0), jnp.zeros((n, self.dim), self.u0.dtype))
        _, count, found = jax.lax.while_loop(lambda c: (c[0] < 100) & (c[1] < n), body, start)
        return found, count

    def boundary(self, u, objective) -> list[dict]:
        """The elements of bounded parameters at which ``objective`` (minimised at ``u``) does not
        rise when the element moves BOUNDARY_SHIFT further toward its bound on the unconstrained
        scale, but does rise when it moves BOUNDARY_AWAY away: the mode is on the edge (see
        :func:`pplang.approx_diagnostics.bound_directions`)."""
        z = self.unravel(u)
        values = self.constrain(np.asarray(u)[None])
        found, shifted = boundary_points(u, z, self.supports(z, values), values, self.unravel(jnp.arange(self.dim)))
        if not found:
            return []
        rise = np.asarray(jax.vmap(objective)(jnp.asarray(shifted)), dtype=float) - float(objective(u))
        return boundary_verdict(found, rise)

    def supports(self, z, values) -> dict:
        """Each latent site's support constraint at the constrained ``values`` (name -> constraint)."""
        from numpyro import handlers

        fixed = handlers.substitute(self.model_fn, data={k: v[0] for k, v in values.items() if k in z})
        tr = handlers.trace(handlers.seed(fixed, rng_seed=0)).get_trace(**self.kwargs)
        return {k: tr[k]["fn"].support for k in z if k in tr}


def boundary_points(u, z: dict, supports: dict, values: dict, positions: dict) -> tuple[list[dict], np.ndarray]:
    """The bounded elements (:func:`pplang.approx_diagnostics.bound_directions`) and, for each, two
    points: ``u`` moved BOUNDARY_SHIFT toward its bound and BOUNDARY_AWAY away from it (rows 2k
    and 2k + 1). ``positions``: each element's place in the flat vector, as ``unravel`` gives it."""
    found = honesty.bound_directions([(k, np.asarray(z[k]), supports[k], values[k][0]) for k in z if k in supports])
    shifted = np.repeat(np.asarray(u)[None], 2 * len(found), axis=0)
    for k, b in enumerate(found):
        at = int(np.asarray(positions[b["name"].split("[")[0]])[b["index"]])
        shifted[2 * k, at] += b["direction"] * honesty.BOUNDARY_SHIFT  # toward the bound
        shifted[2 * k + 1, at] -= b["direction"] * honesty.BOUNDARY_AWAY  # far away from it
    return found, shifted


def boundary_verdict(found: list[dict], rise: np.ndarray) -> list[dict]:
    """The elements of ``found`` at the edge, given the objective's ``rise`` at :func:`boundary_points`."""
    out = []
    for b, toward, away in zip(found, rise[0::2], rise[1::2]):
        # on the edge: no rise toward the bound, but a rise away from it (flat both ways is a
        # parameter the density does not identify: the Hessian check reports that)
        if toward <= honesty.BOUNDARY_RISE and away > honesty.BOUNDARY_RISE:
            out.append({k: b[k] for k in ("name", "value", "bound", "side")} | {"rise": float(toward)})
    return out


def nan_as_minus_inf(log_p) -> np.ndarray:
    """Log densities as float64 NumPy, NaN -> -inf."""
    out = np.asarray(log_p, dtype=np.float64)
    return np.where(np.isnan(out), -np.inf, out)


def gaussian_draws(key, mean, chol, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of N(mean, chol chol^T) and their log densities (float64 NumPy)."""
    return gaussian_from(jax.random.normal(key, (n, np.size(mean))), mean, chol)


def gaussian_from(eps, mean, chol) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``mean + chol eps`` of N(mean, chol chol^T) from standard normal rows ``eps`` (n, dim),
    and their log densities (float64 NumPy)."""
    mean = np.asarray(mean, dtype=np.float64)
    chol = np.asarray(chol, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    U = mean + eps @ chol.T
    _, logdet = np.linalg.slogdet(chol)
    log_q = -0.5 * np.sum(eps**2, axis=1) - logdet - 0.5 * mean.size * np.log(2 * np.pi)
    return U.astype(np.asarray(mean).dtype), log_q


# ----------------------------------------------------------------------------- optimisers


def central_difference_hessian(f):
    """The Hessian of ``f`` by central differences of its exact gradient (as Stan's optimizer and
    Laplace approximation compute it), symmetrised: for densities with no second derivative in JAX.
    An ODE solve is one: diffrax's checkpointed adjoint has a reverse mode only, once."""
    grad = jax.vmap(jax.grad(f))

    def hessian(u):
        h = jnp.finfo(u.dtype).eps ** (1 / 3) * jnp.maximum(1.0, jnp.abs(u))
        step = jnp.diag(h)
        H = (grad(u + step) - grad(u - step)) / (2 * h[:, None])
        return (H + H.T) / 2
    return hessian


def _lbfgs(f, u0, max_iter: int):
    """Minimise ``f`` from ``u0`` with optax's L-BFGS (zoom line search) until one of Stan's tests
    holds. Returns (u, f(u), iterations, reason, |grad|_inf)."""
    import optax

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)
    eps = jnp.finfo(u0.dtype).eps
    f0, g0 = jax.value_and_grad(f)(u0)

    def cond(c):
        return c[4] == 0

    def body(c):
        u, state, it, fu, reason, gnorm = c
        value, grad = value_and_grad(u, state=state)
        updates, new_state = opt.update(grad, state, u, value=value, grad=grad, value_fn=f)
        new_u = optax.apply_updates(u, updates)
        new_f = optax.tree_utils.tree_get(new_state, "value")
        new_g = optax.tree_utils.tree_get(new_state, "grad")
        new_gnorm = jnp.max(jnp.abs(new_g))
        finite = jnp.isfinite(new_f) & jnp.all(jnp.isfinite(new_g)) & jnp.all(jnp.isfinite(new_u))
        df = jnp.abs(fu - new_f)
        reason = jnp.select(
            [~finite, new_gnorm <= TOL_GRAD, df <= TOL_OBJ,
             df / jnp.maximum(jnp.maximum(jnp.abs(fu), jnp.abs(new_f)), 1.0) <= TOL_REL_OBJ * eps,
             jnp.max(jnp.abs(new_u - u)) <= TOL_PARAM, it + 1 >= max_iter],
            [5, 1, 2, 3, 4, 6], 0).astype(jnp.int32)
        keep = ~finite  # a non-finite step is not taken
        return (jnp.where(keep, u, new_u), jax.tree.map(lambda a, b: jnp.where(keep, a, b), state, new_state),
                it + 1, jnp.where(keep, fu, new_f), reason, jnp.where(keep, gnorm, new_gnorm))

    start_reason = jnp.where(jnp.isfinite(f0), jnp.where(jnp.max(jnp.abs(g0)) <= TOL_GRAD, 1, 0), 5)
    c = (u0, opt.init(u0), jnp.int32(0), f0, start_reason.astype(jnp.int32), jnp.max(jnp.abs(g0)))
    u, _, it, fu, reason, gnorm = jax.lax.while_loop(cond, body, c)
    return u, fu, it, reason, gnorm


def _adam(f, u0, max_iter: int, learning_rate: float):
    """Minimise ``f`` with Adam, the step size decaying exponentially to 1% over ``max_iter``,
    until the gradient's largest element is below ADAM_TOL_GRAD."""
    import optax

    opt = optax.adam(optax.exponential_decay(learning_rate, max_iter, 0.01))
    value_and_grad = jax.value_and_grad(f)

    def cond(c):
        return c[4] == 0

    def body(c):
        u, state, it, _, _, _ = c
        value, grad = value_and_grad(u)
        gnorm = jnp.max(jnp.abs(grad))
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        updates, new_state = opt.update(grad, state, u)
        new_u = jnp.where(finite & (gnorm > ADAM_TOL_GRAD), optax.apply_updates(u, updates), u)
        reason = jnp.select([~finite, gnorm <= ADAM_TOL_GRAD, it + 1 >= max_iter], [5, 1, 6], 0).astype(jnp.int32)
        return new_u, new_state, it + 1, value, reason, gnorm

    c = (u0, opt.init(u0), jnp.int32(0), f(u0), jnp.int32(0), jnp.asarray(jnp.inf, u0.dtype))
    u, _, it, _, reason, gnorm = jax.lax.while_loop(cond, body, c)
    return u, f(u), it, reason, gnorm


def _newton(value_grad, hessian, u, max_steps: int):
    """Damped Newton steps on the objective (``value_grad``, ``hessian``) from ``u`` while the
    Newton decrement g' H^-1 g / 2 (the decrease a Newton step predicts) exceeds NEWTON_TOL * max(1, |f|): L-BFGS can stop on a small
    change of the objective along a long, nearly flat valley (a regression on uncentred
    predictors), far from the mode; the exact Hessian finishes the job. Returns (u, f(u), the
    Hessian at u, Newton steps taken, the decrement or None where the Hessian is not positive
    definite)."""
    steps = 0
    while True:
        value, grad = value_grad(u)
        value, grad, H = float(value), np.asarray(grad, dtype=np.float64), np.asarray(hessian(u), dtype=np.float64)
        try:
            chol = np.linalg.cholesky((H + H.T) / 2)
        except np.linalg.LinAlgError:
            return u, value, H, steps, None
        step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        decrement = float(grad @ step) / 2
        if not np.isfinite(decrement) or decrement <= NEWTON_TOL * max(1.0, abs(value)) or steps >= max_steps:
            return u, value, H, steps, decrement
        t = 1.0
        while t > 1e-10:  # backtracking on the Armijo condition
            cand = u - t * jnp.asarray(step, dtype=u.dtype)
            new = float(value_grad(cand)[0])
            if np.isfinite(new) and new <= value - 1e-4 * t * 2 * decrement:
                break
            t /= 2
        else:
            return u, value, H, steps, decrement
        u, steps = cand, steps + 1


@dataclass
class Mode:
    """The best of the optimiser's runs: ``u`` (flat, unconstrained), ``value`` (the objective,
    a negative log density), ``hessian`` (the objective's, at u) and ``info`` (the ``optimizer``
    entry of the diagnostics)."""

    u: object
    value: float
    hessian: np.ndarray
    info: dict


def find_mode(density: Density, objective, settings, key) -> Mode:
    """Minimise ``objective`` from ``settings.restarts`` random starting points with
    ``settings.algorithm``, then (after L-BFGS) damped Newton steps until the Newton decrement is
    negligible; keep the lowest. A run has converged when the Newton decrement is negligible (or,
    where the Hessian is not positive definite, when the optimiser's own tests held). Restarts
    that converged to objectives further apart than RESTART_TOL (relative) are different optima."""
    run = jax.jit(optimiser(objective, settings))
    value_grad, hessian = jax.jit(jax.value_and_grad(objective)), jax.jit(density.hessian(objective))
    starts = density.inits(key, settings.restarts)
    return settle([run(u0) for u0 in starts], value_grad, hessian, settings, density.dim)


def optimiser(objective, settings):
    """The optimiser run of ``settings.algorithm`` from one starting point: u0 -> (u, objective(u),
    iterations, reason, |grad|_inf) (to be jitted or traced)."""
    if settings.algorithm == "lbfgs":
        return partial(_lbfgs, objective, max_iter=settings.iter)
    return partial(_adam, objective, max_iter=settings.iter, learning_rate=settings.learning_rate)


def settle(runs: list, value_grad, hessian, settings, dim: int) -> Mode:
    """The :class:`Mode` of the optimiser's ``runs`` (one (u, value, iterations, reason, gnorm) per
    starting point): each finished with damped Newton steps (after L-BFGS) using ``value_grad``
    and ``hessian`` of the objective, the lowest kept, the restarts compared."""
    newton_steps = NEWTON_STEPS if settings.algorithm == "lbfgs" else 0
    settled = []
    for u, value, it, reason, gnorm in runs:
        value, reason, gnorm = float(value), int(reason), float(gnorm)
        if reason in (2, 3, 4) and not gnorm <= STALL_GRAD * max(1.0, abs(value)):
            reason = 7
        if np.isfinite(value):
            u, value, H, steps, decrement = _newton(value_grad, hessian, u, newton_steps)
            gnorm = float(np.max(np.abs(np.asarray(value_grad(u)[1]))))
            if decrement is not None and decrement <= NEWTON_TOL * max(1.0, abs(value)):
                reason = reason if reason in CONVERGED else 9
            elif decrement is not None:
                reason = 8
        else:
            H, steps, decrement = np.full((dim, dim), np.nan), 0, None
        settled.append((value, u, int(it), reason, gnorm, H, steps, decrement))
    runs = settled
    finite = [r for r in runs if np.isfinite(r[0])] or runs
    value, u, it, reason, gnorm, H, steps, decrement = min(finite, key=lambda r: r[0])
    converged = [r[0] for r in runs if r[3] in CONVERGED + (9,) and np.isfinite(r[0])]
    tol = honesty.RESTART_TOL * max(1.0, abs(value))
    info = {"algorithm": "L-BFGS" if settings.algorithm == "lbfgs" else "Adam",
            "converged": reason in CONVERGED + (9,), "reason": REASONS[reason], "iterations": it,
            "newton_steps": steps, "newton_decrement": decrement, "objective": -value, "gradient_max": gnorm,
            "restarts": len(runs), "restarts_converged": len(converged),
            "restarts_agreeing": sum(abs(v - value) <= tol for v in converged),
            "distinct_optima": _clusters(sorted(converged), tol),
            "worst_optimum": -max(converged) if converged else None}
    return Mode(u, value, H, info)


def _clusters(values: list[float], tol: float) -> int:
    """Groups among sorted ``values`` separated by more than ``tol``."""
    return sum(1 for i, v in enumerate(values) if i == 0 or v - values[i - 1] > tol)


# ----------------------------------------------------------------------------- variational inference


def fit_svi(density: Density, settings, key, start=None):
    """SVI with AutoNormal (meanfield) or AutoMultivariateNormal (fullrank) and Adam, the step
    size decaying exponentially to a tenth over ``settings.iter`` steps. ``start``, a normal
    approximation over the flat unconstrained vector (mean, precision matrix), sets the guide's
    initial parameters: its mean, and the meanfield scales 1 / sqrt(diag(precision)) (the
    mean-field optimum for a normal target) or the Cholesky factor of its covariance; without it
    the guide starts as NumPyro's does. Returns the fitted normal approximation over the flat
    unconstrained vector (mean, Cholesky factor) and the losses."""
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
    from numpyro.optim import optax_to_numpyro

    guide_cls = AutoNormal if settings.family == "meanfield" else AutoMultivariateNormal
    guide = guide_cls(density.model_fn)
    init_params = None
    if start is not None:
        mean, precision = start
        if settings.family == "meanfield":
            d = np.diag(np.asarray(precision, dtype=np.float64))
            scale = np.where(np.isfinite(d) & (d > 0), 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 1.0)
            loc_tree, scale_tree = density.unravel(jnp.asarray(mean)), density.unravel(jnp.asarray(scale))
            init_params = {**{f"{k}_auto_loc": loc_tree[k] for k in density.z0},
                           **{f"{k}_auto_scale": scale_tree[k] for k in density.z0}}
        else:
            factor = honesty.normal_from_hessian(precision)
            chol = np.linalg.cholesky(factor @ factor.T + 1e-12 * np.eye(density.dim))
            init_params = {"auto_loc": jnp.asarray(mean), "auto_scale_tril": jnp.asarray(chol)}
    optim = optax_to_numpyro(optax.adam(optax.exponential_decay(settings.learning_rate, settings.iter, 0.1)))
    svi = SVI(density.model_fn, guide, optim, Trace_ELBO())
    res = svi.run(key, settings.iter, progress_bar=False, stable_update=True, init_params=init_params,
                  **density.kwargs)
    params = res.params
    if settings.family == "meanfield":
        loc, _ = ravel_pytree({k: params[f"{k}_auto_loc"] for k in density.z0})
        scale, _ = ravel_pytree({k: params[f"{k}_auto_scale"] for k in density.z0})
        chol = np.diag(np.asarray(scale, dtype=np.float64))
    else:
        loc, chol = params["auto_loc"], np.asarray(params["auto_scale_tril"], dtype=np.float64)
    if np.shape(loc) != (density.dim,):
        raise AssertionError("the guide's parameters do not match the model's unconstrained vector")
    return np.asarray(loc), chol, np.asarray(res.losses)


# ----------------------------------------------------------------------------- Pathfinder


def run_pathfinder(density: Density, settings, key):
    """Multi-path Pathfinder with BlackJAX's single-path ``approximate`` and ``sample`` (as
    ``blackjax.multipathfinder`` does, but with separate counts of ELBO draws and output draws, as
    Stan's). Returns the pooled draws U (paths * draws, dim), log p, log q and a
    record of each path."""
    from blackjax.vi.pathfinder import approximate, sample

    k_init, k_fit, k_draw = jax.random.split(key, 3)
    starts = density.inits(k_init, settings.paths)

    # one path at a time: XLA on CPU was seen to deadlock on the L-BFGS loops vmapped over paths
    fit = jax.jit(lambda k, x: approximate(k, density.log_p, x, num_samples=settings.elbo_draws,
                                           maxiter=settings.iter, maxcor=settings.history_size,
                                           ftol=PATHFINDER_FTOL))
    runs = [fit(k, x) for k, x in zip(jax.random.split(k_fit, settings.paths), starts)]
    states, infos = jax.tree.map(lambda *xs: jnp.stack(xs), *runs)
    U, log_q = jax.jit(jax.vmap(lambda k, s: sample(k, s, settings.draws)))(
        jax.random.split(k_draw, settings.paths), states)
    U = np.asarray(U).reshape(-1, density.dim)
    log_q = np.asarray(log_q, dtype=np.float64).ravel()
    log_p = density.log_p_batch(U)
    iterations = np.sum(np.isfinite(np.asarray(infos.path.elbo)), axis=1)
    # elbo is finite for the points the L-BFGS run reached; a path that used every iteration hit the limit
    at_limit = [i + 1 for i, n in enumerate(iterations) if n >= settings.iter]
    paths = {"iterations": iterations.tolist(), "elbo": np.asarray(states.elbo, dtype=float).tolist(),
             "optimizer": {"algorithm": "L-BFGS (Pathfinder)", "converged": not at_limit,
                           "reason": (f"path{'s' if len(at_limit) > 1 else ''} {', '.join(map(str, at_limit))} of "
                                      f"{settings.paths} reached the iteration limit ({settings.iter})")
                           if at_limit else "every path stopped before the iteration limit",
                           "iterations": int(iterations.max()), "restarts": 1}}
    return U, log_p, log_q, paths
