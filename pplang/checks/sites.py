"""Sites and roles pass: declarations, sampling statements, definitions and factors become typed
spec items; each latent's lowering method and parameterisation is decided here, once."""

from __future__ import annotations

from .. import ir
from ..distributions import REGISTRY, DistInfo, suggest_distribution
from ..spec import (EVENT_RANK, MATRIX_TYPES, VECTOR_TYPES, Definition, Derived, Factor, Method, Plate, Role,
                    Site, IndexUse, Symbol, TExpr, Type, expr_text, is_num)
from .context import Context, suggest
from .exprs import expr
from .plates import bind_plates, extend
from .reparam import check_reparam

SQUARE_TYPES = {"cholesky_factor_corr", "cov_matrix", "corr_matrix"}
ARRAY_TYPES = {"simplex"}  # simplex[N, K]: N simplexes of size K (a transition matrix's rows)


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
        elif any(isinstance(n, (ir.Call, ir.Cond, ir.ArrayLit, ir.Range)) for n in ir.walk(d)):
            ctx.err("invalid-type", "a size is written with data names, numbers, + - * ^ and indexing", d.span,
                    "compute it as derived data first (`data K = sum(counts)`), then write real[K]")
            ok = False
    if t.base == "int" and not data:
        ctx.err("invalid-type", "parameters are real-valued: integer parameters cannot be sampled by NUTS",
                t.span, "marginalise the discrete variable with `target += log_sum_exp(...)`")
        return None
    if t.base in VECTOR_TYPES - ARRAY_TYPES and len(t.dims) != 1 or t.base in MATRIX_TYPES - SQUARE_TYPES \
            and len(t.dims) != 2 or t.base in SQUARE_TYPES | ARRAY_TYPES and len(t.dims) not in (1, 2):
        want = ("one size (simplex[K]) or two (simplex[N, K]: N simplexes of size K)" if t.base in ARRAY_TYPES
                else "one size" if t.base in VECTOR_TYPES else "two sizes" if t.base not in SQUARE_TYPES
                else "one size")
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
    plates = bind_plates(ctx, ir.Lhs(stmt.name, stmt.indices, stmt.name_span), stmt)
    if plates is None:
        ctx.failed.add(stmt.name)
        return None
    ctx.plates = plates
    te = expr(ctx, stmt.value)
    if te is None:
        ctx.failed.add(stmt.name)
        return None
    if not ctx.constant(stmt.value):
        ctx.err("invalid-type", f'derived data "{stmt.name}" may only use data', stmt.span,
                f"to compute it from parameters, define it in the model: `{stmt.name} = ...`")
        ctx.failed.add(stmt.name)
        return None
    t = Type("int" if te.type.elem in ("int", "bool") else "real", tuple(p.size for p in plates) + te.type.dims)
    if not ctx.declare(Symbol(stmt.name, Role.DERIVED, t, stmt.name_span)):
        return None
    return Derived(stmt.name, t, te, stmt.span, plates)


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


