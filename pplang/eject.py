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

from .lower_numpyro import comment_text
from .runtime import EXTRA_FIELDS, Model
from .settings import CHAIN_METHODS, DEFAULTS
from .spec import Definition, Role

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


def latent_shapes(data):
    """The shape of every latent sample site of the model, by one trace at NUTS's kind of initial values."""
    start = numpyro.handlers.substitute(numpyro.handlers.seed(model, 0), substitute_fn=init_to_uniform)
    return {{k: np.shape(s["value"]) for k, s in numpyro.handlers.trace(start).get_trace(**data).items()
            if s["type"] == "sample" and not s["is_observed"]}}


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
        shapes = latent_shapes(data)
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

    latents = {latents}
    pred = Predictive(model, posterior_samples=latents, batch_ndims=2, return_sites=GENERATED)
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
        latents = {{k: v for k, v in samples.items() if k not in masked}}{discrete}
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

DISCRETE_CODE = '''

# discrete latents that NUTS did not see: summed out while sampling, then drawn for each posterior
# draw from their conditional posterior, as pplang does. ENUMERATED: the latents NumPyro enumerates
# (outcomes counted from 0 there; discrete_offsets gives the model's values), drawn with NumPyro's infer_discrete (keys split from
# fold_in(PRNGKey(seed), 4)). CHAINS: hidden Markov chains, drawn by forward filtering and backward
# sampling (keys split from fold_in(fold_in(PRNGKey(seed), 6), c) for the c-th chain).
ENUMERATED = {enumerated!r}
FIRST_ENUM_DIM = {first_dim!r}
CHAINS = {chains!r}
# deterministic quantities that read an enumerated latent: recomputed with its draws
RECOMPUTED = {recomputed!r}


def discrete_offsets(data):
    """Each discrete latent's offset: its model value is NumPyro's outcome plus this."""
{offsets}


def enumerated_outcomes(draws, data):
    """The enumerated latents' draws as NumPyro's outcomes (from 0), to substitute into the model."""
    shift = discrete_offsets(data)
    return {{k: np.asarray(draws[k]) - shift.get(k, 0) for k in ENUMERATED}}


{forward_source}


def draw_discrete(samples, data, seed):
    """The draws (chain, draw, ...) of every discrete latent, in the model's values, and the
    deterministic quantities recomputed with them."""
    from numpyro.contrib.funsor import infer_discrete
    from numpyro.infer import Predictive

    latent = {{k for k in latent_shapes(data) if not k.startswith("_pp")}}
    continuous = {{k: v for k, v in samples.items() if k in latent and k not in ENUMERATED}}
    chains, n_draws = next(iter(continuous.values())).shape[:2]
    n = chains * n_draws
    flat = {{k: jnp.reshape(v, (n,) + v.shape[2:]) for k, v in continuous.items()}}
    drawn = {{}}
    if ENUMERATED:
        def draw(sample, key):
            conditioned = numpyro.handlers.substitute(model, data=sample)
            sampler = infer_discrete(conditioned, first_available_dim=FIRST_ENUM_DIM, temperature=1, rng_key=key)
            tr = numpyro.handlers.trace(numpyro.handlers.seed(sampler, key)).get_trace(**data)
            return {{k: tr[k]["value"] for k in ENUMERATED}}

        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 4), n)
        step = jax.jit(jax.vmap(draw))
        parts = [step({{k: v[lo:lo + 512] for k, v in flat.items()}}, keys[lo:lo + 512]) for lo in range(0, n, 512)]
        for k in ENUMERATED:
            values = np.concatenate([np.asarray(part[k]) for part in parts])
            drawn[k] = values.reshape((chains, n_draws) + values.shape[1:])
    if CHAINS:
        sites = [f"_pp_{{p}}_{{name}}" for name in CHAINS for p in ("init", "trans", "emit")]

        @jax.jit
        def states(part, keys):
            got = Predictive(model, posterior_samples=part, return_sites=sites, batch_ndims=1)(
                jax.random.PRNGKey(0), **data, {states_flag}=True)
            return {{name: jax.vmap(ffbs)(keys[i], *(got[f"_pp_{{p}}_{{name}}"] for p in ("init", "trans", "emit")))
                    for i, name in enumerate(CHAINS)}}

        base = jax.random.fold_in(jax.random.PRNGKey(seed), 6)
        keys = jnp.stack([jax.random.split(jax.random.fold_in(base, i), n) for i in range(len(CHAINS))])
        size = min(256, n)
        parts = []
        for lo in range(0, n, size):
            idx = np.minimum(np.arange(lo, lo + size), n - 1)  # the last chunk padded, as pplang
            parts.append((states({{k: v[idx] for k, v in flat.items()}}, keys[:, idx]), min(size, n - lo)))
        for name in CHAINS:
            values = np.concatenate([np.asarray(got[name])[:keep] for got, keep in parts])
            drawn[name] = values.reshape(chains, n_draws, -1)
    recomputed = {{}}
    if RECOMPUTED:
        pred = Predictive(model, posterior_samples={{**continuous, **{{k: drawn[k] for k in ENUMERATED}}}},
                          batch_ndims=2, return_sites=RECOMPUTED)
        recomputed = {{k: np.asarray(v) for k, v in pred(jax.random.fold_in(jax.random.PRNGKey(seed), 5), **data).items()}}
    shift = discrete_offsets(data)
    return {{k: v + shift.get(k, 0) for k, v in drawn.items()}}, recomputed
'''

