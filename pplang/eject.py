"""Eject: the generated NumPyro module plus data loading and a NUTS run, as one program a user
can keep and run without pplang (``pplang compile MODEL.ppl -o model.py``).

The appended code converts each declared data field exactly as ``runtime.prepare_data`` does
(whole numbers to Python ``int`` / int64 arrays, reals to float64 arrays; derived data through
``transform_data``) and runs ``MCMC(NUTS(model))`` with ``pplang run``'s defaults, so the same
seed gives the same draws. A model with ``generated`` statements also gets ``generate()``, which
computes them from the draws as ``Posterior.generated`` does (same key, so the same values).
Validation (bounds, shapes) stays pplang's job.
"""

from __future__ import annotations

from pathlib import Path

from .runtime import Model
from .spec import Role

TEMPLATE = '''

# ----------------------------------------------------------------------------- the program
# Appended by `pplang compile -o`: load a JSON data file and run NUTS with `pplang run`'s defaults.
# The same --seed gives the same draws as `pplang run {model_file} --seed K`.
import argparse
import json

import numpy as np
from numpyro.infer import MCMC, NUTS

# each declared data field: (base type, number of dimensions)
DATA_FIELDS = {data_fields}
DEFAULT_DATA = {default_data!r}


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


def main(argv=None):
    p = argparse.ArgumentParser(description="Run NUTS on the model generated from {model_file}.")
    p.add_argument("data", nargs="?" if DEFAULT_DATA else None, default=DEFAULT_DATA, help="JSON data file")
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chain-method", choices=["vectorized", "parallel", "sequential"], default="vectorized")
    p.add_argument("--float64", action="store_true", help="run in double precision")
    p.add_argument("--target-accept", type=float, default=0.8)
    p.add_argument("--max-tree-depth", type=int, default=10)
    p.add_argument("--dense-mass", action="store_true")
    p.add_argument("--save", metavar="FILE.npz", help="also save the draws (chains, samples, ...)")
    args = p.parse_args(argv)
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    data = load_data(args.data)
    kernel = NUTS(model, target_accept_prob=args.target_accept, dense_mass=args.dense_mass,
                  max_tree_depth=args.max_tree_depth)
    mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.samples, num_chains=args.chains,
                chain_method=args.chain_method, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(args.seed), **data)
    mcmc.print_summary(exclude_deterministic=False)
    draws = {{k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}}{generated_call}
    if args.save:
        np.savez(args.save, **draws)


if __name__ == "__main__":
    main()
'''


GENERATE = '''

# generated quantities: computed once per posterior draw after sampling, as pplang does
GENERATED = {names!r}
from numpyro.diagnostics import print_summary  # noqa: E402


def generate(draws, data, seed):
    """The generated quantities of every draw (chain, draw, ...): the model run with _pp_generate=True."""
    from numpyro.infer import Predictive

    pred = Predictive(model, posterior_samples=draws, batch_ndims=2, return_sites=GENERATED)
    out = pred(jax.random.fold_in(jax.random.PRNGKey(seed), 2), **data, _pp_generate=True)
    return {{k: np.asarray(out[k]) for k in GENERATED}}
'''

GENERATE_CALL = """
    generated = generate(draws, data, args.seed)
    print_summary(generated, prob=0.9)
    draws.update(generated)"""


def eject(model: Model, default_data: str | None = None) -> str:
    """The standalone program: ``model.python_source`` followed by data loading and an MCMC run.
    ``default_data`` is the data file used when the program is run without one."""
    fields = {s.name: (s.type.elem, len(s.type.shape)) for s in model.spec.of_role(Role.DATA)}
    body = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in fields.items()) + "}"
    names = model.generated_names
    program = TEMPLATE.format(data_fields=body, default_data=default_data, model_file=Path(model.path).name,
                              generated_call=GENERATE_CALL if names else "")
    if names:
        head, main = program.split("\n\ndef main(", 1)
        program = head + GENERATE.format(names=names) + "\n\ndef main(" + main
    return model.python_source + program
