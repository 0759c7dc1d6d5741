"""The checked model: a typed middle representation that every stage after ``checks`` reads.

``checks`` turns the IR into a :class:`Spec`; lowering, the runtime, advice, the graph, eject and
results read it and never re-derive what ``checks`` decided. Each site, definition, factor and
loop is a value: its name, role, type (element kind, container, constraint, shape as symbolic
sizes), plates, the distribution with its arguments bound by name, the lowering method, the
parameterisation and the span. Expressions are :class:`TExpr` trees that carry their own type.
The symbol table records where each name is declared and used (for messages and an editor).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

from . import ir
from .distributions import DistInfo


class Role(enum.Enum):
    """What a named quantity is."""

    DATA = "data"                   # read from the data file
    DERIVED = "derived data"        # computed once from data before sampling
    LATENT = "latent"               # a parameter: sampled by NUTS
    DETERMINISTIC = "deterministic"  # computed from parameters, reported per draw
    LOCAL = "local"                 # computed from parameters, used by the model, never reported
    GENERATED = "generated"         # computed per posterior draw after sampling


class Method(enum.Enum):
    """How a latent's prior is rendered."""

    PLAIN = "plain"          # the distribution as written (its support is the declared one)
    HALF = "half"            # a zero-centred Normal/Cauchy on a <lower=0> parameter: the half distribution
    TRUNCATED = "truncated"  # TruncatedDistribution to the declared (constant) bounds
    FLAT = "flat"            # ImproperUniform over the declared constraint + a factor with the log density
    SORTED = "sorted"        # an ordered / positive_ordered vector with an i.i.d. prior on its elements: the
                             # order statistics of that prior (density K! prod f(x_k), drawn by sorting draws)
    FACTOR = "factor"        # the left side is a defined quantity or an element of a declared parameter:
                             # its log density is added to the target (Stan's ~ on a transformed parameter)
    ENUMERATED = "enumerated"  # a discrete latent with finite support, summed out exactly by parallel
                               # enumeration (pplang.enumerate decides it; NUTS never sees it)


# Containers whose constraint couples the elements of the last one or two dimensions.
EVENT_RANK = {"simplex": 1, "ordered": 1, "positive_ordered": 1, "cholesky_factor_corr": 2,
              "corr_matrix": 2, "cov_matrix": 2, "cholesky_factor_cov": 2}
VECTOR_TYPES = {"vector", "simplex", "ordered", "positive_ordered"}
MATRIX_TYPES = {"matrix", "cholesky_factor_corr", "cov_matrix", "corr_matrix", "cholesky_factor_cov"}


@dataclass(frozen=True, slots=True)
class Type:
    """A quantity's static type: ``elem`` ("int" or "real"), ``shape`` (symbolic sizes: IR
    expressions over data), ``container`` (the declared base type: real, int, vector, matrix,
    simplex, ordered, ...; "array" for an undeclared quantity), its bounds, and for an undeclared
    latent the ``support`` of its distribution."""

    elem: str
    shape: tuple[ir.Expr, ...]
    container: str = "array"
    lower: TExpr | None = None
    upper: TExpr | None = None
    support: str | None = None

    @property
    def event_rank(self) -> int:
        """How many trailing dimensions the container's constraint couples (0 for element-wise)."""
        return EVENT_RANK.get(self.container, 0)

    @property
    def constraint(self) -> str:
        """The constraint's name: a coupled container's, or real / positive / unit_interval /
        interval / greater_than / less_than from the bounds, or (an undeclared latent) the support
        of its distribution."""
        if self.support is not None:
            return self.support
        if self.event_rank:
            return self.container
        lo = self.lower.node if self.lower is not None else None
        hi = self.upper.node if self.upper is not None else None
        if lo is not None and hi is not None:
            return "unit_interval" if is_num(lo, 0) and is_num(hi, 1) else "interval"
        if lo is not None:
            return "positive" if is_num(lo, 0) else "greater_than"
        return "less_than" if hi is not None else "real"


@dataclass(frozen=True, slots=True)
class VType:
    """The type of an expression inside a statement: ``elem`` (int, real or bool), ``plates``
    (the statement's plate indices it varies along, in plate order) and ``dims`` (the sizes of its
    own value dimensions)."""

    elem: str
    plates: tuple[str, ...] = ()
    dims: tuple[ir.Expr, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.dims)


