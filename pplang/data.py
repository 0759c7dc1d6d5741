"""Data: the JSON data file read, and checked against the model's declarations and its use
before anything runs (no JAX here)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any
import numpy as np
from . import ir
from .spec import Role, Spec
from .diagnostics import Diagnostic, PplangError


# ----------------------------------------------------------------------------- data


MAX_DIGITS = 400  # a longer integer is no number of any data type (Python refuses above 4300 digits)


class JsonRefused(Exception):
    """A JSON text pplang refuses to read: ``message``, ``at`` (an offset into the text or None), ``hint``."""

    def __init__(self, message: str, at: int | None = None, hint: str | None = None, key: str | None = None):
        super().__init__(message)
        self.message, self.at, self.hint, self.key = message, at, hint, key


def read_data_file(path: str | Path) -> dict:
    """Read a JSON data file (the format Stan and posteriordb use): UTF-8 (a byte-order mark is
    fine), each key once per object, integers of at most :data:`MAX_DIGITS` digits."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PplangError([Diagnostic("data-file", f"cannot read data file {path}: {exc.strerror}",
                                      file=str(path))]) from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        raise _located(path, text, len(prefix), f"the data file is not valid UTF-8 text (byte 0x{raw[exc.start]:02x})",
                       "save the data file as UTF-8") from None
    try:
        data = loads(text)
    except json.JSONDecodeError as exc:
        span = ir.Span(exc.lineno, exc.colno, exc.lineno, exc.colno + 1)
        raise PplangError([Diagnostic("data-file", f"invalid JSON: {exc.msg}", span, file=str(path))],
                          source=text) from None
    except JsonRefused as exc:
        at = exc.at
        if exc.key is not None:  # the second place the key is written
            found = [m.start() for m in re.finditer(re.escape(json.dumps(exc.key, ensure_ascii=False)) + r"\s*:", text)]
            at = found[1] if len(found) > 1 else None
        raise _located(path, text, at, exc.message, exc.hint) from None
    if not isinstance(data, dict):
        raise PplangError([Diagnostic("data-file", "the data file must hold a JSON object", file=str(path))])
    return data


def loads(text: str):
    """``json.loads``, refusing (:class:`JsonRefused`) what it would read wrongly or not survive: a
    key twice in one object (JSON keeps the last), integers of more than :data:`MAX_DIGITS` digits,
    nesting beyond Python's recursion limit."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_parse_int(text))
    except RecursionError:
        raise JsonRefused("the JSON is nested too deeply to be data", _deepest(text),
                          "data values are numbers or lists of them, nested as deep as the declared type") from None


def _located(path, text: str, at: int | None, message: str, hint: str | None) -> PplangError:
    span = ir.NO_SPAN
    if at is not None:
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        span = ir.Span(line, col, line, col + 1)
    return PplangError([Diagnostic("data-file", message, span, hint, file=str(path))], source=text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``object_pairs_hook``: a key given twice in one object is refused (JSON would keep the last)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise JsonRefused(f'the key "{key}" appears twice in one object (JSON would silently keep the last value)',
                           None, "give each field once", key)
        out[key] = value
    return out


def _parse_int(text: str):
    def parse(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_DIGITS:
            raise JsonRefused(f"an integer with {len(digits.lstrip('-'))} digits is too long to be a number pplang can "
                           "use", text.find(digits), "a data value must fit a 64-bit integer or a double")
        return int(digits)

    return parse


def _deepest(text: str) -> int:
    """The offset of the first bracket that opens the 1000th level (strings ignored)."""
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth >= 1000:
                return i
        elif c in "]}":
            depth -= 1
    return 0


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


INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)


def run_int_range() -> tuple[int, int]:
    """What an int field may hold in this run: :data:`INT32` when JAX computes in single precision
    (it would truncate 64-bit integers), else :data:`INT64` (JAX not imported: no run yet)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return INT64
    return INT64 if jax.dtypes.canonicalize_dtype(np.int64) == np.int64 else INT32


def _flat(value) -> list:
    """The numbers (or other leaves) of nested lists, in order."""
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(v)
    return out


