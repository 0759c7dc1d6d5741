"""Lowering: the checked model (:class:`pplang.spec.Spec`) -> the source of a NumPyro program.

The emitted module defines ``transform_data(**data)`` (derived data, computed once before
sampling), ``model(...)`` (the NumPyro model; wrapped in ``numpyro.handlers.reparam`` when the
model has parameterisation annotations) and ``reparam_config``. Indexed statements become
``numpyro.plate`` blocks: an expression's array has one axis per plate of its statement (from the
first plate it varies along to the last, size 1 where it does not vary) followed by its own value
dimensions, so element-wise code broadcasts exactly as the math says. Nothing loops over data: a
``for`` loop (a recursion) becomes a step function run by ``jax.lax.scan``, whose carry holds the
previous element of each recursive quantity. ``generated`` statements go last, under ``if
_pp_generate:`` (a keyword argument that defaults to False, added only when the model has them):
NUTS never runs them, ``Predictive(..., _pp_generate=True)`` computes them from the posterior draws.

Lowering renders what ``checks`` decided (plates, methods, parameterisations, types) and infers
nothing. Every literal goes through :func:`literal`; free text (the file name) only reaches a
comment, escaped.
"""

from __future__ import annotations

import builtins
import keyword
import math
from dataclasses import dataclass, field

from . import ir
from ._compat import assert_never
from .distributions import HELPERS, MATRIX_PARAMS, REGISTRY
from .functions import resolve
from .spec import (Definition, Factor, FlatParam, InitElement, Loop, Method, Plate, Role, Site, Spec, TExpr,
                   Type)

GENERATE_FLAG = "_pp_generate"  # the model's keyword argument that turns on the generated quantities
GENERATED_NAMES = {"jax", "jnp", "np", "numpyro", "dist", "constraints", "LocScaleReparam", "model",
                   "transform_data", "reparam_config", "data"}
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
        n = size(self.plates[pos].size)
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
                         for i, t in indices)
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
            items.append(":")
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


