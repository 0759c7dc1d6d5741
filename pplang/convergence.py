"""Convergence statistics of MCMC draws: rank-normalised split R-hat, bulk and tail effective
sample size (Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021, "Rank-normalization, folding,
and localization: an improved R-hat"), and the posterior quantiles, in NumPy.

These are the numbers ArviZ's ``rhat``, ``ess(method="bulk")`` and ``ess(method="tail")`` give
(the tests pin them to 1e-8), computed here so that ``pplang run`` need not import ArviZ, xarray
and pandas. Both the summary table (``Posterior.summary``) and the warnings (``advice``) read
:func:`summarize`, so they always show the same numbers.

Every function takes draws with a leading (chain, draw) pair of axes; :func:`summarize` also takes
trailing element axes and works on all elements at once.
"""

from __future__ import annotations

import os

import numpy as np

QUANTILES = (0.05, 0.95)  # the q5 / q95 columns and the tail-ESS quantiles


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; ties share the mean of their ranks) along axis 0, per column."""
    cols = np.ascontiguousarray(x.reshape(x.shape[0], -1).T)  # sort along contiguous rows: faster
    m, n = cols.shape
    order = np.argsort(cols, axis=1)
    s = np.take_along_axis(cols, order, axis=1)
    first = np.empty(cols.shape, bool)
    first[:, 0] = True
    np.not_equal(s[:, 1:], s[:, :-1], out=first[:, 1:])  # starts a run of ties
    del s
    ranks = np.empty(cols.shape)
    if first.all():  # no ties: the rank is the position in sorted order
        sorted_ranks = np.arange(1.0, n + 1.0)
    else:  # each run of ties gets the mean of its positions, over the flattened columns at once
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], first.size) - 1
        run = np.cumsum(first, axis=None).reshape(cols.shape) - 1
        sorted_ranks = ((starts + ends) / 2)[run] - (np.arange(m) * n)[:, None] + 1
    np.put_along_axis(ranks, order, sorted_ranks, axis=1)
    return ranks.T.reshape(x.shape)


def z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise (chains, draws, m) draws pooled over chains and draws, per column m: the
    normal quantiles of the Blom-offset ranks, Phi^-1((r - 3/8) / (S + 1/4))."""
    from scipy.special import ndtri  # scipy.special is already loaded by JAX; scipy.stats is not

    flat = x.reshape((-1,) + x.shape[2:])
    return ndtri((_ranks(flat) - 0.375) / (flat.shape[0] + 0.25)).reshape(x.shape)


