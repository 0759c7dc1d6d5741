"""User-defined functions pass: ``def f(x, y) = expr`` declarations, their typing at each call,
``y ~ my_dist(...)`` for a function ``my_dist_lpdf``, and the ODE solvers of :mod:`pplang.ode`.

A function is a template: its body is typed at each call from the argument types (without the
caller's plates), once per distinct list of argument types. Each typing is a
:class:`~pplang.spec.FunctionInstance` that lowering renders as a Python function; a call
records which instance it runs (``TExpr.function``). A body sees only its parameters, its
``local`` temporaries and the functions declared before it, so there is no recursion: a call of
the function itself, or of one declared later, is refused at the ``def``. A parameter may share
a name with a model quantity (``theta``): the model's is not visible inside the body. Errors in
a body are located in the body and name the call that typed it.
"""

from __future__ import annotations

import difflib
from dataclasses import replace

from .. import ir
from ..distributions import REGISTRY
from ..functions import FUNCTIONS
from ..ode import SOLVERS, TOL_ARGS, UNSUPPORTED
from ..spec import Factor, FunctionInstance, Role, Symbol, TExpr, Type, VType, expr_text
from .context import RESERVED, Context, suggest
from .exprs import expr

DENSITY_SUFFIXES = ("_lpdf", "_lpmf")


def density_stem(name: str) -> str | None:
    """``my_dist`` for ``my_dist_lpdf`` / ``my_dist_lpmf``; None for other names."""
    return name[:-5] if name.endswith(DENSITY_SUFFIXES) and len(name) > 5 else None


def vtype_text(t: VType) -> str:
    return t.elem + (f"[{', '.join(expr_text(d) for d in t.dims)}]" if t.dims else "")


