"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman 2018): ``pplang sbc``.

For each replication r: draw the parameters and a data set from the prior predictive (the sizes and
covariates of the given data are kept, the observed quantities replaced), fit the model to that
data set with NUTS, and record the rank of the drawn value of every scalar parameter among
``draws`` posterior draws (evenly spaced through the pooled chains). If model and sampler are right
the ranks are uniform on 0..draws. Uniformity is tested per quantity with a chi-square test on
``bins`` equal-width bins of the ranks; a p-value below ``alpha`` (0.001 by default, so that a study
of a few dozen quantities does not flag one by chance) marks the quantity.

Every refit has the same shapes and settings, so after the first it reuses the compiled sampler
(:mod:`pplang.reuse`): a replication costs about its sampling time.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .diagnostics import Diagnostic, PplangError


@dataclass
class Calibration:
    """Ranks (replications x 1) per scalar quantity, their chi-square uniformity tests and counts."""

    ranks: dict[str, np.ndarray]  # "theta[3]" -> ranks in 0..draws
    draws: int
    bins: int
    alpha: float
    divergences: int
    reps: int
    wall_s: float
    tests: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"reps": self.reps, "draws": self.draws, "bins": self.bins, "alpha": self.alpha,
                "divergences": self.divergences, "wall_s": round(self.wall_s, 2),
                "quantities": {k: {**v, "uniform": v["p"] >= self.alpha} for k, v in self.tests.items()}}

    def plot(self, path: str | Path) -> Path:
        """One rank histogram per quantity, with the 99% band of a uniform histogram's bin counts."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from scipy import stats

        names = list(self.ranks)
        cols = min(4, len(names))
        rows = -(-len(names) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
        expected = self.reps / self.bins
        lo, hi = stats.binom.ppf([0.005, 0.995], self.reps, 1 / self.bins)
        for ax, name in zip(axes.flat, names):
            ax.axhspan(lo, hi, color="0.85")
            ax.axhline(expected, color="0.5", lw=0.8)
            ax.hist(self.ranks[name], bins=np.linspace(0, self.draws + 1, self.bins + 1), color="C0")
            ax.set_title(f"{name}  p={self.tests[name]['p']:.3g}", fontsize=9)
            ax.set_yticks([])
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return Path(path)


def _elements(name: str, value: np.ndarray) -> dict[str, np.ndarray]:
    """Scalar elements of a quantity (leading axis: draws), named as the summary names them (1-based)."""
    value = np.asarray(value)
    if value.ndim == 1:
        return {name: value}
    out = {}
    for index in np.ndindex(*value.shape[1:]):
        out[f"{name}[{','.join(str(i + 1) for i in index)}]"] = value[(slice(None), *index)]
    return out


def calibrate(model, data: dict | str | Path | None = None, *, reps: int = 200, draws: int = 99, bins: int = 10,
              alpha: float = 0.001, chains: int = 2, warmup: int = 500, samples: int = 500, seed: int = 0,
              float64: bool = False, progress=None) -> Calibration:
    """Run the study on ``model`` (a :class:`pplang.Model`) with the sizes and covariates of ``data``."""
    from scipy import stats

    if reps < 2 or draws < 1 or bins < 2 or (draws + 1) % bins:
        raise PplangError([Diagnostic("bad-setting", f"sbc needs reps >= 2, draws >= 1 and bins dividing draws + 1 "
                                      f"(got reps {reps}, draws {draws}, bins {bins})",
                                      help="the defaults are 200 replications, 99 draws, 10 bins")])
    if draws > chains * samples:
        raise PplangError([Diagnostic("bad-setting", f"sbc ranks among {draws} draws but a fit keeps only "
                                      f"{chains} x {samples}", help="raise --samples or lower --draws")])
    if not model.observed:
        raise PplangError([Diagnostic("bad-setting", "sbc needs a model with observed data (a `~` on data)")])
    if isinstance(data, (str, Path)):
        from .runtime import read_data_file

        data = read_data_file(str(data))
    data = dict(data or {})
    t0 = time.perf_counter()
    prior = model.prior_predictive(data, samples=reps, seed=seed, float64=float64)
    observed = set(model.observed)
    # discrete latents (enumerated ones, a hidden Markov chain's states) are simulated with the data
    # but not ranked: discrete draws tie, so their ranks are not uniform even for a right model; the
    # continuous parameters are ranked
    states = {c.name for c in model.spec.chains} | {s.name for s in model.spec.enumerated}
    latents = [k for k in model.reported if k in prior and k not in observed and k not in states]
    ranks: dict[str, list[int]] = {}
    divergences = 0
    keep = np.linspace(0, chains * samples - 1, draws).round().astype(int)
    for r in range(reps):
        simulated = {**data, **{k: np.asarray(prior[k][r]).tolist() for k in observed if k in prior}}
        post = model.sample(simulated, chains=chains, warmup=warmup, samples=samples, seed=seed + 1 + r,
                            float64=float64)
        divergences += post.num_divergences
        for name in latents:
            truth = _elements(name, np.asarray(prior[name][r])[None])
            fitted = _elements(name, np.asarray(post.samples[name])[keep])
            for element, value in truth.items():
                ranks.setdefault(element, []).append(int(np.sum(fitted[element] < value[0])))
        if progress:
            progress(r + 1, reps)
    result = Calibration({k: np.asarray(v) for k, v in ranks.items()}, draws, bins, alpha, divergences, reps,
                         time.perf_counter() - t0)
    for name, rank in result.ranks.items():
        counts = np.bincount(rank * bins // (draws + 1), minlength=bins)
        chi2, p = stats.chisquare(counts)
        result.tests[name] = {"chi2": float(chi2), "p": float(p)}
    return result


def format_calibration(summary: dict) -> str:
    lines = [f"simulation-based calibration: {summary['reps']} replications, ranks among {summary['draws']} "
             f"draws, {summary['bins']} bins, {summary['divergences']} divergences in all, {summary['wall_s']} s",
             f"{'':>14}{'chi2':>9}{'p':>10}  uniform"]
    for name, row in summary["quantities"].items():
        mark = "yes" if row["uniform"] else f"NO (p < {summary['alpha']})"
        lines.append(f"{name:>14}{row['chi2']:>9.1f}{row['p']:>10.3g}  {mark}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the command line


def add_command(sub, format_arg) -> None:
    p = sub.add_parser("sbc", help="simulation-based calibration: fit data drawn from the prior, check rank uniformity")
    p.add_argument("model")
    p.add_argument("--data", help="JSON data file for sizes and covariates (default: the sidecar)")
    p.add_argument("--reps", type=int, default=200, help="replications (default 200)")
    p.add_argument("--draws", type=int, default=99, help="posterior draws each rank is taken among (default 99)")
    p.add_argument("--bins", type=int, default=10, help="histogram bins of the uniformity test (default 10)")
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float64", action="store_true")
    p.add_argument("--plot", metavar="FILE.png", help="save the rank histograms")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    format_arg(p)


def cmd_sbc(args, data_path) -> int:
    from .compiler import load
    from .settings import SamplerSettings

    from .guards import check_output_path, count_problem, refuse, seed_problem

    refuse([count_problem("--reps", args.reps, 2), count_problem("--draws", args.draws),
            count_problem("--bins", args.bins, 2), seed_problem("--seed", args.seed)])
    SamplerSettings(chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed).check()
    if args.plot:
        check_output_path(args.plot, (".png", ".pdf", ".svg"), "the rank histograms")
    model = load(args.model)
    path = data_path(args, model)

    def progress(done, total):
        if sys.stderr.isatty():
            print(f"\rreplication {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = calibrate(model, str(path) if path else None, reps=args.reps, draws=args.draws, bins=args.bins,
                       chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed,
                       float64=args.float64, progress=progress)
    summary = result.summary()
    if args.plot:
        summary["plot"] = str(result.plot(args.plot))
    print(json.dumps(summary, indent=2) if args.json else format_calibration(summary))
    return 0
