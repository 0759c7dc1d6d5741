"""Diagnostics after sampling: convergence warnings, and advice that points at the statement.

``sampling_diagnostics(model, posterior)`` returns warnings for divergences, R-hat > 1.01, low
bulk/tail ESS, saturated tree depth and low E-BFMI, each with a one-line explanation; R-hat and ESS
are the summary's numbers (``Posterior.statistics``, :mod:`pplang.convergence`). When there are
divergences it looks for the funnel pattern — a centred location-scale statement whose scale is
itself a latent (``theta[n] ~ Normal(mu, tau)``) — and suggests ``noncentered`` at that statement's
line, with the rewritten line (and the ``auto`` alternative, which lets pplang choose per group)
and the evidence from where the divergent transitions sit.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .checks.context import names_in
from .convergence import ess_bulk, ess_tail, rank_rhat  # noqa: F401 - the numbers, re-exported
from .spec import Method, Role, Site
from .diagnostics import Diagnostic

RHAT_MAX = 1.01
ESS_MIN_PER_CHAIN = 100  # Stan's rule of thumb: 100 per chain
EBFMI_MIN = 0.3


def funnel_statements(model) -> list[Site]:
    """Centred location-scale latent sites whose scale depends on a latent."""
    latent_roles = (Role.LATENT, Role.DETERMINISTIC, Role.LOCAL)
    found = []
    for site in model.spec.sites():
        if site.role is not Role.LATENT or not isinstance(site.reparam, ir.Centered):
            continue
        if not site.dist.locscale or site.method is not Method.PLAIN:
            continue
        scale = site.arg("scale")
        if scale is None:
            continue
        if any(n in model.spec.symbols and model.spec.symbols[n].role in latent_roles for n in names_in(scale.node)):
            found.append(site)
    return found


def _scale_evidence(site: Site, model, posterior, diverging: np.ndarray) -> str | None:
    scale = site.arg("scale").node
    if not isinstance(scale, ir.Name):
        return None
    draws = posterior.mcmc.get_samples(group_by_chain=True).get(scale.id)
    if draws is None or np.ndim(draws) != 2 or not diverging.any():
        return None
    draws = np.asarray(draws)
    q25 = np.quantile(draws, 0.25)
    frac = float(np.mean(draws[diverging] <= q25))
    return (f"{100 * frac:.0f}% of the divergent transitions have {scale.id} in its lowest quarter "
            f"({scale.id} <= {q25:.3g}), where the funnel's neck is")


def _raise_target_accept(posterior) -> str:
    """The flag that raises NUTS's target acceptance (Stan's adapt_delta) one step from this run's."""
    current = getattr(getattr(posterior, "settings", None), "target_accept", 0.8)
    higher = next((t for t in (0.95, 0.99, 0.999) if t > current), None)
    if higher is None:
        return f"the target acceptance is already {current:g}: reparameterise the model"
    return (f"reparameterise, or raise the target acceptance from {current:g} so NUTS takes smaller steps: "
            f"--target-accept {higher:g} (Model.sample(..., target_accept={higher:g}); Stan's adapt_delta)")