class Functions:
    """The user-defined functions of one check run. ``all`` holds every ``def`` of the file (for
    "defined later" messages); ``declared`` those checked so far, in order; ``failed`` those whose
    declaration had errors (their calls are not reported again); ``typed`` the instances in the
    order they were completed (callees before callers)."""

    def __init__(self, program: ir.Program):
        self.all: dict[str, ir.FunctionDef] = {}
        for s in program.statements:
            if isinstance(s, ir.FunctionDef) and s.name not in FUNCTIONS:
                self.all.setdefault(s.name, s)
        self.loop_vars = {s.var for s in program.statements if isinstance(s, ir.For)}  # Python names in a scan step
        self.declared: dict[str, ir.FunctionDef] = {}
        self.failed: set[str] = set()
        self.instances: dict[tuple, FunctionInstance | None] = {}
        self.typed: list[FunctionInstance] = []
        self.counts: dict[str, int] = {}
        self.solvers: set[str] = set()
        self.density_priors: set[str] = set()  # parameters given a user-defined density with ~

    # ------------------------------------------------------------------------- declarations

    def declare(self, ctx: Context, d: ir.FunctionDef) -> None:
        """Check a ``def``: its name, its parameters and locals, and what its body refers to."""
        name = d.name
        if name in RESERVED or name.startswith("_pp"):
            ctx.err("reserved-name", f'"{name}" is reserved and cannot name a function', d.name_span)
            return
        if name in FUNCTIONS or name in SOLVERS or name in UNSUPPORTED:
            ctx.err("duplicate-definition", f'"{name}" is a built-in function', d.name_span,
                    "give your function another name")
            return
        if name in self.declared:
            ctx.err("duplicate-definition", f'function "{name}" is already defined at line '
                    f"{self.declared[name].span.line}", d.name_span,
                    "a function is a template typed at each call: one definition serves every argument type")
            return
        if name in ctx.symbols or name in self.loop_vars:
            where = f" (line {ctx.symbols[name].span.line})" if name in ctx.symbols else " (a loop variable)"
            ctx.err("duplicate-definition", f'"{name}" is already a name in the model{where}', d.name_span,
                    "give the function another name")
            return
        stem = density_stem(name)
        if stem is not None and stem in REGISTRY:
            ctx.err("duplicate-definition", f'"{name}": `~ {stem}(...)` already means the built-in distribution',
                    d.name_span, "give your density another name")
            return
        self.declared[name] = d
        if stem is not None and not d.params:
            ctx.err("bad-arguments", f"the density {name} needs the value as its first parameter", d.span,
                    f"def {name}(y, ...) = ... is used as `y ~ {stem}(...)`")
            self.failed.add(name)
        if not self._scope(ctx, d):
            self.failed.add(name)

    def _scope(self, ctx: Context, d: ir.FunctionDef) -> bool:
        """Parameters and locals are new names; the body uses only them and earlier functions."""
        n_err = len(ctx.errors)
        visible: set[str] = set()
        for node, kind in [(p, "parameter") for p in d.params] + [(loc.lhs, "local") for loc in d.locals]:
            new = node.id if isinstance(node, ir.Name) else node.name
            span = node.span
            if new in RESERVED or new.startswith("_pp"):
                ctx.err("reserved-name", f'"{new}" is reserved and cannot name a {kind}', span)
            elif new in visible:
                ctx.err("duplicate-definition", f'"{new}" is defined twice in function "{d.name}"', span)
            elif new in self.declared:
                ctx.err("duplicate-definition", f'the {kind} "{new}" has the name of the function defined at line '
                        f"{self.declared[new].span.line}", span, "give it another name")
            if kind == "local":  # a local may use the parameters and the locals above it
                self._uses(ctx, d, node_value(d, new), visible)
            visible.add(new)
        self._uses(ctx, d, d.value, visible)
        return len(ctx.errors) == n_err

    def _uses(self, ctx: Context, d: ir.FunctionDef, e: ir.Expr, visible: set[str]) -> None:
        for node in _walk_values(e):
            if isinstance(node, ir.Name) and node.id not in visible:
                if node.id in ctx.symbols or node.id in ctx.declared_sizes:
                    hint = (f'a function sees only its arguments: add a parameter, def {d.name}(..., {node.id}), '
                            f"and pass {node.id} at the call")
                else:
                    hint = suggest(node.id, visible)
                ctx.err("unknown-name", f'"{node.id}" is not a parameter or local of function "{d.name}"',
                        node.span, hint)
            elif isinstance(node, ir.Call):
                self._callee(ctx, d, node.func, node.func_span)
                if node.func in SOLVERS and node.args and isinstance(node.args[0], ir.Name):
                    self._callee(ctx, d, node.args[0].id, node.args[0].span)

    def _callee(self, ctx: Context, d: ir.FunctionDef, callee: str, span: ir.Span) -> None:
        if callee == d.name:
            ctx.err("recursive-function", f'function "{d.name}" calls itself: recursion is not supported', span,
                    "functions are expanded at each call; write a recursion over time as a `for` loop in the model")
        elif callee in self.all and callee not in self.declared:
            ctx.err("recursive-function", f'function "{callee}" is defined at line {self.all[callee].span.line}, '
                    f'after "{d.name}": a function can call only functions defined before it', span,
                    f"move `def {callee}` above `def {d.name}` (functions that call each other are not supported)")
        elif callee not in self.declared and callee not in FUNCTIONS and callee not in SOLVERS:
            if callee in UNSUPPORTED:
                ctx.err("unsupported", UNSUPPORTED[callee].split(":")[0] + " is not supported", span,
                        UNSUPPORTED[callee])
            else:
                ctx.err("unknown-function", f'unknown function "{callee}"', span,
                        suggest(callee, [*FUNCTIONS, *SOLVERS, *self.declared]))

    # ------------------------------------------------------------------------- calls

    def handles(self, name: str) -> bool:
        """Whether a call of ``name`` is typed here (user functions, ODE solvers, Stan functions
        that stay unsupported, and misspellings of a user function)."""
        if name in FUNCTIONS:
            return False
        return name in self.all or name in SOLVERS or name in UNSUPPORTED or bool(
            difflib.get_close_matches(name, [*self.declared, *SOLVERS], n=1))

    def call(self, ctx: Context, e: ir.Call) -> TExpr | None:
        """Type a call handled here (see :meth:`handles`)."""
        if e.func in UNSUPPORTED:
            ctx.err("unsupported", f"{e.func} is not supported", e.func_span, UNSUPPORTED[e.func])
            return None
        if e.func in SOLVERS:
            return self._ode(ctx, e)
        d = self.declared.get(e.func)
        if d is None:
            if e.func in self.all:
                ctx.err("unknown-function", f'function "{e.func}" is defined at line {self.all[e.func].span.line}, '
                        "after this use", e.func_span, f"move `def {e.func}` above its first use")
            else:
                ctx.err("unknown-function", f'unknown function "{e.func}"', e.func_span,
                        suggest(e.func, [*FUNCTIONS, *SOLVERS, *self.declared]))
            return None
        if e.func in self.failed:
            return None
        if e.kwargs:
            ctx.err("bad-arguments", f"{e.func} takes its arguments by position", e.kwargs[0][1].span)
            return None
        if len(e.args) != len(d.params):
            ctx.err("bad-arguments", f"{e.func} takes {len(d.params)} argument(s) "
                    f"({', '.join(p.id for p in d.params)}), got {len(e.args)}", e.span)
            return None
        args = [expr(ctx, a) for a in e.args]
        if None in args:
            return None
        inst = self.instance(ctx, d, [a.type for a in args], e)
        if inst is None:
            return None
        plates = ctx.plate_order(*(a.type.plates for a in args))
        return TExpr(e, VType(inst.value.type.elem, plates, inst.value.type.dims), tuple(args), function=inst.key)

    def instance(self, ctx: Context, d: ir.FunctionDef, types: list[VType], call: ir.Call) -> FunctionInstance | None:
        """The body of ``d`` typed for arguments of these types (cached per list of types)."""
        params = tuple((p.id, VType(t.elem, (), t.dims)) for p, t in zip(d.params, types))
        key = (d.name, params)
        if key in self.instances:
            return self.instances[key]
        self.instances[key] = None
        saved = (ctx.symbols, ctx.plates, ctx.loop_var, ctx.inits, ctx.refs, ctx.failed)
        n_err, n_uses, n_sizes = len(ctx.errors), len(ctx.index_uses), len(ctx.size_checks)
        ctx.symbols = {p.id: Symbol(p.id, Role.LOCAL, Type(t.elem, t.dims), p.span)
                       for p, (_, t) in zip(d.params, params)}
        ctx.plates, ctx.loop_var, ctx.inits, ctx.refs, ctx.failed = (), None, {}, {}, set()
        locals_: list[tuple[str, TExpr]] = []
        value = None
        try:
            for loc in d.locals:
                te = expr(ctx, loc.value)
                if te is None:
                    break
                ctx.symbols[loc.lhs.name] = Symbol(loc.lhs.name, Role.LOCAL, Type(te.type.elem, te.type.dims),
                                                   loc.lhs.span)
                locals_.append((loc.lhs.name, te))
            else:
                value = expr(ctx, d.value)
            for te in [v for _, v in locals_] + ([value] if value is not None else []):
                _fixed_ranges(ctx, te, d.name)
        finally:
            ctx.symbols, ctx.plates, ctx.loop_var, ctx.inits, ctx.refs, ctx.failed = saved
        where = f' (in function "{d.name}", called at line {call.span.line})'
        typed_as = f"this call types {d.name}({', '.join(f'{n}: {vtype_text(t)}' for n, t in params)})"
        for k in range(n_err, len(ctx.errors)):
            diag = ctx.errors[k]
            if diag.span.line in range(d.span.line, d.span.end_line + 1) and where not in diag.message:
                ctx.errors[k] = replace(diag, message=diag.message + where,
                                        help=f"{diag.help}; {typed_as}" if diag.help else typed_as)
        ctx.index_uses[n_uses:] = [replace(u, base=f"{u.base} (argument of {d.name})")
                                   for u in ctx.index_uses[n_uses:]]
        ctx.size_checks[n_sizes:] = [replace(c, what=c.what + where.replace(" (", ", ").rstrip(")"))
                                     for c in ctx.size_checks[n_sizes:]]
        if value is None or len(ctx.errors) > n_err:
            return None
        number = self.counts[d.name] = self.counts.get(d.name, 0) + 1
        inst = FunctionInstance(d.name, number, params, tuple(locals_), value, d.span)
        self.instances[key] = inst
        self.typed.append(inst)
        return inst

    def _ode(self, ctx: Context, e: ir.Call) -> TExpr | None:
        """``ode_rk45(f, y0, t0, ts, ...)`` (``_tol``: rtol, atol, max_num_steps after ts): the
        solution at ts, [N, size of y0]; ``f(t, y, ...)`` gets the arguments after those."""
        row = SOLVERS[e.func]
        fixed = ("f", "y0", "t0", "ts") + (("rtol", "atol", "max_num_steps") if row.tol else ())
        if e.kwargs:
            ctx.err("bad-arguments", f"{e.func} takes its arguments by position", e.kwargs[0][1].span)
            return None
        if len(e.args) < len(fixed):
            ctx.err("bad-arguments", f"{e.func} takes {', '.join(fixed)}, then the arguments of f; got "
                    f"{len(e.args)} argument(s)", e.span, "e.g. ode_rk45(dz_dt, z_init, 0, ts, theta) with "
                    "`def dz_dt(t, z, theta) = ...`")
            return None
        f = e.args[0]
        if not isinstance(f, ir.Name) or f.id not in self.declared:
            later = isinstance(f, ir.Name) and f.id in self.all
            ctx.err("unknown-function" if later else "bad-arguments",
                    f'function "{f.id}" is defined at line {self.all[f.id].span.line}, after this use' if later
                    else f"the first argument of {e.func} must name a function defined with `def`", f.span,
                    f"move `def {f.id}` above its first use" if later else
                    "define the right-hand side first: def dz_dt(t, z, theta) = [..., ...]")
            return None
        if f.id in self.failed:
            return None
        d = self.declared[f.id]
        args = [expr(ctx, a) for a in e.args[1:]]
        if None in args:
            return None
        y0, t0, ts = args[:3]
        tol, extras = args[3:len(fixed) - 1], args[len(fixed) - 1:]
        bad = None
        if y0.type.rank != 1 or y0.type.elem == "bool":
            bad = (e.args[1], "the initial state y0 must be a vector (or a real array, like real[2])")
        elif t0.type.rank != 0:
            bad = (e.args[2], "the initial time t0 must be a number")
        elif ts.type.rank != 1:
            bad = (e.args[3], "the output times ts must be a vector (or a real array)")
        if bad is not None:
            ctx.err("shape-mismatch", f"{e.func}: {bad[1]}", bad[0].span)
            return None
        for what, te, node in zip(TOL_ARGS, tol, e.args[4:]):
            if te.type.rank or te.type.plates or not ctx.constant(node) or (
                    what == "max_num_steps" and te.type.elem != "int"):
                kind = "a whole number" if what == "max_num_steps" else "a number"
                ctx.err("invalid-type", f"the {what} of {e.func} must be {kind} or data (as in Stan)", node.span)
                return None
        if len(d.params) != 2 + len(extras):
            after = "max_num_steps" if row.tol else "ts"
            ctx.err("bad-arguments", f"{f.id} takes {len(d.params)} argument(s) ({', '.join(p.id for p in d.params)}); "
                    f"{e.func} passes it t, y and the {len(extras)} argument(s) after {after}", e.span,
                    f"the right-hand side is def {f.id}(t, y, ...) = ...: the time, the state, then the "
                    f"arguments given to {e.func} after {after}")
            return None
        inst = self.instance(ctx, d, [VType("real"), VType("real", (), y0.type.dims)] + [a.type for a in extras], e)
        if inst is None:
            return None
        out = inst.value.type
        if out.rank != 1 or out.elem == "bool":
            ctx.err("shape-mismatch", f'{f.id} must return the derivative of the state, a vector like y0; it returns '
                    f"{vtype_text(out)}", e.span, f"write def {f.id}(t, y, ...) = [dy1_dt, dy2_dt, ...]")
            return None
        ctx.size_equal(out.dims[0], y0.type.dims[0], e.span, f"size of what {f.id} returns vs size of y0")
        self.solvers.add(e.func)
        plates = ctx.plate_order(*(a.type.plates for a in args))
        return TExpr(e, VType("real", plates, (ts.type.dims[0], y0.type.dims[0])), tuple(args), function=inst.key)

    # ------------------------------------------------------------------------- ~ with a user density

    def density(self, name: str) -> str | None:
        """The function that ``~ name(...)`` means: ``name_lpdf`` or ``name_lpmf`` (a user function)."""
        if name in REGISTRY:
            return None
        return next((name + s for s in DENSITY_SUFFIXES if name + s in self.all), None)

    def density_statement(self, ctx: Context, stmt: ir.Sample, loop: ir.For | None = None) -> Factor | None:
        """``y[n] ~ my_dist(mu, sigma)`` is ``target += my_dist_lpdf(y[n] | mu, sigma)`` (Stan's rule);
        in the body of ``loop``, lifted out of it as ``target +=`` is."""
        from .sites import _jacobian_warning, target

        fname = self.density(stmt.dist.dist)
        lhs, call = stmt.lhs, stmt.dist
        if not isinstance(stmt.annotation, ir.Centered):
            ctx.err("reparam-unsupported", f"a parameterisation needs a built-in location-scale distribution, not "
                    f"{fname}", stmt.annotation.span, "write the non-centred form by hand: z ~ Normal(0, 1), "
                    "x = mu + sigma * z")
            return None
        if call.truncation is not None:
            ctx.err("unsupported", f"truncation of the user-defined density {fname} is not supported",
                    call.span, f"subtract the log normalising constant yourself: target += {fname}(...) - log(...)")
            return None
        sym = ctx.symbols.get(lhs.name)
        if sym is None:
            if lhs.name not in ctx.failed:
                ctx.err("invalid-lhs", f'"{lhs.name}" must be declared before it is given the density {fname}',
                        lhs.span, f"declare it (`param {lhs.name}: real<lower=0>`, or data): {fname} does not say "
                        f"which values {lhs.name} can take")
            return None
        value = ir.Index(ir.Name(lhs.name, lhs.span), lhs.indices, lhs.span) if lhs.indices else ir.Name(
            lhs.name, lhs.span)
        item = target(ctx, ir.Target(ir.Call(fname, (value,) + call.args, call.kwargs, call.span, call.dist_span),
                                     stmt.span), loop)
        if item is not None and sym.role in (Role.DETERMINISTIC, Role.LOCAL):
            _jacobian_warning(ctx, stmt, lhs.name)
        if item is not None and sym.role is Role.LATENT:
            self.density_priors.add(lhs.name)
        return item


