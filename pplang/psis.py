"""Pareto smoothed importance sampling (Vehtari, Simpson, Gelman, Yao and Gabry 2024) for one
vector of independent draws' log importance ratios: the Pareto k-hat of their right tail and the
smoothed, normalised log weights.

The procedure is the paper's (and ``arviz.psislw``'s, which the tests hold it to): the largest
M = ceil(min(S / 5, 3 sqrt(S))) ratios form the tail; a generalised Pareto distribution is fitted
to their excess over the cut-off by Zhang and Stephens' (2009) empirical Bayes estimate, with the
weakly informative prior that pulls k toward 0.5 (weight 10); the tail ratios are replaced by the
fitted distribution's quantiles at (i - 1/2) / M, capped at the largest raw ratio, and all are
normalised. NumPy only: importing ArviZ (xarray, SciPy's statistics, Matplotlib) cost a warm
``pplang optimize`` about a second.
"""

from __future__ import annotations

import math

import numpy as np

TAIL_PRIOR_WEIGHT = 10  # pseudo-observations of the prior on k, centred at 0.5
SCALE_PRIOR = 3  # Zhang and Stephens' prior on the scale grid


def smooth(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """The smoothed, normalised log weights and the Pareto k-hat (inf: too few tail draws to fit)."""
    x = np.array(log_ratios, dtype=np.float64)
    x -= np.max(x)
    n = x.size
    tail_len = int(np.ceil(min(n / 5.0, 3 * n**0.5)))
    cutoff = max(np.sort(x)[-tail_len - 1], math.log(np.finfo(float).tiny))
    (tail,) = np.nonzero(x > cutoff)
    k = math.inf
    if len(tail) > 4:
        order = tail[np.argsort(x[tail])]
        excess = np.exp(x[order]) - np.exp(cutoff)
        k, sigma = fit_tail(excess)
        if np.isfinite(k):
            probs = np.arange(0.5, len(tail)) / len(tail)
            x[order] = np.log(tail_quantiles(probs, k, sigma) + np.exp(cutoff))
            x[x > 0] = 0
    top = np.max(x)
    return x - (np.log(np.sum(np.exp(x - top))) + top), float(k)


def fit_tail(excess: np.ndarray) -> tuple[float, float]:
    """Zhang and Stephens' estimate of a generalised Pareto distribution's shape k and scale sigma
    from sorted positive ``excess`` values, k shrunk toward 0.5."""
    n = len(excess)
    grid = 30 + int(n**0.5)
    b = 1 - np.sqrt(grid / (np.arange(1, grid + 1, dtype=float) - 0.5))
    b /= SCALE_PRIOR * excess[int(n / 4 + 0.5) - 1]
    b += 1 / excess[-1]
    ks = np.log1p(-b[:, None] * excess).mean(axis=1)
    profile = n * (np.log(-(b / ks)) - ks - 1)
    weights = 1 / np.exp(profile - profile[:, None]).sum(axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    if not np.all(keep):
        weights, b = weights[keep], b[keep]
    weights /= weights.sum()
    b_mean = np.sum(b * weights)
    k = np.log1p(-b_mean * excess).mean()
    sigma = -k / b_mean
    return (n * k + TAIL_PRIOR_WEIGHT * 0.5) / (n + TAIL_PRIOR_WEIGHT), sigma


def tail_quantiles(probs: np.ndarray, k: float, sigma: float) -> np.ndarray:
    """The generalised Pareto distribution's quantiles at ``probs`` (all in (0, 1)); NaN when the
    scale is not positive."""
    if sigma <= 0:
        return np.full_like(probs, np.nan)
    if np.abs(k) < np.finfo(float).eps:
        return -np.log1p(-probs) * sigma
    return np.expm1(-k * np.log1p(-probs)) / k * sigma