def sampling_diagnostics(model, posterior) -> list[Diagnostic]:
    """Warnings about the run, with advice located at the model's statements."""
    out: list[Diagnostic] = []
    extra = posterior.mcmc.get_extra_fields(group_by_chain=True)
    diverging = np.asarray(extra.get("diverging", np.zeros((1, 1), bool)))
    n_div = int(diverging.sum())
    total = diverging.size
    if n_div:
        out.append(Diagnostic("divergent-transitions",
                              f"{n_div} of {total} transitions diverged: the sampler met curvature it could not "
                              "follow, and the draws may be biased", severity="warning",
                              help=_raise_target_accept(posterior)))
        for stmt in funnel_statements(model):
            line = model.source.splitlines()[stmt.span.line - 1]
            end = stmt.span.end_column - 1 if stmt.span.end_line == stmt.span.line else len(line)
            rewritten = line[:end].rstrip() + " noncentered" + line[end:]
            auto = line[:end].rstrip() + " auto" + line[end:]
            evidence = _scale_evidence(stmt, model, posterior, diverging)
            name = stmt.name
            msg = (f'"{name}" is centred but its scale is a parameter: the funnel between them is the usual '
                   "cause of divergences" + (f"; {evidence}" if evidence else ""))
            help = (f"write it non-centred:  {rewritten.strip()}\n"
                    f"or let pplang choose from the data, per group (centred where the data inform a group, "
                    f"non-centred where they do not):  {auto.strip()}  (every such statement: --reparam auto)")
            chosen = {c.site: c.kind for c in getattr(model.spec, "auto", ())}
            if name in chosen:  # `auto` chose this already: say so, and offer the other fix
                help = (f"`auto` chose {chosen[name]} for it from a short fit; write it non-centred:  "
                        f"{rewritten.strip()}, or raise the target acceptance")
            out.append(Diagnostic("funnel-reparam", msg, stmt.span, help, severity="warning"))
    out += non_finite_diagnostics(model, posterior)
    chains = posterior.num_chains
    bad_rhat, low_bulk, low_tail = [], [], []
    if chains > 1:
        reported = set(posterior.reported)
        for label, row in posterior.statistics().items():
            if label.split("[", 1)[0] not in reported:
                continue
            if row["r_hat"] is not None and row["r_hat"] > RHAT_MAX:
                bad_rhat.append((label, row["r_hat"]))
            if row["ess_bulk"] is not None and row["ess_bulk"] < ESS_MIN_PER_CHAIN * chains:
                low_bulk.append(label)
            if row["ess_tail"] is not None and row["ess_tail"] < ESS_MIN_PER_CHAIN * chains:
                low_tail.append(label)
    if bad_rhat:
        worst = max(bad_rhat, key=lambda t: t[1])
        value = f"{worst[1]:.3f}" if worst[1] < 1e3 else f"{worst[1]:.3g}"
        out.append(Diagnostic("high-rhat", f"R-hat above {RHAT_MAX} for {len(bad_rhat)} quantities (worst: "
                              f"{worst[0]} {value}): the chains disagree, so they have not converged",
                              severity="warning", help="run longer, or reparameterise"))
    for label, names in (("bulk", low_bulk), ("tail", low_tail)):
        if names:
            out.append(Diagnostic("low-ess", f"low {label} effective sample size (< {ESS_MIN_PER_CHAIN} per chain) "
                                  f"for {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}: estimates of "
                                  f"{'the centre' if label == 'bulk' else 'the quantiles'} are noisy",
                                  severity="warning", help="draw more samples"))
    num_steps = extra.get("num_steps")
    if num_steps is not None:
        max_depth = getattr(posterior.mcmc.sampler, "_max_tree_depth", 10)
        max_depth = max_depth[1] if isinstance(max_depth, tuple) else max_depth
        saturated = int(np.sum(np.asarray(num_steps) >= 2 ** max_depth - 1))
        if saturated:
            out.append(Diagnostic("max-treedepth", f"{saturated} of {total} transitions hit the maximum tree depth "
                                  f"({max_depth}): the sampler is taking very long trajectories", severity="warning",
                                  help="this signals strong posterior correlations or poor scaling; "
                                  "standardise predictors or reparameterise (or allow deeper trees: "
                                  f"--max-tree-depth {max_depth + 2})"))
    energy = extra.get("energy")
    if energy is not None:
        e = np.asarray(energy, dtype=float)
        if e.ndim == 2 and e.shape[1] > 2:
            with np.errstate(divide="ignore", invalid="ignore"):  # constant energy (a stuck chain): NaN
                spread = np.sum((e - e.mean(axis=1, keepdims=True)) ** 2, axis=1)
                bfmi = np.sum(np.diff(e, axis=1) ** 2, axis=1) / spread
            low = [f"chain {i + 1}: {b:.2f}" for i, b in enumerate(bfmi) if b < EBFMI_MIN]
            if low:
                out.append(Diagnostic("low-ebfmi", f"low E-BFMI ({', '.join(low)}; below {EBFMI_MIN}): the momentum "
                                      "resampling explores the energy poorly, often a heavy-tailed or funnel "
                                      "posterior", severity="warning", help="reparameterise"))
    return out


