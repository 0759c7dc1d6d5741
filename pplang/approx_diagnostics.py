"""Honesty checks for the approximate methods (``pplang optimize``, ``laplace``, ``variational``,
``pathfinder``): is the answer a fair summary of the posterior, or is it wrong?

- **Pareto k-hat** (Vehtari, Simpson, Gelman, Yao and Gabry 2024, "Pareto smoothed importance
  sampling"): over draws theta_s from the approximation q, the importance ratios
  r_s = p(theta_s, y) / q(theta_s) have a right tail whose generalised-Pareto shape k is estimated
  by :mod:`pplang.psis` (as ArviZ's ``psislw``). k < 0.5: q covers the posterior well;
  0.5 <= k <= 0.7: doubtful; k > 0.7: q misses mass the posterior has (its tails, or a whole
  region), and its means, sds and intervals can be far off. The density and q are both taken in the unconstrained space, where q
  is defined (the log density there includes the transform's Jacobian).
- **the means against importance sampling** (:func:`mean_shift`): where k-hat says the importance
  weights can be trusted, the PSIS-weighted mean and sd of each quantity estimate the posterior's,
  and an approximation whose mean (or point estimate) is more than SHIFT_SD sds away is off.
- **optimiser convergence**, **a mode at a constraint's bound** (hierarchical scales -> 0), a
  **Hessian that is not positive definite** (the point is not a strict maximum), **ELBO
  convergence** of variational inference, and **restarts that disagree** (several modes).

:func:`approximation_warnings` turns these numbers into catalogued warnings (see
``pplang explain approximation-unreliable``). NumPy only; no JAX.
"""

from __future__ import annotations

import math

import numpy as np

from .diagnostics import Diagnostic

K_GOOD = 0.5
K_BAD = 0.7
# A mode is at a bound when moving a bounded parameter BOUNDARY_SHIFT further toward it on the
# unconstrained scale (e^5 = 148 times closer to a lower bound) lowers the log density by less than
# BOUNDARY_RISE: the density does not fall toward the bound, so the maximum is on the edge -- unless
# it does not fall BOUNDARY_AWAY away from the bound either (e^20 = 5e8 times further): then the
# density does not depend on the parameter there, which the Hessian check reports.
BOUNDARY_SHIFT = 5.0
BOUNDARY_AWAY = 20.0
BOUNDARY_RISE = 0.01
RESTART_TOL = 1e-4  # restarts whose log densities differ by more than this (relative) found other optima
# An approximation's mean (a point estimate) further than SHIFT_SD posterior sds from the posterior
# mean estimated by importance sampling is off (see mean_shift). The importance-sampling estimate has
# its own Monte Carlo error, sd / sqrt(importance ESS): about 0.05 sd with 1,000 draws at k-hat 0.5.
SHIFT_SD = 0.2


def pareto_k(log_ratios: np.ndarray) -> tuple[float, np.ndarray]:
    """The Pareto k-hat of the importance ratios ``log p - log q`` (one per independent draw) and
    the normalised PSIS log weights, by :func:`pplang.psis.smooth` (as ``arviz.psislw`` with
    relative efficiency 1: the draws are independent). Draws where the density is not finite get a
    negligible weight. All draws non-finite: k = inf and uniform weights."""
    from .psis import smooth

    lr = np.asarray(log_ratios, dtype=np.float64).ravel()
    finite = np.isfinite(lr)
    if not finite.any():
        return math.inf, np.full(lr.shape, -math.log(lr.size))
    lr = np.where(finite, lr, lr[finite].min() - 700.0)  # weight exp(-700) relative: none
    with np.errstate(all="ignore"):
        lw, k = smooth(lr)
    return (k if math.isfinite(k) else math.inf), np.asarray(lw)