def _first(value, bad) -> tuple[tuple[int, ...], Any]:
    """The 0-based index and value of the first leaf of nested lists for which ``bad`` holds."""
    stack: list = [((), value)]
    while stack:
        idx, v = stack.pop()
        if isinstance(v, list):
            stack.extend(((*idx, k), x) for k, x in reversed(list(enumerate(v))))
        elif bad(v):
            return idx, v
    raise AssertionError("no such leaf")


def exactness(name: str, value, elem: str, int_range: tuple[int, int] = INT64) -> tuple[Diagnostic | None, ...]:
    """(error, warning) about converting ``value`` (parsed JSON) to ``elem`` numbers: a boolean is
    no number; an ``int`` field's integers must fit ``int_range`` (never wrap around); a ``real``
    field's integers above 2^53 are rounded (a warning) and above 1.8e308 refused."""
    leaves = _flat(value)
    kinds = set(map(type, leaves))
    if bool in kinds:
        idx, v = _first(value, lambda x: type(x) is bool)
        return Diagnostic("data-type", f'"{name}{_fmt_index(idx) if idx else ""}" is {str(v).lower()}, a boolean, but '
                          f'"{name}" is declared {elem}', help="write 1 or 0 (pplang has no boolean type)"), None
    ints = leaves if kinds == {int} else [x for x in leaves if type(x) is int]
    if not ints:
        return None, None
    lo, hi = min(ints), max(ints)
    if elem == "int" and (lo < int_range[0] or hi > int_range[1]):
        idx, v = _first(value, lambda x: type(x) is int and not int_range[0] <= x <= int_range[1])
        bits = "64" if int_range == INT64 else "32"
        return Diagnostic("number-out-of-range", f'"{name}{_fmt_index(idx) if idx else ""}" = {_short(v)} does not '
                          f"fit a {bits}-bit integer (it lies outside {int_range[0]}..{int_range[1]})",
                          help="an int field holds whole numbers in that range; pplang never wraps them around"
                          + ("" if bits == "64" else " (a --float64 run takes 64-bit integers)")), None
    if elem != "int" and max(-lo, hi) > 2**53:
        def inexact(x) -> bool:
            try:
                return type(x) is int and float(x) != x
            except OverflowError:
                return True

        if any(map(inexact, ints)):
            idx, v = _first(value, inexact)
            where = f'"{name}{_fmt_index(idx) if idx else ""}" = {_short(v)}'
            if abs(v) > 1.7976931348623157e308:
                return Diagnostic("number-out-of-range", f"{where} is beyond the largest double (1.8e308)",
                                  help="rescale the data"), None
            return None, Diagnostic("number-out-of-range", f"{where} is rounded to {float(v):.17g}: a real holds "
                                    "integers exactly only up to 2^53", severity="warning",
                                    help="rescale the data, or declare the field int if it counts something")
    return None, None


def _short(v: int) -> str:
    text = str(v) if abs(v) < 10**40 else f"{str(v)[:12]}... ({len(str(abs(v)))} digits)"
    return text

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


def prepare_data(spec: Spec, raw: dict, data_file: str | None = None,
                 int_range: tuple[int, int] = INT64) -> tuple[dict, list[Diagnostic]]:
    """Validate ``raw`` against the data declarations and convert it to arrays, exactly or not at
    all (``int_range``: what an int field may hold; :data:`INT32` in a single-precision run).

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
        bad, loose = exactness(name, raw[name], sym.type.elem, int_range)
        if bad is not None:
            fail(bad.code, bad.message, decl, bad.help)
            continue
        if loose is not None:
            warnings.append(Diagnostic(loose.code, loose.message + (f" (in {data_file})" if data_file else ""),
                                       decl.span, loose.help, severity="warning"))
        try:
            arr = np.asarray(raw[name])
        except ValueError:
            fail("data-shape", f'"{name}" is a ragged list (or nested more deeply than a number array can be); '
                 "expected a regular array", decl)
            continue
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
            if arr.dtype.kind == "f" and np.any((arr < int_range[0]) | (arr > int_range[1])):
                bad = tuple(np.argwhere((arr < int_range[0]) | (arr > int_range[1]))[0]) if arr.shape else ()
                fail("number-out-of-range", f'"{name}{_fmt_index(bad) if bad else ""}" = {arr[bad]:g} does not fit '
                     f"a {'64' if int_range == INT64 else '32'}-bit integer", decl,
                     "an int field holds whole numbers; pplang never wraps them around")
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
                                         chk.span, chk.help))
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