def _span_of(model, name: str) -> ir.Span:
    """Where ``name`` is given its value: its sampling statement or definition, else its declaration."""
    for item in (*model.spec.items, *model.spec.generated):
        if getattr(item, "name", None) == name:
            return item.span
        if name in getattr(item, "defined", ()):
            return next(b.span for b in item.body if b.name == name)
    symbol = model.spec.symbols.get(name)
    return symbol.span if symbol is not None else ir.NO_SPAN


def _number(x: float) -> str:
    return "NaN" if np.isnan(x) else f"{x:.3g}"


def non_finite_diagnostics(model, posterior) -> list[Diagnostic]:
    """Warnings for quantities whose draws hold NaN (``nan-draws``, at the statement that computes
    them) and for quantities whose summary is not finite (``non-finite-summary``: a mean, sd, R-hat
    or ESS that is infinite or NaN, as when the draws of an improper posterior run off to 1e27);
    the other warnings skip both, since they compare numbers."""
    out: list[Diagnostic] = []
    grouped = posterior.grouped_samples
    names = [n for n in posterior.reported if n in grouped]
    if getattr(posterior, "model", None) is not None:  # generated quantities are computed from the fit
        generated = posterior.generated(grouped=True)
        grouped = {**grouped, **generated}
        names += [n for n in model.generated_names if n in generated]
    stats = posterior.statistics()
    flat = {f.name for f in model.spec.items if type(f).__name__ == "FlatParam"} if model is not None else set()
    for name in names:
        draws = np.asarray(grouped[name], dtype=float)
        per_draw = np.isnan(draws).reshape(draws.shape[:2] + (-1,)).any(axis=2)
        span = _span_of(model, name) if model is not None else ir.NO_SPAN
        if per_draw.any():
            k, total = int(per_draw.sum()), per_draw.size
            out.append(Diagnostic(
                "nan-draws", f'"{name}" is NaN in {"every draw" if k == total else f"{k} of {total} draws"}', span,
                "its value is computed outside the domain of a function (the log or sqrt of a negative number, "
                "0 / 0, inf - inf): check this statement's expression", severity="warning"))
            continue
        rows = [row for label, row in stats.items() if label.split("[", 1)[0] == name]
        keys = ("mean", "sd", "ess_bulk", "ess_tail") + (("r_hat",) if posterior.num_chains > 1 else ())
        # a constant quantity (a function of data alone) has no R-hat or ESS, and needs none
        rows = [row for row in rows if row["sd"] is None or row["sd"] > 0]
        with np.errstate(over="ignore", invalid="ignore"):
            mean, sd = np.mean(draws, dtype=float), np.std(draws, dtype=float, ddof=1)
        # draws at 1e15 and beyond whose chains disagree are running off, even where the numbers are finite
        runaway = not sd < 1e15 and any(row["r_hat"] is None or row["r_hat"] > RHAT_MAX for row in rows)
        if not runaway and not any(row[key] is None for row in rows for key in keys):
            continue
        shown = [f"{k} {_number(v)}" for k, v in (("mean", mean), ("sd", sd)) if not np.isfinite(v) or abs(v) > 1e15]
        shown += [f"{label} NaN" for key, label in (("r_hat", "R-hat"), ("ess_bulk", "bulk ESS"))
                  if key in keys and any(row[key] is None for row in rows)]
        fix = (f'"{name}" has no prior, and the posterior without one is improper: add a prior, e.g. '
               f"`{name} ~ Normal(0, 10)`" if name in flat else
               "the posterior may be improper (a parameter with no prior that the data do not pin down) or its "
               "values overflow: give every parameter a proper prior, rescale the data, or run with --float64")
        out.append(Diagnostic(
            "non-finite-summary", f'the draws of "{name}" cannot be summarised ({", ".join(shown)}): the chains '
            "run off toward infinity and have not converged", span, fix, severity="warning"))
    return out