class _Lowering:
    def __init__(self, spec: Spec, source_name: str):
        self.spec = spec
        self.w = Writer()
        self.source_name = source_name
        self.open_plates: tuple[Plate, ...] | None = None
        self.data = frozenset(s.name for s in spec.of_role(Role.DATA, Role.DERIVED))
        carriers = spec.enumerated + [i for i in spec.items if isinstance(i, Definition) and i.enumerated]
        self.enumerated = {c.name: len(c.type.shape) for c in carriers}
        self.in_generated = False

    def lowering(self, plates: tuple[Plate, ...] = (), loop: Loop | None = None) -> ExprLowering:
        # generated quantities run on posterior draws only, never enumerated
        return ExprLowering(plates, loop, self.data, None if self.in_generated else self.enumerated)

    def run(self) -> str:
        w = self.w
        w.line(f"# Generated by pplang from {comment_text(self.source_name)}: a standalone NumPyro model.")
        for imp in ("import jax", "import jax.numpy as jnp", "import numpyro", "import numpyro.distributions as dist",
                    "from numpyro.distributions import constraints", "from numpyro.infer.reparam import LocScaleReparam"):
            w.line(imp)
        w.line()
        w.line()
        helpers_at = len(w.lines)
        self.transform_data()
        w.line()
        w.line()
        self.model()
        w.line()
        w.line()
        self.reparam()
        self.helpers(helpers_at)
        return w.source()

    def helpers(self, at: int) -> None:
        """Insert the definitions (``HELPERS``) the generated code uses, after the imports."""
        used = [h for h in HELPERS if any(f"{h}(" in line for line in self.w.lines)]
        lines = [line for h in used for line in HELPERS[h].splitlines() + ["", ""]]
        self.w.lines[at:at] = lines
        self.w.origins[at:at] = [0] * len(lines)

    def signature(self, names: list[str], optional: set[str], flag: bool = False) -> str:
        if all(pyname(n) == n for n in names):
            params = [n + ("=None" if n in optional else "") for n in names]
            params += [f"{GENERATE_FLAG}=False"] if flag else []
            return ", ".join(["*"] + params) if params else ""
        return "**data"

    def unpack(self, names: list[str]) -> None:
        for n in names:
            self.w.line(f"{pyname(n)} = data.get({literal(n)})")

    def transform_data(self) -> None:
        w = self.w
        raw = [s.name for s in self.spec.of_role(Role.DATA)]
        sig = self.signature(raw, set())
        w.line(f"def transform_data({sig}):")
        w.depth += 1
        w.line('"""Derived data, computed once before sampling."""')
        if sig == "**data":
            self.unpack(raw)
        for d in self.spec.derived:
            w.origin = d.span.line
            code = self.lowering(d.plates)(d.value)
            if d.plates:
                code = f"jnp.broadcast_to({code}, {_tuple([size(x) for x in d.type.shape])})"
            w.line(f"{pyname(d.name)} = {code}")
        w.origin = 0
        w.line("return {" + ", ".join(f"{literal(d.name)}: {pyname(d.name)}" for d in self.spec.derived) + "}")
        w.depth -= 1

    def model(self) -> None:
        w = self.w
        names = [s.name for s in self.spec.of_role(Role.DATA, Role.DERIVED)]
        names += [m.positions if m.mode == "latent" else m.mask for m in self.spec.missing]
        generated = self.spec.generated
        sig = self.signature(names, set(self.spec.observed), flag=bool(generated))
        w.line(f"def model({sig}):")
        w.depth += 1
        if sig == "**data":
            self.unpack(names)
            if generated:
                w.line(f"{GENERATE_FLAG} = data.get({literal(GENERATE_FLAG)}, False)")
        body_start = len(w.lines)
        self.enumeration_marker()
        self.imputed()
        for item in self.spec.items:
            w.origin = item.span.line
            self.item(item)
        if generated:
            self.enter(())
            w.origin = 0
            w.line(f"if {GENERATE_FLAG}:  # generated quantities: computed after sampling, never by NUTS")
            w.depth += 1
            self.in_generated = True
            for item in generated:
                w.origin = item.span.line
                self.item(item)
            self.in_generated = False
            self.enter(())
            w.depth -= 1
        if len(w.lines) == body_start:
            w.line("pass")
        w.depth -= 1 + (1 if self.open_plates else 0)
        self.open_plates = None
        w.origin = 0

    def enter(self, plates: tuple[Plate, ...]) -> None:
        """Open the statement's plate block, reusing the previous one when identical."""
        if plates == self.open_plates:
            return
        if self.open_plates:
            self.w.depth -= 1
            self.open_plates = None
        if plates:
            ctx = ", ".join(f"numpyro.plate({literal(p.name)}, {size(p.size)}"
                            f"{'' if len(plates) == 1 else f', dim={p.dim}'})" for p in plates)
            self.w.line(f"with {ctx}:")
            self.w.depth += 1
            self.open_plates = plates

    def item(self, item) -> None:
        match item:
            case Site():
                self.site(item)
            case FlatParam(name=name, type=t):
                self.enter(())
                self.w.line(f"{pyname(name)} = numpyro.sample({literal(name)}, {self.flat(t)})")
            case InitElement():
                self.enter(())
                lower = self.lowering(item.plates)
                shape = _tuple([size(d) for d in item.elem_shape])
                self.w.line(f"_pp_init_{item.name}_{item.position} = "
                            f"jnp.broadcast_to(jnp.asarray({lower(item.value)}, dtype=jnp.result_type(float)), {shape})")
            case Definition():
                self.enter(item.plates)
                code = self.lowering(item.plates)(item.value)
                if item.broadcast and item.enumerated:  # enumeration dimensions stay in front
                    shape = _tuple([size(d) for d in item.type.shape])
                    code = f"jnp.broadcast_to({code}, jnp.broadcast_shapes(jnp.shape({code}), {shape}))"
                elif item.broadcast:
                    code = f"jnp.broadcast_to({code}, {_tuple([size(d) for d in item.type.shape])})"
                self.w.line(f"{pyname(item.name)} = {self.recorded(item.name, item.role, code)}")
            case Factor(value=value, plates=plates):
                self.enter(())
                code = self.lowering(plates)(value)
                if plates:  # one term per element of the index set
                    code = f"jnp.broadcast_to({code}, {_tuple([size(p.size) for p in plates] + [size(d) for d in value.type.dims])})"
                total = code if not value.type.dims and not plates else f"jnp.sum({code})"
                self.w.line(f"numpyro.factor({literal(f'_pp_target_{item.span.line}')}, {total})")
            case Loop():
                self.loop(item)
            case _:
                assert_never(item)

    def loop(self, loop: Loop) -> None:
        """A for loop: a step function over t = lo..hi run by jax.lax.scan; its carry holds x[t - 1]
        of every recursive x; the stacked outputs are appended to x[1..lo-1]."""
        w = self.w
        self.enter(())
        step = f"_pp_step_{loop.span.line}"
        w.line(f"def {step}(_pp_carry, {pyname(loop.var)}):")
        w.depth += 1
        if loop.recursive:
            w.line(f"{''.join(f'_pp_prev_{n}, ' for n in loop.recursive)}= _pp_carry")
        for b in loop.body:
            w.origin = b.span.line
            lower = self.lowering(b.plates, loop)
            w.line(f"_pp_cur_{b.name} = jnp.broadcast_to({lower(b.value)}, {_tuple([size(d) for d in b.elem_shape])})")
        w.origin = loop.span.line
        cur = lambda names: "(" + "".join(f"_pp_cur_{n}, " for n in names) + ")"  # noqa: E731
        w.line(f"return {cur(loop.recursive)}, {cur(loop.defined)}")
        w.depth -= 1
        carry = "(" + "".join(f"_pp_init_{n}_{loop.first}, " for n in loop.recursive) + ")"
        w.line(f"_, _pp_out = jax.lax.scan({step}, {carry}, jnp.arange({size(loop.lo)}, {size(loop.hi)} + 1))")
        roles = dict(loop.roles)
        for k, name in enumerate(loop.defined):
            code = f"_pp_out[{k}]"
            if name in loop.recursive:
                firsts = ", ".join(f"_pp_init_{name}_{i}" for i in range(1, loop.first + 1))
                code = f"jnp.concatenate([jnp.stack([{firsts}]), {code}], axis=0)"
            w.line(f"{pyname(name)} = {self.recorded(name, roles[name], code)}")

    @staticmethod
    def recorded(name: str, role: Role, code: str) -> str:
        """A defined value: a deterministic site, unless it is ``local``."""
        return code if role is Role.LOCAL else f"numpyro.deterministic({literal(name)}, {code})"

    def constraint(self, t: Type) -> str:
        c = t.constraint
        if c in _CONSTRAINTS:
            return _CONSTRAINTS[c]
        lower = self.lowering()
        lo = lower(t.lower) if t.lower is not None else None
        hi = lower(t.upper) if t.upper is not None else None
        return {"interval": f"constraints.interval({lo}, {hi})", "greater_than": f"constraints.greater_than({lo})",
                "less_than": f"constraints.less_than({hi})"}[c]

    def flat(self, t: Type) -> str:
        """An ImproperUniform over the declared constraint and the whole declared shape: its
        independent dimensions go in the event shape, so the site needs no plate."""
        return f"dist.ImproperUniform({self.constraint(t)}, (), {_tuple([size(d) for d in t.shape])})"

    def arg(self, site: Site, te: TExpr, param: str = "") -> str:
        """A distribution argument of ``site``. Its own dimensions line up with the left side's
        un-indexed ones (the implicit plates), so it is rendered in the explicit plates' layout,
        with a trailing unit axis per implicit plate when it is one value per plate element."""
        explicit = site.plates[: len(site.plates) - site.implicit]
        event = site.dist.event_rank + (1 if param in MATRIX_PARAMS else 0)
        return self.lowering(explicit).aligned(te, site.implicit + event)

    def dist(self, site: Site, lower: ExprLowering) -> str:
        value = pyname(site.name) if site.observed else None
        code = site.dist.constructor({p: self.arg(site, te, p) for p, te in site.args}, value)
        if site.truncation is not None:
            code = self.truncated(code, site, *site.truncation)
        return code

    def truncated(self, code: str, site: Site, lo: TExpr | None, hi: TExpr | None) -> str:
        bounds = [f"low={self.arg(site, lo)}"] if lo is not None else []
        bounds += [f"high={self.arg(site, hi)}"] if hi is not None else []
        return f"dist.TruncatedDistribution({code}, {', '.join(bounds)})"

    def site(self, site: Site) -> None:
        name = site.name
        if site.method is Method.FACTOR:
            # the value exists already (a defined quantity, or a declared parameter sampled whole):
            # its log density is added, element by element within the plates
            self.enter(site.plates)
            lower = self.lowering(site.plates)
            value = pyname(name) + (f"[{', '.join(lower.minus_one(e) for e in site.element)}]" if site.element else "")
            lp = f"{self.dist(site, lower)}.log_prob({value})"
            extra = len(site.type.shape) - len(site.element) - len(site.plates) - site.dist.event_rank
            if extra > 0:
                lp = f"jnp.sum({lp}, axis={_tuple([str(-k) for k in range(extra, 0, -1)])})"
            label = f"_pp_prior_{name}" + (f"_{site.span.line}" if site.element else "")
            self.w.line(f"numpyro.factor({literal(label)}, {lp})")
            return
        if site.method is Method.FLAT:
            # the constrained value is sampled whole (no plate), its prior density added per element
            self.enter(())
            self.w.line(f"{pyname(name)} = numpyro.sample({literal(name)}, {self.flat(site.type)})")
            self.enter(site.plates)
            lower = self.lowering(site.plates)
            lp = f"{self.dist(site, lower)}.log_prob({pyname(name)})"
            extra = len(site.type.shape) - len(site.plates) - site.dist.event_rank
            if extra > 0:
                lp = f"jnp.sum({lp}, axis={_tuple([str(-k) for k in range(extra, 0, -1)])})"
            self.w.line(f"numpyro.factor({literal(f'_pp_prior_{name}')}, {lp})")
            return
        self.enter(site.plates)
        lower = self.lowering(site.plates)
        code = self.dist(site, lower)
        if site.observed:
            obs = pyname(name)
            if site.missing is not None and site.missing.mode == "masked":
                code = f"{code}.mask({site.missing.mask})"
            self.w.line(f"numpyro.sample({literal(name)}, {code}, obs={obs})")
            return
        if site.method is Method.HALF:
            code = f"dist.{REGISTRY[site.dist.half].numpyro}({self.arg(site, site.arg('scale'))})"
        elif site.method is Method.TRUNCATED:
            code = self.truncated(code, site, site.type.lower, site.type.upper)
        elif site.method is Method.ENUMERATED:
            code += ', infer={"enumerate": "parallel"}'
        offset = "" if site.offset is None else f" + {size(site.offset)}"
        self.w.line(f"{pyname(name)} = numpyro.sample({literal(name)}, {code}){offset}")

    def enumeration_marker(self) -> None:
        """NUTS enumerates to the left of the deepest plate of any *sample site* it traces; when a
        definition has more plates than every site, a size-1 plate at the spec's nesting says so."""
        m = self.spec.max_plate_nesting
        if self.spec.enumerated and m > max(len(s.plates) for s in self.spec.sites()):
            self.w.line(f"with numpyro.plate('_pp_enum_nesting', 1, dim={-m}):  # enumeration dims left of {m} plates")
            self.w.line("    numpyro.factor('_pp_max_plate_nesting', 0.0)")

    def imputed(self) -> None:
        """Missing entries of data read by other statements: one parameter each (flat here; the
        data's own sampling statement gives their density), put in place before anything reads it."""
        for m in self.spec.missing:
            if m.mode != "latent":
                continue
            n, value = pyname(m.name), f"_pp_value_{m.name}"
            self.w.line(f"{value} = numpyro.sample({literal(m.site)}, "
                        f"dist.ImproperUniform({_CONSTRAINTS[m.support]}, (), (jnp.size({m.positions}),)))")
            self.w.line(f"{n} = jnp.ravel(jnp.asarray({n}, dtype=jnp.result_type(float))).at[{m.positions}]"
                        f".set({value}).reshape(jnp.shape({n}))")

    def reparam(self) -> None:
        w = self.w
        items = []
        for site in self.spec.sites():
            match site.reparam:
                case ir.Centered():
                    continue
                case ir.NonCentered():
                    centered = literal(0)
                case ir.Partial(centered=c):
                    centered = literal(float(c))
                case ir.PerElement(centered=c, shape=shape):
                    centered = f"jnp.array({array_literal(c, shape)})"
                case ir.Auto():
                    # not chosen yet: Model.sample / pplang run choose with the data (pplang.autoreparam)
                    w.line(f"# {comment_text(site.name)}: `auto` -- the parameterisation is chosen with the data "
                           "when the model is run; until then it is sampled centred")
                    continue
                case _:
                    raise AssertionError(f"parameterisation {site.reparam!r} reached lowering")
            extra = f", shape_params={site.dist.shape_params!r}" if site.dist.shape_params else ""
            items.append(f"{literal(site.name)}: LocScaleReparam(centered={centered}{extra})")
        w.line("reparam_config = {" + ", ".join(items) + "}")
        if items:
            w.line("model = numpyro.handlers.reparam(model, config=reparam_config)")


@dataclass(frozen=True)
class Lowered:
    """The generated module's ``source`` and, per generated line, the .ppl line it came from."""

    source: str
    origins: tuple[int, ...]


def lower(spec: Spec, source_name: str = "<string>") -> Lowered:
    """Render ``spec`` as the source of a NumPyro module."""
    low = _Lowering(spec, source_name)
    src = low.run()
    return Lowered(src, tuple(low.w.origins))
