"""The posterior of enumerated discrete latents, after NUTS has sampled the continuous ones.

NUTS samples the continuous parameters from the density with the discrete latents summed out
(:mod:`pplang.enumerate`). For every posterior draw this module then computes

- a draw of each discrete latent from its conditional posterior (NumPyro's ``infer_discrete``,
  temperature 1, forward-filter backward-sample over the enumerated factors; key
  ``fold_in(PRNGKey(seed), 4)``), so that ``z`` has draws like any parameter;
- the exact conditional probability of each value, ``P(z[i] = k | y, draw)``: the gradient of the
  enumerated log density with respect to a zero-valued tilt ``eta[i, k]`` added to ``log p(z[i] = k)``
  (for a mixture this is each observation's membership probability). Averaged over draws it is the
  posterior probability, with far less Monte Carlo error than counting draws;
- the deterministic quantities that read a discrete latent, recomputed with its draws (during
  sampling they hold enumeration dimensions, not values).

It also estimates, before sampling, how large the enumerated tensors get (``enumeration-size``).
JAX, NumPyro and funsor are imported inside the functions: only models that enumerate need them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ir
from .diagnostics import Diagnostic
from .enumerate import support_size
from .spec import Definition, Role, Spec

SIZE_LIMIT = 10_000_000  # elements of one enumerated tensor above which pplang warns
CHUNK = 512  # posterior draws processed together


def enumeration_warnings(spec: Spec, size_of) -> list[Diagnostic]:
    """A warning for each statement whose enumerated tensor would exceed :data:`SIZE_LIMIT`
    elements: the product of its enumerated latents' numbers of values and its plate sizes."""
    if not spec.enum_uses:
        return []
    sites = {s.name: s for s in spec.enumerated}
    out = []
    for use in spec.enum_uses:
        try:
            values = [(n, int(size_of(support_size(sites[n])))) for n in use.names]
            plates = [int(size_of(p.size)) for p in use.plates]
        except Exception:  # noqa: BLE001 - a size not known from the data alone: nothing to estimate
            continue
        total = math.prod(v for _, v in values) * math.prod(plates)
        if total > SIZE_LIMIT:
            parts = " × ".join([f"{v} ({n})" for n, v in values] + [str(p) for p in plates])
            out.append(Diagnostic(
                "enumeration-size", f"enumerating {', '.join(n for n, _ in values)} builds tensors of {parts} = "
                f"{total:,} elements here ({total * 4 / 2**20:,.0f} MiB in float32, more in float64)", use.span,
                "fewer values (a coarser DiscreteUniform), fewer enumerated latents per statement, or a "
                "marginalisation by hand keep it small", severity="warning"))
    return out


def offsets(spec: Spec, size_of) -> dict[str, Any]:
    """The enumerated sites whose model value is NumPyro's outcome plus an offset: name -> offset."""
    return {s.name: size_of(s.offset) for s in spec.enumerated if s.offset is not None}


def discrete_posterior(model, mcmc_grouped: dict[str, np.ndarray], kwargs: dict, seed: int) -> dict[str, Any]:
    """Draws and probabilities of the enumerated latents (:func:`enumerated_posterior`) and of the
    hidden Markov chains (:func:`pplang.forward.chain_posterior`), in one dict of that form."""
    out: dict[str, Any] = {"draws": {}, "probabilities": {}, "values": {}, "deterministic": {}}
    if model.spec.enumerated:
        out = enumerated_posterior(model, mcmc_grouped, kwargs, seed)
    if model.spec.chains:
        from .forward import chain_posterior

        shapes = model.latent_shapes(kwargs)
        part = chain_posterior(model, {k: v for k, v in mcmc_grouped.items() if k in shapes}, kwargs, seed)
        for key in ("draws", "probabilities", "values"):
            out[key] = {**out[key], **part[key]}
    return out


