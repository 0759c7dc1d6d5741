"""Plots of a saved fit with ArviZ and matplotlib (Agg backend: no display needed).

Kinds: ``trace``, ``rank``, ``forest``, ``pair`` (divergent transitions in red: the funnel shows
where NUTS failed) and ``ppc`` (posterior predictive check; needs ``pplang run --predict``).
:func:`funnel` draws ``tau`` against ``theta[1]`` for several fits side by side (docs/funnel.png).
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import Diagnostic, PplangError

KINDS = ("trace", "rank", "forest", "pair", "ppc")
SUFFIXES = (".png", ".svg", ".pdf")
DIVERGENT = {"color": "C3", "marker": "o", "markersize": 4, "markeredgecolor": "k", "markeredgewidth": 0.3,
             "alpha": 0.9}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def default_vars(idata) -> list[str]:
    """The posterior's quantities as the model names them: NumPyro's ``theta_decentered``
    auxiliary sites (which fits saved by older versions hold) and ``_pp*`` sites left out."""
    import json

    names = list(idata.posterior.data_vars)
    try:  # the reparameterised names, as the fit records them
        aux = {f"{n}_decentered" for n in json.loads(idata.posterior.attrs["reparam"])}
    except (KeyError, TypeError, ValueError):
        aux = {n for n in names if n.endswith("_decentered") and n.removesuffix("_decentered") in names}
    return [n for n in names if n not in aux and not n.startswith("_pp")]


def generated_names(idata) -> set[str]:
    """The generated quantities among the posterior's variables (from the model the fit records);
    empty when the fit does not record a model that compiles."""
    from .spec import Role

    try:
        from .compiler import compile as compile_source

        model = compile_source(str(idata.posterior.attrs["model_source"]), "<fit>")
        return {s.name for s in model.spec.of_role(Role.GENERATED)}
    except (KeyError, PplangError):  # a fit without its model, or one that no longer compiles: plot everything
        return set()


def plot(idata, kind: str = "trace", var_names: list[str] | None = None, output: str | Path = "plot.png") -> Path:
    """Draw one ``kind`` of plot of ``idata`` to ``output``."""
    output = Path(output)
    if output.suffix.lower() not in SUFFIXES:
        raise PplangError([Diagnostic("output-format", f"cannot write a plot to {output}",
                                      help="use a .png, .svg or .pdf file")])
    if kind not in KINDS:
        raise PplangError([Diagnostic("plot-error", f"unknown plot kind {kind!r}", help=f"kinds: {', '.join(KINDS)}")])
    plt = _pyplot()
    import arviz as az

    if kind == "ppc":
        if "posterior_predictive" not in idata.groups():
            raise PplangError([Diagnostic("plot-error", "this file has no posterior_predictive group",
                                          help="run with --predict: pplang run MODEL.ppl --predict --output FIT.nc")])
        names = list(idata.posterior_predictive.data_vars)
        _check_vars(var_names, names, "posterior_predictive")
        draws = idata.posterior_predictive.sizes["chain"] * idata.posterior_predictive.sizes["draw"]
        axes = az.plot_ppc(idata, var_names=var_names or names, num_pp_samples=min(100, draws), random_seed=0)
    else:
        names = default_vars(idata)
        _check_vars(var_names, names, "posterior")
        if kind == "pair" and not var_names:  # one panel per pair: the parameters, not per-row generated values
            generated = generated_names(idata)
            var_names = [n for n in names if n not in generated] or names
        var_names = var_names or names
        if kind == "trace":
            axes = az.plot_trace(idata, var_names=var_names, divergences="bottom", compact=True)
        elif kind == "rank":
            axes = az.plot_rank(idata, var_names=var_names)
        elif kind == "forest":
            axes = az.plot_forest(idata, var_names=var_names, combined=True, r_hat=True, ess=True)
        else:
            with az.rc_context({"plot.max_subplots": 400}):
                axes = az.plot_pair(idata, var_names=var_names, divergences=True, divergences_kwargs=DIVERGENT,
                                    scatter_kwargs={"alpha": 0.5, "s": 12})
    fig = _figure(axes)
    _save(fig, output)
    plt.close(fig)
    return output


def _check_vars(wanted: list[str] | None, have: list[str], group: str) -> None:
    missing = [v for v in wanted or [] if v not in have]
    if missing:
        raise PplangError([Diagnostic("plot-error", f"the {group} has no variable {', '.join(map(repr, missing))}",
                                      help=f"variables: {', '.join(have)}")])


def _figure(axes):
    import numpy as np

    first = np.ravel(np.asarray(axes, dtype=object))[0]
    return first.get_figure()


def _save(fig, output: Path) -> None:
    try:
        fig.savefig(output, dpi=100, bbox_inches="tight")
    except OSError as exc:
        raise PplangError([Diagnostic("output-format", f"cannot write {output}: {exc.strerror or exc}")]) from None


def funnel(fits: dict[str, object], output: str | Path, *, x: str = "theta", index: int = 1, y: str = "tau") -> Path:
    """Pair plots of ``y`` (log scale) against ``x[index]`` for each labelled InferenceData, side
    by side with shared axes; divergent transitions in red."""
    plt = _pyplot()
    import arviz as az

    fig, axes = plt.subplots(1, len(fits), figsize=(5.5 * len(fits), 4.8), sharex=True, sharey=True, squeeze=False)
    for ax, (label, idata) in zip(axes[0], fits.items()):
        dim = [d for d in idata.posterior[x].dims if d not in ("chain", "draw")][0]
        az.plot_pair(idata, var_names=[x, y], coords={dim: [index]}, divergences=True, ax=ax,
                     divergences_kwargs=DIVERGENT, scatter_kwargs={"alpha": 0.35, "s": 10, "color": "C0"})
        n_div = int(idata.sample_stats["diverging"].sum())
        n = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
        ax.set_yscale("log")
        ax.set_title(f"{label}: {n_div} divergent of {n} draws")
        ax.set_xlabel(f"{x}[{index}]")
        ax.set_ylabel(f"{y} (log scale)")
    fig.tight_layout()
    _save(fig, Path(output))
    plt.close(fig)
    return Path(output)
