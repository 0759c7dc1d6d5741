"""Data: the JSON data file read, and checked against the model's declarations and its use
before anything runs (no JAX here)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
import numpy as np
from . import ir
from .spec import Role, Spec
from .diagnostics import Diagnostic, PplangError


# ----------------------------------------------------------------------------- data


def read_data_file(path: str | Path) -> dict:
    """Read a JSON data file (the format Stan and posteriordb use)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PplangError([Diagnostic("data-file", f"cannot read data file {path}: {exc.strerror}",
                                      file=str(path))]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        span = ir.Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1)
        raise PplangError([Diagnostic("data-file", f"invalid JSON: {exc.msg}", span, file=str(path))],
                          source=text) from None
    if not isinstance(data, dict):
        raise PplangError([Diagnostic("data-file", "the data file must hold a JSON object", file=str(path))])
    return data


def const_eval(e: ir.Expr, values: dict[str, Any]):
    """Evaluate a size or bound expression over data values (literals, names, arithmetic,
    constant indexing)."""
    match e:
        case ir.Num(value=v, is_int=is_int):
            return int(v) if is_int else v
        case ir.Name(id=name):
            return values[name]
        case ir.Neg(operand=a):
            return -const_eval(a, values)
        case ir.BinOp(op=op, left=a, right=b):
            x, y = const_eval(a, values), const_eval(b, values)
            ops = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                   "^": lambda: _power(x, y, e)}
            if op in ops:
                return ops[op]()
        case ir.Index(base=base, indices=idx):
            arr = np.asarray(values[base.id])
            return arr[tuple(int(const_eval(i, values)) - 1 for i in idx)]
        case ir.Call(func="sqrt", args=(a,)):
            return math.sqrt(const_eval(a, values))
    raise PplangError([Diagnostic("unsupported", "this size or bound expression cannot be evaluated before sampling",
                                  e.span)])


MAX_ELEMENTS = 2 ** 31 - 1  # the most elements of one array (or index set): JAX indexes with int32


def _power(x, y, e: ir.Expr):
    """``x ** y`` for a size or bound; an integer power beyond 2^63 is refused at ``e`` (Python would
    compute 10 ^ 10 ^ 10 exactly, with ten billion digits, and never finish)."""
    whole = isinstance(x, (int, np.integer)) and isinstance(y, (int, np.integer))
    if whole and y > 0 and abs(x) > 1 and y * math.log2(abs(x)) > 63:
        raise PplangError([Diagnostic("size-too-large", f"this size is {x} ^ {y}, a number with about "
                                      f"{int(y * math.log10(abs(x))) + 1} digits", e.span,
                                      f"an array has at most {MAX_ELEMENTS:,} elements")])
    try:
        return x ** y
    except OverflowError:
        return math.inf


def too_large(size: int, span: ir.Span, what: str) -> Diagnostic:
    """``size-too-large`` at ``span``: ``what`` has ``size`` elements, more than :data:`MAX_ELEMENTS`."""
    return Diagnostic("size-too-large", f"{what} has {size:,} elements with this data, more than the "
                      f"{MAX_ELEMENTS:,} an array can hold", span,
                      "check the data's sizes, or the size expression")


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "[" + ",".join(str(i + 1) for i in idx) + "]"


