"""``auto``: pplang chooses the parameterisation of a hierarchical statement, per site and per
group, from the model and the data (a spec -> spec capability; the measurement is
:mod:`pplang.autochoice`).

- :func:`mark_auto` (``pplang run --reparam auto``, ``Model.sample(..., reparam="auto")``): every
  eligible site with no parameterisation written becomes ``auto``; ``centered``,
  ``noncentered`` and ``partial(c)`` stay as written.
- :func:`apply` replaces each ``auto`` by the chosen annotation (centred, non-centred, a
  ``partial(c)``, or a centring per element) and records the choice in ``Spec.auto``; lowering
  then renders it as ``LocScaleReparam(centered=...)``, an array literal when it varies by group,
  so the ejected program samples exactly what the run sampled.
- :func:`resolve` makes the choice for a model and its data, through a cache keyed by the model's
  generated code and the data (a second run pays nothing).
- :func:`describe` is the one-line report: ``theta: non-centred for 8 groups (1-8), centred for 8
  (9-16); chosen in 1.4 s``; :func:`record` / :func:`from_record` store a choice with a fit and
  read it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import __version__, ir
from .checks.reparam import eligible_sites
from .diagnostics import Diagnostic
from .lower_numpyro import lower
from .spec import AutoChoice, Site, Spec

ALGORITHM = "auto-1"  # bump when the measurement changes: cached choices are then remade


# ----------------------------------------------------------------------------- spec -> spec


def mark_auto(spec: Spec) -> Spec:
    """``--reparam auto``: every eligible site without a written parameterisation becomes ``auto``."""
    chosen = {s.name for s in eligible_sites(spec)}
    if not chosen:
        return spec
    items = tuple(replace(i, reparam=ir.Auto()) if isinstance(i, Site) and i.name in chosen else i
                  for i in spec.items)
    return replace(spec, items=items)


def auto_sites(spec: Spec) -> list[Site]:
    return [s for s in spec.sites() if isinstance(s.reparam, ir.Auto)]


def annotation(choice: AutoChoice, span: ir.Span = ir.NO_SPAN) -> ir.Annotation:
    """The annotation that samples ``choice``: centred, non-centred, partial(c) or per element."""
    c = choice.centered
    if all(x == 1.0 for x in c):
        return ir.Centered(span)
    if all(x == 0.0 for x in c):
        return ir.NonCentered(span)
    if not choice.shape:
        return ir.Partial(float(c[0]), span)
    return ir.PerElement(tuple(float(x) for x in c), tuple(choice.shape), span)


def apply(spec: Spec, choices: tuple[AutoChoice, ...]) -> Spec:
    """``spec`` with each ``auto`` site's annotation replaced by its choice, recorded in ``auto``."""
    by_site = {c.site: c for c in choices}
    items = tuple(replace(i, reparam=annotation(by_site[i.name], i.reparam.span))
                  if isinstance(i, Site) and isinstance(i.reparam, ir.Auto) and i.name in by_site else i
                  for i in spec.items)
    return replace(spec, items=items, auto=tuple(choices))


def centred(spec: Spec) -> Spec:
    """``spec`` with every ``auto`` site centred: the base the measurement reparameterises."""
    items = tuple(replace(i, reparam=ir.Centered()) if isinstance(i, Site) and isinstance(i.reparam, ir.Auto)
                  else i for i in spec.items)
    return replace(spec, items=items)


def kind_of(centered: np.ndarray) -> str:
    c = np.asarray(centered)
    if np.all(c == 1):
        return "centred"
    if np.all(c == 0):
        return "non-centred"
    if np.all((c == 0) | (c == 1)):
        return "per-group"
    return "per-group partial"


# ----------------------------------------------------------------------------- the report


def _ranges(idx: list[int], limit: int = 6) -> str:
    """[1, 2, 3, 5, 7, 8] -> "1-3, 5, 7-8" (1-based already); long lists end with "...". """
    parts: list[str] = []
    start = prev = None
    for i in idx + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


def _groups(n: int) -> str:
    return f"{n} group{'s' if n != 1 else ''}"


def describe(choice: AutoChoice) -> str:
    """One line: ``theta: non-centred for 8 groups (1-8), centred for 8 (9-16); chosen in 1.4 s``."""
    c = np.asarray(choice.centered, dtype=float)
    n = c.size
    kind = kind_of(c)
    if not choice.shape:
        what = kind if kind in ("centred", "non-centred") else f"partially centred (centring {c[0]:g})"
    elif kind in ("centred", "non-centred"):
        what = f"{kind} (all {_groups(n)})"
    elif kind == "per-group":
        nc = [i + 1 for i in np.flatnonzero(c == 0)]
        ce = [i + 1 for i in np.flatnonzero(c == 1)]
        where = (lambda idx: f" ({_ranges(idx)})") if len(choice.shape) == 1 else (lambda idx: "")
        what = f"non-centred for {_groups(len(nc))}{where(nc)}, centred for {len(ce)}{where(ce)}"
    else:
        what = (f"partially centred per group, centring {c.min():g} to {c.max():g} "
                f"(median {np.median(c):g}; 0 = non-centred, 1 = centred)")
    when = f"chosen in {choice.seconds:.1f} s" + (" (cached: no time this run)" if choice.cached else "")
    return f"{choice.site}: {what}; {when}"


def record(spec: Spec) -> dict:
    """The choice as JSON-ready data (``--json``'s ``reparam``, the fit's attrs, the cache)."""
    return {c.site: {"kind": c.kind, "centered": list(c.centered), "shape": list(c.shape),
                     "lambda": [round(x, 4) for x in c.lam], "scores": dict(c.scores), "seconds": c.seconds,
                     "cached": c.cached, "summary": describe(c)} for c in spec.auto}


