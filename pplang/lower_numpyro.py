"""Lowering: checked IR -> the source of a standalone NumPyro program.

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
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field
from typing import assert_never

from . import ir
from .checks import CheckedModel, LoopInfo, Plate, VType
from .distributions import REGISTRY

GENERATE_FLAG = "_pp_generate"  # the model's keyword argument that turns on the generated quantities
GENERATED_NAMES = {"jax", "jnp", "np", "numpyro", "dist", "constraints", "LocScaleReparam", "model",
                   "transform_data", "reparam_config", "data"}
_OPS = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**", "@": "@", "==": "==", "!=": "!=", "<": "<",
        "<=": "<=", ">": ">", ">=": ">="}


def pyname(name: str) -> str:
    """The Python identifier for a model name: verbatim unless it would clash with Python or with
    the names the generated code uses."""
    if keyword.iskeyword(name) or name in GENERATED_NAMES or name in dir(builtins):
        return f"_pp_{name}"
    return name


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


class _ExprLowering:
    """Lowers expressions of one statement, given its plates and the checker's types."""

    def __init__(self, checked: CheckedModel, plates: tuple[Plate, ...], loop: LoopInfo | None = None):
        self.types = checked.types
        self.symbols = checked.symbols
        self.plates = plates
        self.pos = {p.index: k for k, p in enumerate(plates)}
        self.loop = loop
        self.range_sizes = checked.range_sizes

    def size(self, e: ir.Expr) -> str:
        """A size expression over integer data (possibly built by checks, so without types)."""
        match e:
            case ir.BinOp(op=op, left=a, right=b) if op in "+-*":
                return f"({self.size(a)} {op} {self.size(b)})"
            case ir.Neg(operand=a):
                return f"(-{self.size(a)})"
            case ir.Name(id=name) if name not in self.pos:
                return pyname(name)
        return self(e)

    def __call__(self, e: ir.Expr) -> str:
        match e:
            case ir.Num(value=v, is_int=is_int):
                return str(int(v)) if is_int else repr(float(v))
            case ir.Name(id=name):
                if name in self.pos:
                    return self.arange(self.pos[name], start=1)
                return pyname(name)
            case ir.Index():
                return self.index(e)
            case ir.Call():
                return self.call(e)
            case ir.BinOp(op=op, left=a, right=b):
                rank = self.types[id(e)].rank if op != "@" else 0
                return f"({self.aligned(a, rank)} {_OPS[op]} {self.aligned(b, rank)})"
            case ir.Neg(operand=a):
                return f"(-{self(a)})"
            case ir.Transpose(operand=a):
                return f"jnp.swapaxes({self(a)}, -1, -2)"
            case ir.Cond(test=t, then=a, orelse=b):
                rank = self.types[id(e)].rank
                return f"jnp.where({self.aligned(t, rank)}, {self.aligned(a, rank)}, {self.aligned(b, rank)})"
            case ir.ArrayLit(items=items):
                vt = self.types[id(e)]
                if not vt.plates:
                    return f"jnp.array([{', '.join(self(i) for i in items)}])"
                return f"jnp.stack(jnp.broadcast_arrays({', '.join(self(i) for i in items)}), axis=-1)"
            case ir.Range():
                raise AssertionError("ranges appear only as indices (checked)")
            case _:
                assert_never(e)

    def aligned(self, e: ir.Expr, rank: int) -> str:
        """``e`` with trailing unit axes so that a per-plate scalar broadcasts against vectors."""
        vt = self.types[id(e)]
        code = self(e)
        if vt.plates and vt.rank < rank:
            code = f"{code}[..., {', '.join(['None'] * (rank - vt.rank))}]"
        return code

    def arange(self, pos: int, start: int = 0) -> str:
        size = self.size(self.plates[pos].size)
        code = f"jnp.arange({size})" if start == 0 else f"jnp.arange(1, {size} + 1)"
        trailing = len(self.plates) - 1 - pos
        return code + (f"[:, {', '.join(['None'] * trailing)}]" if trailing else "")

    def index(self, e: ir.Index) -> str:
        base = pyname(e.base.id)
        indices = e.indices
        if self.loop is not None and e.base.id in self.loop.defined:
            lag = indices[0] != ir.Name(self.loop.var)
            base = f"_pp_{'prev' if lag else 'cur'}_{e.base.id}"
            indices = indices[1:]
        elif self.loop is not None:
            base = f"jnp.asarray({base})"  # data may be a NumPy array: index it with the traced t
        data = self.symbols[e.base.id].role in ("data", "derived") if e.base.id in self.symbols else False
        if any(isinstance(i, ir.Range) for i in indices):
            parts = [self.range(i) if isinstance(i, ir.Range) else self.minus_one(i) for i in indices]
            base = f"jnp.asarray({base})" if data and not base.startswith("jnp.") else base
            return f"{base}[{', '.join(parts)}]"
        kinds = []
        for idx in indices:
            vt = self.types[id(idx)]
            if isinstance(idx, ir.Name) and vt.plates == (idx.id,):
                kinds.append(("plate", self.pos[idx.id]))
            elif not vt.plates:
                kinds.append(("scalar", self.minus_one(idx)))
            else:
                kinds.append(("gather", self.minus_one(idx)))
        positions = [p for k, p in kinds if k == "plate"]
        fast = all(k != "gather" for k, _ in kinds) and positions == sorted(set(positions))
        if fast:
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
        parts = [self.arange(val) if kind == "plate" else val for kind, val in kinds]
        if data and not base.startswith("jnp."):
            base = f"jnp.asarray({base})"  # a NumPy array cannot be indexed by traced JAX arrays
        return f"{base}[{', '.join(parts)}]"

    def range(self, r: ir.Range) -> str:
        """A range index lo:hi as integer positions; when lo varies along plates the positions
        get a trailing axis after the plate axes."""
        size = self.size(self.range_sizes[id(r)])
        start = self.minus_one(r.lo)
        if self.types[id(r)].plates:
            start = f"jnp.expand_dims({start}, -1)"
        return f"({start} + jnp.arange({size}))"

    def minus_one(self, idx: ir.Expr) -> str:
        if isinstance(idx, ir.Num):
            return str(int(idx.value) - 1)
        return f"({self(idx)} - 1)"

    def call(self, e: ir.Call) -> str:
        from .functions import FUNCTIONS

        info = FUNCTIONS[e.func]
        if info.kind == "reduce":
            rank = self.types[id(e.args[0])].rank
            axes = "-1" if rank == 1 else "(" + ", ".join(str(-k) for k in range(rank, 0, -1)) + ")"
            return info.template.format(self(e.args[0]), axes=axes)
        if info.kind in ("elementwise", "vector", "dot"):
            rank = self.types[id(e)].rank if info.kind != "dot" else 1
            args = [self.aligned(a, rank) for a in e.args]
        else:
            args = [self(a) for a in e.args]
        return info.template.format(*args, all=", ".join(args), rest=", ".join(args[1:]))