@dataclass(frozen=True, slots=True)
class TExpr:
    """A typed expression: the IR ``node``, its ``type`` and its typed children ``args`` (the
    indices of an Index, the arguments of a Call, the operands of an operator, the items of an
    array literal, lo and hi of a Range). ``size`` is a Range's length. ``function`` names the
    :class:`FunctionInstance` a call of a user-defined function runs (for an ODE solver call, the
    instance of its right-hand side; ``args`` then leave out the function argument)."""

    node: ir.Expr
    type: VType
    args: tuple[TExpr, ...] = ()
    size: ir.Expr | None = None
    function: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Plate:
    """A plate: index variable ``index`` ranges over 1..``size``, or over ``start``..``start + size
    - 1`` when ``start`` is given (a ``~`` lifted out of ``for t in lo:hi``); rendered as
    ``numpyro.plate(name, size, dim=dim)``."""

    index: str
    size: ir.Expr
    name: str
    dim: int
    start: ir.Expr | None = None


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named quantity: ``role``, ``type``, where it is declared (``span``), whether a ``data`` or
    ``param`` statement declared it (``declared``), whether it is observed (data on the left of
    ``~``), and the spans of its uses (``refs``)."""

    name: str
    role: Role
    type: Type
    span: ir.Span
    declared: bool = False
    observed: bool = False
    refs: tuple[ir.Span, ...] = ()


# ----------------------------------------------------------------------------- model items


@dataclass(frozen=True, slots=True)
class Site:
    """A sampling statement ``name[plates] ~ dist(args)``: ``role`` LATENT, GENERATED, or DATA for
    an observation; ``args`` the distribution's arguments bound by NumPyro parameter name;
    ``method`` how a latent prior is rendered; ``reparam`` the parameterisation (an IR annotation
    value); ``implicit`` how many trailing plates cover un-indexed dimensions of the left side;
    ``element`` the constant indices of ``phi[1] ~ ...`` (method FACTOR on a declared parameter);
    ``offset`` added to an enumerated site's NumPyro outcomes to give the model's value (a
    Categorical's 1, a DiscreteUniform's low: enumeration counts 0..size-1); ``missing`` how the null
    entries of observed data are imputed (:mod:`pplang.missing`); ``value`` the left side when it
    is only part of the quantity (``y[2:T] ~ ...``, or ``y[t] ~ ...`` lifted out of a loop over
    ``t in 2:T``): what is observed, or whose log density is added (method FACTOR)."""

    name: str
    role: Role
    type: Type
    plates: tuple[Plate, ...]
    dist: DistInfo
    args: tuple[tuple[str, TExpr], ...]
    truncation: tuple[TExpr | None, TExpr | None] | None
    method: Method
    reparam: ir.Annotation
    span: ir.Span
    implicit: int = 0
    element: tuple[TExpr, ...] = ()
    offset: ir.Expr | None = None
    missing: Missing | None = None
    value: TExpr | None = None

    @property
    def observed(self) -> bool:
        return self.role in (Role.DATA, Role.DERIVED)

    def arg(self, param: str) -> TExpr | None:
        return next((e for p, e in self.args if p == param), None)


@dataclass(frozen=True, slots=True)
class FlatParam:
    """A declared parameter with no sampling statement: flat (improper) over its constraint."""

    name: str
    type: Type
    span: ir.Span


@dataclass(frozen=True, slots=True)
class Definition:
    """``name[plates] = value``: role DETERMINISTIC (reported), LOCAL or GENERATED; ``broadcast``
    when the value must be broadcast to the plates' shape; ``enumerated`` when it reads an
    enumerated discrete latent (its value then carries enumeration dimensions)."""

    name: str
    role: Role
    type: Type
    plates: tuple[Plate, ...]
    value: TExpr
    span: ir.Span
    broadcast: bool = False
    enumerated: bool = False


@dataclass(frozen=True, slots=True)
class Missing:
    """The null entries of observed data ``name``: ``mode`` "latent" (one parameter per missing
    entry, site ``name[missing]``, for data that other statements read) or "masked" (left out of
    the likelihood and drawn from the posterior predictive after sampling); ``support`` the
    constraint of the latent entries. The positions come with the data (``_pp_missing_<name>``)."""

    name: str
    mode: str
    support: str = "real"

    @property
    def site(self) -> str:
        return f"{self.name}[missing]"

    @property
    def positions(self) -> str:
        return f"_pp_missing_{self.name}"

    @property
    def mask(self) -> str:
        return f"_pp_observed_{self.name}"


@dataclass(frozen=True, slots=True)
class Derived:
    """``data name[plates] = value``: derived data, computed once before sampling."""

    name: str
    type: Type
    value: TExpr
    span: ir.Span
    plates: tuple[Plate, ...] = ()


@dataclass(frozen=True, slots=True)
class InitElement:
    """``x[k, ...] = value`` before a loop: the ``position``-th first element of a recursion;
    ``elem_shape`` the shape of one element."""

    name: str
    position: int
    plates: tuple[Plate, ...]
    value: TExpr
    elem_shape: tuple[ir.Expr, ...]
    span: ir.Span


@dataclass(frozen=True, slots=True)
class Factor:
    """``target += value``: adds ``sum(value)`` to the log density; free index variables of the
    value (``target += normal_lpdf(y[n] | mu, sigma)``) are plates, summed over."""

    value: TExpr
    span: ir.Span
    plates: tuple[Plate, ...] = ()


@dataclass(frozen=True, slots=True)
class LoopDef:
    """``x[t, ...] = value`` inside a loop; ``elem_shape`` the shape of one element."""

    name: str
    plates: tuple[Plate, ...]
    value: TExpr
    elem_shape: tuple[ir.Expr, ...]
    span: ir.Span


@dataclass(frozen=True, slots=True)
class Loop:
    """``for var in lo:hi { body }`` rendered as ``jax.lax.scan``: ``recursive`` names also read
    ``x[t - 1]`` and take their first ``first`` elements from :class:`InitElement` items; ``role``
    of each defined name in ``roles``."""

    var: str
    lo: ir.Expr
    hi: ir.Expr
    body: tuple[LoopDef, ...]
    recursive: tuple[str, ...]
    first: int
    roles: tuple[tuple[str, Role], ...]
    span: ir.Span

    @property
    def defined(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.body)


@dataclass(frozen=True, slots=True)
class Emission:
    """A statement that reads element ``z[t]`` of a hidden Markov chain (:class:`Chain`): ``site``
    (observed), whose every read of the chain has become a read of ``state`` (the chain's states,
    a grid of its K values); ``axis`` the position among ``site.plates`` of the plate whose index
    is t, or None when it reads one element ``z[at]`` (``at`` a whole number)."""

    site: Site
    axis: int | None
    at: int | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    """A hidden Markov chain ``name[1..length]`` with ``states`` values, summed out exactly by the
    forward algorithm (:mod:`pplang.hmm`): ``first`` the site of ``name[1] ~ ...``; ``step`` the site
    of ``name[t] ~ ...`` over t in 2..length, whose reads of ``name[t - 1]`` have become reads of
    the grid of previous states (``state``); ``emissions`` the observations that read ``name[t]``.
    Both sites count the outcomes from 0 (NumPyro's); ``offset`` turns them into the model's values."""

    name: str
    length: ir.Expr
    states: ir.Expr
    offset: ir.Expr | None
    first: Site
    step: Site
    emissions: tuple[Emission, ...]
    span: ir.Span

    @property
    def state(self) -> str:
        return f"_pp_state_{self.name}"


Item = Union[Site, FlatParam, Definition, InitElement, Factor, Loop, Chain]


@dataclass(frozen=True, slots=True)
class SizeCheck:
    """A size equality that depends on data values: ``left == right``, reported at ``span``."""

    left: ir.Expr
    right: ir.Expr
    span: ir.Span
    what: str
    help: str | None = None


@dataclass(frozen=True, slots=True)
class IndexUse:
    """An integer expression used as an index into dimension ``dim`` (0-based) of ``base``, whose
    size is ``size``; ``index`` is the index expression (over data and plate indices), ``span``
    the indexing. The runtime checks its values lie in 1..size before sampling."""

    base: str
    dim: int
    size: ir.Expr
    index: ir.Expr
    span: ir.Span
    plates: tuple[Plate, ...] = ()


@dataclass(frozen=True, slots=True)
class EnumUse:
    """A statement that reads enumerated latents ``names`` (directly or through definitions):
    its tensors have one dimension per name's outcomes besides its ``plates``."""

    names: tuple[str, ...]
    plates: tuple[Plate, ...]
    span: ir.Span


@dataclass(frozen=True, slots=True)
class AutoChoice:
    """What ``auto`` chose for one site (:mod:`pplang.autoreparam`): ``site``; ``kind``
    ("centred", "non-centred", "per-group" with each element centred or not, "per-group partial"
    with a centring in (0, 1) per element); ``centered`` the centring of each element
    (row-major) and ``shape`` the site's shape; ``lam`` the formula's centring per element,
    tau^2 / (tau^2 + s^2); ``scores`` the objective (ELBO, nats) of each candidate compared;
    ``seconds`` how long the choice took when it was made, ``cached`` whether this run read it
    from the cache. ``seconds`` and ``cached`` describe a run, not the model: the dump omits them."""

    site: str
    kind: str
    centered: tuple[float, ...]
    shape: tuple[int, ...]
    lam: tuple[float, ...] = ()
    scores: tuple[tuple[str, float], ...] = ()
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True, slots=True)
class FunctionInstance:
    """A user-defined function typed for one list of argument types (a function is a template):
    the ``number``-th typing of function ``name``; ``params`` (name, type) pairs (types without
    plates); ``locals`` the block form's temporaries (name, value) in order; ``value`` the result;
    ``span`` the ``def`` statement."""

    name: str
    number: int
    params: tuple[tuple[str, VType], ...]
    locals: tuple[tuple[str, TExpr], ...]
    value: TExpr
    span: ir.Span

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.number)


