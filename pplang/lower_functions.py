"""Lowering of user-defined functions and ODE solver calls (part of ``lower_numpyro``).

Each :class:`~pplang.spec.FunctionInstance` becomes a module-level Python function whose
arguments have their own shapes (no plate axes): ``def dz_dt(t, z, theta): return ...``; a
function typed for several lists of argument types gets one Python function per list (the first
keeps the name, the others are ``_pp_<name>_<k>``). A call whose arguments vary along the
statement's plates runs it through ``jnp.vectorize`` with a signature that maps every plate
axis. An ODE solver call becomes ``_pp_ode(<diffrax solver>, f, y0, t0, ts, rtol, atol,
max_num_steps, *args)``, the helper of :mod:`pplang.ode`, which the module defines (after
``import diffrax``) only when the model solves an ODE.
"""

from __future__ import annotations

from .ode import DEFAULT_ATOL, DEFAULT_MAX_NUM_STEPS, DEFAULT_RTOL, HELPER, SOLVERS
from .spec import FunctionInstance, Spec, TExpr


def function_name(key: tuple[str, int]) -> str:
    """The Python name of instance ``number`` of function ``name``."""
    from .lower_exprs import pyname

    name, number = key
    return pyname(name) if number == 1 else f"_pp_{name}_{number}"


def emit(low, spec: Spec) -> None:
    """The ODE helper (when an ODE is solved) and one Python function per instance, after the imports."""
    w = low.w
    if spec.solvers:
        for line in HELPER.splitlines():
            w.line(line)
        w.line()
        w.line()
    for inst in spec.functions:
        _instance(low, inst)
        w.line()
        w.line()


def _instance(low, inst: FunctionInstance) -> None:
    from .lower_exprs import comment_text, pyname
    from .spec import function_lines

    w = low.w
    w.origin = inst.span.line
    w.line(f"def {function_name(inst.key)}({', '.join(pyname(n) for n, _ in inst.params)}):")
    w.depth += 1
    w.line(f"# {comment_text(function_lines(inst)[0])}")
    lower = low.expr_lowering(frozenset(n for n, _ in inst.params))
    for name, te in inst.locals:
        w.line(f"{pyname(name)} = {lower(te)}")
    w.line(f"return {lower(inst.value)}")
    w.depth -= 1
    w.origin = 0


def _signature(args: list[TExpr], out_rank: int) -> str:
    """A ``jnp.vectorize`` signature: each argument's own dimensions are core dimensions, the plate
    axes in front of them are mapped (broadcast as NumPy does)."""
    core = ["(" + ",".join(f"a{k}_{j}" for j in range(a.type.rank)) + ")" for k, a in enumerate(args)]
    return ",".join(core) + "->(" + ",".join(f"r{j}" for j in range(out_rank)) + ")"


def call(lower, te: TExpr) -> str:
    """A call of a user-defined function, or an ODE solver call (``te.function`` is its instance)."""
    from .lower_exprs import literal

    fn = function_name(te.function)
    codes = [lower(a) for a in te.args]
    batched = any(a.type.plates for a in te.args) or bool(lower.enumerated)  # leading axes to map over
    row = SOLVERS.get(te.node.func)
    if row is None:
        if batched:
            return f"jnp.vectorize({fn}, signature={literal(_signature(list(te.args), te.type.rank))})({', '.join(codes)})"
        return f"{fn}({', '.join(codes)})"
    if row.tol:
        y0, t0, ts, rtol, atol, steps, *extra = codes
    else:
        (y0, t0, ts, *extra), rtol, atol, steps = codes, literal(DEFAULT_RTOL), literal(DEFAULT_ATOL), literal(
            DEFAULT_MAX_NUM_STEPS)
    if not batched:
        return f"_pp_ode({row.solver}, {fn}, {', '.join([y0, t0, ts, rtol, atol, steps] + extra)})"
    mapped = [te.args[k] for k in range(3)] + list(te.args[6 if row.tol else 3:])
    solve = (f"lambda _pp_y0, _pp_t0, _pp_ts, *_pp_args: _pp_ode({row.solver}, {fn}, _pp_y0, _pp_t0, _pp_ts, "
             f"{rtol}, {atol}, {steps}, *_pp_args)")
    return f"jnp.vectorize({solve}, signature={literal(_signature(mapped, 2))})({', '.join([y0, t0, ts] + extra)})"
