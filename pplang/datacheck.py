"""Data checked against its use, before sampling (and without JAX).

The checked model records every integer expression over data used as an index
(:class:`pplang.spec.IndexUse`). Once the data is known, each must lie in 1..size of the
dimension it indexes: a 0-based code would otherwise wrap to the last element and a code above the
size would be clamped to it, so the run would "succeed" with mislabelled groups. The same uses
show which elements of a parameter the model ever reads: elements that no statement reads are
sampled from their prior alone, which is reported as a warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ir
from .diagnostics import Diagnostic
from .spec import IndexUse, Loop, Role, Spec, expr_text


class _NotKnown(Exception):
    """The expression uses a value that is not known before sampling."""


def _eval(e: ir.Expr, values: dict[str, Any], plates: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate an integer index expression over data and plate indices (broadcast arrays)."""
    match e:
        case ir.Num(value=v):
            return np.asarray(int(v))
        case ir.Name(id=name):
            if name in plates:
                return plates[name]
            if name in values:
                return np.asarray(values[name])
            raise _NotKnown(name)
        case ir.Index(base=base, indices=idx):
            if base.id not in values:
                raise _NotKnown(base.id)
            arr = np.asarray(values[base.id])
            pos = [_eval(i, values, plates) - 1 for i in idx]
            for k, p in enumerate(pos):
                if np.any(p < 0) or np.any(p >= arr.shape[k]):
                    raise _NotKnown(base.id)  # an inner index out of range: reported by its own use
            return arr[tuple(np.broadcast_arrays(*pos))] if len(pos) > 1 else arr[pos[0]]
        case ir.BinOp(op=op, left=a, right=b) if op in ("+", "-", "*"):
            x, y = _eval(a, values, plates), _eval(b, values, plates)
            return x + y if op == "+" else x - y if op == "-" else x * y
        case ir.Neg(operand=a):
            return -_eval(a, values, plates)
    raise _NotKnown(type(e).__name__)


def _plate_values(use: IndexUse, values: dict[str, Any], size_of) -> dict[str, np.ndarray]:
    m = len(use.plates)
    out = {}
    for k, p in enumerate(use.plates):
        shape = [1] * m
        n = int(size_of(p.size))
        lo = 1 if p.start is None else int(size_of(p.start))
        shape[k] = n
        out[p.index] = np.arange(lo, lo + n).reshape(shape)
    return out


