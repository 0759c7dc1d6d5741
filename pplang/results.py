"""Results that last: ArviZ InferenceData, netCDF and CSV files, and fits read back for prediction.

ArviZ (and xarray, pandas, matplotlib behind it) is imported only inside these functions, so a
plain ``pplang run`` never pays for it. Array names follow the model: a variable's axes are named
after the data size that declares them (``theta`` and ``y`` share the dimension ``J``) with 1-based
coordinates, so ArviZ labels ``theta[1]`` as the summaries do.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, ir
from .diagnostics import Diagnostic, PplangError
from .runtime import DECENTERED, Model, flat_names

OUTPUT_SUFFIXES = (".nc", ".csv")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reparam_used(model: Model) -> dict[str, Any]:
    """The parameterisation of each annotated latent: {"theta": "noncentered"}; a site chosen by
    ``auto`` gets what was chosen, {"theta": {"auto": "per-group", "centered": [0.0, ..., 1.0],
    "shape": [16], "summary": "theta: non-centred for 8 groups (1-8), ..."}}, which
    :func:`load_fit` applies again."""
    words = {ir.NonCentered: lambda a: "noncentered", ir.Auto: lambda a: "auto",
             ir.Partial: lambda a: f"partial({a.centered})", ir.Centered: lambda a: "centered",
             ir.PerElement: lambda a: {"centered": list(a.centered), "shape": list(a.shape)}}
    out: dict[str, Any] = {name: words[type(ann)](ann) for name, ann in model.spec.reparam.items()}
    if model.spec.auto:
        from .autoreparam import record

        for name, r in record(model.spec).items():
            out[name] = {"auto": r["kind"], "centered": r["centered"], "shape": r["shape"],
                         "summary": r["summary"]}
    return out


def run_attrs(model: Model, data_file: str | None, seed: int, settings: dict) -> dict[str, Any]:
    """What produced a result, stored in every group's attrs of a netCDF file; ``settings`` is
    ``Posterior.settings_record`` (every field of :class:`~pplang.settings.SamplerSettings`, and
    the initial values when given)."""
    return {
        "created_by": f"pplang {__version__}",
        "model_file": str(model.path),
        "model_source": model.source,
        "model_sha256": sha256(model.source),
        "data_file": str(data_file) if data_file else "",
        "seed": int(seed),
        "settings": json.dumps(settings, sort_keys=True),
        "reparam": json.dumps(reparam_used(model), sort_keys=True),
    }


class _Dims:
    """Names each array axis after the data size that declares it (``J``), else ``theta_dim_1``;
    one name always has one size, and coordinates are 1-based."""

    def __init__(self, model: Model):
        self.symbols = model.spec.symbols
        self.sizes: dict[str, int] = {}

    def __call__(self, name: str, shape: tuple[int, ...]) -> list[str]:
        sym = self.symbols.get(name) or self.symbols.get(name.removesuffix(DECENTERED))
        declared = list(sym.type.shape) if sym is not None and len(sym.type.shape) == len(shape) else [None] * len(shape)
        dims = []
        for k, (size, decl) in enumerate(zip(shape, declared)):
            dim = decl.id if isinstance(decl, ir.Name) else f"{name}_dim_{k + 1}"
            if self.sizes.get(dim, size) != size or dim in dims:
                dim = f"{name}_dim_{k + 1}"
            self.sizes[dim] = size
            dims.append(dim)
        return dims

    def of(self, arrays: dict[str, np.ndarray], lead: int) -> dict[str, list[str]]:
        return {k: self(k, np.shape(v)[lead:]) for k, v in arrays.items()}

    @property
    def coords(self) -> dict[str, np.ndarray]:
        return {d: np.arange(1, n + 1) for d, n in self.sizes.items()}


def posterior_arrays(post) -> dict[str, np.ndarray]:
    """The posterior's quantities, (chain, draw, ...): latents (enumerated discrete ones by their
    draws), deterministic quantities, and imputed missing entries under their element names
    (``y[4]``) instead of the site that holds them (``y[missing]``)."""
    arrays = {k: v for k, v in post.model.public(post.grouped_samples).items() if not k.endswith("[missing]")}
    return {**arrays, **(getattr(post, "imputed", None) or {})}


def _discrete_groups(post, names: "_Dims") -> tuple[dict, dict, dict]:
    """Each enumerated latent's conditional probabilities per draw, ``z_probs`` (chain, draw, ...,
    value), with the values as the last coordinate."""
    arrays, dims, coords = {}, {}, {}
    for name, probs in ((getattr(post, "discrete", None) or {}).get("probabilities") or {}).items():
        key = f"{name}_probs"
        while key in post.model.spec.symbols:
            key = "_" + key
        value_dim = f"{name}_value"
        arrays[key] = probs
        dims[key] = names(name, probs.shape[2:-1]) + [value_dim]
        coords[value_dim] = np.asarray(post.discrete["values"][name])
    return arrays, dims, coords


def observed_parts(model: Model, kwargs: dict) -> dict[str, tuple[np.ndarray, list[np.ndarray]]]:
    """Quantities observed only in part (``y[2:T] ~ ...``, ``y[t] ~ ...`` in ``for t in 2:T``):
    name -> (the observed values, as the site holds them; per axis, the 1-based positions of its
    entries in the quantity). Both come from one trace of the model each: with the data, and with
    the quantity replaced by the numbers of its elements."""
    from .spec import Site

    names = [s.name for s in model.spec.items if isinstance(s, Site) and s.observed and s.value is not None]
    if not names:
        return {}
    import jax
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_uniform

    def observed_values(kw):
        run = handlers.substitute(handlers.seed(model._as_written, jax.random.PRNGKey(0)),
                                  substitute_fn=init_to_uniform)
        tr = model._run_located(lambda: handlers.trace(run).get_trace(**kw))
        return {n: np.asarray(tr[n]["value"]) for n in names}

    values = observed_values(kwargs)
    shapes = {n: np.shape(kwargs[n]) for n in names}
    numbered = observed_values({**kwargs, **{n: np.arange(float(np.prod(shapes[n]))).reshape(shapes[n])
                                             for n in names}})
    out = {}
    for n in names:
        where = np.unravel_index(numbered[n].astype(np.int64), shapes[n])
        out[n] = (values[n], [np.unique(w) + 1 for w in where])
    return out


def posterior_to_arviz(post, *, predictive: bool = True, prior: dict | None = None):
    """The InferenceData of a :class:`~pplang.runtime.Posterior` (see ``Posterior.to_arviz``)."""
    import arviz as az

    model: Model = post.model
    names = _Dims(model)
    posterior = {**posterior_arrays(post), **post.generated(grouped=True)}  # as Stan/ArviZ do
    observed = {k: np.asarray(post.data[k]) for k in model.observed if post.data.get(k) is not None}
    for k, positions in getattr(model, "where", {}).items():  # imputed entries were not observed
        if k in observed:
            observed[k] = observed[k].astype(float)
            observed[k].reshape(-1)[positions] = np.nan
    constant = {k: np.asarray(v) for k, v in post.data.items()
                if k not in observed and v is not None and not k.startswith("_pp") and np.asarray(v).dtype.kind in "biuf"}
    groups: dict[str, dict] = {
        "posterior": posterior,
        "sample_stats": post.sample_stats(),
        "log_likelihood": post.log_likelihood(),
        "observed_data": observed,
        "constant_data": constant,
    }
    if predictive:
        groups["posterior_predictive"] = post.predictive(grouped=True)
    if prior is not None:
        groups["prior"] = {k: v[None] for k, v in model.public(prior).items() if k not in model.observed}
        groups["prior_predictive"] = {k: prior[k][None] for k in model.observed if k in prior}
    # a quantity observed in part (y[2:T] ~ ...): observed_data and log_likelihood hold that part, its
    # axes named y_part_dim_k with the positions of the entries as coordinates
    parts = observed_parts(model, post.data)
    part_dims, part_coords = {}, {}
    for k, (value, positions) in parts.items():
        observed[k] = value
        part_dims[k] = [f"{k}_part_dim_{j + 1}" for j in range(len(positions))]
        part_coords.update(zip(part_dims[k], positions))
    dims: dict[str, list[str]] = {}
    for group, arrays in groups.items():
        if group != "sample_stats":
            dims.update(names.of({k: v for k, v in arrays.items() if k not in parts},
                                 0 if group in ("observed_data", "constant_data") else 2))
    dims.update(part_dims)
    probs, prob_dims, prob_coords = _discrete_groups(post, names)
    groups["posterior"].update(probs)
    dims.update(prob_dims)
    idata = az.from_dict(**groups, dims=dims, coords={**names.coords, **prob_coords, **part_coords})
    return _with_attrs(idata, run_attrs(model, post.data_file, post.seed, post.settings_record))


def _with_attrs(idata, attrs: dict, groups=None):
    """Record ``attrs`` in every group (``groups``: only those) of ``idata``."""
    for group in groups or idata.groups():
        getattr(idata, group).attrs.update(attrs)
    return idata


def predictions_to_arviz(model: Model, fit: "Fit", pred: dict[str, np.ndarray], new_data: dict,
                         data_file: str | None, seed: int):
    """The fit's InferenceData with the groups ``predictions`` (chain, draw, ...) and
    ``predictions_constant_data`` (the new covariates) added."""
    import arviz as az

    names = _Dims(model)
    constant = {k: np.asarray(v) for k, v in new_data.items()
                if v is not None and np.asarray(v).dtype.kind in "biuf"}
    dims = {**names.of(pred, 2), **names.of(constant, 0)}
    attrs = {**run_attrs(model, data_file, seed, {"fit": str(fit.path)}), "fit_file": str(fit.path)}
    new = _with_attrs(az.from_dict(predictions=pred, predictions_constant_data=constant, pred_dims=dims,
                                   pred_coords=names.coords), attrs)
    return az.concat(fit.idata, new) if fit.idata is not None else new


# ----------------------------------------------------------------------------- files


def check_output(path: str | Path) -> Path:
    """Refuse an output suffix pplang cannot write before any sampling happens."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise PplangError([Diagnostic("output-format", f"cannot write {path}: the suffix must be .nc or .csv",
                                      help="use FILE.nc for ArviZ InferenceData or FILE.csv for a table",
                                      file=str(path))])
    from .guards import check_output_path

    return check_output_path(path, OUTPUT_SUFFIXES, "the draws")  # the directory, before any sampling