def sample(ctx: Context, stmt: ir.Sample, generated: bool = False, priors: dict | None = None,
           loop: ir.For | None = None) -> Site | None:
    """``lhs ~ Dist(...)``: an observation (data on the left), a declared parameter's prior (whole,
    per plate element, or of single elements ``phi[1] ~ ...``), a density on a defined quantity, or
    a new latent (or generated draw) whose type follows from its plates and the distribution.
    ``loop``: the statement was written in the body of that loop, and covers its range only."""
    lhs = stmt.lhs
    if any(isinstance(i, ir.Range) for i in lhs.indices):
        return _slice_sample(ctx, stmt, generated, priors)
    sym = ctx.symbols.get(lhs.name)
    info = REGISTRY.get(stmt.dist.dist)
    if info is None:
        ctx.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                suggest_distribution(stmt.dist.dist))
        ctx.failed.add(lhs.name)
        return None
    defined = sym is not None and sym.role in (Role.DETERMINISTIC, Role.LOCAL)
    if sym is not None and not defined and (sym.role not in (Role.DATA, Role.DERIVED, Role.LATENT) or
                                            not sym.declared and sym.role is Role.LATENT):
        ctx.err("duplicate-definition", f'"{lhs.name}" already has a distribution or definition '
                f"(line {sym.span.line})", lhs.span)
        return None
    consts = _constant_prefix(lhs)
    if consts and sym is not None and sym.role in (Role.DATA, Role.DERIVED):
        ctx.err("invalid-lhs", "the left side may only be indexed by fresh index variables (like n) when it "
                "is observed data", lhs.indices[0].span,
                f"write {lhs.name}[n] ~ ... for every element, or for one element "
                f"`target += {_snake(info.name)}_{'lpmf' if info.discrete else 'lpdf'}({lhs.name}[{int(consts[0].value)}] | ...)`")
        return None
    if consts and (sym is None or not (sym.role is Role.LATENT and sym.declared or defined)):
        ctx.err("invalid-lhs", "only a declared parameter or a defined quantity can be given a distribution "
                "element by element", lhs.indices[0].span,
                f"declare it first (`param {lhs.name}: vector[K]`), or index it by fresh index variables")
        return None
    if loop is not None and not (_liftable(ctx, stmt, loop, sym, defined) and _observed_once(ctx, stmt, sym, info)):
        return None
    key = (lhs.name, ("loop", lhs.span.line, lhs.span.column)) if loop is not None else None
    if sym is not None and sym.role is Role.LATENT and priors is not None and \
            not _prior_once(ctx, lhs, consts, priors, key):
        return None
    rest = ir.Lhs(lhs.name, lhs.indices[len(consts):], lhs.span)
    plates = bind_plates(ctx, rest, stmt, offset=len(consts), shape=sym.type.shape if sym is not None else None)
    if plates is None:
        ctx.failed.add(lhs.name)
        return None
    if loop is not None:  # the loop's index ranges over lo..hi only
        plates = (_replace(loop_plate(loop), dim=plates[0].dim),) + plates[1:]
    ctx.plates = plates
    value = expr(ctx, ir.Index(ir.Name(lhs.name, lhs.span), lhs.indices, lhs.span)) if loop is not None else None
    element = tuple(expr(ctx, c) for c in consts)
    if consts:
        for j, c in enumerate(consts):
            _check_constant_index(ctx, lhs.name, j, c, sym.type.shape[j])
    observed = sym is not None and sym.role in (Role.DATA, Role.DERIVED)
    args = _typed_args(ctx, stmt, info, sym, observed)
    if args is None or None in element:
        ctx.failed.add(lhs.name)
        return None
    raw, typed, trunc = args
    if sym is None:
        t = _new_type(plates, info, typed)
        method = Method.PLAIN
    else:
        t = sym.type
        if observed:
            method = Method.PLAIN
        elif defined or consts or loop is not None:
            method = Method.FACTOR
        else:
            method = param_method(ctx, t, info, raw, stmt.dist, typed)
            if method is Method.SORTED and t.constraint == "positive_ordered" and info.support == "real":
                trunc = (expr(ctx, ir.Num(0.0, False, stmt.dist.span)), None)  # the prior on (0, inf): drawable
    if info.discrete and not observed and not generated and not finite_support(info, typed):
        ctx.err("invalid-type", f'"{lhs.name}" would be a discrete latent variable with infinitely many values '
                f"({info.name}): it cannot be summed out by enumeration, and NUTS needs continuous parameters",
                stmt.dist.dist_span, "observe it, or marginalise it by hand over a truncated range: "
                "`target += log_sum_exp(...)` of its terms for 0..K; discrete latents with finitely many values "
                "(Bernoulli, Categorical, DiscreteUniform, Binomial) are summed out automatically")
        ctx.failed.add(lhs.name)
        return None
    if info.discrete and method is not Method.PLAIN and not observed and not generated:
        ctx.err("invalid-type", f'"{lhs.name}" is a discrete latent: it cannot be a declared parameter or be given '
                "a distribution element by element", stmt.dist.dist_span,
                f"leave it undeclared and write `{lhs.name}[n] ~ {info.name}(...)` for every element")
        ctx.failed.add(lhs.name)
        return None
    elem_dims = t.shape[len(consts) + len(plates):]
    if method in (Method.FLAT, Method.SORTED) and t.event_rank:
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
    elif defined:
        role = sym.role
        _jacobian_warning(ctx, stmt, sym.name)
    else:
        role = Role.GENERATED if generated else Role.LATENT
    if sym is None and not ctx.declare(Symbol(lhs.name, role, t, lhs.span)):
        return None
    reparam = check_reparam(ctx, stmt, info, method, observed, generated)
    args = tuple((p, typed[p]) for p in info.params if p in typed)
    return Site(lhs.name, role, t, plates, info, args, trunc, method, reparam, stmt.span, len(implicit), element,
                value=value)


