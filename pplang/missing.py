"""Missing data: JSON ``null`` entries of the data become parameters or predictive draws.

A null entry of data that the model gives a distribution is imputed (:func:`impute`, spec -> spec,
given which fields have nulls):

- ``latent``: the data is read by other statements (a covariate, ``y[i] ~ Normal(a + b * x[i], s)``
  with ``x[i] ~ Normal(mu_x, sigma_x)``). Each missing entry is one parameter, sampled by NUTS (the
  site ``x[missing]``, one element per missing entry, flat there: the data's own sampling statement
  gives it its density), written into ``x`` before any statement reads it;
- ``masked``: nothing else reads the data (a missing response). Its missing entries are left out
  of the likelihood (``.mask``) and drawn from the posterior predictive after sampling (key
  ``fold_in(PRNGKey(seed), 3)``). Counts can be missing this way too.

Either way each imputed entry is reported under its own name (``y[4]``) in summaries, ``--json``
and InferenceData, with the note "imputed 3 missing values of y: y[4], y[18], y[41]". A null in
data without a distribution, a size, an index or data read by derived data is an error
(``missing-value``) that says what to write. The positions come with the data: the model takes
``_pp_missing_<name>`` (flat positions) or ``_pp_observed_<name>`` (a mask) as extra arguments, so a
model whose data has no nulls is compiled exactly as before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from . import ir
from .diagnostics import Diagnostic, PplangError
from .spec import Definition, Factor, InitElement, Loop, Missing, Role, Site, Spec

LATENT_SUPPORTS = ("real", "positive", "unit_interval")


def nulls(spec: Spec, raw: dict) -> dict[str, np.ndarray]:
    """The declared data fields of ``raw`` that hold nulls: name -> flat 0-based positions."""
    out = {}
    for sym in spec.of_role(Role.DATA):
        value = raw.get(sym.name)
        if value is None or not isinstance(value, list):
            continue
        try:
            arr = np.array(value, dtype=object)
        except ValueError:
            continue  # ragged: prepare_data says so
        where = np.flatnonzero(np.equal(arr, None))
        if where.size:
            out[sym.name] = where
    return out


def element_names(name: str, shape: tuple[int, ...], positions: np.ndarray) -> list[str]:
    """``y[4]`` (1-based, matrices ``x[1,2]``) for each flat position."""
    return [name + "[" + ",".join(str(i + 1) for i in np.unravel_index(int(p), shape)) + "]" for p in positions]


def filled(raw: dict, where: dict[str, np.ndarray]) -> dict:
    """``raw`` with each null replaced by a value in the data's support (the smallest observed
    value): it is never scored (masked) or is overwritten by its parameter (latent)."""
    out = dict(raw)
    for name, positions in where.items():
        arr = np.array(raw[name], dtype=object)
        flat = arr.reshape(-1)
        seen = [v for v in flat if v is not None]
        fill = min(seen) if seen and all(isinstance(v, (int, float)) for v in seen) else 0
        flat = flat.copy()
        flat[positions] = fill
        out[name] = flat.reshape(arr.shape).tolist()
    return out


def _reads(item) -> list[ir.Expr]:
    match item:
        case Site():
            return [e.node for _, e in item.args] + [b.node for b in (item.truncation or ()) if b is not None]
        case Definition() | Factor() | InitElement():
            return [item.value.node]
        case Loop():
            return [b.value.node for b in item.body]
    return []


def _read_by(spec: Spec, name: str) -> list:
    """The statements (model and generated) whose right side reads ``name``."""
    return [i for i in (*spec.items, *spec.generated)
            if any(isinstance(n, ir.Name) and n.id == name for e in _reads(i) for n in ir.walk(e))]


def impute(spec: Spec, where: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]) -> Spec:
    """spec -> spec: the observed sites of the fields in ``where`` (name -> flat positions of
    nulls; ``shapes`` their data shapes) get how their missing entries are imputed. Raises
    :class:`PplangError` (``missing-value``) for nulls that cannot be imputed."""
    errors: list[Diagnostic] = []
    sites = {s.name: s for s in spec.sites() if s.observed and s.role is Role.DATA}
    missing: dict[str, Missing] = {}
    sizes = {n.id for s in spec.symbols.values() for d in s.type.shape for n in ir.walk(d) if isinstance(n, ir.Name)}
    indexes = {n.id for u in spec.index_uses for n in ir.walk(u.index) if isinstance(n, ir.Name)}
    derived = {n.id for d in spec.derived for n in ir.walk(d.value.node) if isinstance(n, ir.Name)}
    for name, positions in where.items():
        sym = spec.symbols[name]
        names = element_names(name, shapes[name], positions)
        at = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        site = sites.get(name)

        def fail(why: str, help: str) -> None:
            errors.append(Diagnostic("missing-value", f'"{name}" has {len(names)} missing value(s) (null) at {at}: '
                                     + why, sym.span, help))

        idx = ", ".join("ijkl"[: max(1, len(shapes[name]))])
        if name in sizes or name in indexes:
            fail("it is used as a size or an index, which must be known before sampling",
                 "fill in the values, or drop the rows that lack them")
        elif name in derived:
            fail("derived data reads it, and derived data is computed before sampling",
                 f"compute that quantity in the model instead (`z = ...` without `data`), or fill in {name}")
        elif site is None:
            fail("the model gives it no distribution, so there is nothing to impute it from",
                 f"give it one, e.g. `{name}[{idx}] ~ Normal(mu_{name}, sigma_{name})` (with priors on mu_{name} "
                 f"and sigma_{name}), to impute the missing entries; or drop the rows that lack them")
        elif site.value is not None:
            fail(f"only part of it has a distribution here ({name}[lo:hi] ~ ..., or ~ in a for loop), and missing "
                 "entries of such data are not imputed yet",
                 "fill in the values, or drop the rows that lack them")
        elif not _read_by(spec, name):
            missing[name] = Missing(name, "masked")
        elif site.dist.discrete:
            fail(f"it is discrete ({site.dist.name}) and other statements read it, so each missing entry would be a "
                 "discrete parameter", "drop the rows that lack it, or marginalise the missing entries by hand")
        else:
            support = sym.type.constraint if sym.type.constraint in LATENT_SUPPORTS[1:] else site.dist.support
            if support not in LATENT_SUPPORTS:
                fail(f"its distribution's support ({support}) cannot be imputed yet",
                     "impute it with a distribution on the real line, the positive reals or (0, 1)")
            else:
                missing[name] = Missing(name, "latent", support)
    if errors:
        raise PplangError(errors)
    items = tuple(replace(i, missing=missing[i.name]) if isinstance(i, Site) and i.observed and i.name in missing
                  else i for i in spec.items)
    return replace(spec, items=items, missing=tuple(missing[n] for n in where if n in missing))


def for_data(model, data):
    """``model`` itself, or, when ``data`` (a dict or JSON path) has nulls, the model compiled for
    its missing entries (an :class:`ImputedModel`)."""
    from .runtime import read_data_file

    raw = read_data_file(data) if isinstance(data, (str, Path)) else (data or {})
    where = nulls(model.spec, raw)
    if not where or isinstance(model, ImputedModel):
        return model
    return ImputedModel(model, where, raw)


def prepare_checked(spec: Spec, raw: dict, data_file: str | None = None):
    """``runtime.prepare_data`` for data that may hold nulls (``pplang check --data``): the nulls
    are checked to be imputable, then the rest as usual."""
    from .runtime import prepare_data

    where = nulls(spec, raw)
    if where:
        impute(spec, where, {k: np.array(raw[k], dtype=object).shape for k in where})
        raw = filled(raw, where)
    return prepare_data(spec, raw, data_file)


def _model_class():
    from .runtime import Model

    return Model


class ImputedModel(_model_class()):
    """A model compiled for the missing entries of one data set: its spec says how each null is
    imputed (:func:`impute`) and its data carries their positions."""

    def __init__(self, base, where: dict[str, np.ndarray], raw: dict):
        from . import lower_numpyro

        shapes = {k: np.array(raw[k], dtype=object).shape for k in where}
        try:
            spec = impute(base.spec, where, shapes)
        except PplangError as exc:
            exc.source, exc.file = exc.source or base.source, exc.file or base.path
            raise
        super().__init__(base.source, base.path, base.program, spec, lower_numpyro.lower(spec, Path(base.path).name))
        self.where, self.shapes, self.base = where, shapes, base

    def prepare_data(self, data=None, data_file: str | None = None) -> dict:
        from .runtime import read_data_file

        if isinstance(data, (str, Path)):
            data_file, data = str(data), read_data_file(data)
        kwargs = super().prepare_data(filled(data or {}, self.where), data_file)
        self.base.data_warnings = self.data_warnings  # the model the caller holds reports them
        for m in self.spec.missing:
            if m.mode == "latent":
                kwargs[m.positions] = np.asarray(self.where[m.name], dtype=np.int64)
            else:
                mask = np.ones(int(np.prod(self.shapes[m.name])), bool)
                mask[self.where[m.name]] = False
                kwargs[m.mask] = mask.reshape(self.shapes[m.name])
        return kwargs

    def predictive_data(self, data, data_file: str | None = None) -> dict:
        raise PplangError([Diagnostic("unsupported", "prediction on new data from a fit with imputed missing values "
                                      "is not supported yet", help="refit without the null entries to predict")],
                          source=self.source, file=self.path)

    def sample(self, data=None, **kw):
        from .runtime import precision

        post = super().sample(data, **kw)
        with precision(post.settings.float64):
            post.imputed = imputed_draws(self, post)
        return post


def imputed_draws(model: ImputedModel, post) -> dict[str, np.ndarray]:
    """Every imputed entry's draws, (chains, draws), under its element name (``y[4]``): the
    parameters of latent entries, posterior predictive draws of masked ones."""
    import jax
    from numpyro.infer import Predictive

    grouped = post.grouped_samples
    out: dict[str, np.ndarray] = {}
    masked = [m.name for m in model.spec.missing if m.mode == "masked"]
    drawn = {}
    if masked:
        kwargs = {**post.data, **{k: None for k in masked}}
        latents = model._latents(grouped, kwargs)
        pred = Predictive(model.numpyro_model, posterior_samples=latents, batch_ndims=2, return_sites=masked)
        drawn = model._run_located(lambda: pred(jax.random.fold_in(jax.random.PRNGKey(post.seed), 3), **kwargs))
    for m in model.spec.missing:
        names = element_names(m.name, model.shapes[m.name], model.where[m.name])
        if m.mode == "latent":
            values = np.asarray(grouped[m.site])
        else:
            full = np.asarray(drawn[m.name])
            values = full.reshape(full.shape[:2] + (-1,))[..., model.where[m.name]]
        out.update({n: values[..., k] for k, n in enumerate(names)})
    return out


def imputed_note(model) -> list[str]:
    """"imputed 3 missing values of y: y[4], y[18], y[41]" for each field with nulls."""
    notes = []
    for m in model.spec.missing:
        names = element_names(m.name, model.shapes[m.name], model.where[m.name])
        notes.append(f"imputed {len(names)} missing value{'s' if len(names) != 1 else ''} of {m.name}: "
                     f"{', '.join(names)}")
    return notes
