"""The measurement behind ``auto``: which centring each ``auto`` site should get, from the model
and the data, before NUTS runs. Imports JAX; :mod:`pplang.autoreparam` turns the result into a
checked model (spec -> spec) and caches it.

For ``theta_j ~ Normal(mu, tau)`` whose data give ``theta_j`` a likelihood variance ``s_j^2``,
the partial centring that makes ``theta_j`` independent of ``mu`` is
``lambda_j = tau^2 / (tau^2 + s_j^2)`` (Papaspiliopoulos, Roberts & Skold 2007): about 0 for
vague groups (non-centre them), about 1 for well-informed ones (leave them centred). The steps:

1. **Fit.** Mean-field Gaussian variational inference on the non-centred model (every ``auto``
   site non-centred; the other sites as written), in unconstrained space, from zero: a point for
   every latent (the fitted means) and tau-hat.
2. **Information per element.** With the other latents at that point, the log-likelihood terms
   (the log joint without the site's own prior) are differentiated twice in the site's value: when
   each observation depends on one element, the Hessian is diagonal, and one Hessian-vector
   product with a vector of ones gives every element's information ``1 / s_j^2`` (checked against
   a second product with random signs; an exact diagonal otherwise, by one product per element).
3. **Candidates.** Every site centred; every site non-centred; ``lambda_j`` rounded to 0 or 1 per
   element ("per-group"); ``lambda_j`` itself, to two decimals ("per-group partial").
4. **Guard.** Each candidate's mean-field fit, started from the fitted point carried into that
   parameterisation, is scored by its ELBO (log evidence minus the KL divergence of the
   mean-field approximation from the posterior: the evidence does not depend on the
   parameterisation, so a higher ELBO is a posterior closer to independent Gaussians, the shape a
   diagonal-metric NUTS samples best). All candidates use the same random numbers. The better
   fixed choice stands unless the per-group candidate scores at least as high, and the partial
   candidate must beat the result by more than twice the standard error of the paired
   difference: a formula-made candidate never wins on a worse objective.

Everything runs through one compiled function (a block of Adam steps on one-draw ELBO gradients,
data passed as arguments) and one compiled analysis of the fitted point, with a fixed seed: the choice
depends only on the model and the data, so it can be cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

SEED = 20260101          # the choice's own random numbers (never the run's --seed)
FIT_STEPS = 1000         # stage 1: mean-field fit of the non-centred model from zero
FIT_LR = 0.05
REFINE_STEPS = 400       # stage 2: each candidate from the fitted point
REFINE_LR = 0.01
EVAL_DRAWS = 200         # ELBO draws per candidate (common random numbers)
BLOCK = 100              # Adam steps per compiled call (the noise for them is one argument) ...
BLOCK_VALUES = 10_000_000  # ... fewer when a block's noise would exceed this many numbers
EXACT_DIAGONAL_MAX = 512  # elements up to which a non-diagonal Hessian gets its exact diagonal
CANDIDATES = ("centred", "non-centred", "per-group", "per-group partial")


@dataclass
class Measurement:
    """The result: ``centered`` site -> centring per element (the winner's); ``winner`` the
    candidate's name; ``lam`` site -> the formula's lambda per element; ``scores`` candidate ->
    mean ELBO; ``notes`` anything the user should know (a non-diagonal Hessian, a fallback);
    ``seconds`` the time taken."""

    centered: dict[str, np.ndarray]
    winner: str
    lam: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _split_data(kwargs: dict, traced: bool = True):
    """Arrays become arguments of the compiled functions (so the compiled code depends on shapes,
    not values); sizes and other scalars stay Python values (all of it, unless ``traced``)."""
    import jax

    arrays = {k: v for k, v in kwargs.items()
              if traced and isinstance(v, (np.ndarray, jax.Array)) and np.ndim(v) > 0}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    return static, arrays


class _Problem:
    """The model with every ``auto`` site's centring as an input: ``probe(c, arrays)``."""

    def __init__(self, base, sites: dict[str, tuple[str, ...]], kwargs: dict, traced: bool = True):
        import jax
        import jax.numpy as jnp
        from numpyro import handlers
        from numpyro.distributions.transforms import biject_to
        from numpyro.infer.reparam import LocScaleReparam

        self.base, self.sites = base, sites
        self.static, arrays = _split_data(kwargs, traced)
        self.arrays = {k: jnp.asarray(v) for k, v in arrays.items()}

        def probe(c, arrays):
            config = {n: LocScaleReparam(centered=c[n], shape_params=sites[n]) for n in sites}
            return handlers.reparam(base, config=config)(**self.static, **arrays)

        def structure(arrays):
            """Site shapes, traced abstractly (nothing is compiled or run)."""
            tr = handlers.trace(handlers.seed(base, SEED)).get_trace(**self.static, **arrays)
            latents = {k: s["value"] for k, s in tr.items() if s["type"] == "sample" and not s["is_observed"]}
            c = {n: jnp.zeros(jnp.shape(tr[n]["value"])) for n in sites}
            ptr = handlers.trace(handlers.seed(probe, SEED)).get_trace(c, arrays)
            unconstrained = {k: biject_to(s["fn"].support).inv(s["value"]) for k, s in ptr.items()
                             if s["type"] == "sample" and not s["is_observed"]}
            return latents, unconstrained

        self.probe = probe
        latents, unconstrained = jax.eval_shape(structure, self.arrays)
        self.base_latents = sorted(latents)
        self.shapes = {n: tuple(latents[n].shape) for n in sites}
        self.names = sorted(unconstrained)
        self.ushape = {k: tuple(v.shape) for k, v in unconstrained.items()}
        self.dtype = jnp.result_type(float)
        self.np_dtype = np.dtype(self.dtype)
        size = sum(int(np.prod(v)) for v in self.ushape.values())
        self.block = int(max(1, min(BLOCK, BLOCK_VALUES // max(size, 1))))
        self._block = jax.jit(self._adam_block)
        self._hvp = jax.jit(self._hvps)
        self._analyse = jax.jit(self._point_and_curvature)

    def potential(self, c, params, arrays):
        from numpyro.infer.util import potential_energy

        return potential_energy(self.probe, (c, arrays), {}, params)

    # -- mean-field variational inference: Adam on a one-draw ELBO gradient, a block of steps per call
    def _adam_block(self, state, c, arrays, eps, lr):
        """``len(lr)`` Adam steps (one compiled ``lax.scan``); ``eps`` holds a standard-normal draw
        per step and site. Returns the state and each step's one-draw negative ELBO (taken before
        the step's update: with a zero rate, these are ELBO draws at a fixed approximation)."""
        import jax
        import jax.numpy as jnp

        def step(state, inp):
            m, ls, mo, ve, i = state
            e, rate = inp

            def neg_elbo(theta):
                m, ls = theta
                z = {n: m[n] + jnp.exp(ls[n]) * e[n] for n in self.names}
                return self.potential(c, z, arrays) - sum(jnp.sum(v) for v in ls.values())

            loss, g = jax.value_and_grad(neg_elbo)((m, ls))
            i = i + 1
            mo = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, mo, g)
            ve = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, ve, g)
            upd = jax.tree.map(lambda a, b: rate * (a / (1 - 0.9 ** i)) / (jnp.sqrt(b / (1 - 0.999 ** i)) + 1e-8),
                               mo, ve)
            m, ls = jax.tree.map(lambda x, u: x - u, (m, ls), upd)
            return (m, ls, mo, ve, i), loss

        return jax.lax.scan(step, state, (eps, lr))

    def _run(self, c, m, ls, rates: np.ndarray, seed: int):
        """Adam from (m, log sd) through ``rates`` (one per step), in blocks of ``self.block``
        steps; the noise comes from NumPy's generator seeded ``seed`` (the same for every
        candidate). Returns (m, log sd, the negative ELBO draw of every step)."""
        import jax.numpy as jnp

        cast = lambda d: {k: jnp.asarray(np.asarray(v, self.np_dtype)) for k, v in d.items()}  # noqa: E731
        zero = cast({n: np.zeros(self.ushape[n]) for n in self.names})
        moments = (zero, zero)  # Adam's first and second moments, shaped as (m, log sd)
        state = (cast(m), cast(ls), moments, moments, jnp.asarray(np.zeros((), self.np_dtype)))
        c = cast(c)
        rng = np.random.default_rng(seed)
        losses = []
        for k in range(0, len(rates), self.block):
            lr = np.zeros(self.block, self.np_dtype)
            chunk = rates[k:k + self.block]
            lr[:len(chunk)] = chunk  # a short last block idles at rate 0 (its losses are dropped)
            eps = {n: rng.standard_normal((self.block,) + self.ushape[n]).astype(self.np_dtype) for n in self.names}
            state, loss = self._block(state, c, self.arrays, eps, lr)
            losses.append(np.asarray(loss, np.float64)[:len(chunk)])
        return state[0], state[1], np.concatenate(losses)

    def fit(self, c, m, ls, steps: int, lr: float, seed: int):
        """Adam from (m, log sd) for ``steps`` steps, the rate falling from ``lr`` to 0 (cosine)."""
        rates = lr * 0.5 * (1 + np.cos(np.pi * np.arange(steps) / steps))
        m, ls, _ = self._run(c, m, ls, rates, seed)
        return m, ls

    def elbo_draws(self, c, m, ls, draws: int, seed: int) -> np.ndarray:
        """ELBO estimates, one per draw, at the approximation (m, log sd): Adam at rate 0."""
        return -self._run(c, m, ls, np.zeros(draws), seed)[2]

    # -- the likelihood's curvature in each auto site's elements
    def _hvps(self, point, arrays, vectors):
        """For each auto site: (Hessian of the log joint without the site's own prior, in the
        site's value) times ``vectors[site]``."""
        import jax
        import jax.numpy as jnp
        from numpyro.infer.util import log_density

        out = {}
        for name in self.sites:
            def loglik(x, name=name):
                lp, tr = log_density(self.base, (), {**self.static, **arrays}, {**point, name: x})
                site = tr[name]
                own = jnp.sum(site["fn"].log_prob(site["value"]))
                return lp - (own * site["scale"] if site.get("scale") is not None else own)

            grad = jax.grad(loglik)
            out[name] = jax.jvp(grad, (point[name],), (vectors[name],))[1]
        return out

    def _point_and_curvature(self, c, m, arrays, ones, signs):
        """At the fitted means ``m`` (unconstrained, parameterised by ``c``): every latent sample
        site of the base model (the auto sites by value), each auto site's location and scale per
        element, and the Hessian-vector products of :meth:`_hvps` with ``ones`` and ``signs``."""
        import jax.numpy as jnp
        from numpyro import handlers
        from numpyro.infer.util import constrain_fn

        values = constrain_fn(self.probe, (c, arrays), {}, m, return_deterministic=True)
        point = {k: values[k] for k in self.base_latents}
        tr = handlers.trace(handlers.substitute(handlers.seed(self.base, SEED), data=point)).get_trace(
            **self.static, **arrays)
        loc, scale = {}, {}
        for name in self.sites:
            fn = tr[name]["fn"]
            while hasattr(fn, "base_dist"):
                fn = fn.base_dist
            loc[name] = jnp.broadcast_to(fn.loc, self.shapes[name])
            scale[name] = jnp.broadcast_to(fn.scale, self.shapes[name])
        return point, loc, scale, self._hvps(point, arrays, ones), self._hvps(point, arrays, signs)

    def analyse(self, c, m, notes: list[str]):
        """The fitted point (:meth:`_point_and_curvature`) and each auto site's information per
        element, ``-d2 loglik / d theta_j^2`` (0 where negative): the Hessian's row sums, when a
        second product with random signs shows it diagonal; else its exact diagonal (one product
        per element, up to EXACT_DIAGONAL_MAX elements) or, beyond that, the row sums with a note."""
        import jax.numpy as jnp

        rng = np.random.default_rng(SEED)
        ones = {n: np.ones(self.shapes[n], self.np_dtype) for n in self.sites}
        signs = {n: (2.0 * rng.integers(0, 2, self.shapes[n]) - 1.0).astype(self.np_dtype) for n in self.sites}
        c = {k: jnp.asarray(np.asarray(v, self.np_dtype)) for k, v in c.items()}
        point, loc, scale, hv_ones, hv_signs = self._analyse(c, m, self.arrays, ones, signs)
        info = {}
        for n in self.sites:
            row = -np.asarray(hv_ones[n], np.float64)
            check = -np.asarray(hv_signs[n], np.float64)
            tol = 1e-3 * (np.max(np.abs(row), initial=0.0) + 1e-12)
            size = int(np.prod(self.shapes[n]))
            if np.max(np.abs(check - row * signs[n]), initial=0.0) <= tol:
                info[n] = row
            elif size <= EXACT_DIAGONAL_MAX:
                diag = np.empty(size)
                for j in range(size):
                    e = {k: np.zeros(self.shapes[k], self.np_dtype) for k in self.sites}
                    e[n].reshape(-1)[j] = 1.0
                    diag[j] = -np.asarray(self._hvp(point, self.arrays, e)[n], np.float64).reshape(-1)[j]
                info[n] = diag.reshape(self.shapes[n])
                notes.append(f"{n}: the data couple its elements; each element's information is the exact "
                             "diagonal of the likelihood's Hessian")
            else:
                info[n] = row
                notes.append(f"{n}: the data couple its elements; each element's information is approximated "
                             "by its row of the likelihood's Hessian summed")
        info = {n: np.maximum(np.nan_to_num(v, nan=0.0), 0.0) for n, v in info.items()}
        as_np = lambda d: {k: np.asarray(v, np.float64) for k, v in d.items()}  # noqa: E731
        return as_np(point), as_np(loc), as_np(scale), info


def measure(base, sites: dict[str, tuple[str, ...]], kwargs: dict) -> Measurement:
    """Choose the centring of every auto site (``sites``: name -> LocScaleReparam shape_params) of
    ``base`` (the model with those sites centred) for the data ``kwargs``."""
    t0 = time.perf_counter()
    try:
        p = _Problem(base, sites, kwargs)
    except Exception:  # noqa: BLE001 - a data array that sizes something cannot be traced: use values
        p = _Problem(base, sites, kwargs, traced=False)
    notes: list[str] = []
    zero = {n: np.zeros(p.ushape[n]) for n in p.names}
    start_ls = {n: np.full(p.ushape[n], -1.0) for n in p.names}
    nc = {n: np.zeros(p.shapes[n]) for n in sites}
    m, ls = p.fit(nc, zero, start_ls, FIT_STEPS, FIT_LR, SEED)
    point, loc, scale, info = p.analyse(nc, m, notes)
    lam, sd = {}, {}
    for n in sites:
        prec = scale[n] ** 2 * info[n]
        lam[n] = prec / (1.0 + prec)
        sd[n] = scale[n] / np.sqrt(1.0 + prec)  # the element's spread with the other latents fixed
    candidates = {"centred": {n: np.ones(p.shapes[n]) for n in sites}, "non-centred": nc}
    per_group = {n: (lam[n] > 0.5).astype(np.float64) for n in sites}
    partial = {n: np.clip(np.round(lam[n], 2), 0.0, 1.0) for n in sites}
    for name, cand in (("per-group", per_group), ("per-group partial", partial)):
        if not any(all(np.array_equal(cand[n], other[n]) for n in sites) for other in candidates.values()):
            candidates[name] = cand
    draws = {}
    for name, c in candidates.items():
        m0, ls0 = dict(m), dict(ls)
        for n in sites:  # the fitted point carried into this parameterisation
            theta = np.asarray(point[n], np.float64)
            shrink = scale[n] ** (1.0 - c[n])
            m0[f"{n}_decentered"] = c[n] * loc[n] + (theta - loc[n]) / shrink
            ls0[f"{n}_decentered"] = np.log(sd[n] / shrink)
        mc, lsc = p.fit(c, m0, ls0, REFINE_STEPS, REFINE_LR, SEED + 1)
        draws[name] = p.elbo_draws(c, mc, lsc, EVAL_DRAWS, SEED + 2)
    winner = _guard(draws)
    scores = {k: float(np.mean(v)) for k, v in draws.items()}
    return Measurement({n: np.asarray(candidates[winner][n], np.float64) for n in sites}, winner, lam, scores,
                       notes, time.perf_counter() - t0)


def _guard(draws: dict[str, np.ndarray]) -> str:
    """The better fixed choice by mean ELBO; the per-group candidate (the formula rounded) replaces
    it when its ELBO is at least as high, and the partial one replaces the result only when better
    by more than twice the standard error of the paired difference (a partial centring that the
    ELBO barely prefers can still sample worse: on the 16-school data it had the ELBO of the
    centred model and 0.7 times its ESS per gradient, where the rounded one had 1.4 times)."""
    finite = {k: v for k, v in draws.items() if np.all(np.isfinite(v))}
    fixed = [k for k in ("centred", "non-centred") if k in finite]
    if not fixed:
        return "centred"
    best = max(fixed, key=lambda k: np.mean(finite[k]))
    if "per-group" in finite and np.mean(finite["per-group"]) >= np.mean(finite[best]):
        best = "per-group"
    if "per-group partial" in finite:
        d = finite["per-group partial"] - finite[best]
        if np.mean(d) > 2 * np.std(d, ddof=1) / np.sqrt(d.size):
            best = "per-group partial"
    return best
