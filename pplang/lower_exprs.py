"""Rendering of typed expressions, sizes and literals as JAX code: the expression half of
lowering (:mod:`pplang.lower_numpyro` renders statements). Every literal goes through
:func:`literal`; free text reaches a comment only through :func:`comment_text`."""

from __future__ import annotations

import builtins
import keyword
import math
from dataclasses import dataclass, field

from . import ir
from ._compat import assert_never
from .functions import resolve
from .spec import Loop, Plate, TExpr


GENERATE_FLAG = "_pp_generate"  # the model's keyword argument that turns on the generated quantities
GENERATED_NAMES = {"jax", "jnp", "np", "numpyro", "dist", "constraints", "LocScaleReparam", "model",
                   "transform_data", "reparam_config", "data", "diffrax"}
_OPS = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**", "@": "@", "==": "==", "!=": "!=", "<": "<",
        "<=": "<=", ">": ">", ">=": ">="}
_CONSTRAINTS = {"simplex": "constraints.simplex", "ordered": "constraints.ordered_vector",
                "positive_ordered": "constraints.positive_ordered_vector",
                "cholesky_factor_corr": "constraints.corr_cholesky", "corr_matrix": "constraints.corr_matrix",
                "cov_matrix": "constraints.positive_definite", "cholesky_factor_cov": "constraints.lower_cholesky",
                "real": "constraints.real", "positive": "constraints.positive",
                "unit_interval": "constraints.unit_interval"}


def pyname(name: str) -> str:
    """The Python identifier for a model name: verbatim unless it would clash with Python or with
    the names the generated code uses."""
    if keyword.iskeyword(name) or name in GENERATED_NAMES or name in dir(builtins):
        return f"_pp_{name}"
    return name


def literal(value: object) -> str:
    """The one way a value becomes Python source: ints and finite floats exactly, strings with
    repr (so quotes, newlines and backslashes cannot end the literal)."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")  # checks refuse such literals
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    raise TypeError(f"no literal form for {type(value).__name__}")


def array_literal(values: tuple[float, ...], shape: tuple[int, ...]) -> str:
    """Nested list source for ``values`` (row-major) of ``shape``, each through :func:`literal`."""
    if not shape:
        return literal(float(values[0]))
    step = len(values) // shape[0] if shape[0] else 0
    return "[" + ", ".join(array_literal(values[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])) + "]"


def comment_text(text: str) -> str:
    """Free text made safe for a ``#`` comment: one line, control characters escaped."""
    return repr(text)[1:-1]


@dataclass
class Writer:
    """Emits indented lines and remembers which .ppl line produced each one."""

    lines: list[str] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    depth: int = 0
    origin: int = 0

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self.depth + text) if text else "")
        self.origins.append(self.origin)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def size(e: ir.Expr) -> str:
    """A size over integer data (checks allow literals, names, + - * ^ and constant indexing)."""
    match e:
        case ir.Num(value=v):
            return literal(int(v))
        case ir.Name(id=name):
            return pyname(name)
        case ir.BinOp(op=op, left=a, right=b) if op in ("+", "-", "*", "^"):
            return f"({size(a)} {_OPS[op]} {size(b)})"
        case ir.Neg(operand=a):
            return f"(-{size(a)})"
        case ir.Index(base=base, indices=idx):
            return f"{pyname(base.id)}[{', '.join(f'{size(i)} - 1' for i in idx)}]"
    raise AssertionError(f"size expression {e!r}")


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _is_plate_index(idx: ir.Expr, t: TExpr) -> bool:
    """``theta[n]`` with n a plate index of the statement."""
    return isinstance(idx, ir.Name) and t.type.plates == (idx.id,)


