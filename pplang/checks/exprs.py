"""Typing pass for expressions: IR expression -> :class:`TExpr` (or None after an error).

Every expression gets its element kind, the plates it varies along and its value dimensions;
sizes that can only be compared once data is known become size checks, and integer data used as
an index becomes an index check.
"""

from __future__ import annotations

import math

from .. import ir
from .._compat import assert_never
from ..distributions import REGISTRY
from ..functions import FUNCTIONS, arities, forms, resolve, unknown_hint
from ..spec import IndexUse, Role, TExpr, VType
from .context import Context, names_in, suggest

MAX_INT_LITERAL = 2 ** 53  # integers beyond this are not exact in float64 (and JAX's int32 is smaller still)
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


def expr(ctx: Context, e: ir.Expr) -> TExpr | None:
    """Type ``e`` in the current statement's plates; None after reporting an error."""
    match e:
        case ir.Num(value=v, is_int=is_int):
            if not math.isfinite(v) or is_int and abs(v) > MAX_INT_LITERAL:
                ctx.err("number-out-of-range", "this number is too large to be represented"
                        + (" exactly" if math.isfinite(v) else ""), e.span,
                        f"integers must lie within +-{MAX_INT_LITERAL}, reals within +-1.8e308" if is_int
                        else "reals must lie within +-1.8e308")
                return None
            return TExpr(e, VType("int" if is_int else "real"))
        case ir.Name(id=name):
            return _name(ctx, e, name)
        case ir.Index():
            return _index(ctx, e)
        case ir.Call():
            return _call(ctx, e)
        case ir.BinOp(op=op, left=a, right=b):
            return _binop(ctx, e, op, a, b)
        case ir.Neg(operand=a):
            ta = expr(ctx, a)
            return None if ta is None else TExpr(e, ta.type, (ta,))
        case ir.Transpose(operand=a):
            ta = expr(ctx, a)
            if ta is None:
                return None
            if ta.type.rank != 2:
                ctx.err("shape-mismatch", "transpose (') needs a matrix", e.span)
                return None
            return TExpr(e, VType(ta.type.elem, ta.type.plates, (ta.type.dims[1], ta.type.dims[0])), (ta,))
        case ir.Cond(test=t, then=a, orelse=b):
            parts = [expr(ctx, x) for x in (t, a, b)]
            if None in parts:
                return None
            tt, ta, tb = parts
            elem = "real" if "real" in (ta.type.elem, tb.type.elem) else ta.type.elem
            plates = ctx.plate_order(tt.type.plates, ta.type.plates, tb.type.plates)
            return TExpr(e, VType(elem, plates, ta.type.dims or tb.type.dims or tt.type.dims), tuple(parts))
        case ir.Range():
            ctx.err("invalid-type", "a range lo:hi can only be used as an index, as in y[2:N]", e.span)
            return None
        case ir.ArrayLit(items=items):
            parts = [expr(ctx, i) for i in items]
            if None in parts:
                return None
            if any(p.type.dims for p in parts):
                ctx.err("unsupported", "array literals of arrays are not supported", e.span)
                return None
            elem = "real" if any(p.type.elem == "real" for p in parts) else "int"
            plates = ctx.plate_order(*(p.type.plates for p in parts))
            return TExpr(e, VType(elem, plates, (ir.Num(float(len(items)), True),)), tuple(parts))
        case _:
            assert_never(e)


def _name(ctx: Context, e: ir.Name, name: str) -> TExpr | None:
    for p in ctx.plates:
        if p.index == name:
            return TExpr(e, VType("int", (name,)))
    if name == ctx.loop_var:
        return TExpr(e, VType("int"))
    sym = ctx.symbols.get(name)
    if sym is None:
        return _unknown(ctx, name, e.span)
    ctx.note_ref(name, e.span)
    return TExpr(e, VType(sym.type.elem, (), sym.type.shape))