def check_index_uses(spec: Spec, values: dict[str, Any], size_of) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Errors for index values outside 1..size; warnings for parameters with unread elements.
    ``size_of`` evaluates a size expression over the data."""
    errors: list[Diagnostic] = []
    used: dict[tuple[str, int], list[tuple[IndexUse, np.ndarray]]] = {}
    for use in spec.index_uses:
        try:
            plates = _plate_values(use, values, size_of)
            idx = np.broadcast_to(_eval(use.index, values, plates), tuple(int(size_of(p.size)) for p in use.plates)
                                  if use.plates else np.shape(_eval(use.index, values, plates)))
            size = int(size_of(use.size))
        except (_NotKnown, KeyError, IndexError, TypeError, ValueError):
            continue
        bad = (idx < 1) | (idx > size)
        if np.any(bad):
            errors.append(_out_of_range(use, idx, bad, size, plates))
            continue
        used.setdefault((use.base, use.dim), []).append((use, idx))
    return errors, _unread_elements(spec, used, size_of)


def _out_of_range(use: IndexUse, idx: np.ndarray, bad: np.ndarray, size: int, plates: dict) -> Diagnostic:
    first = tuple(int(k) for k in np.argwhere(bad)[0]) if idx.ndim else ()
    value = int(idx[first]) if idx.ndim else int(idx)
    where = ", ".join(f"{p.index} = {int(plates[p.index].reshape(-1)[k])}" for p, k in zip(use.plates, first))
    text = expr_text(use.index)
    if isinstance(use.index, ir.Index) and all(isinstance(i, ir.Name) for i in use.index.indices) and where:
        field = f"{use.index.base.id}[{', '.join(str(k + 1) for k in first)}]"
        subject = f'data "{use.index.base.id}": {field} = {value}'
    else:
        subject = f"{text} = {value}" + (f" (at {where})" if where else "")
    n_bad = int(np.sum(bad))
    msg = (f"{subject} is outside 1..{size}, the range of dimension {use.dim + 1} of \"{use.base}\" that it indexes"
           + (f"; {n_bad} values are out of range" if n_bad > 1 else ""))
    lo, hi = int(np.min(idx)), int(np.max(idx))
    plate_names = {p.index for p in use.plates}
    names = {n.id for n in ir.walk(use.index) if isinstance(n, ir.Name)}
    if isinstance(use.index, ir.BinOp) and names and names <= plate_names:
        hint = (f"{use.base}[{text}] is a lag or lead, which has no value at the ends of the series: "
                f"state the model for the elements that have one, e.g. `y[2:N] ~ Normal(... {use.base}[1:(N - 1)] "
                f"...)`, or in a loop over them: `for t in 2:N {{ y[t] ~ Normal(... {use.base}[t - 1] ...) }}` "
                "(N the length)")
    elif lo == 0 and hi <= size - 1:
        hint = (f"these codes look 0-based (they run {lo}..{hi}): pplang's indices are 1-based, as in Stan; "
                f"add 1 to them in the data (or write {use.base}[{text} + 1])")
    else:
        hint = f"the values of {text} must lie in 1..{size} (its values run {lo}..{hi})"
    return Diagnostic("index-out-of-range", msg, use.span, hint)


def _unread_elements(spec: Spec, used, size_of) -> list[Diagnostic]:
    """Latent arrays whose every read is an index into dimension 1 with known values, and whose
    reads leave some elements untouched."""
    warnings = []
    for sym in spec.of_role(Role.LATENT):
        uses = used.get((sym.name, 0))
        if not uses or not sym.type.shape or not sym.refs:
            continue
        starts = {(u.span.line, u.span.column) for u, _ in uses}
        if any((r.line, r.column) not in starts for r in sym.refs):
            continue  # some read takes every element (or cannot be known before sampling)
        try:
            size = int(size_of(sym.type.shape[0]))
        except (KeyError, TypeError, ValueError):
            continue
        read = np.zeros(size, bool)
        for _, idx in uses:
            read[np.asarray(idx).reshape(-1) - 1] = True
        unread = int(size - read.sum())
        if unread:
            u = uses[0][0]
            warnings.append(Diagnostic(
                "unused-elements", f'"{sym.name}" has {size} elements but the model reads only {size - unread} of them '
                f"(through {sym.name}[{expr_text(u.index)}]): {unread} are sampled from their prior alone",
                sym.span, f"give {sym.name} the size of what indexes it, e.g. `param {sym.name}: real[G]` when "
                f"{expr_text(u.index)} takes the values 1..G", severity="warning"))
    return warnings


def check_declared_sizes(spec: Spec, size_of) -> list[Diagnostic]:
    """Every declared quantity's size and every index set's, evaluated over the data before anything
    is allocated: one above :data:`pplang.data.MAX_ELEMENTS` elements (or an integer power too
    large to compute) is a ``size-too-large`` error at its declaration or statement."""
    from .data import MAX_ELEMENTS, too_large
    from .diagnostics import PplangError

    errors: list[Diagnostic] = []
    shapes = [(s.span, f'"{s.name}"', s.type.shape) for s in spec.symbols.values() if s.role is not Role.DATA]
    seen = {d for _, _, shape in shapes for d in shape}  # an index set over a declared size: reported once
    for item in [*spec.derived, *spec.items, *spec.generated]:
        plates = getattr(item, "plates", ()) if not isinstance(item, Loop) else tuple(
            p for b in item.body for p in b.plates)
        shapes += [(item.span, f"the index set of {p.index}", (p.size,)) for p in plates if p.size not in seen]
        seen.update(p.size for p in plates)
    for span, what, shape in shapes:
        try:
            n = int(np.prod([int(size_of(d)) for d in shape], dtype=object)) if shape else 1
        except PplangError as exc:
            errors += [d for d in exc.diagnostics if d.code == "size-too-large" and d not in errors]
            continue
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        if n > MAX_ELEMENTS:
            errors.append(too_large(n, span, what))
    return errors


def check_plate_sizes(spec: Spec, size_of) -> list[Diagnostic]:
    """Every plate needs at least one element (NumPyro's plates cannot be empty): a size that is 0
    with this data is reported at the first statement that uses it."""
    errors, seen = [], set()
    items = [*spec.derived, *spec.items, *spec.generated]
    for item in items:
        plates = getattr(item, "plates", ()) if not isinstance(item, Loop) else tuple(
            p for b in item.body for p in b.plates)
        for p in plates:
            try:
                n = int(size_of(p.size))
            except (KeyError, TypeError, ValueError):
                continue
            if n < 1 and p.size not in seen:
                seen.add(p.size)
                errors.append(Diagnostic(
                    "data-shape", f"{expr_text(p.size)} is {n} with this data, so the index {p.index} of this statement "
                    "has no values", item.span, "pplang needs at least one element in every index set: remove the "
                    "statement for this data set, or give the size a lower bound (`int<lower=1>`)"))
    return errors



def check_float32_range(spec: Spec, values: dict[str, Any]) -> list[Diagnostic]:
    """Errors for data that a 32-bit run cannot hold: a real finite in float64 but beyond float32's
    range (it would become infinite), a nonzero real so small it would become 0, an int outside
    int32. Each is located at the data's declaration and suggests ``--float64``."""
    out = []
    f32 = np.finfo(np.float32)
    for sym in spec.of_role(Role.DATA, Role.DERIVED):
        if sym.name not in values or values[sym.name] is None:
            continue
        arr = np.asarray(values[sym.name])
        if arr.dtype.kind == "f":
            with np.errstate(over="ignore", under="ignore"):
                narrow = arr.astype(np.float32)
            bad = (np.isfinite(arr) & ~np.isfinite(narrow)) | ((arr != 0) & (narrow == 0))
            what = "is too {} for 32-bit floats (it would become {})"
        elif arr.dtype.kind in "iu":
            bad = (arr > np.iinfo(np.int32).max) | (arr < np.iinfo(np.int32).min)
            what = "is outside the range of 32-bit integers"
        else:
            continue
        if not np.any(bad):
            continue
        idx = tuple(np.argwhere(bad)[0]) if arr.ndim else ()
        x = arr[idx]
        if arr.dtype.kind == "f":
            small = abs(float(x)) < 1
            what = what.format("small" if small else "large", "0" if small else "infinite")
        elem = sym.name + ("[" + ",".join(str(i + 1) for i in idx) + "]" if idx else "")
        out.append(Diagnostic(
            "data-precision", f'"{elem}" = {x:g} {what}; the run computes in 32-bit precision', sym.span,
            f"run in 64-bit precision (`pplang run --float64`, Model.sample(..., float64=True)), whose range is "
            f"about 1e-308 to 1e308; 32-bit floats hold about {float(f32.smallest_subnormal):.1e} to {float(f32.max):.1e}"))
    return out