@dataclass
class Spec:
    """The checked model. ``items`` are the model's statements in source order; ``generated``
    the generated quantities; ``derived`` the derived data. With enumerated discrete latents
    (:mod:`pplang.enumerate`): ``max_plate_nesting`` (the most plates of any model statement:
    enumeration dimensions go to its left) and ``enum_uses`` (which statements combine which
    enumerated latents, for the size warning); with missing data (:mod:`pplang.missing`):
    ``missing``."""

    symbols: dict[str, Symbol]
    derived: tuple[Derived, ...] = ()
    items: tuple[Item, ...] = ()
    generated: tuple[Item, ...] = ()
    size_checks: tuple[SizeCheck, ...] = ()
    index_uses: tuple[IndexUse, ...] = ()
    warnings: list = field(default_factory=list)
    max_plate_nesting: int = 0
    enum_uses: tuple[EnumUse, ...] = ()
    missing: tuple[Missing, ...] = ()
    auto: tuple[AutoChoice, ...] = ()  # what ``auto`` chose, once the data has been seen
    functions: tuple[FunctionInstance, ...] = ()  # user-defined functions, callees before callers
    solvers: tuple[str, ...] = ()  # the ODE solvers the model calls (ode_rk45, ...): lowering imports diffrax

    @property
    def chains(self) -> list[Chain]:
        """The hidden Markov chains summed out by the forward algorithm (:mod:`pplang.hmm`)."""
        return [i for i in self.items if isinstance(i, Chain)]

    @property
    def enumerated(self) -> list[Site]:
        """The discrete latents summed out by enumeration (:mod:`pplang.enumerate`)."""
        return [s for s in self.sites() if s.method is Method.ENUMERATED]

    def of_role(self, *roles: Role) -> list[Symbol]:
        return [s for s in self.symbols.values() if s.role in roles]

    def sites(self) -> list[Site]:
        return [i for i in self.items if isinstance(i, Site)]

    @property
    def observed(self) -> list[str]:
        """Names of the observed quantities, in model order (a hidden Markov chain's observations
        where the chain is)."""
        sites = [s for i in self.items for s in ((e.site for e in i.emissions) if isinstance(i, Chain) else (i,))
                 if isinstance(s, Site) and s.observed]
        return list(dict.fromkeys(s.name for s in sites))

    @property
    def reported(self) -> list[str]:
        """Quantities shown in summaries: parameters and deterministic quantities, in model order."""
        return [s.name for s in self.of_role(Role.LATENT, Role.DETERMINISTIC)]

    @property
    def reparam(self) -> dict[str, ir.Annotation]:
        """Non-default parameterisations by site name."""
        return {s.name: s.reparam for s in self.sites() if not isinstance(s.reparam, ir.Centered)}

    @property
    def flat_params(self) -> set[str]:
        return {i.name for i in self.items if isinstance(i, FlatParam)} | {
            s.name for s in self.sites() if s.method is Method.FLAT}

    def sampled_sites(self) -> list[Site]:
        """Sites that create a NumPyro sample site (not those that only add a factor)."""
        return [s for s in self.sites() if s.method is not Method.FACTOR]