def _unknown(ctx: Context, name: str, span: ir.Span) -> None:
    if name not in ctx.failed:  # its own statement was already reported
        ctx.err("unknown-name", f'unknown name "{name}"', span,
                suggest(name, list(ctx.symbols) + [p.index for p in ctx.plates]))
    return None


def _binop(ctx: Context, e: ir.BinOp, op: str, a: ir.Expr, b: ir.Expr) -> TExpr | None:
    ta, tb = expr(ctx, a), expr(ctx, b)
    if ta is None or tb is None:
        return None
    plates = ctx.plate_order(ta.type.plates, tb.type.plates)
    if op == "@":
        return _matmul(ctx, e, ta, tb, plates)
    if ta.type.dims and tb.type.dims:
        if ta.type.rank != tb.type.rank:
            ctx.err("shape-mismatch", f"cannot combine a {ta.type.rank}-d and a {tb.type.rank}-d value with '{op}'",
                    e.span, "index one side, or use '@' for a matrix product")
            return None
        for x, y in zip(ta.type.dims, tb.type.dims):
            ctx.size_equal(x, y, e.span, f"operands of '{op}'")
    dims = ta.type.dims or tb.type.dims
    if op in COMPARISONS:
        elem = "bool"
    elif op == "/" or "real" in (ta.type.elem, tb.type.elem):
        elem = "real"
    else:
        elem = "int"
    return TExpr(e, VType(elem, plates, dims), (ta, tb))


def _matmul(ctx: Context, e: ir.BinOp, ta: TExpr, tb: TExpr, plates) -> TExpr | None:
    ra, rb = ta.type.rank, tb.type.rank
    if ra == 0 or rb == 0 or ra > 2 or rb > 2:
        ctx.err("shape-mismatch", "'@' needs a matrix or vector on each side", e.span,
                "use '*' to multiply by a scalar")
        return None
    ctx.size_equal(ta.type.dims[-1], tb.type.dims[0], e.span, "inner sizes of '@'")
    return TExpr(e, VType("real", plates, ta.type.dims[:-1] + tb.type.dims[1:]), (ta, tb))


def _index(ctx: Context, e: ir.Index) -> TExpr | None:
    base, indices = e.base, e.indices
    sym = ctx.symbols.get(base.id)
    if sym is None and base.id in ctx.inits and isinstance(indices[0], ir.Num):
        return _init_read(ctx, e)
    if sym is None:
        return _unknown(ctx, base.id, base.span)
    ctx.note_ref(base.id, base.span)
    shape = sym.type.shape
    if len(indices) > len(shape):
        ctx.err("shape-mismatch", f'"{base.id}" has {len(shape)} dimension(s) but is given {len(indices)} indices',
                e.span)
        return None
    typed: list[TExpr] = []
    kept: list[ir.Expr] = []
    plate_groups: list[tuple[str, ...]] = []
    for j, idx in enumerate(indices):
        if isinstance(idx, ir.Range):
            full = ir.Range(idx.lo if idx.lo is not None else ir.Num(1.0, True),
                            idx.hi if idx.hi is not None else shape[j], idx.span)
            tr = _range(ctx, full)
            if tr is None:
                return None
            typed.append(tr)
            kept.append(tr.size)
            plate_groups.append(tr.type.plates)
            continue
        ti = expr(ctx, idx)
        if ti is None:
            return None
        if ti.type.elem != "int" or ti.type.rank > 1 or ti.type.dims and ti.type.plates:
            ctx.err("invalid-type", "an index must be an integer, a range lo:hi, or an array of integers",
                    idx.span, "index by a plate, as in theta[group[i]], or by a whole integer array, as in "
                    "theta[group]" if ti.type.elem == "int" else None)
            return None
        if isinstance(idx, ir.Name) and ti.type.plates == (idx.id,):
            plate = next(p for p in ctx.plates if p.index == idx.id)
            if plate.start is None:
                ctx.size_equal(plate.size, shape[j], idx.span,
                               f'range of "{idx.id}" vs size of "{base.id}" along dimension {j + 1}')
            else:  # part of the dimension (a statement lifted out of a loop): checked with the data
                _note_index_use(ctx, base.id, j, shape[j], idx, e.span)
        else:
            _note_index_use(ctx, base.id, j, shape[j], idx, e.span)
        if ti.type.dims:  # multi-indexing: one element per entry of the integer array
            kept.append(ti.type.dims[0])
        typed.append(ti)
        plate_groups.append(ti.type.plates)
    arrays = [t for t in typed if isinstance(t.node, ir.Range) or t.type.dims]
    others = [t for t in typed if not (isinstance(t.node, ir.Range) or t.type.dims)]
    if any(t.type.plates for t in arrays) and (len(arrays) > 1 or any(t.type.plates for t in others)):
        ctx.err("unsupported", "a range whose start varies along a plate must be the only range or plate index "
                "of its indexing", e.span, "take the slice in a separate definition first")
        return None
    dims = tuple(kept) + shape[len(indices):]
    return TExpr(e, VType(sym.type.elem, ctx.plate_order(*plate_groups), dims), tuple(typed))


