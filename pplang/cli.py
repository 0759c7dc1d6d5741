"""The ``pplang`` command line: run, prior, predict, plot, graph, check, compile, explain, and the
approximate methods optimize, laplace, variational, pathfinder (``cli_approx``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from . import __version__, cli_approx, cli_workflow, sbc
from .diagnostics import CATALOGUE, Diagnostic, PplangError, explain, printable, render, render_all
from .guards import check_output_path, count_problem, refuse, seed_problem, write_text
from .settings import CHAIN_METHODS, DEFAULTS, Placement, SamplerSettings
from .spec import Role


def find_sidecar(model_path: Path) -> Path | None:
    """The data file for ``model.ppl`` when ``--data`` is not given: ``model.json`` next to it,
    else the longest ``prefix.json`` such that the model's name starts with ``prefix_`` (so
    ``eight_schools_centered.ppl`` uses ``eight_schools.json``)."""
    exact = model_path.with_suffix(".json")
    if exact.exists():
        return exact
    stem = model_path.stem
    parts = stem.split("_")
    for k in range(len(parts) - 1, 0, -1):
        candidate = model_path.with_name("_".join(parts[:k]) + ".json")
        if candidate.exists():
            return candidate
    return None


def _parser() -> argparse.ArgumentParser:
    p = _strict(argparse.ArgumentParser(prog="pplang",
                                                  description="Compile and run pplang models with NumPyro."))
    p.add_argument("--version", action="version", version=f"pplang {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="sample a model's posterior with NUTS")
    run.add_argument("model")
    run.add_argument("--data", help="JSON data file (default: the model's sidecar .json)")
    d = DEFAULTS
    run.add_argument("--chains", type=int, default=d.chains, help=f"number of chains (default {d.chains})")
    run.add_argument("--warmup", type=int, default=d.warmup, help=f"warm-up iterations per chain (default {d.warmup})")
    run.add_argument("--samples", type=int, default=d.samples,
                     help=f"sampling iterations per chain (default {d.samples})")
    run.add_argument("--seed", type=int, default=d.seed, help="the run uses jax.random.PRNGKey(SEED)")
    run.add_argument("--chain-method", choices=CHAIN_METHODS, default=d.chain_method)
    run.add_argument("--float64", action="store_true", default=d.float64, help="run in double precision")
    run.add_argument("--target-accept", type=float, default=d.target_accept, metavar="P",
                     help=f"NUTS's target acceptance probability, in (0, 1) (Stan's adapt_delta; default "
                          f"{d.target_accept}); raise it (0.95, 0.99) against divergences")
    run.add_argument("--max-tree-depth", type=int, default=d.max_tree_depth, metavar="D",
                     help=f"NUTS's maximum tree depth, at most 2^D - 1 steps per draw (default {d.max_tree_depth})")
    run.add_argument("--dense-mass", action="store_true", default=d.dense_mass,
                     help="adapt a dense mass matrix (Stan's dense_e metric) for correlated posteriors")
    run.add_argument("--thin", type=int, default=d.thin, metavar="K",
                     help="keep every K-th draw (SAMPLES // K draws per chain)")
    run.add_argument("--init", metavar="JSON",
                     help="initial values: a JSON file or inline JSON such as '{\"mu\": 0, \"tau\": 1}' "
                          "(latent parameters on their natural scale; the rest start at random)")
    run.add_argument("--vars", nargs="+", metavar="NAME",
                     help="show only these quantities (theta: every element; theta[3]: one)")
    _reparam_arg(run)
    run.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-cache", action="store_true",
                     help="do not use the persistent compilation cache (~/.cache/pplang/jax)")
    cli_workflow.add_run_args(run)
    _shard_args(run)
    _format_arg(run)

    prior = sub.add_parser("prior", help="draw from the prior predictive (observed data is ignored)")
    prior.add_argument("model")
    prior.add_argument("--data", help="JSON data file for sizes and covariates (default: the sidecar)")
    prior.add_argument("--samples", type=int, default=1000)
    prior.add_argument("--seed", type=int, default=0)
    prior.add_argument("--float64", action="store_true")
    prior.add_argument("--json", action="store_true")
    _format_arg(prior)

    check = sub.add_parser("check", help="parse and check a model without sampling")
    check.add_argument("model")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--data", metavar="FILE", help="also check a data file against the model (sizes, types, "
                       "bounds, index ranges), without sampling")
    _format_arg(check)

    comp = sub.add_parser("compile", help="print the generated NumPyro program (or the IR)")
    comp.add_argument("model")
    comp.add_argument("--emit", choices=["program", "numpyro", "ir", "spec"], default="program",
                      help="program: the model plus data loading and a NUTS run (default); "
                           "numpyro: the model module only; ir: the parsed IR; spec: the checked, typed model")
    comp.add_argument("--data", help="the data file the program reads by default (default: the sidecar); "
                      "`auto` parameterisations are chosen with it")
    _reparam_arg(comp)
    comp.add_argument("-o", "--output", help="write to this file instead of standard output")
    _format_arg(comp)

    cli_workflow.add_commands(sub, _format_arg)
    cli_approx.add_commands(sub, _format_arg)
    sbc.add_command(sub, _format_arg)

    exp = sub.add_parser("explain", help="explain a diagnostic code")
    exp.add_argument("code")
    cache = sub.add_parser("cache", help="show (info) or empty (clear) the compilation cache")
    cache.add_argument("action", choices=["info", "clear"])
    for command in (p, *sub.choices.values()):  # before or after the command: pplang --debug run ...
        _strict(command)  # a bad flag is error[bad-setting], exit 1 (argparse's own is exit 2)
        command.add_argument("--debug", action="store_true", default=False if command is p else argparse.SUPPRESS,
                             help="on an internal error, print Python's traceback")
    return p


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make a bad or unknown flag exit 1 with a plain ``error[bad-setting]`` line (argparse's
    default is exit 2, which pplang keeps for its own bugs)."""
    command = " ".join(["pplang", *parser.prog.split()[1:2], "--help"])

    def error(message: str):
        parser.print_usage(sys.stderr)
        print(f"error[bad-setting]: {printable(message)}\nhelp: `{command}` lists the flags", file=sys.stderr)
        sys.exit(1)

    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        namespace, extra = parse_known(args, namespace)
        if extra:
            error(f"unrecognized arguments: {' '.join(extra)}")
        return namespace, extra

    parser.error = error  # type: ignore[method-assign]
    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    return parser


