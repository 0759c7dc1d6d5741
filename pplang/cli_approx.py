"""The approximate methods on the command line, named as CmdStan's: ``pplang optimize``,
``laplace``, ``variational`` and ``pathfinder`` (``cli`` dispatches, this module acts).

Each command's flags are the fields of its settings dataclass in :mod:`pplang.inference`
(``iter`` -> ``--iter``; ``float64`` is on by default and ``--float32`` turns it off). A bad flag
exits 1 with a plain ``error[bad-setting]`` message, never a traceback. The result prints as a
table (``--json``: one object), then what the honesty checks found: the Pareto k-hat and what it
means, the optimiser, the Hessian, the ELBO; warnings go to standard error.
"""

from __future__ import annotations

import json
from dataclasses import fields

from . import cli_workflow
from .inference import METHODS, flag

COMMANDS = ("optimize", "laplace", "variational", "pathfinder")
DESCRIPTIONS = {
    "optimize": "The posterior mode (MAP) over the declared parameters, without the Jacobian (as Stan's "
                "optimize); --jacobian: the mode in the unconstrained space; --mle: the maximum likelihood "
                "estimate (priors dropped).",
    "laplace": "Draws from the normal approximation at the mode of the posterior in the unconstrained space "
               "(the inverse Hessian there is its covariance), as Stan's laplace.",
    "variational": "A normal approximation in the unconstrained space fitted by SVI (NumPyro's AutoNormal for "
                   "meanfield, AutoMultivariateNormal for fullrank), as Stan's variational.",
    "pathfinder": "Multi-path Pathfinder (BlackJAX): L-BFGS paths, the normal approximation of best ELBO along "
                  "each, their draws pooled and importance-resampled (PSIS), as Stan's pathfinder.",
}
TITLES = {
    "map": "MAP estimate: the mode of the posterior density over the parameters (no Jacobian)",
    "map_jacobian": "Mode of the posterior in the unconstrained space (with the Jacobian)",
    "mle": "Maximum likelihood estimate (the priors dropped)",
    "laplace": "Laplace approximation: normal at the mode in the unconstrained space",
    "variational": "Variational approximation ({family}, SVI)",
    "pathfinder": "Pathfinder approximation ({paths} paths, importance-resampled)",
}


def add_commands(sub, format_arg) -> None:
    for name in COMMANDS:
        method = METHODS[name]
        p = sub.add_parser(name, help=method.summary, description=DESCRIPTIONS[name])  # cli makes it strict
        p.add_argument("model")
        p.add_argument("--data", help="JSON data file (default: the model's sidecar .json)")
        for f in fields(method.settings):
            meta = f.metadata
            if f.name == "float64":
                p.add_argument("--float32", dest="float64", action="store_false", help="run in single precision "
                               "(double is the default: optimisers and Hessians need it)")
            elif isinstance(f.default, bool):
                p.add_argument(flag(f.name), action="store_true", help=meta["help"])
            else:
                kind = str if meta["choices"] else type(f.default)
                metavar = "|".join(meta["choices"]) if meta["choices"] else f.name.split("_")[-1].upper()
                p.add_argument(flag(f.name), type=kind, default=f.default, metavar=metavar,
                               help=f"{meta['help']} (default {f.default})")
        p.add_argument("--vars", nargs="+", metavar="NAME",
                       help="show only these quantities (theta: every element; theta[3]: one)")
        p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
        p.add_argument("--predict", action="store_true", help="also draw replicated data for every observed statement")
        p.add_argument("-o", "--output", metavar="PATH", help="save the draws: FILE.nc (ArviZ) or FILE.csv")
        p.add_argument("--no-cache", action="store_true", help="do not use the persistent compilation cache")
        format_arg(p)