def khat_meaning(k: float | None) -> str:
    """What a Pareto k-hat says, in words."""
    if k is None:
        return "not computed"
    if k < K_GOOD:
        return f"good (k < {K_GOOD}): the approximation covers the posterior"
    if k <= K_BAD:
        return (f"doubtful ({K_GOOD} <= k <= {K_BAD}): the approximation misses part of the posterior's tails; "
                "means may be usable, sds and intervals less so")
    return (f"unreliable (k > {K_BAD}): the approximation misses mass the posterior has; its means, sds and "
            "intervals can be far off")


def importance_ess(log_weights: np.ndarray) -> float:
    """Effective number of draws of normalised log importance weights: 1 / sum(w^2)."""
    w = np.exp(np.asarray(log_weights, dtype=np.float64) - np.max(log_weights))
    w /= w.sum()
    return float(1.0 / np.sum(w**2))


def mean_shift(draws: dict[str, np.ndarray], log_weights: np.ndarray, names: list[str],
               estimate: dict[str, np.ndarray] | None = None) -> dict | None:
    """How far the approximation's means are from the posterior's, in posterior sds, where the
    posterior's mean and sd are estimated by Pareto-smoothed importance sampling from the same
    draws (``log_weights``: :func:`pareto_k`'s; trustworthy where k-hat <= 0.7). ``draws``: each
    quantity's draws (S, ...) from the approximation; ``estimate``: a point estimate (1, ...) to
    judge instead of the draws' mean. Returns the element furthest off: ``{"name", "shift_sd",
    "approximation", "posterior_mean", "posterior_sd"}``, or None when there is nothing to compare."""
    w = np.exp(np.asarray(log_weights, dtype=np.float64) - np.max(log_weights))
    w /= w.sum()
    worst = None
    for name in names:
        if name not in draws:
            continue
        x = np.asarray(draws[name], dtype=np.float64).reshape(len(w), -1)
        with np.errstate(all="ignore"):  # draws that overflow (a scale's exp): their column is NaN, skipped
            mean = w @ x
            sd = np.sqrt(np.maximum(w @ (x - mean) ** 2, 0.0))
            approx = (np.asarray(estimate[name], dtype=np.float64).reshape(-1) if estimate is not None
                      else x.mean(axis=0))
            shift = np.where(sd > 0, np.abs(approx - mean) / sd, 0.0)
        if not np.isfinite(shift).any():
            continue
        i = int(np.nanargmax(shift))
        if worst is None or shift[i] > worst["shift_sd"]:
            shape = np.shape(draws[name])[1:]
            label = name + ("[" + ",".join(str(j + 1) for j in np.unravel_index(i, shape)) + "]" if shape else "")
            worst = {"name": label, "shift_sd": float(shift[i]), "approximation": float(approx[i]),
                     "posterior_mean": float(mean[i]), "posterior_sd": float(sd[i])}
    return worst


def hessian_report(hessian: np.ndarray) -> dict:
    """Eigen-analysis of the Hessian of the negative log density at a mode: ``positive_definite``,
    ``condition_number`` (largest / smallest absolute eigenvalue), ``min_eigenvalue``,
    ``max_eigenvalue``."""
    h = np.asarray(hessian, dtype=np.float64)
    h = (h + h.T) / 2
    if not np.all(np.isfinite(h)):
        return {"positive_definite": False, "condition_number": None, "min_eigenvalue": None,
                "max_eigenvalue": None}
    lam = np.linalg.eigvalsh(h)
    big = float(np.max(np.abs(lam))) if lam.size else 0.0
    small = float(np.min(np.abs(lam))) if lam.size else 0.0
    pd = bool(lam.size == 0 or lam.min() > 1e-12 * max(big, 1e-300))
    return {"positive_definite": pd, "condition_number": (big / small) if small > 0 else None,
            "min_eigenvalue": float(lam.min()) if lam.size else None,
            "max_eigenvalue": float(lam.max()) if lam.size else None}