def enumerated_posterior(model, mcmc_grouped: dict[str, np.ndarray], kwargs: dict, seed: int) -> dict[str, Any]:
    """Draws and probabilities of the enumerated latents for the posterior draws ``mcmc_grouped``
    (name -> (chains, draws, ...)). Returns ``{"draws": {name: (chains, draws, ...)},
    "probabilities": {name: (chains, draws, *shape, values)}, "values": {name: outcomes},
    "deterministic": {name: (chains, draws, ...)}}``; draws and outcomes are the model's values
    (Categorical 1..K, DiscreteUniform low..high)."""
    import jax
    import jax.numpy as jnp
    from numpyro import handlers
    from numpyro.contrib.funsor import enum, infer_discrete, log_density
    from numpyro.infer import Predictive

    from .runtime import const_eval

    spec: Spec = model.spec
    fn = model.numpyro_model
    names = [s.name for s in spec.enumerated]
    first = -spec.max_plate_nesting - 1
    shapes = model.latent_shapes(kwargs)
    continuous = {k: v for k, v in mcmc_grouped.items() if k in shapes and k not in names}
    chains, draws = next(iter(continuous.values())).shape[:2] if continuous else (1, 1)
    flat = {k: jnp.reshape(v, (chains * draws,) + v.shape[2:]) for k, v in continuous.items()}
    size_of = lambda e: const_eval(e, kwargs)  # noqa: E731
    sizes = {s.name: int(size_of(support_size(s))) for s in spec.enumerated}
    shift = offsets(spec, size_of)

    def draw(sample, key):
        conditioned = handlers.substitute(fn, data=sample)
        sampler = infer_discrete(conditioned, first_available_dim=first, temperature=1, rng_key=key)
        tr = handlers.trace(handlers.seed(sampler, key)).get_trace(**kwargs)
        return {n: tr[n]["value"] for n in names}

    def probabilities(sample):
        def log_joint(eta):
            tilted = _tilt(handlers.substitute(fn, data=sample), eta)
            return log_density(enum(tilted, first_available_dim=first), (), kwargs, {})[0]

        eta = {n: jnp.zeros(tuple(shapes[n]) + (sizes[n],)) for n in names}
        return jax.grad(log_joint)(eta)

    n = chains * draws
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 4), n)
    step = jax.jit(jax.vmap(lambda s, k: (draw(s, k), probabilities(s))))
    out_draws: dict[str, list] = {k: [] for k in names}
    out_probs: dict[str, list] = {k: [] for k in names}
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        part = {k: v[lo:hi] for k, v in flat.items()}
        d, p = step(part, keys[lo:hi])
        for k in names:
            out_draws[k].append(np.asarray(d[k]))
            out_probs[k].append(np.asarray(p[k], dtype=np.float32))
    site_draws = {k: np.concatenate(v).reshape((chains, draws) + tuple(shapes[k])) for k, v in out_draws.items()}
    probs = {k: np.concatenate(v).reshape((chains, draws) + tuple(shapes[k]) + (sizes[k],))
             for k, v in out_probs.items()}
    recomputed = [i.name for i in spec.items if isinstance(i, Definition) and i.enumerated
                  and i.role is Role.DETERMINISTIC]
    deterministic = {}
    if recomputed:
        latents = {**continuous, **site_draws}
        pred = Predictive(fn, posterior_samples=latents, batch_ndims=2, return_sites=recomputed)
        deterministic = {k: np.asarray(v) for k, v in
                         pred(jax.random.fold_in(jax.random.PRNGKey(seed), 5), **kwargs).items()}
    natural = {k: v + shift.get(k, 0) for k, v in site_draws.items()}
    values = {k: np.arange(sizes[k]) + shift.get(k, 0) for k in names}
    return {"draws": natural, "probabilities": probs, "values": values, "deterministic": deterministic}


def _tilt(fn, eta: dict):
    """``fn`` with ``eta[name][..., k]`` added to the log probability of value k at each enumerated
    site: the gradient of the log density at eta = 0 is each value's conditional probability."""
    import jax
    import jax.numpy as jnp
    import numpyro.distributions as dist
    from numpyro.primitives import Messenger

    class Tilted(dist.Distribution):
        def __init__(self, base, tilt):
            self.base, self.tilt = base, tilt
            super().__init__(base.batch_shape, base.event_shape)

        @property
        def support(self):
            return self.base.support

        @property
        def has_enumerate_support(self):
            return True

        def enumerate_support(self, expand=True):
            return self.base.enumerate_support(expand)

        def sample(self, key, sample_shape=()):
            return self.base.sample(key, sample_shape)

        def log_prob(self, value):
            one_hot = jax.nn.one_hot(value, self.tilt.shape[-1], dtype=self.tilt.dtype)
            return self.base.log_prob(value) + jnp.sum(one_hot * self.tilt, -1)

    class Tilt(Messenger):
        def process_message(self, msg):
            if msg["type"] == "sample" and msg["name"] in eta:
                msg["fn"] = Tilted(msg["fn"], eta[msg["name"]])

    return Tilt(fn)


def summary_block(post) -> dict:
    """The ``discrete`` entry of a summary: per enumerated latent (or hidden Markov chain) its values,
    per element the posterior probability of each value (conditional probabilities averaged over
    the draws), and how it was summed out ("enumeration" or "forward algorithm")."""
    from .runtime import flat_names

    info = post.discrete
    chains = {c.name for c in post.model.spec.chains} if post.model is not None else set()
    out = {}
    for name, probs in info["probabilities"].items():
        mean = probs.reshape((-1,) + probs.shape[2:]).mean(axis=0)
        rows = {flat: [float(x) for x in mean[idx]] for flat, idx in flat_names(name, mean.shape[:-1])}
        out[name] = {"values": [int(v) for v in info["values"][name]], "probabilities": rows,
                     "method": "forward algorithm" if name in chains else "enumeration"}
    return out


def format_block(block: dict, max_columns: int = 10, max_rows: int = 20) -> str:
    """The discrete latents' probabilities as text: a table of P(value) per element when there are
    few values, else each element's most probable values."""
    lines = []
    for name, entry in block.items():
        values, rows = entry["values"], entry["probabilities"]
        by = "the forward algorithm" if entry.get("method") == "forward algorithm" else "enumeration"
        lines.append(f"Posterior probabilities of {name} (summed out by {by}):")
        items = list(rows.items())
        shown = items[:max_rows]
        if len(values) <= max_columns:
            width = max(len(k) for k in rows) + 2
            lines.append(" " * width + "".join(f"{'P=' + str(v):>8}" for v in values))
            lines += [f"{k:>{width}}" + "".join(f"{p:>8.3f}" for p in ps) for k, ps in shown]
        else:
            for k, ps in shown:
                top = np.argsort(ps)[::-1][:5]
                lines.append(f"  {k}: " + ", ".join(f"P({values[i]}) = {ps[i]:.3f}" for i in top))
        if len(items) > max_rows:
            lines.append(f"  ... {len(items) - max_rows} more (see --json)")
    return "\n".join(lines)


def is_enumerated(spec: Spec) -> bool:
    return bool(spec.enumerated or spec.chains)


__all__ = ["discrete_posterior", "enumeration_warnings", "format_block", "summary_block", "ir"]