def _reparam_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reparam", choices=["auto"], default=None,
                   help="auto: pplang chooses the parameterisation (centred, non-centred, or per group) of every "
                        "hierarchical statement without one written, from the model and the data; written "
                        "annotations stay (the `auto` annotation does this for one statement)")


def _shard_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sharding", "split the observation rows of the likelihood across devices "
                             "(XLA's SPMD partitioning; see README, \"Sharding data across devices\")")
    g.add_argument("--shard-data", action="store_true",
                   help="split the rows of the data plate that observed statements run over across all visible "
                        "devices (padded to a multiple of the device count, padded rows masked out)")
    g.add_argument("--devices", type=int, metavar="N", help="shard over the first N devices (implies --shard-data; "
                   "on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N devices)")
    g.add_argument("--coordinator", metavar="HOST:PORT",
                   help="run one model across processes with jax.distributed: process 0's address (implies "
                        "--shard-data); every process reads the same data, only process 0 prints")
    g.add_argument("--num-processes", type=int, metavar="P", help="how many processes (with --coordinator)")
    g.add_argument("--process-id", type=int, metavar="I", help="this process, 0..P-1 (with --coordinator)")


def _format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["full", "concise"], default="full", help="diagnostic style")


def _print_warnings(warnings: list[Diagnostic], source: str | None, file: str | None, concise: bool) -> None:
    for w in warnings:
        print(render(w, source, file, concise), file=sys.stderr)
        if not concise:
            print(file=sys.stderr)


def cmd_cache(args) -> int:
    """``pplang cache info``: the cache's path, entries, size and cap; ``pplang cache clear`` empties it."""
    from .jitcache import cache_dir, cache_info, clear_cache

    if args.action == "clear":
        print(f"removed {clear_cache()} cache entries from {cache_dir()}")
        return 0
    info = cache_info()
    mib = lambda n: f"{n / (1 << 20):.1f} MiB"  # noqa: E731
    print(f"path:     {info['path']}\nentries:  {info['entries']} compiled programs, {info['programs']} traced "
          f"samplers, {info['auto_choices']} "
          f"`auto` choices\nsize:     {mib(info['size'])}\nmax size: {mib(info['max_size'])} "
          "(PPLANG_CACHE_MAX_SIZE)" + (f"\nnot used: {info['problem']}" if info["problem"] else ""))
    return 0


