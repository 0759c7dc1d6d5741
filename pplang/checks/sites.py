"""Sites and roles pass: declarations, sampling statements, definitions and factors become typed
spec items; each latent's lowering method and parameterisation is decided here, once."""

from __future__ import annotations

from .. import ir
from ..distributions import MATRIX_PARAMS, REGISTRY, DistInfo
from ..spec import (EVENT_RANK, MATRIX_TYPES, VECTOR_TYPES, Definition, Derived, Factor, Method, Role, Site,
                    Symbol, TExpr, Type, is_num)
from .context import Context, suggest
from .exprs import expr
from .plates import bind_plates, extend
from .reparam import check_reparam

SQUARE_TYPES = {"cholesky_factor_corr", "cov_matrix", "corr_matrix"}


def declared_type(ctx: Context, t: ir.Type, data: bool) -> Type | None:
    """Check a declared type and return it; sizes must be integer data."""
    ok = True
    for d in t.dims:
        td = expr(ctx, d)
        if td is None:
            ok = False
        elif td.type.elem != "int" or td.type.dims:
            ctx.err("invalid-type", "sizes must be integer data", d.span)
            ok = False
        elif not ctx.constant(d):
            ctx.err("invalid-type", "sizes must be known before sampling (data only)", d.span)
            ok = False
    if t.base == "int" and not data:
        ctx.err("invalid-type", "parameters are real-valued: integer parameters cannot be sampled by NUTS",
                t.span, "marginalise the discrete variable with `target += log_sum_exp(...)`")
        return None
    if t.base in VECTOR_TYPES and len(t.dims) != 1 or t.base in MATRIX_TYPES - SQUARE_TYPES and len(t.dims) != 2 \
            or t.base in SQUARE_TYPES and len(t.dims) not in (1, 2):
        want = "one size" if t.base in VECTOR_TYPES else "two sizes" if t.base not in SQUARE_TYPES else "one size"
        ctx.err("invalid-type", f"{t.base} needs {want}", t.span)
        return None
    if t.base in EVENT_RANK and t.bounds:
        ctx.err("invalid-type", f"{t.base} has its own constraint and takes no bounds", t.bounds[0].span)
        return None
    bounds: dict[str, TExpr] = {}
    for b in t.bounds:
        tb = expr(ctx, b.value)
        if tb is None:
            ok = False
        elif b.kind in bounds:
            ctx.err("invalid-type", f"the {b.kind} bound is given twice", b.span)
            ok = False
        else:
            bounds[b.kind] = tb
    if not ok:
        return None
    shape = (t.dims[0], t.dims[0]) if t.base in SQUARE_TYPES and len(t.dims) == 1 else t.dims
    elem = "int" if t.base == "int" else "real"
    return Type(elem, shape, t.base, bounds.get("lower"), bounds.get("upper"))


def data_decl(ctx: Context, stmt: ir.DataDecl) -> None:
    t = declared_type(ctx, stmt.type, data=True)
    if t is None:
        ctx.failed.add(stmt.name)
        return
    ctx.declare(Symbol(stmt.name, Role.DATA, t, stmt.name_span, declared=True))


def derived_data(ctx: Context, stmt: ir.DerivedData) -> Derived | None:
    te = expr(ctx, stmt.value)
    if te is None:
        ctx.failed.add(stmt.name)
        return None
    if not ctx.constant(stmt.value):
        ctx.err("invalid-type", f'derived data "{stmt.name}" may only use data', stmt.span,
                f"to compute it from parameters, define it in the model: `{stmt.name} = ...`")
        ctx.failed.add(stmt.name)
        return None
    t = Type("int" if te.type.elem in ("int", "bool") else "real", te.type.dims)
    if not ctx.declare(Symbol(stmt.name, Role.DERIVED, t, stmt.name_span)):
        return None
    return Derived(stmt.name, t, te, stmt.span)


def param_decl(ctx: Context, stmt: ir.ParamDecl) -> None:
    t = declared_type(ctx, stmt.type, data=False)
    if t is None:
        ctx.failed.add(stmt.name)
        return
    ctx.declare(Symbol(stmt.name, Role.LATENT, t, stmt.name_span, declared=True))