def is_num(e: ir.Expr | None, value: float) -> bool:
    return isinstance(e, ir.Num) and e.value == value


# ----------------------------------------------------------------------------- readable dump


def _expr_text(e: ir.Expr | None) -> str:
    """An IR expression as source-like text (for the dump and messages)."""
    match e:
        case None:
            return "_"
        case ir.Num(value=v, is_int=is_int):
            return str(int(v)) if is_int else repr(v)
        case ir.Name(id=n):
            return n
        case ir.Index(base=b, indices=idx):
            return f"{b.id}[{', '.join(_expr_text(i) for i in idx)}]"
        case ir.Call(func=f, args=args, kwargs=kw):
            return f"{f}({', '.join([_expr_text(a) for a in args] + [f'{k}={_expr_text(v)}' for k, v in kw])})"
        case ir.BinOp(op=op, left=a, right=b):
            return f"({_expr_text(a)} {op} {_expr_text(b)})"
        case ir.Neg(operand=a):
            return f"-{_expr_text(a)}"
        case ir.Transpose(operand=a):
            return f"{_expr_text(a)}'"
        case ir.Cond(test=t, then=a, orelse=b):
            return f"({_expr_text(t)} ? {_expr_text(a)} : {_expr_text(b)})"
        case ir.ArrayLit(items=items):
            return f"[{', '.join(_expr_text(i) for i in items)}]"
        case ir.Range(lo=lo, hi=hi):
            return f"{_expr_text(lo)}:{_expr_text(hi)}"
    return "?"