def loop_plate(loop: ir.For) -> Plate:
    """The plate of a statement lifted out of ``for t in lo:hi``: t over lo..hi."""
    lo, hi = loop.lo, loop.hi
    one = ir.Num(1.0, True)
    if isinstance(lo, ir.Num):
        n = hi if lo.value == 1 else ir.BinOp("-", hi, ir.Num(lo.value - 1, True))
    else:
        n = ir.BinOp("+", ir.BinOp("-", hi, lo), one)
    return Plate(loop.var, n, f"_pp_plate_{loop.var}_{loop.span.line}", -1, None if is_num(lo, 1) else lo)


def _liftable(ctx: Context, stmt: ir.Sample, loop: ir.For, sym: Symbol | None, defined: bool) -> bool:
    """A ``~`` in a loop body is lifted out of the loop: its left side must exist already (data, a
    declared parameter, a quantity defined in or before the loop) and be indexed by the loop's
    variable first."""
    lhs, var = stmt.lhs, loop.var
    if not lhs.indices or lhs.indices[0] != ir.Name(var):
        ctx.err("invalid-lhs", f"inside `for {var}`, a `~` statement is about element {var}: write "
                f"{lhs.name}[{var}] ~ ...", lhs.span,
                f"a statement that does not depend on {var} goes before or after the loop")
        return False
    if sym is None or not (sym.role in (Role.DATA, Role.DERIVED) or defined or sym.role is Role.LATENT and sym.declared):
        ctx.err("invalid-lhs", f'inside a for loop, the left of `~` must be data, a declared parameter or a '
                f'defined quantity: "{lhs.name}" is none of these', lhs.span,
                f"declare it (`param {lhs.name}: vector[N]`), or write `{lhs.name}[{var}] ~ ...` after the loop")
        return False
    return True


def _observed_once(ctx: Context, stmt: ir.Sample, sym: Symbol | None, info: DistInfo) -> bool:
    """Data is one NumPyro site: a part of it (a slice, a statement in a loop) cannot be observed
    by a second statement."""
    if sym is None or not sym.observed:
        return True
    lhs = stmt.lhs
    lpdf = f"{_snake(info.name)}_{'lpmf' if info.discrete else 'lpdf'}"
    ctx.err("duplicate-definition", f'"{lhs.name}" is already observed by an earlier `~` statement', lhs.span,
            f"observe each quantity in one `~` statement; add the log density of another part with "
            f"`target += {lpdf}({lhs.name}[lo:hi] | ...)`")
    return False