def normal_from_hessian(hessian: np.ndarray) -> np.ndarray:
    """A factor L (covariance L L^T) of the inverse of ``hessian``. Where the Hessian is not
    positive definite, its eigenvalues that are not positive are replaced by their absolute
    values, floored at 1e-8 of the largest, so draws can still be made (and their Pareto k-hat
    judged); a Hessian that is not finite gives the identity."""
    h = np.asarray(hessian, dtype=np.float64)
    if not np.all(np.isfinite(h)):
        return np.eye(h.shape[0])
    h = (h + h.T) / 2
    lam, vec = np.linalg.eigh(h)
    floor = 1e-8 * max(float(np.max(np.abs(lam))), 1e-300)
    lam = np.where(lam > 0, lam, np.maximum(np.abs(lam), floor))
    return vec * (1.0 / np.sqrt(lam))  # V diag(lam^-1/2): (V D^-1/2)(V D^-1/2)^T = H^-1


def elbo_convergence(losses: np.ndarray, tol_rel: float = 1e-3) -> dict:
    """Whether SVI's ELBO has stopped improving: the mean ELBO over the last 10% of steps against
    the 10% before. Converged when the change is within twice its Monte Carlo noise or within
    ``tol_rel`` of the ELBO's size."""
    elbo = -np.asarray(losses, dtype=np.float64)
    elbo = elbo[np.isfinite(elbo)]
    n = elbo.size
    if n < 20:
        return {"converged": False, "final": float(elbo[-1]) if n else None, "relative_change": None,
                "steps": int(np.size(losses))}
    w = max(n // 10, 1)
    last, before = elbo[-w:], elbo[-2 * w:-w]
    change = float(last.mean() - before.mean())
    noise = float(np.sqrt(last.var() / w + before.var() / w))
    rel = abs(change) / max(abs(float(last.mean())), 1.0)
    return {"converged": bool(abs(change) <= 2 * noise or rel <= tol_rel), "final": float(last.mean()),
            "relative_change": rel, "change": change, "noise": noise, "steps": int(np.size(losses))}


def bound_directions(sites: list[tuple[str, np.ndarray, object, np.ndarray]]) -> list[dict]:
    """The elements of bounded parameters, each with the direction toward its nearer bound on the
    unconstrained scale: ``sites`` holds (name, unconstrained value, support constraint,
    constrained value) per latent site. Returns dicts with ``name`` (``theta[2]``), ``index``
    (the element's position in the site), ``direction`` (-1 or +1), ``side``, ``bound``, ``value``."""
    from .runtime import flat_names

    out = []
    for name, u, support, value in sites:
        while hasattr(support, "base_constraint"):  # independent(positive, 1) -> positive
            support = support.base_constraint
        lower, upper = hasattr(support, "lower_bound"), hasattr(support, "upper_bound")
        u, value = np.asarray(u, dtype=float), np.asarray(value, dtype=float)
        if not (lower or upper) or u.shape != value.shape:
            continue
        for flat, idx in flat_names(name, u.shape):
            # exp transforms (one bound) reach it as u -> -inf; a logit (two bounds) at either end
            if not (lower and upper) and u[idx] > 0:
                continue  # within e^0 = 1 of the bound at most, as NumPyro's starting points (|u| < 2) are
            side = ("lower" if u[idx] <= 0 else "upper") if lower and upper else ("lower" if lower else "upper")
            direction = 1 if lower and upper and side == "upper" else -1
            bound = np.asarray(getattr(support, f"{side}_bound"), dtype=float)
            bound = float(bound[idx] if bound.shape == u.shape else bound.ravel()[0])
            out.append({"name": flat, "index": idx, "direction": direction, "side": side, "bound": bound,
                        "value": float(value[idx])})
    return out


def approximation_warnings(result, command: str) -> list[Diagnostic]:
    """The warnings of an approximate result (:class:`pplang.inference.Approximation`), each with a
    catalogued code; ``command`` is the ``pplang run ...`` line to suggest."""
    d = result.diagnostics
    label = result.label
    out: list[Diagnostic] = []
    opt = d.get("optimizer")
    if opt and not opt.get("converged", True):
        out.append(Diagnostic("optimizer-not-converged",
                              f"the optimiser ({opt['algorithm']}) did not converge: {opt['reason']}",
                              severity="warning", help="raise --iter, try --restarts 4, or sample with "
                              f"`{command}`"))
    if opt and opt.get("restarts", 1) > 1 and opt.get("restarts_agreeing", 1) < opt["restarts_converged"]:
        out.append(Diagnostic("restarts-disagree",
                              f"{opt['restarts_converged']} of {opt['restarts']} restarts converged, to "
                              f"{opt['distinct_optima']} different optima (log density {opt['objective']:.6g} at "
                              f"the best, {opt['worst_optimum']:.6g} at the worst): the density has several modes "
                              "and the best is reported", severity="warning",
                              help=f"one mode does not summarise a multimodal posterior; `{command}`"))
    for b in d.get("boundary", [])[:3]:
        out.append(Diagnostic("mode-at-boundary",
                              f"the mode has {b['name']} = {b['value']:.3g}, at its {b['side']} bound {b['bound']:g}: "
                              "the density does not fall toward the bound, so this is not an interior maximum",
                              severity="warning", help="a point at a bound summarises such a posterior badly "
                              "(hierarchical scales -> 0 are the usual case); `pplang laplace`/`--jacobian` find "
                              f"the mode on the unconstrained scale, and `{command}` samples the posterior"))
    hess = d.get("hessian")
    if hess and not hess["positive_definite"]:
        ev = hess.get("min_eigenvalue")
        out.append(Diagnostic("hessian-not-positive-definite",
                              "the Hessian of the negative log density at the mode is not positive definite"
                              + (f" (smallest eigenvalue {ev:.3g})" if ev is not None else " (it is not finite)")
                              + ": the point is not a strict maximum, so no normal approximation is centred there",
                              severity="warning", help=f"the draws use the Hessian's absolute eigenvalues; "
                              f"do not trust them: `{command}`"))
    elbo = d.get("elbo")
    if elbo and not elbo["converged"]:
        rel = elbo.get("relative_change")
        out.append(Diagnostic("elbo-not-converged",
                              f"the ELBO was still changing at the end ({elbo['steps']} steps"
                              + (f", relative change {rel:.2g} over the last 10%" if rel is not None else "") + ")",
                              severity="warning", help="raise --iter or lower --learning-rate"))
    k = d.get("pareto_k")
    shift = d.get("mean_shift")
    if shift and shift["shift_sd"] > SHIFT_SD and (k is None or k <= K_BAD):
        what = f"the {label} of" if d.get("estimate") else f"the {label}'s mean of"
        out.append(Diagnostic("approximation-biased",
                              f"{what} {shift['name']} ({shift['approximation']:.4g}) is "
                              f"{shift['shift_sd']:.2f} posterior sd from its posterior mean ({shift['posterior_mean']:.4g}, "
                              f"sd {shift['posterior_sd']:.3g}, estimated by importance sampling from the same draws)",
                              severity="warning", help=f"the posterior is not the shape the approximation assumes "
                              f"(skewed, or a point estimate of a skewed quantity); `{command}` samples it"))
    if k is not None and k > K_BAD:
        out.append(Diagnostic("approximation-unreliable",
                              f"the {label} is unreliable here (Pareto k-hat {_k(k)} > {K_BAD}): its estimates can "
                              f"be far from the posterior's, so sample the posterior with `{command}`",
                              severity="warning", help="pplang explain approximation-unreliable"))
    elif k is not None and k > K_GOOD:
        out.append(Diagnostic("approximation-doubtful",
                              f"the {label} is doubtful here (Pareto k-hat {_k(k)}, between {K_GOOD} and {K_BAD}): "
                              f"check its sds and intervals against `{command}`", severity="warning"))
    return out


def _k(k: float) -> str:
    return "inf" if not math.isfinite(k) else f"{k:.2f}"