expr_text = _expr_text


def type_text(t: Type) -> str:
    bounds = [f"lower={_expr_text(t.lower.node)}"] if t.lower is not None else []
    bounds += [f"upper={_expr_text(t.upper.node)}"] if t.upper is not None else []
    b = f"<{', '.join(bounds)}>" if bounds else ""
    shape = f"[{', '.join(_expr_text(d) for d in t.shape)}]" if t.shape else ""
    base = t.elem if t.container in ("array", "real", "int") else t.container
    return f"{base}{b}{shape}" + (f" ({t.constraint})" if t.constraint != "real" else "")


def _vtype_text(v: VType) -> str:
    plates = f" over {','.join(v.plates)}" if v.plates else ""
    dims = f"[{', '.join(_expr_text(d) for d in v.dims)}]" if v.dims else ""
    return f"{v.elem}{dims}{plates}"


def _plates_text(plates: tuple[Plate, ...]) -> str:
    def first(p: Plate) -> str:
        n = _expr_text(p.size)
        return f"1:{n}" if p.start is None else f"{_expr_text(p.start)}:({_expr_text(p.start)} + {n} - 1)"

    return ", ".join(f"{p.index} in {first(p)} (plate {p.name!r}, dim {p.dim})"
                     for p in plates) or "-"


def _ann_text(a: ir.Annotation) -> str:
    match a:
        case ir.Centered():
            return "centered"
        case ir.NonCentered():
            return "noncentered"
        case ir.Partial(centered=c):
            return f"partial({c})"
        case ir.Auto():
            return "auto"
        case ir.PerElement(centered=c, shape=shape):
            return f"per element {list(shape)}: {', '.join(f'{x:g}' for x in c)}"
    return "?"


def _texpr_text(te: TExpr) -> str:
    return f"{_expr_text(te.node)} : {_vtype_text(te.type)}"