def _slice_sample(ctx: Context, stmt: ir.Sample, generated: bool, priors: dict | None) -> Site | None:
    """``x[lo:hi] ~ D(...)``, as in Stan: the log density of elements lo..hi, element-wise; the
    arguments are scalars or have the slice's length. Data is observed as that slice; a declared
    parameter or a defined quantity gets the density added (method FACTOR)."""
    lhs = stmt.lhs
    sym = ctx.symbols.get(lhs.name)
    info = REGISTRY.get(stmt.dist.dist)
    if info is None:
        ctx.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                suggest_distribution(stmt.dist.dist))
        return None
    rng = next(i for i in lhs.indices if isinstance(i, ir.Range))
    if len(lhs.indices) != 1:
        ctx.err("invalid-lhs", "a range on the left of `~` must be the only index", rng.span,
                f"slice one dimension, e.g. {lhs.name}[2:T] ~ ..., or index by fresh index variables")
        return None
    defined = sym is not None and sym.role in (Role.DETERMINISTIC, Role.LOCAL)
    observed = sym is not None and sym.role in (Role.DATA, Role.DERIVED)
    if generated or sym is None or not (observed or defined or sym.role is Role.LATENT and sym.declared):
        ctx.err("invalid-lhs", "only data, a declared parameter or a defined quantity can be sliced on the "
                "left of `~`", rng.span,
                f"write generated {lhs.name}[n] ~ ..." if generated else
                f"declare it first (`param {lhs.name}: vector[N]`), or write {lhs.name}[n] ~ ... for every element")
        return None
    if info.discrete and not observed:
        ctx.err("invalid-type", f'"{lhs.name}" is a discrete latent: it cannot be given a distribution by slices',
                stmt.dist.dist_span, f"leave it undeclared and write `{lhs.name}[n] ~ {info.name}(...)`")
        return None
    if not _observed_once(ctx, stmt, sym, info):
        return None
    key = (lhs.name, ("slice", lhs.span.line, lhs.span.column))
    if sym.role is Role.LATENT and priors is not None and not _prior_once(ctx, lhs, (), priors, key):
        return None
    value = expr(ctx, ir.Index(ir.Name(lhs.name, lhs.span), lhs.indices, lhs.span))
    if value is None:
        ctx.failed.add(lhs.name)
        return None
    t = Type(sym.type.elem, value.type.dims)
    args = _typed_args(ctx, stmt, info, _replace(sym, type=t), observed)
    if args is None:
        return None
    raw, typed, trunc = args
    event = info.event_rank
    implicit = t.shape[: len(t.shape) - event] if event <= len(t.shape) else t.shape
    plates = extend((), lhs.name, implicit)
    ctx.plates = plates
    length = expr_text(implicit[0]) if implicit else "1"
    help_ = (f"{lhs.name}[{expr_text(rng)}] has {length} element(s): give an argument of that length, or a "
             "scalar (the same for every element)")
    for pname, te in typed.items():
        _check_arg_shape(ctx, te, implicit, info, pname, help_)
    if observed:
        ctx.symbols[lhs.name] = _replace(sym, observed=True)
    elif defined:
        _jacobian_warning(ctx, stmt, sym.name)
    method = Method.PLAIN if observed else Method.FACTOR
    reparam = check_reparam(ctx, stmt, info, method, observed, generated)
    args = tuple((p, typed[p]) for p in info.params if p in typed)
    return Site(lhs.name, sym.role, t, plates, info, args, trunc, method, reparam, stmt.span, len(implicit),
                value=value)


def finite_support(info: DistInfo, typed: dict) -> bool:
    """Whether a discrete distribution has finitely many outcomes (so it can be enumerated):
    boolean, categorical, an integer interval, or counts up to a total (Binomial)."""
    return info.support in ("boolean", "categorical", "integer_interval") or (
        info.support == "nonnegative_integer" and "total_count" in typed)


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _constant_prefix(lhs: ir.Lhs) -> tuple[ir.Expr, ...]:
    """The leading whole-number indices of a left side (``phi[1]``, ``L[2, k]``)."""
    out = []
    for idx in lhs.indices:
        if not (isinstance(idx, ir.Num) and idx.is_int):
            break
        out.append(idx)
    return tuple(out)


def _check_constant_index(ctx: Context, name: str, dim: int, idx: ir.Expr, size: ir.Expr) -> None:
    """A whole-number index of a left side lies in 1..size: now when the size is a literal, else
    with the data."""
    if idx.value < 1 or isinstance(size, ir.Num) and idx.value > size.value:
        ctx.err("index-out-of-range", f'index {int(idx.value)} is outside the size of "{name}" (dimension {dim + 1})',
                idx.span, "indices are 1-based")
    elif not isinstance(size, ir.Num):
        ctx.index_uses.append(IndexUse(name, dim, size, idx, idx.span))


def _prior_once(ctx: Context, lhs: ir.Lhs, consts, priors: dict, key=None) -> bool:
    """A declared parameter gets one prior: whole (or per plate element) once, or element by
    element with each element once (``key`` names a part: a slice, or the statement in a loop;
    parts are not checked against each other, their bounds being data)."""
    part = key is not None
    key = key or ((lhs.name, tuple(int(c.value) for c in consts)) if consts else lhs.name)
    clash = priors.get(key) or (priors.get(lhs.name) if consts or part else next(
        (v for k, v in priors.items() if isinstance(k, tuple) and k[0] == lhs.name), None))
    if clash is not None:
        ctx.err("duplicate-definition", f'"{lhs.name}" is given two priors (line {clash.line})', lhs.span,
                "give each element one prior, in one statement")
        return False
    priors[key] = lhs.span
    return True