def split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as separate chains (the middle draw of an odd count is
    dropped): (chains, draws, ...) -> (2 chains, draws // 2, ...)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _rhat(x: np.ndarray) -> np.ndarray:
    """Potential scale reduction of (chains, draws, m) draws, per column."""
    n = x.shape[1]
    between = n * np.var(x.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1), axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag (axis 1), by FFT (zero-padded: no wrap-around)."""
    n = x.shape[1]
    m = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x - x.mean(axis=1, keepdims=True), n=m, axis=1)
    return np.fft.irfft(f * np.conjugate(f), n=m, axis=1)[:, :n] / n


def _ess_column(acov: np.ndarray, chain_mean: np.ndarray) -> float:
    """Effective sample size of one column from its per-chain autocovariances (chains, draws):
    Geyer's initial positive then initial monotone sequence over the combined autocorrelation."""
    n_chain, n_draw = acov.shape
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(chain_mean, ddof=1)
    rho = np.zeros(n_draw)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:  # initial positive sequence
        rho_even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        rho_odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:  # initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    size = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1: max_t + 2])
    tau = max(tau, 1 / np.log10(size))
    return float("nan") if np.isnan(rho).any() else size / tau


def _ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size of (chains, draws, m) draws, per column (no splitting here)."""
    out = np.empty(x.shape[2])
    constant = np.ptp(x, axis=(0, 1)) < np.finfo(float).resolution
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        acov = _autocov(x[:, :, ~constant]) if (~constant).any() else None
        means = x.mean(axis=1)
        for j, k in enumerate(np.flatnonzero(~constant)):
            out[k] = _ess_column(acov[:, :, j], means[:, k])
    out[constant] = x.shape[0] * x.shape[1]
    return out


def _diagnostics(x: np.ndarray, quantiles: np.ndarray) -> dict[str, np.ndarray]:
    """R-hat, bulk and tail ESS of (chains, draws, m) draws whose pooled 5%/95% quantiles are
    ``quantiles`` (2, m). Columns with a NaN draw, or too few draws or chains, get NaN."""
    m = x.shape[2]
    if x.shape[1] < 4:
        return {k: np.full(m, np.nan) for k in ("r_hat", "ess_bulk", "ess_tail")}
    ok = ~np.isnan(x).any(axis=(0, 1))
    split = split_chains(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = z_scale(split)
        folded = np.abs(split - np.median(split.reshape(-1, m), axis=0))
        rhat = np.fmax(_rhat(z), _rhat(z_scale(folded))) if x.shape[0] > 1 else np.full(m, np.nan)
        bulk = _ess(z)
        tail = np.fmin(*(_ess(split_chains((x <= q).astype(float))) for q in quantiles))
    return {"r_hat": np.where(ok, rhat, np.nan), "ess_bulk": np.where(ok, bulk, np.nan),
            "ess_tail": np.where(ok, tail, np.nan)}


def _column_statistics(cols: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics of :func:`summarize` but the mean and sd, for (chains, draws, m) draws, one
    array of m each: each column's numbers depend on that column alone."""
    flat = cols.reshape(-1, cols.shape[2])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf draws: NaN statistics, flagged later
        quantiles = np.quantile(flat, QUANTILES, axis=0)
        return {"median": np.median(flat, axis=0),
                "q5": quantiles[0], "q95": quantiles[1], **_diagnostics(cols, quantiles)}


PARALLEL_FROM = 1 << 21  # draws x elements from which the elements are summarised in threads


def summarize(x: np.ndarray) -> dict[str, np.ndarray]:
    """The summary statistics of (chains, draws, ...) draws, one array of the element shape each:
    ``mean``, ``sd`` (ddof=1), ``median``, ``q5`` and ``q95`` (``np.quantile`` over all draws of
    all chains), ``r_hat`` (rank-normalised split R-hat: NaN with one chain, as ArviZ), ``ess_bulk``
    and ``ess_tail``.

    Every statistic is computed column by column, so for many draws (thousands of chains) the
    elements are split among threads (NumPy's sorts, FFTs and reductions release the GIL); the
    numbers are the same as in one thread."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(float)
    # float32 draws stay float32 where ArviZ keeps them (the folding, the quantiles), so the
    # statistics equal ArviZ's on the same arrays; means and variances are taken in float64
    shape = x.shape[2:]
    cols = x.reshape(x.shape[:2] + (-1,))
    m = cols.shape[2]
    workers = min(os.cpu_count() or 1, m)
    if cols.size < PARALLEL_FROM or workers < 2:
        out = _column_statistics(cols)
    else:
        from concurrent.futures import ThreadPoolExecutor

        chunks = np.array_split(np.arange(m), workers)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda idx: _column_statistics(cols[:, :, idx]), chunks))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    flat = cols.reshape(-1, m)  # in one piece: NumPy's float64 sums of float32 draws depend on the width
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf draws: NaN, flagged later
        out = {"mean": flat.mean(axis=0, dtype=float), "sd": flat.std(axis=0, ddof=1, dtype=float), **out}
    return {k: v.reshape(shape) for k, v in out.items()}


def rank_rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat, the larger of the bulk and the folded (tail) versions, per
    element of (chains, draws, ...) draws; NaN with one chain, fewer than 4 draws, or NaN draws."""
    return summarize(x)["r_hat"]


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk effective sample size (of the rank-normalised split chains), per element."""
    return summarize(x)["ess_bulk"]


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail effective sample size: the smaller ESS of the indicators of the draws at or below the
    5% and the 95% quantiles, per element."""
    return summarize(x)["ess_tail"]