def save_posterior(post, path: Path, *, predictive: bool = False, prior: dict | None = None) -> Path:
    check_output(path)
    if path.suffix.lower() == ".nc":
        write_netcdf(post.to_arviz(predictive=predictive, prior=prior), path)
    else:
        columns = {"posterior": posterior_arrays(post), "generated": post.generated(grouped=True)}
        if predictive:
            columns["posterior_predictive"] = post.predictive(grouped=True)
        write_csv(columns, path)
    return path


def write_netcdf(idata, path: Path) -> None:
    try:
        idata.to_netcdf(str(path), engine="h5netcdf")
    except OSError as exc:
        raise PplangError([Diagnostic("output-format", f"cannot write {path}: {exc.strerror or exc}")]) from None


def csv_columns(groups: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Flatten (chain, draw, ...) arrays to columns ``chain``, ``draw`` (0-based, as in the
    netCDF file) and one per element, 1-based: ``theta[1]``, ``x[1,2]`` (generated quantities after the
posterior's, under their own names). Replicated data gets a
    ``_rep`` suffix (``y_rep[1]``) so it cannot be mistaken for the posterior's quantities."""
    first = next((a for arrays in groups.values() for a in arrays.values()), None)
    chains, draws = np.shape(first)[:2] if first is not None else (0, 0)
    cols: dict[str, np.ndarray] = {
        "chain": np.repeat(np.arange(chains), draws),
        "draw": np.tile(np.arange(draws), chains),
    }
    for group, arrays in groups.items():
        suffix = "_rep" if group == "posterior_predictive" else ""
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            flat = arr.reshape((chains * draws,) + arr.shape[2:])
            for col, idx in flat_names(name + suffix, arr.shape[2:]):
                cols[col if col not in cols else f"{group}.{col}"] = flat[(slice(None),) + idx]
    return cols


def write_csv(groups: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    cols = csv_columns(groups)
    try:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for row in zip(*(c.tolist() for c in cols.values())):
                w.writerow([_cell(x) for x in row])
    except OSError as exc:
        raise PplangError([Diagnostic("output-format", f"cannot write {path}: {exc.strerror or exc}")]) from None


def _cell(x) -> str:
    if isinstance(x, bool):
        return str(int(x))
    if isinstance(x, float):
        return repr(x)
    return str(x)


# ----------------------------------------------------------------------------- fits read back


def read_netcdf(path: str | Path):
    """An ArviZ InferenceData from ``path``, or a ``fit-file`` error."""
    import arviz as az

    path = Path(path)
    if not path.is_file():
        raise PplangError([Diagnostic("fit-file", f"cannot read {path}: no such file", file=str(path))])
    if path.suffix.lower() != ".nc":
        raise PplangError([Diagnostic("fit-file", f"cannot read {path}: fits are read from .nc files",
                                      help="write one with `pplang run MODEL.ppl --output FIT.nc`")])
    try:
        return az.from_netcdf(str(path), engine="h5netcdf")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem to the user
        raise PplangError([Diagnostic("fit-file", f"cannot read {path}: {type(exc).__name__}: {exc}")]) from None


@dataclass
class Fit:
    """A fit read back from a netCDF file: ``idata`` (the InferenceData), ``model`` (the
    compiled model, from the file or given), ``samples`` (name -> (chain, draw, ...))."""

    path: Path
    idata: Any
    model: Model
    samples: dict[str, np.ndarray]
    seed: int
    warnings: list[Diagnostic] = field(default_factory=list)

    def predict(self, data: dict | str | Path, *, seed: int | None = None,
                data_file: str | None = None) -> dict[str, np.ndarray]:
        """Observed and deterministic quantities for new data, name -> (chain, draw, ...)."""
        return self.model.predict(self.samples, data, seed=self.seed if seed is None else seed, data_file=data_file)


def load_fit(path: str | Path, model: Model | str | Path | None = None) -> Fit:
    """Read a fit written by ``pplang run --output FIT.nc`` (or ``Posterior.save``). Without
    ``model`` the model is compiled from the source stored in the file; with one whose source
    differs from the stored one, ``Fit.model.data_warnings`` notes it (shapes are still checked)."""
    from .compiler import compile as compile_source, load

    idata = read_netcdf(path)
    if "posterior" not in idata.groups():
        raise PplangError([Diagnostic("fit-file", f"{path} has no posterior group")])
    attrs = dict(idata.posterior.attrs)
    warnings = []
    if model is None:
        if "model_source" not in attrs:
            raise PplangError([Diagnostic("fit-file", f"{path} does not record its model",
                                          help="pass the model: pplang predict MODEL.ppl --fit FIT.nc")])
        model = compile_source(str(attrs["model_source"]), str(attrs.get("model_file", "<fit>")))
    elif not isinstance(model, Model):
        model = load(model)
    chosen = {k: v for k, v in json.loads(attrs.get("reparam", "{}") or "{}").items()
              if isinstance(v, dict) and "centered" in v}
    if chosen:  # sampled with `auto`: the fit's draws are of the parameterisation chosen then
        model = model.with_choice(chosen)
    if "model_sha256" in attrs and attrs["model_sha256"] != sha256(model.source):
        warnings.append(Diagnostic("fit-mismatch", f"{model.path} differs from the model stored in {path} "
                                   f"({attrs.get('model_file', '?')})", severity="warning", file=str(model.path)))
    post = idata.posterior
    samples = {k: np.asarray(post[k].transpose("chain", "draw", ...).values) for k in post.data_vars}
    return Fit(Path(path), idata, model, samples, int(attrs.get("seed", 0)), warnings)