def _jacobian_warning(ctx: Context, stmt: ir.Sample, name: str) -> None:
    """``x ~ D`` on a defined quantity: when x is a non-linear function of parameters alone (no
    data), the density of the parameters needs the log Jacobian of that change of variables."""
    from .linearity import needs_jacobian

    if needs_jacobian(ctx, name):
        ctx.warn("jacobian", f'"{name}" is a non-linear function of parameters: a distribution on it is not a '
                 "distribution on the parameters unless the log absolute Jacobian of the transform is added",
                 stmt.lhs.span, "add `target += log(abs(d" + name + "/d(parameter)))` for the change of variables, "
                 "or put the distribution on the parameters themselves")


_DECLARED = {"corr_matrix": "corr_matrix", "corr_cholesky": "cholesky_factor_corr"}  # support -> declared type


def _typed_args(ctx, stmt, info, sym, observed: bool):
    """The distribution's arguments bound by name and checked against the left side (``raw``),
    typed, and its truncation bounds typed: ``(raw, typed, trunc)``, or None where any of them
    failed (reported)."""
    raw = bind_args(ctx, stmt.dist, info)
    if raw is not None:
        raw = _value_args(ctx, stmt, info, raw, sym, observed)
    if raw is None:
        return None
    typed = {k: expr(ctx, v) for k, v in raw.items()}
    trunc = None
    if stmt.dist.truncation is not None:
        trunc = tuple(None if b is None else expr(ctx, b) for b in stmt.dist.truncation)
        if any(b is not None and tb is None for b, tb in zip(stmt.dist.truncation, trunc)):
            return None
    if any(te is None for te in typed.values()):
        return None
    return raw, typed, trunc


def _value_args(ctx: Context, stmt: ir.Sample, info: DistInfo, raw: dict[str, ir.Expr], sym: Symbol | None,
                observed: bool) -> dict[str, ir.Expr] | None:
    """Arguments that follow from the left side: a size parameter (LKJ's dimension) is its declared
    size (and must equal it when given); a value default (Multinomial's total count, the sum of
    the counts) needs an observed value, so a drawn site must give it."""
    name, p = stmt.lhs.name, info.size_param
    declared = sym is not None and len(sym.type.shape) >= info.event_rank
    if p is not None and p in raw and (isinstance(raw[p], ir.Num) and not raw[p].is_int or not ctx.constant(raw[p])):
        ctx.err("invalid-type", f"the {p} of {info.name} must be integer data", raw[p].span,
                f"{info.name} takes Stan's order: {info.name}(eta), its {p} coming from the declared type")
        return None
    if p is not None and p not in raw and not declared:
        ctx.err("bad-arguments", f'{info.name} needs {p} when "{name}" is not declared', stmt.dist.span,
                f"declare it (`param {name}: {_DECLARED.get(info.support, 'matrix')}[K]`) or write {p}=K")
        return None
    if p is not None and declared:
        size = sym.type.shape[-1]
        if p in raw:
            ctx.size_equal(raw[p], size, raw[p].span, f'{info.name}\'s {p} vs the size of "{name}"')
        else:
            raw = {**raw, p: size}
    missing = [q for q, _ in info.value_defaults if q not in raw]
    if missing and not observed:
        ctx.err("bad-arguments", f'{info.name} needs {", ".join(missing)} to draw "{name}"', stmt.dist.span,
                f"give it: {info.name}(..., {missing[0]}=N); only observed data supplies it by default")
        return None
    return raw


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