def from_record(spec: Spec, rec: dict) -> Spec:
    """``spec`` with the choices of :func:`record` applied (a fit read back: the sites named are
    sampled as they were). Sites missing from ``spec`` are ignored."""
    names = {s.name for s in spec.sites()}
    choices = tuple(AutoChoice(name, r["kind"], tuple(float(x) for x in r["centered"]), tuple(r["shape"]),
                               tuple(r.get("lambda", ())), tuple(r.get("scores", {}).items()),
                               float(r.get("seconds", 0.0)), True)
                    for name, r in rec.items() if isinstance(r, dict) and "centered" in r and name in names)
    items = tuple(replace(i, reparam=ir.Auto()) if isinstance(i, Site) and i.name in {c.site for c in choices}
                  else i for i in spec.items)
    return apply(replace(spec, items=items), choices)


# ----------------------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """``$PPLANG_CACHE_DIR/reparam``, else next to JAX's cache: ``~/.cache/pplang/reparam``."""
    if os.environ.get("PPLANG_CACHE_DIR"):
        return Path(os.environ["PPLANG_CACHE_DIR"]) / "reparam"
    from .jitcache import cache_dir as jax_dir

    return jax_dir().parent / "reparam"


def cache_key(code: str, kwargs: dict, float64: bool) -> str:
    """A hash of the model (its generated code, ``auto`` sites marked), the data and the precision."""
    h = hashlib.sha256()
    h.update(f"{__version__}\0{ALGORITHM}\0{float64}\0".encode())
    h.update(code.encode())
    for name in sorted(kwargs):
        arr = np.asarray(kwargs[name]) if kwargs[name] is not None else np.asarray(np.nan)
        h.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache costs the next run the time of the choice, nothing else


# ----------------------------------------------------------------------------- the choice


def resolve(model, kwargs: dict, *, reparam: str | None = None, cache: bool = True):
    """The model with every ``auto`` site chosen for the data ``kwargs`` (the model's keyword
    arguments), and the notes (diagnostics) to show. ``reparam="auto"`` first marks every eligible
    site without a written parameterisation (:func:`mark_auto`). A model with nothing to choose
    comes back unchanged."""
    from .runtime import Model

    spec = mark_auto(model.spec) if reparam == "auto" else model.spec
    sites = auto_sites(spec)
    notes: list[Diagnostic] = []
    if not sites:
        if reparam == "auto":
            notes.append(Diagnostic("auto-reparam", "--reparam auto: no statement to choose for (none is a "
                                    "latent location-scale statement whose location or scale is a parameter, "
                                    "without a parameterisation written)", severity="warning"))
        return model, notes
    import jax.numpy as jnp

    float64 = jnp.result_type(float) == jnp.float64  # the run's precision (a scoped x64 included)
    key = cache_key(lower(spec, "<model>").source, kwargs, float64)  # the file's name is not the model
    path = cache_dir() / f"{key}.json"
    stored = _read(path) if cache else None
    cached = stored is not None and stored.get("algorithm") == ALGORITHM
    if not cached:
        stored = _measure(model, spec, sites, kwargs, notes)
        if cache and stored.get("ok"):
            _write(path, stored)
    choices = tuple(AutoChoice(s.name, kind_of(np.asarray(stored["centered"][s.name])),
                               tuple(float(x) for x in np.ravel(stored["centered"][s.name])),
                               tuple(np.shape(stored["centered"][s.name])),
                               tuple(float(x) for x in np.ravel(stored["lambda"].get(s.name, []))),
                               tuple(stored["scores"].items()), float(stored["seconds"]), cached)
                    for s in sites)
    notes += [Diagnostic("auto-reparam", n, severity="warning") for n in stored.get("notes", []) if not cached]
    resolved = apply(spec, choices)
    out = Model(model.source, model.path, model.program, resolved, lower(resolved, Path(model.path).name))
    return out, notes


def _measure(model, spec: Spec, sites: list[Site], kwargs: dict, notes: list[Diagnostic]) -> dict:
    """Run :func:`pplang.autochoice.measure` on the model with the auto sites centred; on failure,
    every auto site is sampled centred and a note says why."""
    from .autochoice import measure
    from .runtime import Model

    t0 = time.perf_counter()
    base_spec = centred(spec)
    base = Model(model.source, model.path, model.program, base_spec, lower(base_spec, Path(model.path).name))
    try:
        m = measure(base.numpyro_model, {s.name: tuple(s.dist.shape_params) for s in sites}, kwargs)
    except Exception as exc:  # noqa: BLE001 - the run goes on, centred, and says why
        msg = str(exc).splitlines()[0] if str(exc) else ""
        return {"algorithm": ALGORITHM, "ok": False, "seconds": time.perf_counter() - t0, "scores": {},
                "centered": {s.name: np.ones(base_shape(base, s, kwargs)).tolist() for s in sites},
                "lambda": {}, "notes": [f"auto could not measure the model ({type(exc).__name__}: {msg}); "
                                        f"{', '.join(s.name for s in sites)} sampled centred"]}
    return {"algorithm": ALGORITHM, "ok": True, "seconds": m.seconds, "winner": m.winner,
            "scores": {k: round(v, 3) for k, v in m.scores.items()},
            "centered": {k: np.asarray(v).tolist() for k, v in m.centered.items()},
            "lambda": {k: np.asarray(v).tolist() for k, v in m.lam.items()}, "notes": m.notes}


def base_shape(base, site: Site, kwargs: dict) -> tuple[int, ...]:
    """The shape of ``site`` in ``base`` with the data ``kwargs`` (one traced run)."""
    try:
        return base.latent_shapes(kwargs).get(site.name, ())
    except Exception:  # noqa: BLE001 - a model that cannot even be traced fails later, located
        return ()