def _item_lines(item: Item) -> list[str]:
    match item:
        case Site():
            at = f"[{', '.join(_expr_text(e.node) for e in item.element)}]" if item.element else ""
            role = "observed" if item.observed else item.role.value
            lines = [f"site {item.name}{at} ({role}) ~ {item.dist.name} line {item.span.line}",
                     f"  type: {type_text(item.type)}", f"  plates: {_plates_text(item.plates)}",
                     f"  method: {item.method.value}; reparam: {_ann_text(item.reparam)}"]
            lines += [f"  arg {p} = {_texpr_text(e)}" for p, e in item.args]
            if item.offset is not None:
                lines.append(f"  value = NumPyro's outcome + {_expr_text(item.offset)}")
            if item.value is not None:
                lines.append(f"  left side: {_texpr_text(item.value)}")
            if item.missing is not None:
                lines.append(f"  missing entries: {item.missing.mode} ({item.missing.support})")
            if item.truncation is not None:
                lo, hi = item.truncation
                lines.append(f"  truncated to [{_expr_text(lo.node) if lo else '_'}, {_expr_text(hi.node) if hi else '_'}]")
            return lines
        case FlatParam():
            return [f"flat {item.name} line {item.span.line}", f"  type: {type_text(item.type)}"]
        case Definition():
            return [f"define {item.name} ({item.role.value}) line {item.span.line}",
                    f"  type: {type_text(item.type)}", f"  plates: {_plates_text(item.plates)}",
                    f"  value: {_texpr_text(item.value)}" + ("  (broadcast)" if item.broadcast else "")
                    + ("  (enumerated)" if item.enumerated else "")]
        case InitElement():
            return [f"init {item.name}[{item.position}] line {item.span.line}",
                    f"  plates: {_plates_text(item.plates)}", f"  value: {_texpr_text(item.value)}"]
        case Factor():
            return [f"factor line {item.span.line}", f"  plates: {_plates_text(item.plates)}",
                    f"  value: {_texpr_text(item.value)}"]
        case Chain():
            lines = [f"hidden Markov chain {item.name}[1:{_expr_text(item.length)}] with {_expr_text(item.states)} "
                     f"states line {item.span.line} (forward algorithm"
                     + (f"; value = outcome + {_expr_text(item.offset)})" if item.offset is not None else ")")]
            lines += ["  first: " + _item_lines(item.first)[0]] + ["  " + x for x in _item_lines(item.first)[1:]]
            lines += ["  step: " + _item_lines(item.step)[0]] + ["  " + x for x in _item_lines(item.step)[1:]]
            for e in item.emissions:
                where = f"plate {e.axis}" if e.axis is not None else f"element {e.at}"
                lines += [f"  emission ({where}): " + _item_lines(e.site)[0]]
                lines += ["  " + x for x in _item_lines(e.site)[1:]]
            return lines
        case Loop():
            lines = [f"loop {item.var} in {_expr_text(item.lo)}:{_expr_text(item.hi)} line {item.span.line}"
                     f" (scan; recursive: {', '.join(item.recursive) or '-'})"]
            for b in item.body:
                lines += [f"  {b.name}[{item.var}] line {b.span.line}", f"    plates: {_plates_text(b.plates)}",
                          f"    value: {_texpr_text(b.value)}"]
            return lines
    return [repr(item)]


def function_lines(f: FunctionInstance) -> list[str]:
    """``name(x: real, y: real[2]) -> real[2] line 3`` and the body, typed."""
    params = ", ".join(f"{n}: {_vtype_text(t)}" for n, t in f.params)
    lines = [f"{f.name}({params}) -> {_vtype_text(f.value.type)} line {f.span.line}"
             + (f" (instance {f.number})" if f.number > 1 else "")]
    lines += [f"  local {n} = {_texpr_text(te)}" for n, te in f.locals]
    return lines + [f"  value: {_texpr_text(f.value)}"]


def dump(spec: Spec) -> str:
    """A stable, readable dump of the checked model: ``pplang compile --emit spec`` and goldens."""
    out = ["symbols:"]
    for s in spec.symbols.values():
        flags = " declared" if s.declared else ""
        flags += " observed" if s.observed else ""
        uses = ", ".join(str(r) for r in s.refs)
        out.append(f"  {s.name}: {s.role.value}{flags}, {type_text(s.type)}, at {s.span}"
                   + (f", used at {uses}" if uses else ""))
    if spec.functions:
        out.append("functions:")
        for f in spec.functions:
            out += ["  " + line for line in function_lines(f)]
    if spec.solvers:
        out.append(f"ode solvers: {', '.join(spec.solvers)}")
    if spec.derived:
        out.append("derived data:")
        out += [f"  {d.name} = {_texpr_text(d.value)}" for d in spec.derived]
    out.append("model:")
    for item in spec.items:
        out += ["  " + line for line in _item_lines(item)]
    if spec.generated:
        out.append("generated:")
        for item in spec.generated:
            out += ["  " + line for line in _item_lines(item)]
    if spec.enumerated:
        out.append(f"enumeration: {', '.join(s.name for s in spec.enumerated)}; max_plate_nesting "
                   f"{spec.max_plate_nesting}")
    if spec.size_checks:
        out.append("size checks (with the data):")
        out += [f"  {_expr_text(c.left)} == {_expr_text(c.right)}  ({c.what}, line {c.span.line})"
                for c in spec.size_checks]
    if spec.index_uses:
        out.append("index checks (with the data):")
        out += [f"  {_expr_text(u.index)} in 1:{_expr_text(u.size)}  ({u.base} dimension {u.dim + 1}, "
                f"line {u.span.line})" for u in spec.index_uses]
    if spec.auto:
        out.append("auto choices (with the data):")
        for a in spec.auto:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in a.scores)
            out.append(f"  {a.site}: {a.kind}" + (f" (ELBO: {scores})" if scores else ""))
    return "\n".join(out) + "\n"
