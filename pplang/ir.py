"""The pplang intermediate representation: frozen nodes with source spans.

Every node is immutable, its children are tuples, and its ``span`` is excluded from comparison so
that two programs differing only in layout compare equal. Passes are functions that ``match`` on
these closed unions and end with ``assert_never``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """A source region: 1-based ``line``/``column`` of the start, ``end_line``/``end_column``
    one past the end (Lark's convention)."""

    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Num:
    """A numeric literal; ``is_int`` is true when written without a decimal point or exponent."""

    value: float
    is_int: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a data item, parameter, deterministic quantity or index variable."""

    id: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Index:
    """``base[indices...]``; indices are 1-based expressions."""

    base: Name
    indices: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A function call ``func(args..., kw=...)``; ``kwargs`` is a tuple of (name, expr) pairs."""

    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    span: Span = _span()
    func_span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinOp:
    """A binary operation; ``op`` is one of + - * / ^ @ == != < <= > >=."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus of ``operand``."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cond:
    """``test ? then : orelse`` evaluated element-wise."""

    test: Expr
    then: Expr
    orelse: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Transpose:
    """Postfix ``'``: the transpose of a matrix expression."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ArrayLit:
    """``[a, b, c]``: an array built from its elements."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Range:
    """``lo:hi`` used as an index: the elements lo..hi (inclusive, 1-based) of that dimension;
    ``lo`` or ``hi`` None when omitted (``x[:, k]``, ``x[2:]``): the dimension's first or last."""

    lo: Expr | None
    hi: Expr | None
    span: Span = _span()


Expr = Union[Num, Name, Index, Call, BinOp, Neg, Cond, Transpose, ArrayLit, Range]


# ----------------------------------------------------------------------------- annotations


@dataclass(frozen=True, slots=True)
class Centered:
    """The default parameterisation: the statement is sampled as written."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NonCentered:
    """``noncentered``: sample a standardised variable and shift/scale it (LocScaleReparam(0))."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Partial:
    """``partial(c)``: LocScaleReparam(centered=c), 0 <= c <= 1."""

    centered: float
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Auto:
    """``auto``: pplang chooses the parameterisation, per site and per element, from the model and
    the data before sampling (:mod:`pplang.autoreparam`); the choice replaces this annotation."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PerElement:
    """A centring per element, chosen by ``auto`` (never written in a model):
    ``LocScaleReparam(centered=array)``. ``centered`` holds the values in [0, 1] in row-major
    order, ``shape`` the site's shape (0 non-centres that element, 1 leaves it centred)."""

    centered: tuple[float, ...]
    shape: tuple[int, ...]
    span: Span = _span()


Annotation = Union[Centered, NonCentered, Partial, Auto, PerElement]


# ----------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class Bound:
    """One bound of a constrained type: ``kind`` is "lower" or "upper"."""

    kind: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Type:
    """A declared type: ``base`` (int, real, vector, matrix, simplex, ...), optional bounds, and
    the sizes of its dimensions (expressions over data)."""

    base: str
    bounds: tuple[Bound, ...]
    dims: tuple[Expr, ...]
    span: Span = _span()

    def bound(self, kind: str) -> Expr | None:
        for b in self.bounds:
            if b.kind == kind:
                return b.value
        return None


# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class DataDecl:
    """``data name: type``: a value read from the data file."""

    name: str
    type: Type
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class DerivedData:
    """``data name = expr``: computed once from data before sampling (Stan's transformed data);
    ``data name[n, k] = expr`` defines it element by element (``indices`` are index variables)."""

    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()
    indices: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """``param name: type``: a latent quantity with a declared shape and constraint. Without a
    sampling statement its prior is flat (improper) over the constrained set."""

    name: str
    type: Type
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Lhs:
    """The left side of ``~`` or ``=``: a name, optionally indexed by plate index variables."""

    name: str
    indices: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DistCall:
    """A distribution application ``Dist(args...)`` with an optional truncation ``T[lo, hi]``."""

    dist: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    truncation: tuple[Expr | None, Expr | None] | None
    span: Span = _span()
    dist_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Sample:
    """``lhs ~ dist annotation``: an observation when lhs is data, otherwise a latent's prior."""

    lhs: Lhs
    dist: DistCall
    annotation: Annotation
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Define:
    """``lhs = expr``: a deterministic quantity, reported in summaries; ``local lhs = expr``
    (``local`` true) is an intermediate value that is neither stored per draw nor reported;
    ``lhs: type = expr`` gives its size (``type``)."""

    lhs: Lhs
    value: Expr
    span: Span = _span()
    local: bool = False
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """``target += expr``: adds ``sum(expr)`` to the log density."""

    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class For:
    """``for var in lo:hi { body }``: a sequential loop (compiled to ``jax.lax.scan``). The body
    defines ``x[var, ...]`` elements; ``x[var - 1, ...]`` reads the previous iteration's value."""

    var: str
    lo: Expr
    hi: Expr
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Generated:
    """``generated stmt``: a generated quantity (Stan's generated quantities), computed once per
    posterior draw after sampling and never part of the model's density. ``stmt`` is a ``Define``
    (``generated diff = theta[1] - theta[2]``) or a ``Sample`` drawn with a fresh key
    (``generated y_rep[n] ~ Normal(theta[n], sigma[n])``)."""

    stmt: Sample | Define
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """``def name(params) = value``: a user-defined function, a template typed at each call from
    its argument types. The block form ``def name(params) { local u = ... return value }`` holds
    ``locals``: ``Define`` nodes of plain names, in order. The body sees only ``params``, its
    locals and the functions declared before it."""

    name: str
    params: tuple[Name, ...]
    value: Expr
    span: Span = _span()
    name_span: Span = _span()
    locals: tuple[Define, ...] = ()


Stmt = Union[DataDecl, DerivedData, ParamDecl, Sample, Define, Target, For, Generated, FunctionDef]


@dataclass(frozen=True, slots=True)
class Program:
    """A whole ``.ppl`` file: its statements in source order."""

    statements: tuple[Stmt, ...]


def walk(node: object):
    """Every IR node under ``node`` (itself included), depth first; tuples are descended."""
    if isinstance(node, tuple):
        for x in node:
            yield from walk(x)
    elif hasattr(node, "__dataclass_fields__"):
        yield node
        for f in node.__dataclass_fields__.values():
            if f.compare:
                yield from walk(getattr(node, f.name))


def dump(node: object, indent: int = 0) -> str:
    """A stable, readable dump of an IR tree (spans omitted): used by ``--emit ir`` and goldens."""
    pad = "  " * indent
    if isinstance(node, tuple):
        if not node:
            return "()"
        inner = "\n".join(pad + "  " + dump(x, indent + 1).lstrip() for x in node)
        return "(\n" + inner + "\n" + pad + ")"
    if hasattr(node, "__dataclass_fields__"):
        fields = [f for f in node.__dataclass_fields__.values() if f.compare]
        parts = []
        for f in fields:
            value = getattr(node, f.name)
            parts.append(f"{pad}  {f.name}={dump(value, indent + 1).lstrip()}")
        if not parts:
            return f"{pad}{type(node).__name__}()"
        return f"{pad}{type(node).__name__}(\n" + "\n".join(parts) + f"\n{pad})"
    return pad + repr(node)