def node_value(d: ir.FunctionDef, name: str) -> ir.Expr:
    return next(loc.value for loc in d.locals if loc.lhs.name == name)


def _walk_values(e: ir.Expr):
    """The nodes of ``e``, leaving out the function named by an ODE solver's first argument."""
    yield e
    match e:
        case ir.Call(func=f, args=args) if f in SOLVERS and args and isinstance(args[0], ir.Name):
            children = list(args[1:]) + [v for _, v in e.kwargs]
        case ir.Call():
            children = list(e.args) + [v for _, v in e.kwargs]
        case ir.Index(base=b, indices=idx):
            children = [b, *idx]
        case ir.BinOp(left=a, right=b):
            children = [a, b]
        case ir.Neg(operand=a) | ir.Transpose(operand=a):
            children = [a]
        case ir.Cond(test=t, then=a, orelse=b):
            children = [t, a, b]
        case ir.ArrayLit(items=items):
            children = list(items)
        case ir.Range(lo=lo, hi=hi):
            children = [x for x in (lo, hi) if x is not None]
        case _:
            children = []
    for c in children:
        yield from _walk_values(c)


def _fixed_ranges(ctx: Context, te: TExpr, name: str) -> None:
    """Inside a function, a range's length must be a number: the generated function knows its
    arguments' values but not the model's size names."""
    if isinstance(te.node, ir.Range) and te.size is not None and not isinstance(te.size, ir.Num):
        ctx.err("unsupported", f"inside function {name}, the length of a range must be a number", te.node.span,
                "write lo:hi with numbers (x[2:4]), or pass the slice as an argument")
    for a in te.args:
        _fixed_ranges(ctx, a, name)