def cmd_check(args) -> int:
    from .compiler import load

    model = load(args.model)
    warnings = list(model.warnings)
    if args.data:  # every data check, without JAX (derived data needs the model run, so it waits)
        from .missing import prepare_checked
        from .runtime import read_data_file

        try:
            _, data_warnings = prepare_checked(model.spec, read_data_file(args.data), args.data)
        except PplangError as exc:
            exc.source, exc.file = exc.source or model.source, exc.file or model.path
            raise
        warnings += data_warnings
    _print_warnings(warnings, model.source, model.path, args.format == "concise")
    if args.strict and warnings:
        return 1
    print(f"{args.model}: ok" + (f" with {args.data}" if args.data else ""), file=sys.stderr)
    return 0


def cmd_compile(args) -> int:
    from .compiler import load
    from .ir import dump

    if args.output:
        check_output_path(args.output, what="the program")  # before compiling
    model = load(args.model)
    if args.emit in ("program", "numpyro", "spec") and (args.reparam or model.has_auto):
        # the program must sample what `pplang run` samples: choose now (the spec is shown as
        # written when there is no data to choose with)
        model = _resolved(args, model, required=args.emit != "spec")
    if args.emit == "program":
        from .eject import eject

        from .missing import for_data

        data = args.data or find_sidecar(Path(args.model))
        if data:  # nulls in the data: the program is compiled for them, as `pplang run` does
            model = for_data(model, str(data))
        text = eject(model, str(data) if data else None)
    elif args.emit == "spec":
        from .spec import dump as dump_spec

        text = dump_spec(model.spec)
    else:
        text = model.python_source if args.emit == "numpyro" else dump(model.program) + "\n"
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _resolved(args, model, required: bool = True):
    """``compile`` of a model with ``auto`` (or ``--reparam auto``): choose with the data, so the
    program samples what ``pplang run`` samples (the choice comes from the same cache)."""
    data_path = Path(args.data) if args.data else find_sidecar(Path(args.model))
    if data_path is None and not required:
        return model
    if data_path is None:
        raise PplangError([Diagnostic("no-data-file", f"no data file for {args.model}: `auto` chooses the "
                                      "parameterisation with the data",
                                      help=f"pass --data FILE or create {Path(args.model).with_suffix('.json')}")],
                          file=args.model)
    resolved = model.resolve(str(data_path), reparam=args.reparam)
    concise = args.format == "concise"
    _print_warnings(resolved.reparam_notes, model.source, model.path, concise)
    from .autoreparam import describe

    for choice in resolved.spec.auto:
        print(f"# auto: {describe(choice)}", file=sys.stderr)
    return resolved


def _data_path(args, model) -> Path | None:
    data_path = Path(args.data) if args.data else find_sidecar(Path(args.model))
    if data_path is None and model.spec.of_role(Role.DATA):
        raise PplangError([Diagnostic("no-data-file", f"no data file for {args.model}",
                                      help=f"pass --data FILE or create {Path(args.model).with_suffix('.json')}")],
                          file=args.model)
    return data_path


def cmd_prior(args) -> int:
    import numpy as np

    from .compiler import load

    refuse([count_problem("--samples", args.samples), seed_problem("--seed", args.seed)])  # before compiling
    model = load(args.model)
    _print_warnings(model.warnings, model.source, model.path, args.format == "concise")
    data_path = _data_path(args, model)
    draws = model.prior_predictive(str(data_path) if data_path else None, samples=args.samples, seed=args.seed,
                                   float64=args.float64)
    stats = {k: {"shape": list(v.shape), "mean": np.mean(v, axis=0).tolist(), "variance": np.var(v, axis=0).tolist()}
             for k, v in draws.items()}
    if args.json:
        print(json.dumps({"variables": stats, "num_samples": args.samples, "seed": args.seed}, indent=2))
        return 0
    with np.printoptions(precision=4, suppress=True, linewidth=100):
        for k, v in draws.items():
            print(f"Variable: {k}\n  Shape: {v.shape}\n  Mean: {np.mean(v, axis=0)}\n  Variance: {np.var(v, axis=0)}\n")
    return 0