class ExprLowering:
    """Lowers the typed expressions of one statement, given its plates (and loop)."""

    def __init__(self, plates: tuple[Plate, ...] = (), loop: Loop | None = None, data: frozenset = frozenset(),
                 enumerated: dict[str, int] | None = None):
        self.plates = plates
        self.pos = {p.index: k for k, p in enumerate(plates)}
        self.loop = loop
        self.data = data  # names of data and derived data (NumPy arrays: indexed by traced values need jnp)
        # values that carry enumeration dimensions -> their number of dimensions without them
        self.enumerated = enumerated or {}

    def __call__(self, te: TExpr) -> str:
        e = te.node
        match e:
            case ir.Num(value=v, is_int=is_int):
                return literal(int(v)) if is_int else literal(float(v))
            case ir.Name(id=name):
                if name in self.pos:
                    return self.arange(self.pos[name], start=1)
                return pyname(name)
            case ir.Index():
                return self.index(te)
            case ir.Call():
                return self.call(te)
            case ir.BinOp(op="@"):
                return self.matmul(te)
            case ir.BinOp(op="^") if all(t.type.elem == "int" for t in te.args):
                # not Python's ** on int data: 10 ** 10 ** 10 would be computed exactly, for ever
                a, b = te.args
                return f"jnp.power({self.aligned(a, te.type.rank)}, {self.aligned(b, te.type.rank)})"
            case ir.BinOp(op=op):
                a, b = te.args
                rank = te.type.rank
                return f"({self.aligned(a, rank)} {_OPS[op]} {self.aligned(b, rank)})"
            case ir.Neg():
                return f"(-{self(te.args[0])})"
            case ir.Transpose():
                return f"jnp.swapaxes({self(te.args[0])}, -1, -2)"
            case ir.Cond():
                rank = te.type.rank
                t, a, b = (self.aligned(x, rank) for x in te.args)
                return f"jnp.where({t}, {a}, {b})"
            case ir.ArrayLit():
                items = ", ".join(self(i) for i in te.args)
                if not te.type.plates:
                    return f"jnp.array([{items}])"
                return f"jnp.stack(jnp.broadcast_arrays({items}), axis=-1)"
            case ir.Range():
                raise AssertionError("ranges appear only as indices (checked)")
            case _:
                assert_never(e)

    def aligned(self, te: TExpr, rank: int) -> str:
        """``te`` with trailing unit axes so that a per-plate value broadcasts against vectors."""
        code = self(te)
        if te.type.plates and te.type.rank < rank:
            code = f"{code}[..., {', '.join(['None'] * (rank - te.type.rank))}]"
        return code

    def batch_aligned(self, te: TExpr, event: int, rank: int) -> str:
        """``te`` (``event`` trailing event dims) with unit axes before its event dims, so that a
        per-plate value broadcasts against arguments with ``rank`` batch dims."""
        code, missing = self(te), rank - (te.type.rank - event)
        if te.type.plates and missing > 0:
            code = f"jnp.expand_dims({code}, {_tuple([str(-event - k) for k in range(missing, 0, -1)])})"
        return code

    def matmul(self, te: TExpr) -> str:
        """``a @ b``; a vector operand that varies along plates is a batch of vectors, so it gets
        an explicit matrix axis (``A @ z[j]`` is one product per j)."""
        a, b = te.args
        ca, cb = self(a), self(b)
        if a.type.rank == 1 and b.type.rank == 1:  # a dot product per plate element
            if a.type.plates and b.type.plates:
                return f"jnp.sum({ca} * {cb}, axis=-1)"
            return f"({cb} @ {ca})" if b.type.plates else f"({ca} @ {cb})"
        if b.type.rank == 1 and b.type.plates:
            return f"jnp.matmul({ca}, {cb}[..., None])[..., 0]"
        if a.type.rank == 1 and a.type.plates:
            return f"jnp.matmul({ca}[..., None, :], {cb})[..., 0, :]"
        return f"({ca} @ {cb})"

    def arange(self, pos: int, start: int = 0) -> str:
        """The plate's positions (``start`` 0) or its index values (``start`` 1), along its axis."""
        plate = self.plates[pos]
        n = size(plate.size)
        if plate.start is not None:  # t over lo..hi (a statement lifted out of a loop)
            lo = size(plate.start) if start else f"{size(plate.start)} - 1"
            code = f"jnp.arange({lo}, {lo} + {n})"
        else:
            code = f"jnp.arange({n})" if start == 0 else f"jnp.arange(1, {n} + 1)"
        trailing = len(self.plates) - 1 - pos
        return code + (f"[:, {', '.join(['None'] * trailing)}]" if trailing else "")

    def index(self, te: TExpr) -> str:
        e: ir.Index = te.node
        name = e.base.id
        base = pyname(name)
        indices = list(zip(e.indices, te.args))
        if name in self.enumerated:
            return self.enumerated_index(name, indices)
        if self.loop is not None and name in self.loop.defined:
            lag = e.indices[0] != ir.Name(self.loop.var)
            base = f"_pp_{'prev' if lag else 'cur'}_{name}"
            indices = indices[1:]
        elif self.loop is not None:
            base = f"jnp.asarray({base})"  # data may be a NumPy array: index it with the traced t
        if name in self.data and not base.startswith("jnp."):
            traced = any(isinstance(i, ir.Range) or t.type.plates and not (isinstance(i, ir.Name) and
                                                                            t.type.plates == (i.id,))
                         or _is_state_grid(t) for i, t in indices)
            if traced:
                base = f"jnp.asarray({base})"  # a NumPy array cannot be indexed by traced JAX arrays
        arrays = [isinstance(i, ir.Range) or bool(t.type.dims) for i, t in indices]
        if any(arrays):
            if name in self.data and not base.startswith("jnp."):
                base = f"jnp.asarray({base})"
            # the positions form an outer product: each range or integer array gets its own trailing
            # axis; plate-varying indices keep their plate axes in front of those
            n = sum(arrays)
            parts, k = [], 0
            for (i, t), is_array in zip(indices, arrays):
                if is_array:
                    code = self.range(t) if isinstance(i, ir.Range) else self.minus_one(t)
                    if n > 1:
                        code = f"jnp.reshape({code}, ({', '.join(['1'] * k + ['-1'] + ['1'] * (n - 1 - k))}))"
                    k += 1
                else:
                    code = self.arange(self.pos[i.id]) if _is_plate_index(i, t) else self.minus_one(t)
                    if t.type.plates:
                        code = f"{code}[..., {', '.join(['None'] * n)}]"
                parts.append(code)
            return f"{base}[{', '.join(parts)}]"
        kinds = []
        for idx, ti in indices:
            if _is_plate_index(idx, ti):
                kinds.append(("plate", self.pos[idx.id]))
            elif not ti.type.plates:
                kinds.append(("scalar", self.minus_one(ti)))
            else:
                kinds.append(("gather", self.minus_one(ti)))
        positions = [p for k, p in kinds if k == "plate"]
        if all(k != "gather" for k, _ in kinds) and positions == sorted(set(positions)):
            return self._basic_index(base, kinds)
        parts = [self.arange(val) if kind == "plate" else val for kind, val in kinds]
        return f"{base}[{', '.join(parts)}]"

    def enumerated_index(self, name: str, indices) -> str:
        """``z[n]`` of a value that carries enumeration dimensions, read through the statement's plate
        indices (checked). Under enumeration its plate dimensions have size 1, so ``z`` itself
        broadcasts; with posterior draws substituted (predictive, generated quantities) it has its
        plate sizes and is laid out as any array. The forms agree when the layouts do."""
        base = pyname(name)
        basic = self._basic_index(base, [("plate", self.pos[i.id]) for i, _ in indices])
        if basic == base:
            return base
        return f"({base} if jnp.ndim({base}) > {self.enumerated[name]} else {basic})"

    def _basic_index(self, base: str, kinds: list) -> str:
        """Indexing by scalars and plate indices in plate order: slices and new axes only."""
        items: list[str] = []
        cur = None
        for kind, val in kinds:
            if kind == "scalar":
                items.append(val)
                continue
            if cur is not None:
                items += ["None"] * (val - cur - 1)
            plate = self.plates[val]
            first = f"{size(plate.start)} - 1" if plate.start is not None else None
            items.append(":" if first is None else f"{first}:{first} + {size(plate.size)}")
            cur = val
        if cur is not None:
            items += ["None"] * (len(self.plates) - 1 - cur)
        while items and items[-1] == ":":
            items.pop()
        return f"{base}[{', '.join(items)}]" if items else base

    def range(self, tr: TExpr) -> str:
        """A range index lo:hi as integer positions; when lo varies along plates the positions get
        a trailing axis after the plate axes."""
        start = self.minus_one(tr.args[0])
        if tr.type.plates:
            start = f"jnp.expand_dims({start}, -1)"
        return f"({start} + jnp.arange({size(tr.size)}))"

    def minus_one(self, ti: TExpr) -> str:
        if isinstance(ti.node, ir.Num):
            return literal(int(ti.node.value) - 1)
        if ti.type.dims:  # an integer array (multi-indexing)
            return f"(jnp.asarray({self(ti)}) - 1)"
        return f"({self(ti)} - 1)"

    def call(self, te: TExpr) -> str:
        if te.function is not None:  # a user-defined function or an ODE solver
            from .lower_functions import call

            return call(self, te)
        info = resolve(te.node.func, [a.type.rank for a in te.args])
        if info.kind == "density":  # a per-plate argument gets unit axes for the batch dims it lacks
            args = [self.batch_aligned(a, r, te.type.rank) for a, r in zip(te.args, info.ranks)]
            return info.template.format(*args)
        if info.kind == "reduce":
            rank = te.args[0].type.rank
            axes = "-1" if rank == 1 else "(" + ", ".join(str(-k) for k in range(rank, 0, -1)) + ")"
            return info.template.format(self(te.args[0]), axes=axes)
        if info.kind in ("elementwise", "vector", "dot"):
            rank = te.type.rank if info.kind != "dot" else 1
            args = [self.aligned(a, rank) for a in te.args]
        else:
            args = [self(a) for a in te.args]
        return info.template.format(*args, all=", ".join(args), rest=", ".join(args[1:]))


def _is_state_grid(t: TExpr) -> bool:
    """A read of a hidden Markov chain's states (:attr:`pplang.spec.Chain.state`): a JAX array, so
    data indexed by it must be one too."""
    return isinstance(t.node, ir.Name) and t.node.id.startswith("_pp_state_")
