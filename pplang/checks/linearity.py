"""Is a defined quantity a non-linear function of parameters alone? Then a distribution put on it
(``x ~ D`` with ``x = f(theta)``) needs the log Jacobian of the change of variables, which pplang
cannot add by itself; ``checks`` warns. A quantity that reads data (a residual ``y - mu``) is a
likelihood term, and needs no Jacobian."""

from __future__ import annotations

from .. import ir
from ..spec import Definition, Loop, Role
from .context import Context, names_in

MAX_DEPTH = 32


def needs_jacobian(ctx: Context, name: str) -> bool:
    reads_data, linear = _definition(ctx, name, 0, set())
    return not reads_data and not linear


def _definition(ctx: Context, name: str, depth: int, seen: set) -> tuple[bool, bool]:
    """(reads data, is affine in the parameters) for a defined quantity, through other definitions."""
    if name in seen or depth > MAX_DEPTH:
        return False, True
    seen = seen | {name}
    item = ctx.definitions.get(name)
    values = [item.value.node] if isinstance(item, Definition) else (
        [b.value.node for b in item.body] if isinstance(item, Loop) else [])
    reads, linear = False, True
    for v in values:
        for n in names_in(v):
            sym = ctx.symbols.get(n)
            if sym is not None and sym.role in (Role.DATA, Role.DERIVED):
                reads = True
            elif sym is not None and sym.role in (Role.DETERMINISTIC, Role.LOCAL) and n != name:
                r, lin = _definition(ctx, n, depth + 1, seen)
                reads, linear = reads or r, linear and lin
        linear = linear and _affine(ctx, v)
    return reads, linear


def _constant(ctx: Context, e: ir.Expr) -> bool:
    return all(n not in ctx.symbols or ctx.symbols[n].role in (Role.DATA, Role.DERIVED) for n in names_in(e))


def _affine(ctx: Context, e: ir.Expr) -> bool:
    """Affine in the latent quantities (+, -, scaling by constants, indexing)."""
    match e:
        case ir.Num() | ir.Name():
            return True
        case ir.Index(indices=idx):
            return all(_constant(ctx, i) for i in idx)
        case ir.Neg(operand=a) | ir.Transpose(operand=a):
            return _affine(ctx, a)
        case ir.BinOp(op="+" | "-", left=a, right=b):
            return _affine(ctx, a) and _affine(ctx, b)
        case ir.BinOp(op="*" | "@", left=a, right=b):
            return (_constant(ctx, a) and _affine(ctx, b)) or (_constant(ctx, b) and _affine(ctx, a))
        case ir.BinOp(op="/", left=a, right=b):
            return _constant(ctx, b) and _affine(ctx, a)
    return _constant(ctx, e)