def bind_args(ctx: Context, call: ir.DistCall, info: DistInfo) -> dict[str, ir.Expr] | None:
    """The distribution's arguments by NumPyro parameter name (positional or keyword)."""
    if len(call.args) > len(info.params):
        ctx.err("bad-arguments", f"{info.name} takes at most {len(info.params)} arguments "
                f"({', '.join(info.params)}), got {len(call.args)}", call.span)
        return None
    args = dict(zip(info.params, call.args))
    for k, v in call.kwargs:
        if k not in info.params:
            ctx.err("bad-arguments", f'{info.name} has no parameter "{k}"', v.span,
                    suggest(k, info.params) or f"its parameters are {', '.join(info.params)}")
            return None
        if k in args:
            ctx.err("bad-arguments", f'parameter "{k}" of {info.name} is given twice', v.span)
            return None
        args[k] = v
    missing = [p for p in info.params[: info.n_required] if p not in args]
    if missing:
        ctx.err("bad-arguments", f"{info.name} needs {', '.join(info.params[: info.n_required])}; "
                f"missing {', '.join(missing)}", call.span)
        return None
    return args


def sample(ctx: Context, stmt: ir.Sample, generated: bool = False, priors: dict | None = None) -> Site | None:
    """``lhs ~ Dist(...)``: an observation (data on the left), a declared parameter's prior, or a
    new latent (or generated draw) whose type follows from its plates and the distribution."""
    lhs = stmt.lhs
    sym = ctx.symbols.get(lhs.name)
    info = REGISTRY.get(stmt.dist.dist)
    if info is None:
        ctx.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                suggest(stmt.dist.dist, REGISTRY))
        ctx.failed.add(lhs.name)
        return None
    if sym is not None and (sym.role not in (Role.DATA, Role.DERIVED, Role.LATENT) or not sym.declared
                            and sym.role is Role.LATENT):
        ctx.err("duplicate-definition", f'"{lhs.name}" already has a distribution or definition '
                f"(line {sym.span.line})", lhs.span)
        return None
    if sym is not None and sym.role is Role.LATENT and priors is not None and lhs.name in priors:
        ctx.err("duplicate-definition", f'"{lhs.name}" is given two priors (line {priors[lhs.name].line})', lhs.span,
                "give each element one prior, in one statement")
        return None
    plates = bind_plates(ctx, lhs, stmt, shape=sym.type.shape if sym is not None else None)
    if plates is None:
        ctx.failed.add(lhs.name)
        return None
    ctx.plates = plates
    raw = bind_args(ctx, stmt.dist, info)
    if raw is None:
        ctx.failed.add(lhs.name)
        return None
    typed = {k: expr(ctx, v) for k, v in raw.items()}
    trunc = None
    if stmt.dist.truncation is not None:
        trunc = tuple(None if b is None else expr(ctx, b) for b in stmt.dist.truncation)
        if any(b is not None and t is None for b, t in zip(stmt.dist.truncation, trunc)):
            typed["_"] = None
    if any(t is None for t in typed.values()):
        ctx.failed.add(lhs.name)
        return None
    observed = sym is not None and sym.role in (Role.DATA, Role.DERIVED)
    if sym is not None:
        t = sym.type
        method = Method.PLAIN if observed else param_method(ctx, t, info, raw, stmt.dist)
    else:
        t = _new_type(plates, info, typed)
        method = Method.PLAIN
    if info.discrete and not observed and not generated:
        ctx.err("invalid-type", f'"{lhs.name}" would be a discrete latent variable ({info.name}); '
                "NUTS needs continuous parameters", stmt.dist.dist_span,
                "marginalise it with `target += log_sum_exp(...)`")
        ctx.failed.add(lhs.name)
        return None
    elem_dims = t.shape[len(plates):]
    if method is Method.FLAT and t.event_rank:
        implicit: tuple[ir.Expr, ...] = ()  # the coupled dims stay whole: the factor sums over them
    else:
        event = info.event_rank
        implicit = elem_dims[: len(elem_dims) - event] if event <= len(elem_dims) else elem_dims
    if implicit:
        plates = extend(plates, lhs.name, implicit)
        ctx.plates = plates
    for pname, te in typed.items():
        if pname != "_":
            _check_arg_shape(ctx, te, implicit, info, pname)
    if observed:
        ctx.symbols[lhs.name] = _replace(sym, observed=True)
        role = sym.role
    elif generated:
        role = Role.GENERATED
    else:
        role = Role.LATENT
    if sym is None and not ctx.declare(Symbol(lhs.name, role, t, lhs.span)):
        return None
    reparam = check_reparam(ctx, stmt, info, method, observed, generated)
    args = tuple((p, typed[p]) for p in info.params if p in typed)
    return Site(lhs.name, role, t, plates, info, args, trunc, method, reparam, stmt.span, len(implicit))


