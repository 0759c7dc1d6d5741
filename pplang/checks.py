"""Checks: names, roles, index sets (plates), types and shapes, parameterisation validity.

Input: an IR program. Output: a :class:`CheckedModel` that lowering renders without inferring
anything itself: the symbol table, the plates of every statement, how each latent is sampled, the
static type of every expression, the reparam config, and the size equalities that can only be
checked once data sizes are known.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import assert_never

from . import ir
from .diagnostics import Diagnostic, PplangError
from .distributions import MATRIX_PARAMS, POSITIVE_PARAMS, REGISTRY, DistInfo
from .functions import FUNCTIONS

RESERVED = {"data", "param", "target", "for", "in", "generated", "local", "noncentered", "centered", "partial", "auto"}
VECTOR_TYPES = {"vector", "simplex", "ordered", "positive_ordered"}
MATRIX_TYPES = {"matrix", "cholesky_factor_corr", "cov_matrix", "corr_matrix", "cholesky_factor_cov"}


@dataclass(frozen=True)
class VType:
    """Static type of an expression inside a statement: ``base`` ("int", "real" or "bool"),
    ``plates`` (the statement's plate indices it varies along, in plate order) and ``dims`` (the
    sizes of its own value dimensions, as IR expressions)."""

    base: str
    plates: tuple[str, ...] = ()
    dims: tuple[ir.Expr, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.dims)


@dataclass(frozen=True)
class Symbol:
    """A named quantity: ``role`` is data, derived, param (declared latent), latent (undeclared,
    defined by ``~``), deterministic, or generated (a ``generated`` statement: computed per
    posterior draw after sampling, never part of the model); ``base`` int/real; ``dims`` its sizes; ``decl`` the
    statement that declared or defined it; ``type`` the declared type, if any."""

    name: str
    role: str
    base: str
    dims: tuple[ir.Expr, ...]
    decl: ir.Stmt
    type: ir.Type | None = None


@dataclass(frozen=True)
class Plate:
    """A plate of a statement: index variable ``index`` ranges over 1..``size``; rendered as
    ``numpyro.plate(name, size, dim=dim)``."""

    index: str
    size: ir.Expr
    name: str
    dim: int


@dataclass(frozen=True)
class SiteInfo:
    """How a sampling statement is rendered: ``observed``; ``method`` is "direct" (the
    distribution as written), "half" (a zero-centred Normal/Cauchy on a <lower=0> parameter becomes
    the registry's half distribution, the same density), "truncated" (TruncatedDistribution to the
    declared bounds) or
    "flat" (ImproperUniform over the declared constraint plus a factor with the log density)."""

    observed: bool
    method: str
    dist: DistInfo


@dataclass(frozen=True)
class SizeCheck:
    """A size equality that depends on data values: ``left == right``, reported at ``span``."""

    left: ir.Expr
    right: ir.Expr
    span: ir.Span
    what: str


@dataclass(frozen=True)
class LoopInfo:
    """A ``for`` loop rendered as ``jax.lax.scan``: ``defined`` names (in body order) get their
    elements lo..hi from the loop; ``recursive`` ones also read ``x[t - 1]`` and take their first
    elements 1..lo-1 from the definitions ``inits[name]`` written before the loop."""

    var: str
    lo: ir.Expr
    hi: ir.Expr
    defined: tuple[str, ...]
    recursive: tuple[str, ...]
    inits: dict[str, tuple[ir.Define, ...]]


@dataclass
class CheckedModel:
    """Everything lowering needs, derived once."""

    program: ir.Program
    symbols: dict[str, Symbol]
    plates: dict[int, tuple[Plate, ...]] = field(default_factory=dict)
    sites: dict[int, SiteInfo] = field(default_factory=dict)
    types: dict[int, VType] = field(default_factory=dict)
    reparam: dict[str, ir.Annotation] = field(default_factory=dict)
    size_checks: list[SizeCheck] = field(default_factory=list)
    flat_params: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)
    loops: dict[int, LoopInfo] = field(default_factory=dict)
    init_defines: dict[int, str] = field(default_factory=dict)
    range_sizes: dict[int, ir.Expr] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)

    def of_role(self, *roles: str) -> list[Symbol]:
        return [s for s in self.symbols.values() if s.role in roles]


def _suggest(name: str, options) -> str | None:
    match = difflib.get_close_matches(name, sorted(options), n=1)
    return f'did you mean "{match[0]}"?' if match else None


def constant_expr(expr: ir.Expr, symbols: dict[str, Symbol]) -> bool:
    """True when ``expr`` depends only on literals and data (so it is known before sampling)."""
    return all(symbols[n].role in ("data", "derived") for n in names_in(expr) if n in symbols)


def names_in(expr) -> set[str]:
    """All names referenced in an expression."""
    match expr:
        case ir.Num():
            return set()
        case ir.Name(id=id_):
            return {id_}
        case ir.Index(base=base, indices=idx):
            return {base.id}.union(*(names_in(i) for i in idx))
        case ir.Call(args=args, kwargs=kwargs):
            return set().union(*(names_in(a) for a in args), *(names_in(v) for _, v in kwargs))
        case ir.BinOp(left=a, right=b):
            return names_in(a) | names_in(b)
        case ir.Neg(operand=a) | ir.Transpose(operand=a):
            return names_in(a)
        case ir.Cond(test=t, then=a, orelse=b):
            return names_in(t) | names_in(a) | names_in(b)
        case ir.ArrayLit(items=items):
            return set().union(*(names_in(i) for i in items))
        case ir.Range(lo=lo, hi=hi):
            return names_in(lo) | names_in(hi)
        case _:
            assert_never(expr)


def _indexings(node, out: list) -> list:
    """Every Index node inside a statement or expression (for index-range inference)."""
    out += [n for n in ir.walk(node) if isinstance(n, ir.Index)]
    return out


class _Checker:
    def __init__(self, program: ir.Program):
        self.program = program
        self.symbols: dict[str, Symbol] = {}
        self.errors: list[Diagnostic] = []
        self.out = CheckedModel(program, self.symbols)
        self.prior_of: dict[str, ir.Sample] = {}
        self.plates: tuple[Plate, ...] = ()
        self.loop_var: str | None = None
        self.inits: dict[str, list[ir.Define]] = {}

    # ------------------------------------------------------------------ helpers
    def err(self, code, msg, span, help=None):
        self.errors.append(Diagnostic(code, msg, span, help))

    def warn(self, code, msg, span, help=None):
        self.out.warnings.append(Diagnostic(code, msg, span, help, severity="warning"))

    def declare(self, sym: Symbol, span: ir.Span) -> None:
        if sym.name in RESERVED:
            self.err("reserved-name", f'"{sym.name}" is a reserved word', span)
        if sym.name.startswith("_pp"):
            self.err("reserved-name", f'names starting with "_pp" are reserved: "{sym.name}"', span)
        if sym.name in self.symbols:
            prev = self.symbols[sym.name].decl.span
            self.err("duplicate-definition", f'"{sym.name}" is already defined at line {prev.line}', span)
            return
        self.symbols[sym.name] = sym

    # ------------------------------------------------------------------ statements
    def run(self) -> CheckedModel:
        decl_params = {s.name: s for s in self.program.statements if isinstance(s, ir.ParamDecl)}
        self.out.locals = {s.lhs.name for s in _all_statements(self.program.statements)
                           if isinstance(s, ir.Define) and s.local}
        sampled = {s.lhs.name for s in self.program.statements if isinstance(s, ir.Sample)}
        for stmt in self.program.statements:
            if not isinstance(stmt, ir.Generated):
                self.no_generated_refs(stmt)
            self.statement(stmt, decl_params, sampled)
        for name, decl in decl_params.items():
            if name not in sampled and name in self.symbols:
                self.out.flat_params.add(name)
                self.warn("improper-prior",
                          f'parameter "{name}" has no prior: its density is flat (improper) over its declared support',
                          decl.name_span, f"add a prior, e.g. `{name} ~ Normal(0, 10)`, unless a flat prior is intended")
        used = _used_names(tuple(s for s in self.program.statements if not isinstance(s, ir.DataDecl)))
        used |= _used_names(tuple(s.type for s in self.program.statements if isinstance(s, ir.DataDecl)))
        for stmt in self.program.statements:
            if isinstance(stmt, ir.DataDecl) and stmt.name not in used:
                self.warn("unused-data", f'data "{stmt.name}" is declared but never used', stmt.name_span,
                          "remove the declaration, or use it in the model")
        if self.errors:
            raise PplangError(self.errors, warnings=self.out.warnings)
        return self.out

    def can_be_negative(self, e: ir.Expr) -> str | None:
        """The name of a quantity in ``e`` whose declared support allows negative values, if ``e``
        is just that quantity (or an element of it)."""
        name = e.id if isinstance(e, ir.Name) else e.base.id if isinstance(e, ir.Index) else None
        sym = self.symbols.get(name) if name else None
        if sym is None:
            return None
        if sym.role in ("data", "param") and sym.type is not None and sym.type.base in ("real", "vector", "matrix", "int"):
            lo = sym.type.bound("lower")
            if lo is None or (isinstance(lo, ir.Num) and lo.value < 0):
                return name
        if sym.role == "latent" and isinstance(sym.decl, ir.Sample):
            info = REGISTRY.get(sym.decl.dist.dist)
            if info is not None and info.support == "real" and sym.decl.dist.truncation is None:
                return name
        return None

    def pedantic(self, stmt: ir.Sample, info: DistInfo, args: dict[str, ir.Expr], sym: Symbol | None) -> None:
        """Stan-style pedantic warnings about one sampling statement."""
        for pname, expr in args.items():
            if pname in POSITIVE_PARAMS:
                culprit = self.can_be_negative(expr)
                if culprit:
                    self.warn("negative-scale", f'the {pname} of {info.name} must be positive, but "{culprit}" '
                              "can be negative", expr.span,
                              f"declare {culprit} with <lower=0>, or give it a positive distribution")
        if info.name == "Uniform" and sym is not None and sym.role == "param" and sym.type is not None:
            lo, hi = sym.type.bound("lower"), sym.type.bound("upper")
            if (lo, hi) != (args.get("low"), args.get("high")):
                self.warn("uniform-bounds", f'the Uniform prior of "{sym.name}" does not match its declared bounds',
                          stmt.dist.span, f"declare {sym.name} with <lower=..., upper=...> equal to the Uniform's "
                          "bounds, so the sampler never leaves the prior's support")

    def statement(self, stmt: ir.Stmt, decl_params, sampled) -> None:
        self.plates = ()
        match stmt:
            case ir.DataDecl(name=name, type=t):
                self.check_type(t, data=True)
                base = "int" if t.base == "int" else "real"
                self.declare(Symbol(name, "data", base, self.type_dims(t), stmt, t), stmt.name_span)
            case ir.DerivedData(name=name, value=value):
                vt = self.expr(value)
                if vt is not None and not constant_expr(value, self.symbols):
                    self.err("invalid-type", f'derived data "{name}" may only use data', stmt.span)
                if vt is not None:
                    self.declare(Symbol(name, "derived", vt.base if vt.base != "bool" else "int", vt.dims, stmt),
                                 stmt.name_span)
            case ir.ParamDecl(name=name, type=t):
                self.check_type(t, data=False)
                for b in t.bounds:
                    self.expr(b.value)
                self.declare(Symbol(name, "param", "real", self.type_dims(t), stmt, t), stmt.name_span)
            case ir.Sample():
                self.sample(stmt)
            case ir.Define(lhs=lhs) if lhs.indices and isinstance(lhs.indices[0], ir.Num):
                self.init_define(stmt)
            case ir.Define():
                self.define(stmt)
            case ir.Target(value=value):
                self.expr(value)
            case ir.For():
                self.for_loop(stmt)
            case ir.Generated():
                self.generated(stmt)
            case _:
                assert_never(stmt)

    def check_type(self, t: ir.Type, data: bool) -> None:
        for d in t.dims:
            vt = self.expr(d)
            if vt is not None and (vt.base not in ("int",) or vt.dims):
                self.err("invalid-type", "sizes must be integer data", d.span)
            if vt is not None and not constant_expr(d, self.symbols):
                self.err("invalid-type", "sizes must be known before sampling (data only)", d.span)
        if t.base == "int" and not data:
            self.err("invalid-type", "parameters are real-valued: integer parameters cannot be sampled by NUTS",
                     t.span, "marginalise the discrete variable with `target += log_sum_exp(...)`")
        if t.base in VECTOR_TYPES and len(t.dims) != 1 or t.base in MATRIX_TYPES - {"cholesky_factor_corr", "cov_matrix", "corr_matrix"} and len(t.dims) != 2:
            self.err("invalid-type", f"{t.base} needs {'one size' if t.base in VECTOR_TYPES else 'two sizes'}", t.span)

    def type_dims(self, t: ir.Type) -> tuple[ir.Expr, ...]:
        if t.base in ("cholesky_factor_corr", "cov_matrix", "corr_matrix") and len(t.dims) == 1:
            return (t.dims[0], t.dims[0])
        return t.dims

    # ------------------------------------------------------------------ plates
    def bind_plates(self, lhs: ir.Lhs, stmt, offset: int = 0) -> tuple[Plate, ...] | None:
        """Plates for the lhs index variables; ``offset`` leading dimensions of the symbol are
        addressed by a loop variable or a constant, not by these indices."""
        sym = self.symbols.get(lhs.name)
        names = []
        for j, idx in enumerate(lhs.indices):
            if not isinstance(idx, ir.Name) or idx.id in self.symbols or idx.id in names:
                self.err("invalid-lhs", "the left side may only be indexed by fresh index variables (like n)",
                         idx.span, f"write {lhs.name}[n] and use n on the right side")
                return None
            names.append(idx.id)
        sizes = []
        for j, index in enumerate(names):
            size = None
            if sym is not None and j + offset < len(sym.dims):
                size = sym.dims[j + offset]
            if size is None:
                size = self.infer_range(index, _indexings(stmt, [])) or self.infer_range(
                    index, _indexings(self.program.statements, []))
            if size is None:
                self.err("unbound-index", f'cannot tell the range of index "{index}"', lhs.indices[j].span,
                         f"declare {lhs.name} with its size, e.g. `param {lhs.name}: real[J]`, "
                         f"or use {index} to index a declared array")
                return None
            sizes.append(size)
        if sym is not None and len(names) > len(sym.dims) - offset:
            self.err("shape-mismatch", f'"{lhs.name}" has {len(sym.dims)} dimensions but {len(names)} indices',
                     lhs.span)
            return None
        plate_names = [s.id if isinstance(s, ir.Name) else i for s, i in zip(sizes, names)]
        if len(set(plate_names)) != len(plate_names):
            plate_names = names
        m = len(names)
        return tuple(Plate(i, s, pn, -(m - k)) for k, (i, s, pn) in enumerate(zip(names, sizes, plate_names)))

    def infer_range(self, index: str, indexings: list[ir.Index]) -> ir.Expr | None:
        for node in indexings:
            sym = self.symbols.get(node.base.id)
            if sym is None:
                continue
            for j, e in enumerate(node.indices):
                if isinstance(e, ir.Name) and e.id == index and j < len(sym.dims):
                    return sym.dims[j]
        return None

    # ------------------------------------------------------------------ sampling and definitions
    def sample(self, stmt: ir.Sample, role: str = "latent") -> None:
        lhs = stmt.lhs
        sym = self.symbols.get(lhs.name)
        info = REGISTRY.get(stmt.dist.dist)
        if info is None:
            self.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                     _suggest(stmt.dist.dist, REGISTRY))
            return
        plates = self.bind_plates(lhs, stmt)
        if plates is None:
            return
        self.plates = plates
        observed = sym is not None and sym.role in ("data", "derived")
        if sym is not None and sym.role not in ("data", "derived", "param"):
            self.err("duplicate-definition", f'"{lhs.name}" already has a distribution or definition '
                     f"(line {sym.decl.span.line})", lhs.span)
            return
        if sym is not None and sym.role == "param" and lhs.name in self.out.flat_params | set(self.prior_of):
            self.err("duplicate-definition", f'"{lhs.name}" is given two priors (line '
                     f"{self.prior_of[lhs.name].span.line})", lhs.span)
            return
        args = self.dist_args(stmt.dist, info)
        if args is None:
            return
        arg_types = {k: self.expr(v) for k, v in args.items()}
        if any(t is None for t in arg_types.values()):
            return
        if stmt.dist.truncation is not None:
            for bound in stmt.dist.truncation:
                if bound is not None:
                    self.expr(bound)
        # the element's event dims come from the declaration or the distribution's arguments
        if sym is not None:
            elem_dims = sym.dims[len(plates):]
        elif info.event_rank:
            src = arg_types.get(info.event_from) if info.event_from else None
            elem_dims = src.dims[-info.event_rank:] if src is not None and src.rank >= info.event_rank else ()
        else:
            elem_dims = ()
        implicit = elem_dims[: len(elem_dims) - info.event_rank] if info.event_rank <= len(elem_dims) else elem_dims
        if implicit:
            m = len(plates) + len(implicit)
            names = [p.index for p in plates] + [f"_{lhs.name}_{k + 1}" for k in range(len(implicit))]
            sizes = [p.size for p in plates] + list(implicit)
            plate_names = [p.name for p in plates] + [
                s.id if isinstance(s, ir.Name) and s.id not in [p.name for p in plates] else n
                for s, n in zip(implicit, names[len(plates):])]
            plates = tuple(Plate(i, s, pn, -(m - k)) for k, (i, s, pn) in enumerate(zip(names, sizes, plate_names)))
            self.plates = plates
        self.out.plates[id(stmt)] = plates
        for name, vt in arg_types.items():
            self.check_arg_shape(vt, implicit, info, args[name], stmt, name)
        self.pedantic(stmt, info, args, sym)
        method = "direct"
        if observed:
            if not isinstance(stmt.annotation, ir.Centered):
                self.err("reparam-on-observed", f'"{lhs.name}" is observed data: it cannot be {_ann_word(stmt.annotation)}',
                         stmt.annotation.span, "remove the annotation")
        else:
            if sym is not None:
                method = self.param_method(sym, info, stmt)
                self.prior_of[lhs.name] = stmt
            else:
                self.declare(Symbol(lhs.name, role, "int" if info.discrete else "real",
                                    tuple(p.size for p in plates) + tuple(elem_dims[len(implicit):]), stmt), lhs.span)
            if info.discrete and role != "generated":
                self.err("invalid-type", f'"{lhs.name}" would be a discrete latent variable ({info.name}); '
                         "NUTS needs continuous parameters", stmt.dist.dist_span,
                         "marginalise it with `target += log_sum_exp(...)`")
            if isinstance(stmt.annotation, ir.Auto):
                self.err("unsupported", "the `auto` parameterisation is not available yet", stmt.annotation.span,
                         "use `noncentered`, or `partial(c)` with 0 <= c <= 1")
            elif isinstance(stmt.annotation, ir.Partial) and not 0 <= stmt.annotation.centered <= 1:
                self.err("reparam-unsupported", "partial(c) needs 0 <= c <= 1", stmt.annotation.span)
            elif not isinstance(stmt.annotation, ir.Centered):
                if not info.locscale or method != "direct":
                    self.err("reparam-unsupported", f"{info.name} is not a location-scale family with real support; "
                             f"it cannot be {_ann_word(stmt.annotation)}", stmt.annotation.span)
                else:
                    self.out.reparam[lhs.name] = stmt.annotation
        self.out.sites[id(stmt)] = SiteInfo(observed, method, info)

    def param_method(self, sym: Symbol, info: DistInfo, stmt: ir.Sample) -> str:
        t = sym.type
        lo, hi = t.bound("lower"), t.bound("upper")
        if t.base in ("simplex", "cholesky_factor_corr") and info.support in ("simplex", "corr_cholesky"):
            return "direct"
        if t.base in ("real", "vector", "matrix"):
            if lo is None and hi is None and info.support in ("real", "real_vector"):
                return "direct"
            if _is_num(lo, 0) and hi is None and info.support == "positive":
                return "direct"
            if _is_num(lo, 0) and _is_num(hi, 1) and info.support == "unit_interval":
                return "direct"
            bounds_const = all(b is None or constant_expr(b, self.symbols) for b in (lo, hi))
            loc = (dict(zip(info.params, stmt.dist.args)) | dict(stmt.dist.kwargs)).get("loc")
            if (info.half and _is_num(lo, 0) and hi is None and _is_num(loc, 0)
                    and stmt.dist.truncation is None):
                return "half"
            if info.truncatable and bounds_const and stmt.dist.truncation is None:
                return "truncated"
        return "flat"

    def check_arg_shape(self, vt: VType, implicit, info: DistInfo, expr: ir.Expr, stmt, param: str = "") -> None:
        event_rank = info.event_rank + (1 if param in MATRIX_PARAMS else 0)
        batch_dims = vt.dims[: max(0, vt.rank - event_rank)]
        if not batch_dims:
            return
        if len(batch_dims) > len(implicit):
            self.err("shape-mismatch", f"this argument has {len(batch_dims)} dimension(s) but the left side has "
                     f"{len(implicit)} un-indexed dimension(s)", expr.span,
                     "index the argument with the left side's index variables")
            return
        for a, b in zip(batch_dims, implicit[len(implicit) - len(batch_dims):]):
            self.size_equal(a, b, expr.span, "argument size vs left side size")

    def size_equal(self, a: ir.Expr, b: ir.Expr, span: ir.Span, what: str) -> None:
        if a == b:
            return
        if isinstance(a, ir.Num) and isinstance(b, ir.Num):
            self.err("shape-mismatch", f"sizes differ: {int(a.value)} vs {int(b.value)}", span)
            return
        self.out.size_checks.append(SizeCheck(a, b, span, what))

    def dist_args(self, call: ir.DistCall, info: DistInfo) -> dict[str, ir.Expr] | None:
        if len(call.args) > len(info.params):
            self.err("bad-arguments", f"{info.name} takes at most {len(info.params)} arguments "
                     f"({', '.join(info.params)}), got {len(call.args)}", call.span)
            return None
        args = dict(zip(info.params, call.args))
        for k, v in call.kwargs:
            if k not in info.params:
                self.err("bad-arguments", f'{info.name} has no parameter "{k}"', v.span,
                         _suggest(k, info.params) or f"its parameters are {', '.join(info.params)}")
                return None
            if k in args:
                self.err("bad-arguments", f'parameter "{k}" of {info.name} is given twice', v.span)
                return None
            args[k] = v
        missing = [p for p in info.params[: info.n_required] if p not in args]
        if missing:
            self.err("bad-arguments", f"{info.name} needs {', '.join(info.params[: info.n_required])}; "
                     f"missing {', '.join(missing)}", call.span)
            return None
        return args

    def define(self, stmt: ir.Define, role: str = "deterministic") -> None:
        lhs = stmt.lhs
        sym = self.symbols.get(lhs.name)
        if sym is not None:
            self.err("duplicate-definition", f'"{lhs.name}" is already defined at line {sym.decl.span.line}',
                     lhs.span, "a data item or parameter cannot also be defined with '='" if sym.role in ("data", "param") else None)
            return
        plates = self.bind_plates(lhs, stmt)
        if plates is None:
            return
        self.plates = plates
        self.out.plates[id(stmt)] = plates
        vt = self.expr(stmt.value)
        if vt is None:
            return
        self.declare(Symbol(lhs.name, role, "real", tuple(p.size for p in plates) + vt.dims, stmt),
                     lhs.span)

    # ------------------------------------------------------------------ generated quantities
    def generated(self, stmt: ir.Generated) -> None:
        """``generated x = e`` / ``generated x[n] ~ D(...)``: a new quantity per posterior draw."""
        inner = stmt.stmt
        lhs = inner.lhs
        if lhs.name in self.symbols:
            prev = self.symbols[lhs.name]
            self.err("duplicate-definition", f'"{lhs.name}" is already defined at line {prev.decl.span.line}',
                     lhs.span, f'a generated quantity needs a new name, e.g. "{lhs.name}_rep"')
            return
        match inner:
            case ir.Sample(annotation=ann):
                if not isinstance(ann, ir.Centered):
                    self.err("reparam-unsupported", f"a generated quantity is drawn after sampling: it cannot be "
                             f"{_ann_word(ann)}", ann.span, "remove the annotation")
                    return
                self.sample(inner, role="generated")
            case ir.Define() if lhs.indices and isinstance(lhs.indices[0], ir.Num):
                self.err("invalid-lhs", "a generated quantity is defined whole: index it only by fresh index "
                         "variables", lhs.indices[0].span, f"write generated {lhs.name}[n] = ...")
            case ir.Define():
                self.define(inner, role="generated")
            case _:
                assert_never(inner)

    def no_generated_refs(self, stmt: ir.Stmt) -> None:
        """A model statement may not read a generated quantity: they depend on the model, never
        the reverse (they are computed after sampling)."""
        for node in _names(stmt, []):
            sym = self.symbols.get(node.id)
            if sym is not None and sym.role == "generated":
                self.err("generated-in-model", f'"{node.id}" is a generated quantity: the model cannot use it',
                         node.span, f"generated quantities are computed after sampling; to use {node.id} in the "
                         f"model, define it without `generated`")
                return

    # ------------------------------------------------------------------ loops
    def init_define(self, stmt: ir.Define) -> None:
        """``x[1] = e`` (or ``x[1, k] = e``): a first element of an array completed by a for loop."""
        lhs = stmt.lhs
        first = lhs.indices[0]
        if not first.is_int or first.value < 1 or self.loop_var is not None:
            self.err("invalid-lhs", "a definition of one element needs a whole-number index >= 1", first.span)
            return
        if lhs.name in self.symbols:
            self.err("duplicate-definition", f'"{lhs.name}" is already defined at line '
                     f"{self.symbols[lhs.name].decl.span.line}", lhs.span)
            return
        plates = self.bind_plates(ir.Lhs(lhs.name, lhs.indices[1:], lhs.span), stmt)
        if plates is None:
            return
        self.plates = plates
        self.out.plates[id(stmt)] = plates
        if self.expr(stmt.value) is None:
            return
        self.inits.setdefault(lhs.name, []).append(stmt)
        self.out.init_defines[id(stmt)] = lhs.name

    def elem_dims(self, stmt: ir.Define) -> tuple[ir.Expr, ...]:
        vt = self.out.types[id(stmt.value)]
        return tuple(p.size for p in self.out.plates[id(stmt)]) + vt.dims

    def for_loop(self, stmt: ir.For) -> None:
        var = stmt.var
        if self.loop_var is not None:
            self.err("unsupported", "nested for loops are not supported", stmt.span,
                     "index the inner dimension with a plate variable, as in x[t, k] = ...")
            return
        for bound in (stmt.lo, stmt.hi):
            vt = self.expr(bound)
            if vt is not None and (vt.base != "int" or vt.dims or not constant_expr(bound, self.symbols)):
                self.err("invalid-type", "loop bounds must be integer data", bound.span)
                return
        if var in self.symbols or var in RESERVED:
            self.err("duplicate-definition", f'the loop variable "{var}" is already a name in the model', stmt.span)
            return
        defined: list[str] = []
        for b in stmt.body:
            if not isinstance(b, ir.Define):
                self.err("unsupported", "a for loop may only define values (x[t] = ...)", b.span,
                         "write sampling statements and target += after the loop: y[t] ~ Normal(mu, sigma[t]) "
                         "is vectorised over t")
                return
            if not b.lhs.indices or b.lhs.indices[0] != ir.Name(var):
                self.err("invalid-lhs", f"inside `for {var}`, define elements {b.lhs.name}[{var}] or "
                         f"{b.lhs.name}[{var}, k]", b.lhs.span)
                return
            if b.lhs.name in defined:
                self.err("duplicate-definition", f'"{b.lhs.name}" is defined twice in the loop', b.lhs.span)
                return
            defined.append(b.lhs.name)
        recursive = [n for n in defined if n in self.inits]
        start = int(stmt.lo.value) if isinstance(stmt.lo, ir.Num) else None
        for name in defined:
            got = sorted(int(d.lhs.indices[0].value) for d in self.inits.get(name, []))
            if start is None and got or start is not None and got != list(range(1, start)):
                first = f"{name}[1]" if start in (None, 2) else f"{name}[1] .. {name}[{start - 1}]"
                self.err("unsupported", f'the loop defines "{name}" from index {start or "lo"}: '
                         f"{first} must be defined before the loop, each once", stmt.span,
                         "start the loop at a number, e.g. `for t in 2:T`" if start is None
                         else f"add `{name}[1] = ...` before the loop")
                return
            if name in self.inits:
                dims = self.elem_dims(self.inits[name][0])
                self.declare(Symbol(name, "deterministic", "real", (stmt.hi,) + dims, stmt), stmt.span)
        self.loop_var = var
        try:
            for i, b in enumerate(stmt.body):
                self.loop_body_define(b, stmt, defined[:i], defined, recursive)
        finally:
            self.loop_var = None
        self.out.loops[id(stmt)] = LoopInfo(var, stmt.lo, stmt.hi, tuple(defined), tuple(recursive),
                                            {n: tuple(self.inits[n]) for n in recursive})

    def loop_body_define(self, b: ir.Define, loop: ir.For, before, defined, recursive) -> None:
        self.plates = ()
        var = loop.var
        lag = ir.BinOp("-", ir.Name(var), ir.Num(1.0, True))
        for node in _indexings(b.value, []):
            name = node.base.id
            if name not in defined:
                continue
            first = node.indices[0] if node.indices else None
            if first == lag and name in recursive or first == ir.Name(var) and name in before:
                continue
            help_ = (f"define {name}[1] before the loop to make it a recursion" if first == lag
                     else f"inside the loop, read {name}[{var} - 1] or (once defined above) {name}[{var}]")
            self.err("unsupported", f'"{name}" cannot be read here', node.span, help_)
            return
        plates = self.bind_plates(ir.Lhs(b.lhs.name, b.lhs.indices[1:], b.lhs.span), b, offset=1)
        if plates is None:
            return
        self.plates = plates
        self.out.plates[id(b)] = plates
        vt = self.expr(b.value)
        if vt is None:
            return
        if b.lhs.name in recursive:
            want = self.symbols[b.lhs.name].dims[1:]
            got = self.elem_dims(b)
            if len(want) != len(got):
                self.err("shape-mismatch", f'"{b.lhs.name}" has {len(want)} dimension(s) per step before the '
                         f"loop but {len(got)} inside it", b.span)
                return
            for x, y in zip(want, got):
                self.size_equal(x, y, b.span, f'size of "{b.lhs.name}" before and inside the loop')
        else:
            if not (isinstance(loop.lo, ir.Num) and loop.lo.value == 1):
                self.err("unsupported", f'"{b.lhs.name}" would have no elements before index {ir.dump(loop.lo)}',
                         b.lhs.span, f"define {b.lhs.name}[1] before the loop, or start it at 1")
                return
            self.declare(Symbol(b.lhs.name, "deterministic", "real", (loop.hi,) + self.elem_dims(b), b),
                         b.lhs.span)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> VType | None:
        vt = self._expr(e)
        if vt is not None:
            self.out.types[id(e)] = vt
        return vt

    def plate_order(self, *groups: tuple[str, ...]) -> tuple[str, ...]:
        used = set().union(*groups)
        return tuple(p.index for p in self.plates if p.index in used)

    def _expr(self, e: ir.Expr) -> VType | None:
        match e:
            case ir.Num(is_int=is_int):
                return VType("int" if is_int else "real")
            case ir.Name(id=name):
                for p in self.plates:
                    if p.index == name:
                        return VType("int", (name,))
                if name == self.loop_var:
                    return VType("int")
                sym = self.symbols.get(name)
                if sym is None:
                    return self.unknown(name, e.span)
                return VType(sym.base, (), sym.dims)
            case ir.Index(base=base, indices=indices):
                return self.index(e, base, indices)
            case ir.Call():
                return self.call(e)
            case ir.BinOp(op=op, left=a, right=b):
                ta, tb = self.expr(a), self.expr(b)
                if ta is None or tb is None:
                    return None
                plates = self.plate_order(ta.plates, tb.plates)
                if op == "@":
                    return self.matmul(ta, tb, plates, e)
                if ta.dims and tb.dims:
                    if len(ta.dims) != len(tb.dims):
                        self.err("shape-mismatch", f"cannot combine a {len(ta.dims)}-d and a {len(tb.dims)}-d value "
                                 f"with '{op}'", e.span)
                        return None
                    for x, y in zip(ta.dims, tb.dims):
                        self.size_equal(x, y, e.span, f"operands of '{op}'")
                dims = ta.dims or tb.dims
                if op in ("==", "!=", "<", "<=", ">", ">="):
                    base = "bool"
                elif op == "/" or "real" in (ta.base, tb.base):
                    base = "real"
                else:
                    base = "int"
                return VType(base, plates, dims)
            case ir.Neg(operand=a):
                return self.expr(a)
            case ir.Transpose(operand=a):
                ta = self.expr(a)
                if ta is None:
                    return None
                if ta.rank != 2:
                    self.err("shape-mismatch", "transpose (') needs a matrix", e.span)
                    return None
                return VType(ta.base, ta.plates, (ta.dims[1], ta.dims[0]))
            case ir.Cond(test=t, then=a, orelse=b):
                tt, ta, tb = self.expr(t), self.expr(a), self.expr(b)
                if None in (tt, ta, tb):
                    return None
                base = "real" if "real" in (ta.base, tb.base) else ta.base
                return VType(base, self.plate_order(tt.plates, ta.plates, tb.plates), ta.dims or tb.dims or tt.dims)
            case ir.Range():
                self.err("invalid-type", "a range lo:hi can only be used as an index, as in y[2:N]", e.span)
                return None
            case ir.ArrayLit(items=items):
                types = [self.expr(i) for i in items]
                if None in types:
                    return None
                if any(t.dims for t in types):
                    self.err("unsupported", "array literals of arrays are not supported", e.span)
                    return None
                base = "real" if any(t.base == "real" for t in types) else "int"
                return VType(base, self.plate_order(*(t.plates for t in types)),
                             (ir.Num(float(len(items)), True),))
            case _:
                assert_never(e)

    def unknown(self, name: str, span: ir.Span) -> None:
        self.err("unknown-name", f'unknown name "{name}"', span,
                 _suggest(name, list(self.symbols) + [p.index for p in self.plates]))
        return None

    def index(self, e: ir.Index, base: ir.Name, indices) -> VType | None:
        sym = self.symbols.get(base.id)
        if sym is None:
            return self.unknown(base.id, base.span)
        if len(indices) > len(sym.dims):
            self.err("shape-mismatch", f'"{base.id}" has {len(sym.dims)} dimension(s) but is given {len(indices)} '
                     f"indices", e.span)
            return None
        plates: list[tuple[str, ...]] = []
        kept: list[ir.Expr] = []
        range_plates: tuple[str, ...] = ()
        for j, idx in enumerate(indices):
            if isinstance(idx, ir.Range):
                size = self.range_size(idx)
                if size is None:
                    return None
                kept.append(size)
                range_plates = self.out.types[id(idx)].plates
                continue
            vt = self.expr(idx)
            if vt is None:
                return None
            if vt.base not in ("int",) or vt.dims:
                self.err("invalid-type", "an index must be an integer (or an integer array indexed by plates)",
                         idx.span)
                return None
            if isinstance(idx, ir.Name) and vt.plates == (idx.id,):
                plate = next(p for p in self.plates if p.index == idx.id)
                self.size_equal(plate.size, sym.dims[j], idx.span,
                                f'range of "{idx.id}" vs size of "{base.id}" along dimension {j + 1}')
            plates.append(vt.plates)
        if kept and (len(kept) > 1 or any(p for p in plates)):
            self.err("unsupported", "a range index can be combined only with single-number indices, "
                     "and only one range per indexing", e.span, "take the slice in a separate definition first")
            return None
        return VType(sym.base, self.plate_order(range_plates, *plates), tuple(kept) + sym.dims[len(indices):])

    def range_size(self, r: ir.Range) -> ir.Expr | None:
        """The size hi - lo + 1 of a range index, which must not vary along plates."""
        tl, th = self.expr(r.lo), self.expr(r.hi)
        if tl is None or th is None:
            return None
        if tl.base != "int" or th.base != "int" or tl.dims or th.dims:
            self.err("invalid-type", "range bounds must be integers", r.span)
            return None
        self.out.types[id(r)] = VType("int", self.plate_order(tl.plates))
        if th.plates:
            self.out.types[id(r)] = VType("int", self.plate_order(tl.plates, th.plates))
        size = _linear_size(r.lo, r.hi, {p.index for p in self.plates} | {self.loop_var})
        if size is None:
            self.err("unsupported", "the length of this range must not depend on plate or loop indices",
                     r.span, "write it as t:(t + K - 1), whose length K is known")
        else:
            self.out.range_sizes[id(r)] = size
        return size

    def matmul(self, ta: VType, tb: VType, plates, e) -> VType | None:
        if ta.rank == 0 or tb.rank == 0 or ta.rank > 2 or tb.rank > 2:
            self.err("shape-mismatch", "'@' needs a matrix or vector on each side", e.span)
            return None
        self.size_equal(ta.dims[-1], tb.dims[0], e.span, "inner sizes of '@'")
        dims = ta.dims[:-1] + tb.dims[1:]
        return VType("real", plates, dims)

    def call(self, e: ir.Call) -> VType | None:
        info = FUNCTIONS.get(e.func)
        if info is None:
            hint = _suggest(e.func, FUNCTIONS)
            if e.func in REGISTRY:
                hint = "distributions are used on the right of '~'; to add a log density use `target +=`"
            self.err("unknown-function", f'unknown function "{e.func}"', e.func_span, hint)
            return None
        if e.kwargs:
            self.err("bad-arguments", f"{e.func} takes no keyword arguments", e.span)
            return None
        lo, hi = info.arity
        if not lo <= len(e.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            self.err("bad-arguments", f"{e.func} takes {want} argument(s), got {len(e.args)}", e.span)
            return None
        types = [self.expr(a) for a in e.args]
        if None in types:
            return None
        plates = self.plate_order(*(t.plates for t in types))
        if info.kind == "reduce":
            base = types[0].base if info.result_int and types[0].base == "int" else "real"
            if not types[0].dims:
                self.err("shape-mismatch", f"{e.func} needs a vector or array argument", e.span)
                return None
            return VType(base, plates, ())
        if info.kind in ("vector", "dot", "gram"):
            if types[0].rank != 1 or info.kind == "dot" and types[1].rank != 1:
                self.err("shape-mismatch", f"{e.func} needs vector arguments", e.span)
                return None
            if info.kind == "dot":
                self.size_equal(types[0].dims[0], types[1].dims[0], e.span, f"sizes of the vectors in {e.func}")
                return VType("real", plates, ())
            if info.kind == "gram":
                return VType("real", plates, (types[0].dims[0], types[0].dims[0]))
            return VType("real", plates, types[0].dims)
        if info.kind == "same":
            if types[0].rank != 2:
                self.err("shape-mismatch", f"{e.func} needs a matrix as its first argument", e.span)
                return None
            return VType("real", plates, types[0].dims)
        if info.kind == "fill":
            if types[1].base != "int" or types[1].dims or not constant_expr(e.args[1], self.symbols):
                self.err("invalid-type", f"the size given to {e.func} must be integer data", e.args[1].span)
                return None
            return VType("real", plates, (e.args[1],))
        if info.kind == "stack_cols":
            rows = [t.dims for t in types if t.dims]
            if not rows or any(len(d) != 1 for d in rows):
                self.err("shape-mismatch", f"{e.func} needs vectors (scalars are repeated)", e.span)
                return None
            for d in rows[1:]:
                self.size_equal(rows[0][0], d[0], e.span, f"column lengths in {e.func}")
            return VType("real", plates, (rows[0][0], ir.Num(float(len(types)), True)))
        dims = next((t.dims for t in types if t.dims), ())
        return VType("real", plates, dims)


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


def _linear_size(lo: ir.Expr, hi: ir.Expr, varying: set) -> ir.Expr | None:
    """The expression hi - lo + 1, simplified, or None if it involves a name in ``varying``."""
    if lo == hi:
        return ir.Num(1.0, True)
    ll, lh = _linear(lo), _linear(hi)
    if ll is None or lh is None:
        size = ir.BinOp("+", ir.BinOp("-", hi, lo), ir.Num(1.0, True))
        from_names = names_in(lo) | names_in(hi)
        return None if from_names & varying else size
    coef = dict(lh)
    for k, v in ll.items():
        coef[k] = coef.get(k, 0) - v
    coef[""] = coef.get("", 0) + 1
    if any(coef.get(v, 0) for v in varying if v):
        return None
    expr: ir.Expr | None = None
    for name, c in sorted(((k, v) for k, v in coef.items() if k and v), key=lambda kv: (kv[1] < 0, kv[0])):
        term: ir.Expr = ir.Name(name) if abs(c) == 1 else ir.BinOp("*", ir.Num(float(abs(c)), True), ir.Name(name))
        if expr is None:
            expr = term if c > 0 else ir.Neg(term)
        else:
            expr = ir.BinOp("+" if c > 0 else "-", expr, term)
    const = coef.get("", 0)
    if expr is None:
        return ir.Num(float(const), True)
    if const:
        expr = ir.BinOp("+" if const > 0 else "-", expr, ir.Num(float(abs(const)), True))
    return expr


def _names(node, out: list) -> list:
    """Every Name node inside a statement or expression (indexing bases included)."""
    out += [n for n in ir.walk(node) if isinstance(n, ir.Name)]
    return out


def _all_statements(stmts) -> list:
    """Statements with loop bodies flattened in."""
    out = []
    for s in stmts:
        out.append(s)
        if isinstance(s, ir.For):
            out += _all_statements(s.body)
    return out


def _used_names(node) -> set[str]:
    """Every name referenced anywhere under ``node`` (left sides included)."""
    return {n.id if isinstance(n, ir.Name) else n.name for n in ir.walk(node) if isinstance(n, (ir.Name, ir.Lhs))}


def _is_num(e: ir.Expr | None, value: float) -> bool:
    return isinstance(e, ir.Num) and e.value == value


def _ann_word(a: ir.Annotation) -> str:
    return {ir.NonCentered: "noncentered", ir.Partial: "partially centred", ir.Auto: "auto-reparameterised",
            ir.Centered: "centered"}[type(a)]


def check(program: ir.Program) -> CheckedModel:
    """Run every check on ``program``; raise :class:`PplangError` listing all errors found."""
    return _Checker(program).run()
