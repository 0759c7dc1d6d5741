"""Loops pass: ``for t in lo:hi { x[t] = ... }`` recursions, rendered as one ``jax.lax.scan``.

Elements ``x[1] = ...`` written before a loop are the first elements of a recursion; inside the
loop a definition may read ``x[t - 1]`` of a recursion and ``x[t]`` of a quantity defined above
it in the same body.
"""

from __future__ import annotations

from .. import ir
from ..spec import Factor, InitElement, Loop, LoopDef, Role, Site, Symbol, Type
from . import sites
from .context import RESERVED, Context
from .exprs import expr
from .plates import bind_plates


class LoopState:
    """First elements written before loops: name -> [InitElement, ...]."""

    def __init__(self):
        self.inits: dict[str, list[InitElement]] = {}


def init_element(ctx: Context, state: LoopState, stmt: ir.Define) -> InitElement | None:
    """``x[1] = e`` (or ``x[1, k] = e``): a first element of an array completed by a for loop."""
    lhs = stmt.lhs
    first = lhs.indices[0]
    if not first.is_int or first.value < 1:
        ctx.err("invalid-lhs", "a definition of one element needs a whole-number index >= 1", first.span)
        return None
    if lhs.name in ctx.symbols:
        ctx.err("duplicate-definition", f'"{lhs.name}" is already defined at line {ctx.symbols[lhs.name].span.line}',
                lhs.span)
        return None
    if int(first.value) in ctx.inits.get(lhs.name, {}):
        ctx.err("duplicate-definition", f'"{lhs.name}[{int(first.value)}]" is defined twice', lhs.span)
        return None
    plates = bind_plates(ctx, ir.Lhs(lhs.name, lhs.indices[1:], lhs.span), stmt)
    if plates is None:
        return None
    ctx.plates = plates
    te = expr(ctx, stmt.value)
    if te is None:
        ctx.failed.add(lhs.name)
        return None
    item = InitElement(lhs.name, int(first.value), plates, te, tuple(p.size for p in plates) + te.type.dims,
                       stmt.span)
    state.inits.setdefault(lhs.name, []).append(item)
    ctx.inits.setdefault(lhs.name, {})[item.position] = item.elem_shape
    return item


def for_loop(ctx: Context, state: LoopState, stmt: ir.For, local: set[str]) -> Loop | None:
    var = stmt.var
    if ctx.loop_var is not None:
        ctx.err("unsupported", "nested for loops are not supported", stmt.span,
                "index the inner dimension with a plate variable, as in x[t, k] = ...")
        return None
    for bound in (stmt.lo, stmt.hi):
        tb = expr(ctx, bound)
        if tb is not None and (tb.type.elem != "int" or tb.type.dims or not ctx.constant(bound)):
            ctx.err("invalid-type", "loop bounds must be integer data", bound.span)
            return None
        if tb is None:
            return None
    if var in ctx.symbols or var in RESERVED or var.startswith("_pp"):
        ctx.err("duplicate-definition" if var in ctx.symbols else "reserved-name",
                f'the loop variable "{var}" is already a name in the model' if var in ctx.symbols
                else f'"{var}" cannot be a loop variable (reserved)', stmt.span)
        return None
    defined: list[str] = []
    for b in stmt.body:
        if isinstance(b, (ir.Sample, ir.Target)):
            continue  # lifted out of the loop by the driver (:func:`lifted`)
        if not isinstance(b, ir.Define):
            ctx.err("unsupported", "a for loop may only hold definitions (x[t] = ...), `~` statements and "
                    "`target +=`", b.span, "write other statements before or after the loop")
            return None
        if not b.lhs.indices or b.lhs.indices[0] != ir.Name(var):
            ctx.err("invalid-lhs", f"inside `for {var}`, define elements {b.lhs.name}[{var}] or "
                    f"{b.lhs.name}[{var}, k]", b.lhs.span)
            return None
        if b.lhs.name in defined:
            ctx.err("duplicate-definition", f'"{b.lhs.name}" is defined twice in the loop', b.lhs.span)
            return None
        defined.append(b.lhs.name)
    recursive = [n for n in defined if n in state.inits]
    start = int(stmt.lo.value) if isinstance(stmt.lo, ir.Num) and stmt.lo.is_int else None
    for name in defined:
        got = sorted(i.position for i in state.inits.get(name, []))
        complete = start is not None and len(got) == start - 1 and got == list(range(1, len(got) + 1))
        if start is None and got or start is not None and not complete:
            first = f"{name}[1]" if start in (None, 2) else f"{name}[1] .. {name}[{start - 1}]"
            ctx.err("unsupported", f'the loop defines "{name}" from index {start or "lo"}: '
                    f"{first} must be defined before the loop, each once", stmt.span,
                    "start the loop at a number, e.g. `for t in 2:T`" if start is None
                    else f"add `{name}[1] = ...` before the loop")
            return None
        if name in state.inits:
            role = Role.LOCAL if name in local else Role.DETERMINISTIC
            ctx.declare(Symbol(name, role, Type("real", (stmt.hi,) + state.inits[name][0].elem_shape), stmt.span))
    body: list[LoopDef] = []
    ctx.loop_var = var
    try:
        for i, b in enumerate(b for b in stmt.body if isinstance(b, ir.Define)):
            item = _body_define(ctx, b, stmt, defined[:i], defined, recursive, local)
            if item is None:
                return None
            body.append(item)
    finally:
        ctx.loop_var = None
    roles = tuple((n, ctx.symbols[n].role) for n in defined if n in ctx.symbols)
    for n in defined:
        ctx.inits.pop(n, None)
    return Loop(var, stmt.lo, stmt.hi, tuple(body), tuple(recursive), start - 1 if start else 0, roles, stmt.span)


