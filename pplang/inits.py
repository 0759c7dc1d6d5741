"""Initial values for NUTS (``pplang run --init``, ``Model.sample(init=...)``): read them, and check
them against the model before sampling.

Values are given on each latent parameter's natural (constrained) scale, as Stan's init files, and
keyed by NumPyro site name: the ``.ppl`` name, or ``theta_decentered`` for a ``noncentered``
latent (NumPyro samples that site; ``theta`` itself is computed from it). Every chain starts from
them (``numpyro.infer.init_to_value``); the latents not given start at random as usual.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import ir
from .data import JsonRefused, exactness, loads
from .diagnostics import Diagnostic, PplangError
from .spec import Role

EXAMPLE = "--init '{\"mu\": 0, \"tau\": 1}'"


def read_init(text: str) -> dict[str, Any]:
    """``--init``: inline JSON (``'{"mu": 0, "tau": 1}'``) or the path of a JSON file, holding an
    object that maps parameter names to initial values (numbers or nested lists)."""
    inline = text.lstrip()[:1] in ("{", "[")
    where = "--init" if inline else text
    try:
        raw = text if inline else Path(text).read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise PplangError([Diagnostic("bad-init", f"the initial values file {text} is not valid UTF-8 text (byte "
                                      f"{exc.start})", help="save it as UTF-8")]) from None
    except OSError as exc:
        raise PplangError([Diagnostic("bad-init", f"cannot read the initial values file {text}: {exc.strerror}",
                                      help=f"--init takes a JSON file or inline JSON: {EXAMPLE}")]) from None
    file = None if inline else text
    try:
        values = loads(raw)
    except JsonRefused as exc:
        raise PplangError([Diagnostic("bad-init", f"{where}: {exc.message}", help=exc.hint, file=file)]) from None
    except json.JSONDecodeError as exc:
        raise PplangError([Diagnostic("bad-init", f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, "
                                      f"column {exc.colno})", help=f"for example {EXAMPLE}", file=file)]) from None
    if not isinstance(values, dict):
        raise PplangError([Diagnostic("bad-init", f"{where} must hold a JSON object of initial values, got "
                                      f"{type(values).__name__}", help=f"for example {EXAMPLE}", file=file)])
    return values


def _span(model, name: str) -> ir.Span:
    sym = model.spec.symbols.get(name.removesuffix("_decentered"))
    return sym.span if sym is not None else ir.NO_SPAN


def _shape_text(shape: tuple[int, ...]) -> str:
    return "a single number" if not shape else f"shape ({', '.join(map(str, shape))})"


def _not_a_parameter(model, name: str, latents: list[str]) -> Diagnostic:
    """Why ``name`` takes no initial value, located at its statement when the model has it."""
    listing = f"the latent parameters are {', '.join(latents)}" if latents else "the model has no latent parameters"
    sym = model.spec.symbols.get(name)
    if f"{name}_decentered" in latents:
        return Diagnostic("bad-init", f'"{name}" is sampled non-centred: NumPyro samples the standardised '
                          f'"{name}_decentered", and {name} is computed from it', _span(model, name),
                          f'give "{name}_decentered" instead (with `noncentered`, {name} = loc + scale * '
                          f'{name}_decentered), or leave it out to start at random')
    if sym is not None:
        what = {Role.DATA: "is data", Role.DERIVED: "is derived data",
                Role.GENERATED: "is a generated quantity, computed after sampling"}.get(
            sym.role, "is computed from the parameters (a deterministic quantity)")
        return Diagnostic("bad-init", f'"{name}" {what}: only latent parameters take initial values',
                          sym.span, listing)
    match = difflib.get_close_matches(name, latents, n=1)
    return Diagnostic("bad-init", f'the initial values name "{name}", which is not a parameter of the model',
                      help=(f'did you mean "{match[0]}"? ' if match else "") + listing)


def check_init(model, init: dict[str, Any], kwargs: dict) -> dict[str, np.ndarray]:
    """The initial values for ``init_to_value``, checked against ``model`` run with ``kwargs``:
    every name is a latent sample site, every value is finite with the site's shape (one number
    fills every element), and lies in the site's support. Raises :class:`PplangError` listing
    every problem, located at the parameter's statement where possible."""
    shapes = model.latent_shapes(kwargs)
    latents = list(shapes)
    errors: list[Diagnostic] = []
    values: dict[str, np.ndarray] = {}
    for name, raw in init.items():
        if name not in shapes:
            errors.append(_not_a_parameter(model, name, latents))
            continue
        bad, _ = exactness(name, raw, "real")  # a boolean, a number beyond a double
        if bad is not None:
            errors.append(Diagnostic("bad-init", f"initial value: {bad.message}", _span(model, name), bad.help))
            continue
        try:
            arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError, OverflowError):
            errors.append(Diagnostic("bad-init", f'the initial value of "{name}" must be a number or a (nested) '
                                     "list of numbers", _span(model, name)))
            continue
        if not np.all(np.isfinite(arr)):
            errors.append(Diagnostic("bad-init", f'the initial value of "{name}" is not finite', _span(model, name)))
            continue
        if arr.shape != shapes[name]:
            if arr.shape:
                errors.append(Diagnostic("bad-init", f'"{name}" is {_shape_text(shapes[name])} but its initial '
                                         f"value has {_shape_text(arr.shape)}", _span(model, name),
                                         "give one number per element, or one number for every element"))
                continue
            arr = np.full(shapes[name], float(arr))
        values[name] = arr
    if errors:
        raise PplangError(errors, source=model.source, file=model.path)
    _check_support(model, values, kwargs)
    return values


def _support_text(support) -> str:
    """``Positive(lower_bound=0.0)`` -> "greater than 0.0"; a constraint without scalar bounds by
    its name ("simplex")."""
    lo, hi = (getattr(support, b, None) for b in ("lower_bound", "upper_bound"))
    lo, hi = (None if b is None or np.ndim(b) else float(b) for b in (lo, hi))
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    if lo is not None or hi is not None:
        return f"greater than {lo:g}" if lo is not None else f"less than {hi:g}"
    return type(support).__name__.lstrip("_").lower()


def _check_support(model, values: dict[str, np.ndarray], kwargs: dict) -> None:
    """Raise a diagnostic for the first value (in model order) outside its site's support (``tau = -1``
    for a positive tau), found while tracing the model started at ``values``: later statements
    would fail on it (``Normal(mu, tau)`` with a negative scale)."""
    import jax
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_value

    def start(site):
        value = init_to_value(site, values=values)
        if site["name"] in values:
            support = site["fn"].support
            ok = np.asarray(support(value))  # one flag per batch element
            if not ok.all():
                name = site["name"]
                bad = tuple(int(i) for i in np.argwhere(~ok)[0]) if ok.ndim else ()
                where = f"{name}[{','.join(str(i + 1) for i in bad)}]" if bad else name
                raise PplangError([Diagnostic(
                    "bad-init", f"the initial value {where} = {np.asarray(values[name])[bad].tolist()} is outside "
                    f"the support of {name} ({_support_text(support)})", _span(model, name),
                    "start it inside the support, or leave it out to start at random")],
                    source=model.source, file=model.path)
        return value

    traced = handlers.substitute(handlers.seed(model.numpyro_model, jax.random.PRNGKey(0)), substitute_fn=start)
    model._run_located(lambda: handlers.trace(traced).get_trace(**kwargs))