# main's lines with discrete latents: their draws (model values) and the recomputed deterministic
# quantities join the draws before anything is printed
DISCRETE_CALL = (
    "    draws = {k: np.asarray(v) for k, v in samples.items() if k not in AUXILIARY}\n",
    "    draws = {k: np.asarray(v) for k, v in samples.items() if k not in AUXILIARY}\n"
    "    discrete, recomputed = draw_discrete(samples, data, args.seed)\n"
    "    draws.update(recomputed)\n"
    "    draws.update(discrete)\n")

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
    model_file = Path(model.path).name
    discrete = _discrete_code(model.spec)
    program = TEMPLATE.format(data_fields=body, default_data=default_data, model_file=comment_text(model_file),
                              description=repr(f"Run NUTS on the model generated from {model_file}."),
                              generated_call=GENERATE_CALL if names else "", d=DEFAULTS,
                              imputed_call=IMPUTED_CALL if missing else "",
                              chain_methods=list(CHAIN_METHODS), extra_fields=EXTRA_FIELDS)
    if names:
        head, main = program.split("\n\ndef main(", 1)
        program = head + GENERATE.format(names=names, latents="{**draws, **enumerated_outcomes(draws, data)}" if discrete else "draws") + "\n\ndef main(" + main
    if discrete:  # draws of the discrete latents, as pplang.discrete draws them
        head, main = program.split("\n\ndef main(", 1)
        program = head + discrete + "\n\ndef main(" + main
        program = _replace(program, *DISCRETE_CALL)
    if missing:  # the data's nulls: filled and their positions passed, as ImputedModel.prepare_data
        head, main = program.split("\n\ndef load_data(", 1)
        outcomes = "\n        latents.update(enumerated_outcomes(draws, data))" if discrete else ""
        program = head + MISSING_CODE.format(missing=missing, discrete=outcomes) + "\n\ndef load_data(" + main
        for old, new in LOAD_MISSING:
            program = _replace(program, old, new)
    if model.spec.solvers:  # as pplang's runtime: a failed ODE solve (NaN) rejects, it does not raise
        program = program.replace("    args = parse_args(argv)\n", "    args = parse_args(argv)\n"
                                  "    numpyro.enable_validation(False)  # a failed ODE solve is NaN: rejected\n", 1)
    return model.python_source + program


def _replace(program: str, old: str, new: str) -> str:
    if old not in program:
        raise RuntimeError(f"eject: the template lost the line {old!r}")  # a pplang bug
    return program.replace(old, new, 1)


def _discrete_code(spec) -> str:
    """The program's code that draws the discrete latents (``DISCRETE_CODE``), or "" without any."""
    import inspect

    from . import forward
    from .checks.context import names_in
    from .lower_exprs import pyname, size
    from .lower_numpyro import STATES_FLAG

    if not spec.enumerated and not spec.chains:
        return ""
    shifted = [(s.name, s.offset) for s in spec.enumerated if s.offset is not None]
    shifted += [(c.name, c.offset) for c in spec.chains if c.offset is not None]
    used = sorted({n for _, e in shifted for n in names_in(e)})
    lines = [f"    {pyname(n)} = data[{n!r}]" for n in used]
    lines.append("    return {" + ", ".join(f"{n!r}: {size(e)}" for n, e in shifted) + "}")
    # the FFBS of pplang.forward, as pplang runs it (plain JAX, no pplang import)
    source = "\n\n".join(inspect.getsource(f) for f in (forward._forward, forward.ffbs)) if spec.chains else ""
    recomputed = [i.name for i in spec.items if isinstance(i, Definition) and i.enumerated
                  and i.role is Role.DETERMINISTIC]
    return DISCRETE_CODE.format(enumerated=[s.name for s in spec.enumerated], first_dim=-spec.max_plate_nesting - 1,
                                chains=[c.name for c in spec.chains], recomputed=recomputed,
                                offsets="\n".join(lines), forward_source=source,
                                states_flag=STATES_FLAG)