def _constraint(t: ir.Type, lower: _ExprLowering) -> str:
    """The NumPyro constraint for a declared parameter type."""
    special = {"simplex": "constraints.simplex", "ordered": "constraints.ordered_vector",
               "positive_ordered": "constraints.positive_ordered_vector",
               "cholesky_factor_corr": "constraints.corr_cholesky", "corr_matrix": "constraints.corr_matrix",
               "cov_matrix": "constraints.positive_definite",
               "cholesky_factor_cov": "constraints.lower_cholesky"}
    if t.base in special:
        return special[t.base]
    lo, hi = t.bound("lower"), t.bound("upper")
    if lo is not None and hi is not None:
        if _num(lo, 0) and _num(hi, 1):
            return "constraints.unit_interval"
        return f"constraints.interval({lower(lo)}, {lower(hi)})"
    if lo is not None:
        return "constraints.positive" if _num(lo, 0) else f"constraints.greater_than({lower(lo)})"
    if hi is not None:
        return f"constraints.less_than({lower(hi)})"
    return "constraints.real"


def _event_rank(t: ir.Type) -> int:
    if t.base in ("simplex", "ordered", "positive_ordered"):
        return 1
    if t.base in ("cholesky_factor_corr", "corr_matrix", "cov_matrix", "cholesky_factor_cov"):
        return 2
    return 0


def _num(e, v) -> bool:
    return isinstance(e, ir.Num) and e.value == v


