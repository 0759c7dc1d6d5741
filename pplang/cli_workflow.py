"""The workflow commands of the command line: ``predict``, ``plot``, ``graph``, and the
``--predict`` / ``--output`` / ``--prior`` parts of ``run`` (``cli`` parses, this module acts).
Nothing here imports JAX or ArviZ at module level."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .diagnostics import PplangError, printable


def add_run_args(run: argparse.ArgumentParser) -> None:
    run.add_argument("--predict", action="store_true",
                     help="also draw replicated data (posterior predictive) for every observed statement")
    run.add_argument("--prior", action="store_true", help="also draw the prior predictive into --output")
    run.add_argument("-o", "--output", metavar="PATH",
                     help="save the draws: FILE.nc (ArviZ InferenceData, netCDF) or FILE.csv")


def add_commands(sub, format_arg) -> None:
    pred = sub.add_parser("predict", help="predict on new data with a saved fit, without refitting")
    pred.add_argument("model")
    pred.add_argument("--fit", required=True, help="the .nc file written by `pplang run --output`")
    pred.add_argument("--data", required=True, help="JSON with the new covariates and sizes (observed fields optional)")
    pred.add_argument("--seed", type=int, default=None, help="default: the fit's seed")
    pred.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    pred.add_argument("-o", "--output", metavar="PATH", help="save the predictions: FILE.nc or FILE.csv")
    format_arg(pred)

    plot = sub.add_parser("plot", help="plot a saved fit (trace, rank, forest, pair, ppc)")
    plot.add_argument("fit", help="the .nc file written by `pplang run --output`")
    plot.add_argument("--kind", choices=["trace", "rank", "forest", "pair", "ppc"], default="trace")
    plot.add_argument("--vars", nargs="+", metavar="NAME", help="variables to plot (default: all)")
    plot.add_argument("-o", "--output", metavar="FILE.png", help="default: FIT-KIND.png next to the fit")
    format_arg(plot)

    graph = sub.add_parser("graph", help="draw the model graph (DOT text; PNG/SVG with Graphviz)")
    graph.add_argument("model")
    graph.add_argument("-o", "--output", metavar="FILE", help=".dot (default: standard output), .png, .svg, .pdf")
    format_arg(graph)


def check_run_args(args) -> None:
    """Refuse a bad --output before sampling."""
    if args.output:
        from .results import check_output

        check_output(args.output)


def after_run(args, model, posterior, data_path, summary: dict) -> None:
    """``run --predict / --output / --prior``: add to ``summary`` and write the file."""
    if args.predict:
        summary["posterior_predictive"] = draw_summary(posterior.predictive(), posterior.data)
    if args.output:
        prior = None
        if args.prior:
            prior = model.prior_predictive(str(data_path) if data_path else None, samples=args.samples,
                                           seed=args.seed, float64=args.float64)
        summary["output"] = str(posterior.save(args.output, predictive=args.predict, prior=prior))


def print_run_extras(summary: dict) -> None:
    if "posterior_predictive" in summary:
        print("\nPosterior predictive (replicated data):")
        print(format_draws(summary["posterior_predictive"]))
    if "output" in summary:
        print(f"\nWrote {printable(summary['output'])}")


def draw_summary(draws: dict, observed: dict | None = None) -> dict:
    """Per element of each array (draws first): mean, sd, q5, q95, and the observed value."""
    import numpy as np

    from .runtime import flat_names

    out = {}
    for name, arr in draws.items():
        arr = np.asarray(arr, dtype=float)
        obs = None if observed is None or observed.get(name) is None else np.asarray(observed[name], dtype=float)
        for flat, idx in flat_names(name, arr.shape[1:]):
            col = arr[(slice(None),) + idx]
            row = {"mean": float(col.mean()), "sd": float(col.std()), "q5": float(np.quantile(col, 0.05)),
                   "q95": float(np.quantile(col, 0.95))}
            if obs is not None:
                row["observed"] = float(obs[idx])
            out[flat] = row
    return out


def format_draws(rows: dict) -> str:
    width = max([len(k) for k in rows] + [4])
    keys = [k for k in ("observed", "mean", "sd", "q5", "q95") if any(k in v for v in rows.values())]
    heads = {"observed": "observed", "mean": "mean", "sd": "std", "q5": "5.0%", "q95": "95.0%"}
    lines = [" " * (width + 2) + "".join(f"{heads[k]:>10}" for k in keys)]
    for name, s in rows.items():
        lines.append(f"{name:>{width + 2}}" + "".join(f"{s.get(k, float('nan')):>10.2f}" for k in keys))
    return "\n".join(lines)


def cmd_predict(args, print_warnings) -> int:
    from .compiler import load
    from .results import check_output, load_fit, predictions_to_arviz, write_csv, write_netcdf

    from .guards import refuse, seed_problem

    if args.seed is not None:
        refuse([seed_problem("--seed", args.seed)])
    if args.output:
        check_output(args.output)  # before compiling
    model = load(args.model)
    concise = args.format == "concise"
    print_warnings(model.warnings, model.source, model.path, concise)
    fit = load_fit(args.fit, model)
    print_warnings(fit.warnings, model.source, model.path, concise)
    seed = fit.seed if args.seed is None else args.seed
    pred = fit.predict(args.data, seed=seed)
    result = {"predictions": draw_summary({k: v.reshape((-1,) + v.shape[2:]) for k, v in pred.items()}),
              "fit": str(args.fit), "data": str(args.data), "seed": seed, "model": str(args.model)}
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".nc":
            new_data = model.predictive_data(args.data)
            write_netcdf(predictions_to_arviz(model, fit, pred, new_data, str(args.data), seed), out)
        else:
            write_csv({"predictions": pred}, out)
        result["output"] = str(out)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_draws(result["predictions"]))
        if args.output:
            print(f"\nWrote {printable(result['output'])}")
    return 0


def cmd_plot(args) -> int:
    from .guards import check_output_path
    from .plots import SUFFIXES, plot
    from .results import read_netcdf

    if args.output:
        check_output_path(args.output, SUFFIXES, "the plot")
    output = args.output or str(Path(args.fit).with_name(f"{Path(args.fit).stem}-{args.kind}.png"))
    try:
        print(f"Wrote {printable(str(plot(read_netcdf(args.fit), args.kind, args.vars, output)))}")
    except PplangError as exc:
        exc.file = exc.file or str(args.fit)
        raise
    return 0


def cmd_graph(args) -> int:
    from .compiler import load
    from .graph import SUFFIXES, render, to_dot
    from .guards import check_output_path

    if args.output:
        # before compiling; a name without a suffix gets DOT text
        check_output_path(args.output, SUFFIXES if Path(args.output).suffix else None, "the graph")
    model = load(args.model)
    dot = to_dot(model.checked, Path(args.model).stem)
    if args.output:
        try:
            render(dot, Path(args.output))
        except PplangError as exc:
            exc.file = exc.file or str(args.output)
            raise
        print(f"Wrote {printable(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(dot)
    return 0