def _init_read(ctx: Context, e: ir.Index) -> TExpr | None:
    """``x[1]`` (or ``x[1, k]``) before the loop that completes x: the first element defined by
    ``x[1] = ...``, read as that element's value."""
    name, k = e.base.id, int(e.indices[0].value)
    shape = ctx.inits[name].get(k)
    if shape is None:
        ctx.err("unknown-name", f'"{name}[{k}]" is not defined yet', e.span,
                f"define {name}[{k}] = ... before this statement")
        return None
    ctx.note_ref(name, e.base.span)
    element = ir.Name(f"_pp_init_{name}_{k}", e.base.span)
    from ..spec import Symbol, Type  # the element as a temporary symbol of its own

    ctx.symbols[element.id] = Symbol(element.id, Role.LOCAL, Type("real", shape), e.span)
    try:
        rest = e.indices[1:]
        return expr(ctx, ir.Index(element, rest, e.span) if rest else element)
    finally:
        del ctx.symbols[element.id]
        ctx.refs.pop(element.id, None)


def _note_index_use(ctx: Context, base: str, dim: int, size: ir.Expr, idx: ir.Expr, span: ir.Span) -> None:
    """Record an index whose values are known from data (and plate indices), for the data checks."""
    plate_names = {p.index for p in ctx.plates}
    names = names_in(idx)
    if ctx.loop_var in names:
        return
    if all(n in plate_names or (n in ctx.symbols and ctx.symbols[n].role in (Role.DATA, Role.DERIVED))
           for n in names):
        if isinstance(idx, ir.Num) and isinstance(size, ir.Num):
            if not 1 <= idx.value <= size.value:
                ctx.err("index-out-of-range", f"index {int(idx.value)} is outside 1..{int(size.value)} "
                        f'(dimension {dim + 1} of "{base}")', idx.span, "indices are 1-based")
            return
        used = tuple(p for p in ctx.plates if p.index in names)
        ctx.index_uses.append(IndexUse(base, dim, size, idx, span, used))


def _range(ctx: Context, r: ir.Range) -> TExpr | None:
    """A range index lo:hi; its size hi - lo + 1 must not vary along plates or the loop."""
    tl, th = expr(ctx, r.lo), expr(ctx, r.hi)
    if tl is None or th is None:
        return None
    if tl.type.elem != "int" or th.type.elem != "int" or tl.type.dims or th.type.dims:
        ctx.err("invalid-type", "range bounds must be integers", r.span)
        return None
    size = linear_size(r.lo, r.hi, {p.index for p in ctx.plates} | {ctx.loop_var})
    if size is None:
        ctx.err("unsupported", "the length of this range must not depend on plate or loop indices", r.span,
                "write it as t:(t + K - 1), whose length K is known")
        return None
    return TExpr(r, VType("int", ctx.plate_order(tl.type.plates, th.type.plates)), (tl, th), size)