class _Lowering:
    def __init__(self, checked: CheckedModel, source_name: str):
        self.c = checked
        self.w = Writer()
        self.source_name = source_name
        self.open_plates: tuple[Plate, ...] | None = None

    def data_names(self) -> list[str]:
        return [s.name for s in self.c.of_role("data", "derived")]

    def observed(self) -> set[str]:
        return {s.lhs.name for s in self.c.program.statements
                if isinstance(s, ir.Sample) and self.c.sites[id(s)].observed}

    def run(self) -> str:
        w = self.w
        w.line(f"# Generated by pplang from {self.source_name}: a standalone NumPyro model.")
        w.line("import jax")
        w.line("import jax.numpy as jnp")
        w.line("import numpyro")
        w.line("import numpyro.distributions as dist")
        w.line("from numpyro.distributions import constraints")
        w.line("from numpyro.infer.reparam import LocScaleReparam")
        w.line()
        w.line()
        self.transform_data()
        w.line()
        w.line()
        self.model()
        w.line()
        w.line()
        self.reparam()
        return w.source()

    def generated(self) -> list[ir.Generated]:
        return [s for s in self.c.program.statements if isinstance(s, ir.Generated)]

    def signature(self, names: list[str], optional: set[str], flag: bool = False) -> str:
        if all(pyname(n) == n for n in names):
            params = [n + ("=None" if n in optional else "") for n in names]
            params += [f"{GENERATE_FLAG}=False"] if flag else []
            return ", ".join(["*"] + params) if params else ""
        return "**data"

    def unpack(self, names: list[str]) -> None:
        for n in names:
            if pyname(n) != n:
                self.w.line(f"{pyname(n)} = data[{n!r}]")
            else:
                self.w.line(f"{n} = data.get({n!r})")

    def transform_data(self) -> None:
        w = self.w
        raw = [s.name for s in self.c.of_role("data")]
        sig = self.signature(raw, set())
        w.line(f"def transform_data({sig}):")
        w.depth += 1
        w.line('"""Derived data, computed once before sampling."""')
        if sig == "**data":
            self.unpack(raw)
        derived = [s for s in self.c.program.statements if isinstance(s, ir.DerivedData)]
        lower = _ExprLowering(self.c, ())
        for stmt in derived:
            w.origin = stmt.span.line
            w.line(f"{pyname(stmt.name)} = {lower(stmt.value)}")
        w.origin = 0
        w.line("return {" + ", ".join(f"{s.name!r}: {pyname(s.name)}" for s in derived) + "}")
        w.depth -= 1

    def model(self) -> None:
        w = self.w
        names = self.data_names()
        generated = self.generated()
        sig = self.signature(names, self.observed(), flag=bool(generated))
        w.line(f"def model({sig}):")
        w.depth += 1
        if sig == "**data":
            self.unpack(names)
            if generated:
                w.line(f"{GENERATE_FLAG} = data.get({GENERATE_FLAG!r}, False)")
        body_start = len(w.lines)
        for stmt in self.c.program.statements:
            w.origin = stmt.span.line
            self.statement(stmt)
        if generated:
            self.enter(())
            w.origin = 0
            w.line(f"if {GENERATE_FLAG}:  # generated quantities: computed after sampling, never by NUTS")
            w.depth += 1
            for stmt in generated:
                w.origin = stmt.span.line
                self.statement(stmt.stmt)
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
            lower = _ExprLowering(self.c, ())
            ctx = ", ".join(f"numpyro.plate({p.name!r}, {lower.size(p.size)}{'' if len(plates) == 1 else f', dim={p.dim}'})"
                            for p in plates)
            self.w.line(f"with {ctx}:")
            self.w.depth += 1
            self.open_plates = plates

    def statement(self, stmt: ir.Stmt) -> None:
        match stmt:
            case ir.DataDecl() | ir.DerivedData():
                pass
            case ir.ParamDecl(name=name, type=t):
                if name in self.c.flat_params:
                    self.enter(())
                    lower = _ExprLowering(self.c, ())
                    self.w.line(f"{pyname(name)} = numpyro.sample({name!r}, {self.flat(t, 0, lower)})")
            case ir.Sample():
                self.sample(stmt)
            case ir.Define() if id(stmt) in self.c.init_defines:
                self.enter(())
                plates = self.c.plates[id(stmt)]
                lower = _ExprLowering(self.c, plates)
                shape = self.elem_shape(stmt, lower)
                self.w.line(f"_pp_init_{stmt.lhs.name}_{int(stmt.lhs.indices[0].value)} = "
                            f"jnp.broadcast_to(jnp.asarray({lower(stmt.value)}, dtype=jnp.result_type(float)), {shape})")
            case ir.Define(lhs=lhs, value=value):
                plates = self.c.plates[id(stmt)]
                self.enter(plates)
                lower = _ExprLowering(self.c, plates)
                code = lower(value)
                vt: VType = self.c.types[id(value)]
                if plates and (not vt.plates or vt.plates[0] != plates[0].index):
                    shape = [lower.size(p.size) for p in plates] + [lower.size(d) for d in vt.dims]
                    code = f"jnp.broadcast_to({code}, ({', '.join(shape)},))"
                self.w.line(f"{pyname(lhs.name)} = {self.recorded(lhs.name, code)}")
            case ir.Target(value=value):
                self.enter(())
                code = _ExprLowering(self.c, ())(value)
                vt = self.c.types[id(value)]
                total = code if not vt.dims else f"jnp.sum({code})"
                self.w.line(f"numpyro.factor('_pp_target_{stmt.span.line}', {total})")
            case ir.For():
                self.loop(stmt)
            case ir.Generated():
                pass  # rendered after the model's statements, under `if _pp_generate:`
            case _:
                assert_never(stmt)

    def elem_shape(self, stmt: ir.Define, lower: _ExprLowering) -> str:
        """The shape of one element x[t] of a loop-defined array, as a Python tuple."""
        dims = [p.size for p in self.c.plates[id(stmt)]] + list(self.c.types[id(stmt.value)].dims)
        return "(" + "".join(f"{lower.size(d)}, " for d in dims) + ")"

    def loop(self, stmt: ir.For) -> None:
        """A for loop: a step function over t = lo..hi run by jax.lax.scan; its carry holds
        x[t - 1] of every recursive x; the stacked outputs are appended to x[1..lo-1]."""
        info = self.c.loops[id(stmt)]
        w = self.w
        self.enter(())
        step = f"_pp_step_{stmt.span.line}"
        w.line(f"def {step}(_pp_carry, {pyname(info.var)}):")
        w.depth += 1
        if info.recursive:
            w.line(f"{''.join(f'_pp_prev_{n}, ' for n in info.recursive)}= _pp_carry")
        for b in stmt.body:
            w.origin = b.span.line
            lower = _ExprLowering(self.c, self.c.plates[id(b)], info)
            w.line(f"_pp_cur_{b.lhs.name} = jnp.broadcast_to({lower(b.value)}, {self.elem_shape(b, lower)})")
        w.origin = stmt.span.line
        cur = lambda names: "(" + "".join(f"_pp_cur_{n}, " for n in names) + ")"
        w.line(f"return {cur(info.recursive)}, {cur(info.defined)}")
        w.depth -= 1
        lower = _ExprLowering(self.c, ())
        last = int(info.lo.value) - 1 if isinstance(info.lo, ir.Num) else 0
        carry = "(" + "".join(f"_pp_init_{n}_{last}, " for n in info.recursive) + ")"
        w.line(f"_, _pp_out = jax.lax.scan({step}, {carry}, jnp.arange({lower.size(info.lo)}, {lower.size(info.hi)} + 1))")
        for k, name in enumerate(info.defined):
            code = f"_pp_out[{k}]"
            if name in info.recursive:
                firsts = ", ".join(f"_pp_init_{name}_{i}" for i in range(1, last + 1))
                code = f"jnp.concatenate([jnp.stack([{firsts}]), {code}], axis=0)"
            w.line(f"{pyname(name)} = {self.recorded(name, code)}")

    def recorded(self, name: str, code: str) -> str:
        """A defined value: a deterministic site, unless the model marked it ``local``."""
        return code if name in self.c.locals else f"numpyro.deterministic({name!r}, {code})"

    def flat(self, t: ir.Type, n_plate_dims: int, lower: _ExprLowering) -> str:
        """An ImproperUniform over the declared constraint, for the dims not covered by plates."""
        sym_dims = t.dims if t.base not in ("cholesky_factor_corr", "corr_matrix", "cov_matrix") else (t.dims[0], t.dims[0])
        rest = [lower.size(d) for d in sym_dims[n_plate_dims:]]
        event = _event_rank(t)
        batch = rest[: len(rest) - event] if event else rest
        evt = rest[len(rest) - event:] if event else []
        tup = lambda xs: "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"
        # batch dims of a flat parameter are independent copies: put them in the event shape so
        # the site needs no plate (it has no data to be conditionally independent of).
        return f"dist.ImproperUniform({_constraint(t, lower)}, (), {tup(batch + evt)})"

    def dist(self, stmt: ir.Sample, lower: _ExprLowering) -> str:
        info = self.c.sites[id(stmt)].dist
        call = stmt.dist
        args = dict(zip(info.params, call.args))
        args.update(dict(call.kwargs))
        if info.positional and list(args) == list(info.params[: len(args)]):
            parts = [lower(args[p]) for p in info.params[: len(args)]]
        else:
            parts = [f"{p}={lower(args[p])}" for p in info.params if p in args]
        code = f"dist.{info.numpyro}({', '.join(parts)})"
        if call.truncation is not None:
            lo, hi = call.truncation
            bounds = [f"low={lower(lo)}"] if lo is not None else []
            bounds += [f"high={lower(hi)}"] if hi is not None else []
            code = f"dist.TruncatedDistribution({code}, {', '.join(bounds)})"
        return code

    def sample(self, stmt: ir.Sample) -> None:
        plates = self.c.plates[id(stmt)]
        site = self.c.sites[id(stmt)]
        name = stmt.lhs.name
        self.enter(plates)
        lower = _ExprLowering(self.c, plates)
        code = self.dist(stmt, lower)
        if site.observed:
            self.w.line(f"numpyro.sample({name!r}, {code}, obs={pyname(name)})")
            return
        sym = self.c.symbols[name]
        if site.method == "half":
            scale = (dict(zip(site.dist.params, stmt.dist.args)) | dict(stmt.dist.kwargs))["scale"]
            code = f"dist.{REGISTRY[site.dist.half].numpyro}({lower(scale)})"
        if site.method == "truncated":
            t = sym.type
            lo, hi = t.bound("lower"), t.bound("upper")
            bounds = [f"low={lower(lo)}"] if lo is not None else []
            bounds += [f"high={lower(hi)}"] if hi is not None else []
            code = f"dist.TruncatedDistribution({code}, {', '.join(bounds)})"
        if site.method == "flat":
            flat = self.flat(sym.type, len(stmt.lhs.indices), lower)
            self.w.line(f"{pyname(name)} = numpyro.sample({name!r}, {flat})")
            self.w.line(f"numpyro.factor('_pp_prior_{name}', {code}.log_prob({pyname(name)}))")
            return
        self.w.line(f"{pyname(name)} = numpyro.sample({name!r}, {code})")

    def reparam(self) -> None:
        w = self.w
        items = []
        for name, ann in self.c.reparam.items():
            info = next(self.c.sites[id(s)].dist for s in self.c.program.statements
                        if isinstance(s, ir.Sample) and s.lhs.name == name)
            centered = {ir.NonCentered: "0", ir.Partial: repr(getattr(ann, "centered", 0))}[type(ann)]
            extra = f", shape_params={info.shape_params!r}" if info.shape_params else ""
            items.append(f"{name!r}: LocScaleReparam(centered={centered}{extra})")
        w.line("reparam_config = {" + ", ".join(items) + "}")
        if items:
            w.line("model = numpyro.handlers.reparam(model, config=reparam_config)")


@dataclass(frozen=True)
class Lowered:
    """The generated module's ``source`` and, per generated line, the .ppl line it came from."""

    source: str
    origins: tuple[int, ...]


def lower(checked: CheckedModel, source_name: str = "<string>") -> Lowered:
    """Render ``checked`` as the source of a NumPyro module."""
    low = _Lowering(checked, source_name)
    src = low.run()
    return Lowered(src, tuple(low.w.origins))