def param_method(ctx: Context, t: Type, info: DistInfo, args: dict[str, ir.Expr], call: ir.DistCall,
                 typed: dict[str, TExpr]) -> Method:
    """How the prior of a declared parameter is rendered, given its declared constraint."""
    c = t.constraint
    if (c, info.support) in {("simplex", "simplex"), ("cholesky_factor_corr", "corr_cholesky"),
                             ("real", "real"), ("real", "real_vector"), ("positive", "positive"),
                             ("unit_interval", "unit_interval"), ("corr_matrix", "corr_matrix"),
                             ("cov_matrix", "positive_definite")}:
        return Method.PLAIN
    if t.event_rank:
        return Method.SORTED if _iid_order_statistics(ctx, c, info, typed, call) else Method.FLAT
    bounds_const = all(b is None or ctx.constant(b.node) for b in (t.lower, t.upper))
    if info.half and c == "positive" and is_num(args.get("loc"), 0) and call.truncation is None:
        return Method.HALF
    if info.truncatable and bounds_const and call.truncation is None and info.support == "real":
        return Method.TRUNCATED
    return Method.FLAT


def _iid_order_statistics(ctx: Context, c: str, info: DistInfo, typed: dict[str, TExpr], call: ir.DistCall) -> bool:
    """Whether ``v ~ D(...)`` on an ordered / positive_ordered ``v`` is one scalar prior for every
    element (all arguments are single values) whose support is the declared one: its density on the
    ordered vectors is then K! prod D(v_k), the law of K sorted draws from D, so it can be drawn. A
    positive_ordered vector under a prior on the reals is the prior truncated to (0, inf), exactly
    drawable only when the truncation's normalising constant is a constant (arguments of data)."""
    if c not in ("ordered", "positive_ordered") or info.event_rank or info.discrete or call.truncation is not None:
        return False
    if any(te.type.rank or te.type.plates for p, te in typed.items() if p != "_"):
        return False
    if (c, info.support) in {("ordered", "real"), ("positive_ordered", "positive")}:
        return True
    return (c == "positive_ordered" and info.support == "real" and info.truncatable
            and all(ctx.constant(te.node) for p, te in typed.items() if p != "_"))


def _check_arg_shape(ctx: Context, te: TExpr, implicit, info: DistInfo, param: str, help: str | None = None) -> None:
    event_rank = info.param_rank(param)
    if param in dict(info.ranks) and te.type.rank < event_rank:
        ctx.err("shape-mismatch", f"{info.name}'s {param} needs {event_rank} dimension(s), this argument has "
                f"{te.type.rank}", te.node.span, f"pass a {'vector' if event_rank == 1 else 'matrix'}")
        return
    batch = te.type.dims[: max(0, te.type.rank - event_rank)]
    if not batch:
        return
    if len(batch) > len(implicit):
        ctx.err("shape-mismatch", f"this argument has {len(batch)} dimension(s) but the left side has "
                f"{len(implicit)} un-indexed dimension(s)", te.node.span,
                "index the argument with the left side's index variables")
        return
    for a, b in zip(batch, implicit[len(implicit) - len(batch):]):
        ctx.size_equal(a, b, te.node.span, "argument size vs left side size", help)


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
    broadcast = bool(plates) and te.type.plates != tuple(p.index for p in plates)
    return Definition(lhs.name, role, t, plates, te, stmt.span, broadcast)


def target(ctx: Context, stmt: ir.Target, loop: ir.For | None = None) -> Factor | None:
    """``target += value``; index variables that are free in the value and index a declared array
    (``normal_lpdf(y[n] | mu, sigma)``) are plates of the statement; written in a loop body, the
    loop's variable is its first plate, over the loop's range."""
    free = []
    for node in ir.walk(stmt.value):
        if isinstance(node, ir.Index):
            for idx in node.indices:
                if isinstance(idx, ir.Name) and idx.id not in ctx.symbols and idx.id != ctx.loop_var \
                        and idx.id not in free and idx.id not in ctx.failed and (loop is None or idx.id != loop.var):
                    free.append(idx.id)
    plates = ()
    if free:
        plates = bind_plates(ctx, ir.Lhs("target", tuple(ir.Name(n) for n in free), stmt.span), stmt)
        if plates is None:
            return None
    if loop is not None:
        m = len(plates) + 1
        plates = tuple(_replace(p, dim=-(m - k)) for k, p in enumerate((loop_plate(loop),) + plates))
    ctx.plates = plates
    te = expr(ctx, stmt.value)
    return None if te is None else Factor(te, stmt.span, plates)
