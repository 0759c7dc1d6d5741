"""The states of a hidden Markov chain given the observations and one posterior draw (plain JAX).

The generated model sums a chain out with the forward algorithm (:mod:`pplang.hmm`); with
``_pp_states=True`` it records the algorithm's inputs for a draw: ``log_init[k] = log p(z[1] = k)``,
``log_trans[t, j, k] = log p(z[t + 2] = k | z[t + 1] = j)`` (T - 1 matrices) and ``emission[t, k]``,
the log density of the observations at time t + 1 given ``z[t + 1] = k``. From these:

- :func:`marginals`: the smoothed probabilities ``p(z[t] = k | y, draw)`` (forward-backward, log space);
- :func:`ffbs`: one draw of the whole sequence from ``p(z | y, draw)`` (forward filter, backward sample);
- :func:`chain_posterior`: both for every posterior draw (keys ``fold_in(fold_in(PRNGKey(seed), 6), c)``
  for the c-th chain of the model, split per draw).

States are counted from 0 here; the caller adds the chain's offset (Categorical's 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK = 256  # posterior draws processed together


def _forward(log_init, log_trans, emission):
    """log alpha[t, k] = log p(y[1..t], z[t] = k) for every t."""
    import jax
    import jax.numpy as jnp

    def step(alpha, inputs):
        trans, e = inputs
        nxt = jax.nn.logsumexp(alpha[:, None] + trans, axis=0) + e
        return nxt, nxt

    first = log_init + emission[0]
    _, rest = jax.lax.scan(step, first, (log_trans, emission[1:]))
    return jnp.concatenate([first[None], rest], axis=0)


def log_marginal(log_init, log_trans, emission):
    """log p(y) (the value the generated model adds)."""
    import jax

    return jax.nn.logsumexp(_forward(log_init, log_trans, emission)[-1])


def marginals(log_init, log_trans, emission):
    """p(z[t] = k | y): shape (T, K), by forward-backward in log space."""
    import jax
    import jax.numpy as jnp

    alpha = _forward(log_init, log_trans, emission)

    def back(beta, inputs):  # log beta[t, j] = log p(y[t+1..T] | z[t] = j)
        trans, e = inputs
        prev = jax.nn.logsumexp(trans + (e + beta)[None, :], axis=1)
        return prev, prev

    last = jnp.zeros_like(alpha[-1])
    _, betas = jax.lax.scan(back, last, (log_trans, emission[1:]), reverse=True)
    beta = jnp.concatenate([betas, last[None]], axis=0)
    post = alpha + beta
    return jnp.exp(post - jax.nn.logsumexp(post, axis=1, keepdims=True))


def ffbs(key, log_init, log_trans, emission):
    """One draw of z[1..T] (0-based) from p(z | y): forward filter, then backward sample."""
    import jax
    import jax.numpy as jnp

    alpha = _forward(log_init, log_trans, emission)
    keys = jax.random.split(key, alpha.shape[0])
    last = jax.random.categorical(keys[-1], alpha[-1])

    def back(nxt, inputs):  # p(z[t] = j | z[t+1], y[1..t]) ∝ alpha[t, j] trans[t, j, z[t+1]]
        a, trans, k = inputs
        z = jax.random.categorical(k, a + trans[:, nxt])
        return z, z

    _, zs = jax.lax.scan(back, last, (alpha[:-1], log_trans, keys[:-1]), reverse=True)
    return jnp.concatenate([zs, last[None]])


def chain_posterior(model, continuous: dict[str, np.ndarray], kwargs: dict, seed: int) -> dict[str, Any]:
    """Draws and smoothed probabilities of every hidden Markov chain of ``model`` for the posterior
    draws ``continuous`` (name -> (chains, draws, ...)): the ``discrete`` entries of
    :func:`pplang.discrete.discrete_posterior`, values as the model's (1-based for Categorical)."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer import Predictive

    from .lower_numpyro import STATES_FLAG
    from .runtime import const_eval

    out: dict[str, dict] = {"draws": {}, "probabilities": {}, "values": {}}
    chains, draws = next(iter(continuous.values())).shape[:2]
    n = chains * draws
    flat = {k: np.reshape(v, (n,) + v.shape[2:]) for k, v in continuous.items()}
    names = [c.name for c in model.spec.chains]
    sites = [f"_pp_{p}_{name}" for name in names for p in ("init", "trans", "emit")]
    both = jax.vmap(lambda k, a, b, c: (ffbs(k, a, b, c), marginals(a, b, c)))

    @jax.jit
    def run(part, keys):  # one chunk of draws: the forward inputs, then FFBS and forward-backward
        got = Predictive(model.numpyro_model, posterior_samples=part, return_sites=sites, batch_ndims=1)(
            jax.random.PRNGKey(0), **kwargs, **{STATES_FLAG: True})
        return {name: both(keys[i], *(got[f"_pp_{p}_{name}"] for p in ("init", "trans", "emit")))
                for i, name in enumerate(names)}

    base = jax.random.fold_in(jax.random.PRNGKey(seed), 6)
    keys = jnp.stack([jax.random.split(jax.random.fold_in(base, i), n) for i in range(len(names))])
    size = min(CHUNK, n)
    zs: dict[str, list] = {name: [] for name in names}
    ps: dict[str, list] = {name: [] for name in names}
    for lo in range(0, n, size):
        idx = np.minimum(np.arange(lo, lo + size), n - 1)  # the last chunk padded: one compiled shape
        got = run({k: v[idx] for k, v in flat.items()}, keys[:, idx])
        keep = min(size, n - lo)
        for name in names:
            zs[name].append(np.asarray(got[name][0])[:keep])
            ps[name].append(np.asarray(got[name][1], dtype=np.float32)[:keep])
    for c in model.spec.chains:
        shift = 0 if c.offset is None else int(const_eval(c.offset, kwargs))
        states = int(const_eval(c.states, kwargs))
        length = int(const_eval(c.length, kwargs))
        out["draws"][c.name] = np.concatenate(zs[c.name]).reshape(chains, draws, length) + shift
        out["probabilities"][c.name] = np.concatenate(ps[c.name]).reshape(chains, draws, length, states)
        out["values"][c.name] = np.arange(states) + shift
    return out