def cmd_approx(args, print_warnings) -> int:
    """Run ``args.command`` and print its result; the honesty warnings go to standard error."""
    import time

    from .cli import _data_path
    from .compiler import load
    from .inference import check
    from .runtime import check_vars

    method = METHODS[args.command]
    options = {f.name: getattr(args, f.name) for f in fields(method.settings)}
    check(method.settings(**options))  # before anything is compiled
    cli_workflow.check_run_args(args)
    t0 = time.perf_counter()
    model = load(args.model)
    compile_s = time.perf_counter() - t0
    concise = args.format == "concise"
    print_warnings(model.warnings, model.source, model.path, concise)
    if args.vars:
        check_vars(args.vars, model.reported + model.generated_names)
    data_path = _data_path(args, model)
    result = method.run(model, str(data_path) if data_path else None, cache=not args.no_cache, **options)
    result.timing["compile_s"] = compile_s
    warnings = model.data_warnings + result.warnings
    summary = result.summary(args.vars)
    summary["warnings"] = [{"code": d.code, "message": d.message, "line": d.span.line or None, "help": d.help}
                           for d in warnings]
    summary["model"], summary["data"] = str(args.model), str(data_path) if data_path else None
    if args.predict:
        summary["posterior_predictive"] = cli_workflow.draw_summary(result.predictive(), result.data)
    if args.output:
        summary["output"] = str(result.save(args.output, predictive=args.predict))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_result(summary), flush=True)
        cli_workflow.print_run_extras(summary)
    print_warnings(warnings, model.source, model.path, concise)
    return 0


def _title(summary: dict) -> str:
    d, s = summary["diagnostics"], summary["settings"]
    key = d.get("estimate") or summary["method"]
    title = TITLES[key].format(**s)
    if summary["method"] != "optimize":
        title += f"; {summary['num_draws']} draws"
    return title


def format_result(summary: dict) -> str:
    """The table and the diagnostics of an approximate result."""
    params = summary["parameters"]
    width = max([len(k) for k in params] + [4])
    point = summary["method"] == "optimize"
    keys = ["estimate"] if point else ["mean", "sd", "median", "q5", "q95"]
    heads = {"estimate": "estimate", "mean": "mean", "sd": "std", "median": "median", "q5": "5.0%", "q95": "95.0%"}
    lines = [_title(summary), " " * (width + 2) + "".join(f"{heads[k]:>12}" for k in keys)]
    for name, row in params.items():
        cells = "".join(f"{'-':>12}" if row[k] is None else
                        (f"{row[k]:>12.6g}" if point else f"{row[k]:>12.3f}") for k in keys)
        lines.append(f"{name:>{width + 2}}{cells}")
    lines.append("")
    lines += diagnostic_lines(summary["diagnostics"])
    return "\n".join(lines)


def diagnostic_lines(d: dict) -> list[str]:
    out = []
    if d.get("pareto_k") is not None:
        k = d["pareto_k"]
        what = (f" (a normal with the posterior's curvature at the estimate, {d['pareto_k_draws']} draws)"
                if "pareto_k_draws" in d else "")
        out.append(f"Pareto k-hat: {k:.2f}{what}: {d['pareto_k_meaning']}")
    opt = d.get("optimizer")
    if opt:
        state = "converged" if opt["converged"] else "did not converge"
        newton = f" and {opt['newton_steps']} Newton steps" if opt.get("newton_steps") else ""
        line = f"Optimiser: {opt['algorithm']} {state} after {opt['iterations']} iterations{newton} ({opt['reason']})"
        if "objective" in opt:
            line += f"; log density at the mode {opt['objective']:.6g}"
        if opt.get("restarts", 1) > 1:
            line += (f"; {opt['restarts_converged']} of {opt['restarts']} restarts converged, "
                     f"{opt['restarts_agreeing']} to this optimum")
        out.append(line)
    hess = d.get("hessian")
    if hess:
        cond = hess["condition_number"]
        out.append(f"Hessian at the mode: {'positive definite' if hess['positive_definite'] else 'NOT positive definite'}"
                   + (f", condition number {cond:.3g}" if cond is not None else ""))
    for b in d.get("boundary", []):
        out.append(f"At a bound: {b['name']} = {b['value']:.3g} ({b['side']} bound {b['bound']:g})")
    elbo = d.get("elbo")
    if elbo:
        rel = elbo.get("relative_change")
        out.append(f"ELBO: {elbo['final']:.6g} after {elbo['steps']} steps, "
                   f"{'converged' if elbo['converged'] else 'NOT converged'}"
                   + (f" (relative change {rel:.2g} over the last 10% of steps)" if rel is not None else ""))
    paths = d.get("paths")
    if paths:
        out.append(f"Paths: L-BFGS iterations {paths['iterations']}, best ELBO per path "
                   f"[{', '.join(f'{e:.4g}' for e in paths['elbo'])}]")
    return out