def _call(ctx: Context, e: ir.Call) -> TExpr | None:
    if ctx.functions is not None and ctx.functions.handles(e.func):
        return ctx.functions.call(ctx, e)  # user-defined functions and ODE solvers (checks.functions)
    info = FUNCTIONS.get(e.func)
    if info is None:
        hint = unknown_hint(e.func) or suggest(e.func, FUNCTIONS)
        if e.func in REGISTRY:
            hint = "distributions are used on the right of '~'; to add a log density use `target +=`"
        ctx.err("unknown-function", f'unknown function "{e.func}"', e.func_span, hint)
        return None
    if e.kwargs:
        ctx.err("bad-arguments", f"{e.func} takes no keyword arguments", e.span)
        return None
    spans = arities(e.func)
    if not any(lo <= len(e.args) <= hi for lo, hi in spans):
        want = " or ".join(str(lo) if lo == hi else f"{lo} to {hi}" for lo, hi in spans)
        ctx.err("bad-arguments", f"{e.func} takes {want} argument(s), got {len(e.args)}", e.span, info.hint or None)
        return None
    args = [expr(ctx, a) for a in e.args]
    if None in args:
        return None
    info = resolve(e.func, [a.type.rank for a in args])
    if info is None:
        got = ", ".join({0: a.type.elem, 1: "vector", 2: "matrix"}.get(a.type.rank, "array") for a in args)
        ctx.err("shape-mismatch", f"{e.func} takes {forms(e.func)}; got ({got})", e.span,
                FUNCTIONS[e.func].hint or None)
        return None
    vtype = _call_type(ctx, e, info, [a.type for a in args])
    return None if vtype is None else TExpr(e, vtype, tuple(args))


def _call_type(ctx: Context, e: ir.Call, info, types: list[VType]) -> VType | None:
    plates = ctx.plate_order(*(t.plates for t in types))
    match info.kind:
        case "reduce":
            if not types[0].dims:
                ctx.err("shape-mismatch", f"{e.func} needs a vector or array argument", e.span)
                return None
            elem = types[0].elem if info.result_int and types[0].elem == "int" else "real"
            return VType(elem, plates, ())
        case "vector" | "dot" | "gram":
            if types[0].rank != 1 or info.kind == "dot" and types[1].rank != 1:
                ctx.err("shape-mismatch", f"{e.func} needs vector arguments", e.span)
                return None
            if info.kind == "dot":
                ctx.size_equal(types[0].dims[0], types[1].dims[0], e.span, f"sizes of the vectors in {e.func}")
                return VType("real", plates, ())
            if info.kind == "gram":
                return VType("real", plates, (types[0].dims[0], types[0].dims[0]))
            return VType("real", plates, types[0].dims)
        case "same":
            if types[0].rank != 2:
                ctx.err("shape-mismatch", f"{e.func} needs a matrix as its first argument", e.span)
                return None
            return VType("real", plates, types[0].dims)
        case "fill":
            if types[1].elem != "int" or types[1].dims or not ctx.constant(e.args[1]):
                ctx.err("invalid-type", f"the size given to {e.func} must be integer data", e.args[1].span)
                return None
            return VType("real", plates, (e.args[1],))
        case "stack_cols":
            cols = [t.dims for t in types if t.dims]
            if not cols or any(len(d) != 1 for d in cols):
                ctx.err("shape-mismatch", f"{e.func} needs vectors (scalars are repeated)", e.span)
                return None
            for d in cols[1:]:
                ctx.size_equal(cols[0][0], d[0], e.span, f"column lengths in {e.func}")
            return VType("real", plates, (cols[0][0], ir.Num(float(len(types)), True)))
        case "signature":
            if not info.batched and any(t.plates for t in types):
                ctx.err("unsupported", f"{e.func} of values that vary along a plate index is not supported", e.span,
                        "build the whole vector or matrix in its own definition, without plate indices, "
                        "then index that")
                return None
            for a, t, arg in zip(info.signature.args, types, e.args):
                if isinstance(a, str) and (t.elem != "int" or not ctx.constant(arg)):
                    ctx.err("invalid-type", f"the size given to {e.func} must be integer data", arg.span)
                    return None
            what = f"argument sizes of {e.func}"
            dims = info.signature.result_dims([t.dims for t in types], list(e.args),
                                              lambda a, b: ctx.size_equal(a, b, e.span, what))
            return VType("real", plates, dims)
        case "density":
            for t, r, a in zip(types, info.ranks, e.args):
                if t.rank < r:
                    ctx.err("shape-mismatch", f"this argument of {e.func} needs {r} dimension(s), it has {t.rank}",
                            a.span)
                    return None
            batches = [t.dims[: t.rank - r] for t, r in zip(types, info.ranks)]
            longest = max(batches, key=len)
            for b in batches:
                for x, y in zip(b, longest[len(longest) - len(b):]):
                    ctx.size_equal(x, y, e.span, f"argument sizes of {e.func}")
            return VType("real", plates, longest)
        case "elementwise":
            shaped = [t.dims for t in types if t.dims]
            for d in shaped[1:]:
                if len(d) != len(shaped[0]):
                    ctx.err("shape-mismatch", f"the arguments of {e.func} have different numbers of dimensions",
                            e.span)
                    return None
                for x, y in zip(shaped[0], d):
                    ctx.size_equal(x, y, e.span, f"argument sizes of {e.func}")
            return VType("real", plates, shaped[0] if shaped else ())
    raise AssertionError(f"function kind {info.kind}")