def prepare_data(spec: Spec, raw: dict, data_file: str | None = None) -> tuple[dict, list[Diagnostic]]:
    """Validate ``raw`` against the data declarations and convert it to arrays.

    Returns the values for the model (declared data only, ints as Python ints for sizes) and the
    warnings (extra fields). Raises :class:`PplangError` listing every problem found.
    """
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    values: dict[str, Any] = {}

    def fail(code, msg, decl, help=None):
        errors.append(Diagnostic(code, msg + (f" (in {data_file})" if data_file else ""), decl.span, help))

    for sym in spec.of_role(Role.DATA):
        decl = sym
        name = sym.name
        if name not in raw:
            fail("missing-data", f'the data has no field "{name}"', decl)
            continue
        try:
            arr = np.asarray(raw[name])
        except ValueError:
            fail("data-shape", f'"{name}" is a ragged list; expected a regular array', decl)
            continue
        if arr.dtype == bool:
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "O" and np.any(np.equal(arr, None)):
            fail("missing-value", f'"{name}" has missing values (null) at '
                 f"{name}{_fmt_index(tuple(np.argwhere(np.equal(arr, None))[0]))}", decl,
                 "missing values are imputed when the model is sampled (`pplang run`, Model.sample), not here")
            continue
        if arr.dtype.kind not in "iuf":
            fail("data-type", f'"{name}" must hold numbers, got {type(raw[name]).__name__}', decl)
            continue
        try:
            shape = tuple(int(const_eval(d, values)) for d in sym.type.shape)
        except PplangError as exc:
            errors += [d for d in exc.diagnostics if d.code == "size-too-large"] or [Diagnostic(
                "data-shape", f'cannot work out the declared size of "{name}"', decl.span)]
            continue
        except (KeyError, TypeError, ValueError, OverflowError):
            fail("data-shape", f'cannot work out the declared size of "{name}"', decl)
            continue
        if math.prod(shape) > MAX_ELEMENTS:
            errors.append(too_large(math.prod(shape), decl.span, f'"{name}"'))
            continue
        if arr.shape != shape and not (arr.shape == () and shape == (1,)):
            want = "a single number" if not shape else f"shape ({', '.join(map(str, shape))})"
            got = "a single number" if not arr.shape else f"shape ({', '.join(map(str, arr.shape))})"
            fail("data-shape", f'"{name}" should be {want}, got {got}', decl)
            continue
        arr = arr.reshape(shape)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = tuple(np.argwhere(~np.isfinite(arr))[0]) if arr.shape else ()
            fail("data-not-finite", f'"{name}{_fmt_index(bad) if bad else ""}" is {arr[bad]} (write null for a '
                 "missing value)", decl, "NaN and infinity are not data: a missing value is JSON's null, which "
                 "pplang imputes when the model gives the data a distribution")
            continue
        if sym.type.elem == "int":
            if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
                bad = tuple(np.argwhere(arr != np.round(arr))[0]) if arr.shape else ()
                fail("data-type", f'"{name}" is declared int but {name}{_fmt_index(bad) if bad else ""} = '
                     f"{arr[bad]} is not a whole number", decl)
                continue
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float64)
        for kind, bound in (("lower", sym.type.lower), ("upper", sym.type.upper)):
            if bound is None:
                continue
            limit = const_eval(bound.node, values)
            ok = arr >= limit if kind == "lower" else arr <= limit
            if not np.all(ok):
                bad = tuple(np.argwhere(~np.asarray(ok))[0]) if arr.shape else ()
                rel = ">=" if kind == "lower" else "<="
                fail("data-constraint", f'"{name}{_fmt_index(bad) if bad else ""}" = {arr[bad]} breaks the '
                     f"declared bound {kind}={limit} (must be {rel} {limit})", decl)
                break
        values[name] = int(arr) if (sym.type.elem == "int" and arr.shape == ()) else (
            float(arr) if arr.shape == () else arr)
    if not errors:
        for chk in spec.size_checks:
            try:
                a, b = const_eval(chk.left, values), const_eval(chk.right, values)
            except (KeyError, PplangError):
                continue
            if int(a) != int(b):
                errors.append(Diagnostic("shape-mismatch", f"sizes differ with this data: {a} vs {b} ({chk.what})",
                                         chk.span))
    if not errors:
        from .datacheck import check_declared_sizes, check_index_uses, check_plate_sizes

        errors += check_declared_sizes(spec, lambda e: const_eval(e, values))
        errors += check_plate_sizes(spec, lambda e: const_eval(e, values)) if not errors else []
        bad_index, unread = check_index_uses(spec, values, lambda e: const_eval(e, values)) if not errors else ([], [])
        errors += bad_index
        warnings += unread
    declared = {s.name for s in spec.of_role(Role.DATA)}
    for extra in sorted(set(raw) - declared):
        warnings.append(Diagnostic("data-file", f'the data field "{extra}" is not declared in the model and is ignored',
                                   severity="warning", file=data_file))
    if errors:
        raise PplangError(errors, warnings=warnings)
    return values, warnings
