"""Eject: the generated NumPyro module plus data loading and a NUTS run, as one program a user
can keep and run without pplang (``pplang compile MODEL.ppl -o model.py``).

The appended code converts each declared data field exactly as ``runtime.prepare_data`` does
(whole numbers to Python ``int`` / int64 arrays, reals to float64 arrays; derived data through
``transform_data``) and runs ``MCMC(NUTS(model))`` with ``pplang run``'s defaults (written in from
:data:`pplang.settings.DEFAULTS`) and the same sampler flags, so the same seed gives the same draws.
A model with ``generated`` statements also gets ``generate()``, which computes them from the draws
as ``Posterior.generated`` does (same key, so the same values).
Validation (bounds, shapes) stays pplang's job.
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import Diagnostic, PplangError
from .lower_numpyro import comment_text
from .runtime import EXTRA_FIELDS, Model
from .settings import CHAIN_METHODS, DEFAULTS
from .spec import Role

TEMPLATE = '''

# ----------------------------------------------------------------------------- the program
# Appended by `pplang compile -o`: load a JSON data file and run NUTS with `pplang run`'s defaults.
# The same --seed gives the same draws as `pplang run {model_file} --seed K`.
import argparse
import functools
import json

import numpy as np
from numpyro.diagnostics import print_summary
from numpyro.infer import MCMC, NUTS, init_to_uniform, init_to_value

# each declared data field: (base type, number of dimensions)
DATA_FIELDS = {data_fields}
DEFAULT_DATA = {default_data!r}
# NumPyro's auxiliary sites (theta_decentered for a non-centred theta): sampled, not reported
AUXILIARY = {{name + "_decentered" for name in reparam_config}}
# NUTS statistics kept per draw, as pplang keeps them
EXTRA_FIELDS = {extra_fields!r}


def load_data(path):
    """Read the JSON data file and convert each declared field as pplang does."""
    with open(path) as f:
        raw = json.load(f)
    values = {{}}
    for name, (base, ndim) in DATA_FIELDS.items():
        arr = np.asarray(raw[name])
        if arr.dtype == bool:
            arr = arr.astype(np.int64)
        if ndim == 1 and arr.ndim == 0:
            arr = arr.reshape(1)
        arr = arr.astype(np.int64 if base == "int" else np.float64)
        if arr.ndim == 0:
            values[name] = int(arr) if base == "int" else float(arr)
        else:
            values[name] = arr
    return {{**values, **transform_data(**values)}}


def read_init(text):
    """--init: inline JSON ('{{"mu": 0}}') or a JSON file: site name -> value (natural scale)."""
    if text.lstrip().startswith("{{"):
        return json.loads(text)
    with open(text) as f:
        return json.load(f)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description={description})
    p.add_argument("data", nargs="?" if DEFAULT_DATA else None, default=DEFAULT_DATA, help="JSON data file")
    p.add_argument("--chains", type=int, default={d.chains!r})
    p.add_argument("--warmup", type=int, default={d.warmup!r})
    p.add_argument("--samples", type=int, default={d.samples!r})
    p.add_argument("--seed", type=int, default={d.seed!r})
    p.add_argument("--chain-method", choices={chain_methods!r}, default={d.chain_method!r})
    p.add_argument("--float64", action="store_true", default={d.float64!r}, help="run in double precision")
    p.add_argument("--target-accept", type=float, default={d.target_accept!r}, help="Stan's adapt_delta")
    p.add_argument("--max-tree-depth", type=int, default={d.max_tree_depth!r})
    p.add_argument("--dense-mass", action="store_true", default={d.dense_mass!r})
    p.add_argument("--thin", type=int, default={d.thin!r}, help="keep every K-th draw")
    p.add_argument("--init", metavar="JSON", help="initial values: a JSON file or inline JSON, site name -> value")
    p.add_argument("--save", metavar="FILE.npz", help="also save the draws (chains, samples, ...)")
    args = p.parse_args(argv)
    if not 0 < args.target_accept < 1:
        p.error("--target-accept must be strictly between 0 and 1")
    for flag, value, least in (("chains", args.chains, 1), ("warmup", args.warmup, 0), ("samples", args.samples, 1),
                               ("max-tree-depth", args.max_tree_depth, 1), ("thin", args.thin, 1)):
        if value < least:
            p.error(f"--{{flag}} must be at least {{least}}")
    if args.thin > args.samples:
        p.error("--thin must not exceed --samples")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    data = load_data(args.data)
    init = read_init(args.init) if args.init else {{}}
    if init:  # names are latent sample sites; one number fills every element
        start = numpyro.handlers.substitute(numpyro.handlers.seed(model, 0), substitute_fn=init_to_uniform)
        shapes = {{k: np.shape(s["value"]) for k, s in numpyro.handlers.trace(start).get_trace(**data).items()
                  if s["type"] == "sample" and not s["is_observed"]}}
        unknown = sorted(set(init) - set(shapes))
        if unknown:
            raise SystemExit(f"--init: {{', '.join(unknown)}} not among the latent sites {{', '.join(shapes)}}")
        init = {{k: np.broadcast_to(np.asarray(v, dtype=float), shapes[k]) for k, v in init.items()}}
    start = {{"init_strategy": init_to_value(values=init)}} if init else {{}}
    # sizes (scalars) are fixed in the compiled program; the arrays are its arguments
    sizes = {{k: v for k, v in data.items() if np.ndim(v) == 0}}
    arrays = {{k: v for k, v in data.items() if k not in sizes}}

    def one_run(key, arrays):
        kernel = NUTS(functools.partial(model, **sizes), target_accept_prob=args.target_accept,
                      dense_mass=args.dense_mass, max_tree_depth=args.max_tree_depth, **start)
        mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.samples, num_chains=args.chains,
                    thinning=args.thin, chain_method=args.chain_method, progress_bar=False)
        mcmc.run(key, extra_fields=EXTRA_FIELDS, **arrays)
        return mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True)

    if init or args.chain_method == "parallel":  # as pplang: NumPyro's own loop
        samples, extra = one_run(jax.random.PRNGKey(args.seed), arrays)
    else:  # as pplang: the whole run compiled as one program (the same draws)
        samples, extra = jax.jit(one_run)(jax.random.PRNGKey(args.seed), arrays)
    draws = {{k: np.asarray(v) for k, v in samples.items() if k not in AUXILIARY}}
    print_summary(draws, prob=0.9)
    print(f"Number of divergences: {{int(np.sum(extra['diverging']))}}"){generated_call}{imputed_call}
    if args.save:
        np.savez(args.save, **draws)


if __name__ == "__main__":
    main()
'''


GENERATE = '''

# generated quantities: computed once per posterior draw after sampling, as pplang does
GENERATED = {names!r}


def generate(draws, data, seed):
    """The generated quantities of every draw (chain, draw, ...): the model run with _pp_generate=True."""
    from numpyro.infer import Predictive

    pred = Predictive(model, posterior_samples=draws, batch_ndims=2, return_sites=GENERATED)
    out = pred(jax.random.fold_in(jax.random.PRNGKey(seed), 2), **data, _pp_generate=True)
    return {{k: np.asarray(out[k]) for k in GENERATED}}
'''

MISSING_CODE = '''

# data with JSON nulls (the program is compiled for their positions, which come with the data):
# name -> (how its nulls are imputed, the data's shape). "latent": one parameter per null (the site
# "name[missing]"); "masked": left out of the likelihood, drawn from the posterior predictive after
# sampling (key fold_in(PRNGKey(seed), 3)).
MISSING = {missing!r}


def fill_missing(name, value):
    """The data with each null set to the smallest observed value (never scored: masked, or
    overwritten by its parameter) and the model's argument holding the nulls' positions."""
    mode, shape = MISSING[name]
    obj = np.asarray(value, dtype=object).reshape(-1)
    null = np.equal(obj, None)
    seen = [v for v in obj if v is not None]
    obj[null] = min(seen) if seen else 0
    if mode == "latent":
        return obj.reshape(shape).tolist(), ("_pp_missing_" + name, np.flatnonzero(null).astype(np.int64))
    return obj.reshape(shape).tolist(), ("_pp_observed_" + name, ~null.reshape(shape))


def element_names(name, shape, positions):
    return [name + "[" + ",".join(str(i + 1) for i in np.unravel_index(int(p), shape)) + "]" for p in positions]


def impute(samples, draws, data, seed):
    """Each imputed entry's draws (chain, draw) under its element name (y[4]), as pplang reports them.
    A missing response is drawn given every sampled site (``samples``, auxiliary ones included)."""
    from numpyro.infer import Predictive

    out = {{}}
    masked = [name for name, (mode, _) in MISSING.items() if mode == "masked"]
    drawn = {{}}
    if masked:
        latents = {{k: v for k, v in samples.items() if k not in masked}}
        pred = Predictive(model, posterior_samples=latents, batch_ndims=2, return_sites=masked)
        drawn = pred(jax.random.fold_in(jax.random.PRNGKey(seed), 3), **{{**data, **{{k: None for k in masked}}}})
    for name, (mode, shape) in MISSING.items():
        if mode == "latent":
            where = np.asarray(data["_pp_missing_" + name])
            values = np.asarray(draws[name + "[missing]"])
        else:
            where = np.flatnonzero(~np.asarray(data["_pp_observed_" + name]).reshape(-1))
            full = np.asarray(drawn[name])
            values = full.reshape(full.shape[:2] + (-1,))[..., where]
        out.update({{n: values[..., k] for k, n in enumerate(element_names(name, shape, where))}})
    return out
'''

# load_data's lines for data with nulls: (as written for data without, with nulls)
LOAD_MISSING = (
    ("    values = {}\n", "    values, positions = {}, {}\n"),
    ("        arr = np.asarray(raw[name])\n",
     "        value = raw[name]\n"
     "        if name in MISSING:  # JSON null: a missing entry, imputed as pplang imputes it\n"
     "            value, (key, where) = fill_missing(name, value)\n"
     "            positions[key] = where\n"
     "        arr = np.asarray(value)\n"),
    ("    return {**values, **transform_data(**values)}\n",
     "    return {**values, **transform_data(**values), **positions}\n"),
    ("    print_summary(draws, prob=0.9)\n",  # the imputed entries by element name (x[4]), not x[missing]
     "    imputed = impute(samples, draws, data, args.seed)\n"
     "    print_summary({k: v for k, v in draws.items() if not k.endswith(\"[missing]\")}, prob=0.9)\n"
     "    print_summary(imputed, prob=0.9)\n"),
)

IMPUTED_CALL = """
    draws = {k: v for k, v in draws.items() if not k.endswith("[missing]")}
    draws.update(imputed)"""

GENERATE_CALL = """
    generated = generate(draws, data, args.seed)
    print_summary(generated, prob=0.9)
    draws.update(generated)"""


def eject(model: Model, default_data: str | None = None) -> str:
    """The standalone program: ``model.python_source`` followed by data loading and an MCMC run.
    ``default_data`` is the data file used when the program is run without one. File names are
    free text: they reach the program only as string literals (``repr``) or escaped comments."""
    fields = {s.name: (s.type.elem, len(s.type.shape)) for s in model.spec.of_role(Role.DATA)}
    body = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in fields.items()) + "}"
    names = model.generated_names
    # a model compiled for the nulls of a data set (pplang.missing.ImputedModel)
    missing = {m.name: (m.mode, tuple(int(n) for n in model.shapes[m.name])) for m in model.spec.missing}
    if model.spec.enumerated and any(mode == "masked" for mode, _ in missing.values()):
        site = model.spec.enumerated[0]
        raise PplangError([Diagnostic(
            "unsupported", f"the ejected program cannot draw the missing values of "
            f"{', '.join(k for k, (mode, _) in missing.items() if mode == 'masked')}: they depend on the discrete "
            f'latent "{site.name}", which pplang draws after sampling and the program does not',
            span=site.span, help="`pplang run` imputes them; or eject with the null entries left out of the data")],
            source=model.source, file=model.path)
    model_file = Path(model.path).name
    program = TEMPLATE.format(data_fields=body, default_data=default_data, model_file=comment_text(model_file),
                              description=repr(f"Run NUTS on the model generated from {model_file}."),
                              generated_call=GENERATE_CALL if names else "", d=DEFAULTS,
                              imputed_call=IMPUTED_CALL if missing else "",
                              chain_methods=list(CHAIN_METHODS), extra_fields=EXTRA_FIELDS)
    if names:
        head, main = program.split("\n\ndef main(", 1)
        program = head + GENERATE.format(names=names) + "\n\ndef main(" + main
    if missing:  # the data's nulls: filled and their positions passed, as ImputedModel.prepare_data
        head, main = program.split("\n\ndef load_data(", 1)
        program = head + MISSING_CODE.format(missing=missing) + "\n\ndef load_data(" + main
        for old, new in LOAD_MISSING:
            if old not in program:
                raise RuntimeError(f"eject: the template lost the line {old!r}")  # a pplang bug
            program = program.replace(old, new, 1)
    if model.spec.solvers:  # as pplang's runtime: a failed ODE solve (NaN) rejects, it does not raise
        program = program.replace("    args = parse_args(argv)\n", "    args = parse_args(argv)\n"
                                  "    numpyro.enable_validation(False)  # a failed ODE solve is NaN: rejected\n", 1)
    return model.python_source + program