# ----------------------------------------------------------------------------- symbolic sizes


def _linear(e: ir.Expr) -> dict[str, int] | None:
    """``e`` as integer coefficients of names plus a constant (key ""), or None if not linear."""
    match e:
        case ir.Num(value=v, is_int=True):
            return {"": int(v)}
        case ir.Name(id=name):
            return {name: 1}
        case ir.Neg(operand=a):
            la = _linear(a)
            return None if la is None else {k: -v for k, v in la.items()}
        case ir.BinOp(op="+" | "-" as op, left=a, right=b):
            la, lb = _linear(a), _linear(b)
            if la is None or lb is None:
                return None
            out = dict(la)
            for k, v in lb.items():
                out[k] = out.get(k, 0) + (v if op == "+" else -v)
            return out
        case ir.BinOp(op="*", left=ir.Num(value=c, is_int=True), right=b) | ir.BinOp(
                op="*", left=b, right=ir.Num(value=c, is_int=True)):
            lb = _linear(b)
            return None if lb is None else {k: int(c) * v for k, v in lb.items()}
    return None


def linear_size(lo: ir.Expr, hi: ir.Expr, varying: set) -> ir.Expr | None:
    """The expression hi - lo + 1, simplified, or None if it involves a name in ``varying``."""
    if lo == hi:
        return ir.Num(1.0, True)
    ll, lh = _linear(lo), _linear(hi)
    if ll is None or lh is None:
        return None if (names_in(lo) | names_in(hi)) & varying else ir.BinOp(
            "+", ir.BinOp("-", hi, lo), ir.Num(1.0, True))
    coef = dict(lh)
    for k, v in ll.items():
        coef[k] = coef.get(k, 0) - v
    coef[""] = coef.get("", 0) + 1
    if any(coef.get(v, 0) for v in varying if v):
        return None
    out: ir.Expr | None = None
    for name, c in sorted(((k, v) for k, v in coef.items() if k and v), key=lambda kv: (kv[1] < 0, kv[0])):
        term: ir.Expr = ir.Name(name) if abs(c) == 1 else ir.BinOp("*", ir.Num(float(abs(c)), True), ir.Name(name))
        out = (term if c > 0 else ir.Neg(term)) if out is None else ir.BinOp("+" if c > 0 else "-", out, term)
    const = coef.get("", 0)
    if out is None:
        return ir.Num(float(const), True)
    if const:
        out = ir.BinOp("+" if const > 0 else "-", out, ir.Num(float(abs(const)), True))
    return out