def _replace(sym: Symbol, **changes) -> Symbol:
    from dataclasses import replace

    return replace(sym, **changes)


def _new_type(plates, info: DistInfo, typed: dict[str, TExpr]) -> Type:
    """The shape of a new latent: its plates, then the distribution's event dims."""
    event: tuple[ir.Expr, ...] = ()
    if info.event_rank:
        src = typed.get(info.event_from) if info.event_from else None
        if src is not None and src.type.rank >= info.event_rank:
            event = src.type.dims[-info.event_rank:]
        elif info.event_rank == 2 and "dimension" in typed:
            n = typed["dimension"].node
            event = (n, n)
    return Type("int" if info.discrete else "real", tuple(p.size for p in plates) + event, support=info.support)


def param_method(ctx: Context, t: Type, info: DistInfo, args: dict[str, ir.Expr], call: ir.DistCall) -> Method:
    """How the prior of a declared parameter is rendered, given its declared constraint."""
    c = t.constraint
    if (c, info.support) in {("simplex", "simplex"), ("cholesky_factor_corr", "corr_cholesky"),
                             ("real", "real"), ("real", "real_vector"), ("positive", "positive"),
                             ("unit_interval", "unit_interval")}:
        return Method.PLAIN
    if t.event_rank:
        return Method.FLAT
    bounds_const = all(b is None or ctx.constant(b.node) for b in (t.lower, t.upper))
    if info.half and c == "positive" and is_num(args.get("loc"), 0) and call.truncation is None:
        return Method.HALF
    if info.truncatable and bounds_const and call.truncation is None and info.support == "real":
        return Method.TRUNCATED
    return Method.FLAT


def _check_arg_shape(ctx: Context, te: TExpr, implicit, info: DistInfo, param: str) -> None:
    event_rank = info.event_rank + (1 if param in MATRIX_PARAMS else 0)
    batch = te.type.dims[: max(0, te.type.rank - event_rank)]
    if not batch:
        return
    if len(batch) > len(implicit):
        ctx.err("shape-mismatch", f"this argument has {len(batch)} dimension(s) but the left side has "
                f"{len(implicit)} un-indexed dimension(s)", te.node.span,
                "index the argument with the left side's index variables")
        return
    for a, b in zip(batch, implicit[len(implicit) - len(batch):]):
        ctx.size_equal(a, b, te.node.span, "argument size vs left side size")


def define(ctx: Context, stmt: ir.Define, role: Role) -> Definition | None:
    """``lhs = value``: a deterministic, local or generated quantity."""
    lhs = stmt.lhs
    sym = ctx.symbols.get(lhs.name)
    if sym is not None:
        ctx.err("duplicate-definition", f'"{lhs.name}" is already defined at line {sym.span.line}', lhs.span,
                "a data item or parameter cannot also be defined with '='" if sym.declared else None)
        return None
    declared = declared_type(ctx, stmt.type, data=False) if stmt.type is not None else None
    if stmt.type is not None and declared is None:
        ctx.failed.add(lhs.name)
        return None
    plates = bind_plates(ctx, lhs, stmt, shape=declared.shape if declared is not None else None)
    if plates is None:
        ctx.failed.add(lhs.name)
        return None
    ctx.plates = plates
    te = expr(ctx, stmt.value)
    if te is None:
        ctx.failed.add(lhs.name)
        return None
    shape = tuple(p.size for p in plates) + te.type.dims
    if declared is not None:
        if len(shape) != len(declared.shape):
            ctx.err("shape-mismatch", f'"{lhs.name}" is declared with {len(declared.shape)} dimension(s) but its '
                    f"value has {len(shape)}", stmt.value.span)
            ctx.failed.add(lhs.name)
            return None
        for a, b in zip(shape, declared.shape):
            ctx.size_equal(a, b, stmt.value.span, f'declared size of "{lhs.name}" vs its value')
        if declared.event_rank or declared.lower is not None or declared.upper is not None:
            ctx.err("invalid-type", "a defined quantity takes a plain type (real, vector, matrix): its value is "
                    "computed, so a constraint could not be enforced", stmt.type.span)
            return None
    t = Type("real", shape)
    if not ctx.declare(Symbol(lhs.name, role, t, lhs.span)):
        return None
    broadcast = bool(plates) and (not te.type.plates or te.type.plates[0] != plates[0].index)
    return Definition(lhs.name, role, t, plates, te, stmt.span, broadcast)


def target(ctx: Context, stmt: ir.Target) -> Factor | None:
    te = expr(ctx, stmt.value)
    return None if te is None else Factor(te, stmt.span)