def run_settings(args) -> SamplerSettings:
    """The sampler settings of ``pplang run``'s flags, checked (``bad-setting``, exit 1)."""
    settings = SamplerSettings(chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed,
                               chain_method=args.chain_method, target_accept=args.target_accept,
                               max_tree_depth=args.max_tree_depth, dense_mass=args.dense_mass, thin=args.thin,
                               float64=args.float64)
    return settings.check()


def cmd_run(args) -> int:
    from .compiler import load
    from .inits import read_init
    from .runtime import check_vars
    from .sharding import quiet_stdout

    settings = run_settings(args)  # before anything is compiled or sampled
    placement = Placement(shard_data=args.shard_data, devices=args.devices, coordinator=args.coordinator,
                          num_processes=args.num_processes, process_id=args.process_id).check()
    init = read_init(args.init) if args.init is not None else None
    cli_workflow.check_run_args(args)
    if placement.coordinator and placement.process_id:  # only process 0 prints results and writes files
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        args.output = None
    if placement.coordinator:
        from .sharding import start_processes

        start_processes(placement.coordinator, placement.num_processes, placement.process_id)
    t0 = time.perf_counter()
    model = load(args.model)
    compile_s = time.perf_counter() - t0
    concise = args.format == "concise"
    if not placement.process_id:
        _print_warnings(model.warnings, model.source, model.path, concise)
    if args.vars:
        check_vars(args.vars, model.reported + model.generated_names)
    data_path = _data_path(args, model)
    progress = not args.json and not args.no_progress and sys.stderr.isatty()
    with quiet_stdout() if placement.coordinator else contextlib.nullcontext():
        posterior = model.sample(str(data_path) if data_path else None, **settings.as_dict(), init=init,
                                 progress_bar=progress, cache=not args.no_cache, reparam=args.reparam,
                                 shard_data=placement.sharded, devices=placement.devices)
    posterior.timing["compile_s"] = compile_s
    from .advice import sampling_diagnostics

    model = posterior.model  # with `auto`, the model as chosen for this data
    advice = model.data_warnings + model.reparam_notes + sampling_diagnostics(model, posterior)
    summary = posterior.summary(args.vars)
    summary["warnings"] = [{"code": d.code, "message": d.message, "line": d.span.line or None, "help": d.help}
                           for d in advice]
    summary["model"] = str(args.model)
    summary["data"] = str(data_path) if data_path else None
    cli_workflow.after_run(args, model, posterior, data_path, summary)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        from .runtime import format_summary

        print(format_summary(summary), flush=True)
        cli_workflow.print_run_extras(summary)
    if not placement.process_id:  # the other processes print errors only
        _print_warnings(advice, model.source, model.path, concise)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "explain":
        if args.code not in CATALOGUE:
            print(f"unknown diagnostic code {args.code!r}; codes: {', '.join(sorted(CATALOGUE))}", file=sys.stderr)
            return 1
        print(explain(args.code))
        return 0
    handler = {"run": cmd_run, "prior": cmd_prior, "check": cmd_check, "compile": cmd_compile, "cache": cmd_cache,
               "predict": lambda a: cli_workflow.cmd_predict(a, _print_warnings),
               "plot": cli_workflow.cmd_plot, "graph": cli_workflow.cmd_graph,
               "sbc": lambda a: sbc.cmd_sbc(a, _data_path),
               **{c: lambda a: cli_approx.cmd_approx(a, _print_warnings) for c in cli_approx.COMMANDS}}[args.command]
    try:
        return handler(args)
    except PplangError as exc:
        concise = getattr(args, "format", "full") == "concise"
        if exc.warnings:
            _print_warnings(exc.warnings, exc.source, exc.file, concise)
        # a diagnostic with no file of its own (a bad flag) is reported against the model
        print(render_all(exc.diagnostics, exc.source, exc.file or getattr(args, "model", None), concise),
              file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `pplang run ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        return _internal_error(exc, args.debug)


def _internal_error(exc: Exception, debug: bool) -> int:
    """Report an exception pplang could not explain: a bug, exit status 2; ``--debug`` adds the traceback."""
    import traceback

    from .diagnostics import InternalError, exception_text

    if debug:
        traceback.print_exception(exc)
    what = printable(str(exc) if isinstance(exc, InternalError) else exception_text(exc))
    print(f"internal error: {what}\nThis is a bug in pplang; please report it with the model and data that "
          f"caused it{'' if debug else ' (run again with --debug to see the traceback)'}.", file=sys.stderr)
    return 2


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