def _body_define(ctx: Context, b: ir.Define, loop: ir.For, before, defined, recursive, local) -> LoopDef | None:
    ctx.plates = ()
    var = loop.var
    lag = ir.BinOp("-", ir.Name(var), ir.Num(1.0, True))
    for node in ir.walk(b.value):
        if not isinstance(node, ir.Index) or node.base.id not in defined:
            continue
        name = node.base.id
        first = node.indices[0] if node.indices else None
        if first == lag and name in recursive or first == ir.Name(var) and name in before:
            continue
        help_ = (f"define {name}[1] before the loop to make it a recursion" if first == lag
                 else f"inside the loop, read {name}[{var} - 1] or (once defined above) {name}[{var}]")
        ctx.err("unsupported", f'"{name}" cannot be read here', node.span, help_)
        return None
    plates = bind_plates(ctx, ir.Lhs(b.lhs.name, b.lhs.indices[1:], b.lhs.span), b)
    if plates is None:
        return None
    ctx.plates = plates
    te = expr(ctx, b.value)
    if te is None:
        ctx.failed.add(b.lhs.name)
        return None
    elem_shape = tuple(p.size for p in plates) + te.type.dims
    name = b.lhs.name
    if name in recursive:
        want = ctx.symbols[name].type.shape[1:]
        if len(want) != len(elem_shape):
            ctx.err("shape-mismatch", f'"{name}" has {len(want)} dimension(s) per step before the '
                    f"loop but {len(elem_shape)} inside it", b.span)
            return None
        for x, y in zip(want, elem_shape):
            ctx.size_equal(x, y, b.span, f'size of "{name}" before and inside the loop')
    else:
        if not (isinstance(loop.lo, ir.Num) and loop.lo.value == 1):
            ctx.err("unsupported", f'"{name}" would have no elements before index {loop.lo.value:g}'
                    if isinstance(loop.lo, ir.Num) else f'"{name}" would have no first elements', b.lhs.span,
                    f"define {name}[1] before the loop, or start it at 1")
            return None
        role = Role.LOCAL if name in local else Role.DETERMINISTIC
        ctx.declare(Symbol(name, role, Type("real", (loop.hi,) + elem_shape), b.lhs.span))
    return LoopDef(name, plates, te, elem_shape, b.span)


def lifted(ctx: Context, stmt: ir.Sample | ir.Target, loop: ir.For, priors: dict) -> Site | Factor | None:
    """A ``~`` or ``target +=`` in a loop body never feeds the recursion, so it is lifted out of the
    loop: checked after it, as if written there, with the loop variable a plate over lo..hi only
    (one vectorised statement, not one per step)."""
    ctx.plates = ()
    if isinstance(stmt, ir.Sample):
        if ctx.functions.density(stmt.dist.dist) is not None:  # `~` with a user-defined density
            return ctx.functions.density_statement(ctx, stmt, loop)
        return sites.sample(ctx, stmt, priors=priors, loop=loop)
    return sites.target(ctx, stmt, loop=loop)
