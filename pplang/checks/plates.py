"""Plates pass: the index variables on a statement's left side become plates with known sizes.

An index ranges over the size of the dimension it indexes on the left side: from the variable's
declaration, from a type written on a definition (``x[n]: real[J] = ...``), else from a declared
array that the same index indexes in the same statement, else anywhere in the model (data and
``param`` declarations are known before the statements are checked, so order does not matter).
"""

from __future__ import annotations

from .. import ir
from ..spec import Plate
from .context import Context

MAX_PLATES = 16  # nested plates (and implicit ones) per statement; XLA arrays beyond ~32 dims fail


def bind_plates(ctx: Context, lhs: ir.Lhs, stmt, offset: int = 0,
                shape: tuple[ir.Expr, ...] | None = None) -> tuple[Plate, ...] | None:
    """Plates for the index variables of ``lhs``; ``offset`` leading dimensions are addressed by a
    loop variable or a constant, not by these indices; ``shape`` is the left side's known shape
    (from its declaration), if any."""
    names: list[str] = []
    for idx in lhs.indices:
        if not isinstance(idx, ir.Name) or idx.id in ctx.symbols or idx.id in names:
            ctx.err("invalid-lhs", "the left side may only be indexed by fresh index variables (like n)",
                    idx.span, f"write {lhs.name}[n] and use n on the right side")
            return None
        names.append(idx.id)
    if shape is not None and len(names) > len(shape) - offset:
        ctx.err("shape-mismatch", f'"{lhs.name}" has {len(shape)} dimension(s) but {len(names) + offset} indices',
                lhs.span)
        return None
    sizes = []
    for j, index in enumerate(names):
        size = shape[j + offset] if shape is not None else None
        if size is None:
            size = _infer(ctx, index, _occurrences(stmt)) or _infer(ctx, index, ctx.occurrences) or \
                _from_index_bounds(ctx, lhs.name, j + offset)
        if size is None:
            ctx.err("unbound-index", f'cannot tell the range of index "{index}"', lhs.indices[j].span,
                    f"give {lhs.name} a size: declare it (`param {lhs.name}: real[J]`), or write the size on "
                    f"a definition (`{lhs.name}[{index}]: real[J] = ...`), or use {index} to index a declared array")
            return None
        sizes.append(size)
    # a plate is named after its size when that is a data name (eight schools' "J"), else it gets a
    # reserved name: a model name (an index variable, a site) never doubles as a plate's name
    if len(names) > MAX_PLATES:
        ctx.err("unsupported", f"{len(names)} index variables on one left side: at most {MAX_PLATES} are supported",
                lhs.span, "combine dimensions, or index some of them by a loop")
        return None
    plate_names = [s.id if isinstance(s, ir.Name) else f"_pp_plate_{i}" for s, i in zip(sizes, names)]
    if len(set(plate_names)) != len(plate_names):
        plate_names = [f"_pp_plate_{i}" for i in names]
    m = len(names)
    return tuple(Plate(i, s, pn, -(m - k)) for k, (i, s, pn) in enumerate(zip(names, sizes, plate_names)))


def _occurrences(node) -> dict[str, list[tuple[str, int]]]:
    """index variable -> (array, dimension) for every ``array[..., index, ...]`` under ``node``,
    right sides and left sides."""
    out: dict[str, list[tuple[str, int]]] = {}
    for n in ir.walk(node):
        if isinstance(n, ir.Index):
            base, indices = n.base.id, n.indices
        elif isinstance(n, ir.Lhs):
            base, indices = n.name, n.indices
        else:
            continue
        for j, e in enumerate(indices):
            if isinstance(e, ir.Name):
                out.setdefault(e.id, []).append((base, j))
    return out


def program_occurrences(program: ir.Program) -> dict[str, list[tuple[str, int]]]:
    """The occurrences of the whole program, computed once (inference is then linear in the
    number of statements)."""
    return _occurrences(program.statements)


def _infer(ctx: Context, index: str, occurrences: dict[str, list[tuple[str, int]]]) -> ir.Expr | None:
    """The size of a dimension that ``index`` indexes, from a declared or already typed array."""
    for base, j in occurrences.get(index, ()):
        shape = ctx.symbols[base].type.shape if base in ctx.symbols else ctx.declared_sizes.get(base)
        if shape is not None and j < len(shape):
            return shape[j]
    return None


def _from_index_bounds(ctx: Context, name: str, dim: int) -> ir.Expr | None:
    """The size of dimension ``dim`` of ``name`` when it is read through integer data with a
    declared upper bound: `a[g] ~ ...` read as `a[group[n]]` with `group: int<lower=1, upper=G>[N]`
    has G elements."""
    for n in ir.walk(ctx.program.statements):
        if isinstance(n, ir.Index) and n.base.id == name and dim < len(n.indices):
            idx = n.indices[dim]
            data = idx.base.id if isinstance(idx, ir.Index) else idx.id if isinstance(idx, ir.Name) else None
            sym = ctx.symbols.get(data) if data else None
            if sym is not None and sym.type.elem == "int" and sym.type.upper is not None and sym.type.shape \
                    and ctx.constant(sym.type.upper.node):
                return sym.type.upper.node
    return None


def extend(plates: tuple[Plate, ...], name: str, dims: tuple[ir.Expr, ...]) -> tuple[Plate, ...]:
    """``plates`` followed by one implicit plate per dimension in ``dims`` (the un-indexed
    dimensions of a left side, sampled element-wise)."""
    taken = [p.name for p in plates]
    names = [p.index for p in plates] + [f"_pp_{name}_{k + 1}" for k in range(len(dims))]
    sizes = [p.size for p in plates] + list(dims)
    plate_names = taken + [s.id if isinstance(s, ir.Name) and s.id not in taken else f"_pp_plate{n[3:]}"
                           for s, n in zip(dims, names[len(plates):])]
    if len(set(plate_names)) != len(plate_names):
        plate_names = taken + [f"_pp_plate{n[3:]}" for n in names[len(plates):]]
    m = len(names)
    starts = [p.start for p in plates] + [None] * len(dims)  # a lifted statement's plate keeps its start
    return tuple(Plate(i, s, pn, -(m - k), st)
                 for k, (i, s, pn, st) in enumerate(zip(names, sizes, plate_names, starts)))
