"""Chains pass: a hidden Markov chain written as it is thought.

    z[1] ~ Categorical(rho)
    for t in 2:T {
      z[t] ~ Categorical(Gamma[z[t - 1]])
    }

An undeclared ``z`` whose first element has a ``~`` before a loop and whose element ``t`` has one
in the loop's body is a discrete latent chain of ``T`` elements (the loop's upper bound). This pass
declares it (integer, the distribution's support) and checks the two statements as sites: the
first without plates, the step over ``t in 2:T`` (the loop's plate). Whether the model can be
summed out (the step reads ``z[t - 1]`` only, the emissions read ``z[t]``, ...) is decided by the
spec -> spec pass :mod:`pplang.hmm`.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..distributions import REGISTRY, suggest_distribution
from ..spec import Method, Role, Site, Symbol, Type
from . import sites
from .context import Context


def find(program: ir.Program) -> dict[str, ir.For]:
    """Undeclared names with ``z[1] ~ ...`` at the top level and ``z[t] ~ ...`` in a loop's body (or
    ``z[t] ~ D(... z[t - 1] ...)`` without the first element, which is then asked for): name -> the loop."""
    declared = {s.name for s in program.statements if isinstance(s, (ir.DataDecl, ir.ParamDecl))}
    firsts = {s.lhs.name for s in program.statements if isinstance(s, ir.Sample) and s.lhs.name not in declared
              and len(s.lhs.indices) == 1 and s.lhs.indices[0] == ir.Num(1.0, True)}
    out: dict[str, ir.For] = {}
    for s in program.statements:
        if isinstance(s, ir.For):
            for b in s.body:
                if not isinstance(b, ir.Sample) or b.lhs.indices != (ir.Name(s.var),) or b.lhs.name in declared:
                    continue
                reads_itself = any(isinstance(n, ir.Name) and n.id == b.lhs.name for n in ir.walk(b.dist))
                if b.lhs.name in firsts or reads_itself:  # without z[1]: step() says to write it
                    out.setdefault(b.lhs.name, s)
    return out


def first(ctx: Context, stmt: ir.Sample, loop: ir.For) -> Site | None:
    """``z[1] ~ D(...)``: declares the chain ``z`` (T elements, T the loop's upper bound)."""
    info = _discrete(ctx, stmt)
    if info is None:
        return None
    name = stmt.lhs.name
    ctx.plates = ()
    args = sites._typed_args(ctx, stmt, info, None, False)
    if args is None:
        ctx.failed.add(name)
        return None
    _, typed, trunc = args
    if not sites.finite_support(info, typed):
        ctx.err("invalid-type", f'"{name}" would be a hidden Markov chain with infinitely many states '
                f"({info.name}): it cannot be summed out", stmt.dist.dist_span,
                "use a distribution with finitely many values (Categorical, Bernoulli)")
        ctx.failed.add(name)
        return None
    t = Type("int", (loop.hi,), support=info.support)
    if not ctx.declare(Symbol(name, Role.LATENT, t, stmt.lhs.span)):
        return None
    element = (sites.expr(ctx, stmt.lhs.indices[0]),)
    return Site(name, Role.LATENT, t, (), info, tuple((p, typed[p]) for p in info.params if p in typed), trunc,
                Method.ENUMERATED, ir.Centered(), stmt.span, element=element)


def step(ctx: Context, stmt: ir.Sample, loop: ir.For) -> Site | None:
    """``z[t] ~ D(... z[t - 1] ...)`` in the loop's body: a site over t in lo..hi."""
    name = stmt.lhs.name
    sym = ctx.symbols.get(name)
    if sym is None or sym.role is not Role.LATENT or sym.declared:
        if name not in ctx.failed:
            ctx.err("invalid-lhs", f'the first element of the chain "{name}" must be given before the loop',
                    stmt.lhs.span, f"write `{name}[1] ~ Categorical(...)` before `for {loop.var} in ...`")
        return None
    info = _discrete(ctx, stmt)
    if info is None:
        return None
    plates = (sites.loop_plate(loop),)
    ctx.plates = plates
    args = sites._typed_args(ctx, stmt, info, None, False)
    if args is None:
        return None
    _, typed, trunc = args
    value = sites.expr(ctx, ir.Index(ir.Name(name, stmt.lhs.span), stmt.lhs.indices, stmt.lhs.span))
    return Site(name, Role.LATENT, sym.type, plates, info, tuple((p, typed[p]) for p in info.params if p in typed),
                trunc, Method.ENUMERATED, ir.Centered(), stmt.span, value=value)


def _discrete(ctx: Context, stmt: ir.Sample):
    info = REGISTRY.get(stmt.dist.dist)
    if info is None:
        ctx.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                suggest_distribution(stmt.dist.dist))
        ctx.failed.add(stmt.lhs.name)
        return None
    if not info.discrete:
        ctx.err("invalid-lhs", f'"{stmt.lhs.name}" is not declared: element by element, only a discrete chain '
                f"(a hidden Markov model) can be given a distribution, and {info.name} is continuous",
                stmt.lhs.span, f"declare it (`param {stmt.lhs.name}: vector[T]`) and give it a distribution")
        ctx.failed.add(stmt.lhs.name)
        return None
    if stmt.annotation is not None and not isinstance(stmt.annotation, ir.Centered):
        ctx.err("enumeration", f'the hidden Markov chain "{stmt.lhs.name}" cannot be reparameterised', stmt.span,
                "remove the annotation: the chain is summed out")
        return None
    return info


def observes(ctx: Context, stmt: ir.Sample, chains: dict[str, ir.For], loop: ir.For | None = None) -> bool:
    """Whether ``stmt`` is an observation of part of data that reads a chain: one element
    (``y[1] ~ Normal(mu[z[1]], sigma)``) or, in a loop's body, elements lo..hi."""
    sym = ctx.symbols.get(stmt.lhs.name)
    if sym is None or sym.role not in (Role.DATA, Role.DERIVED) or not chains:
        return False
    reads = any(isinstance(n, ir.Name) and n.id in chains for n in ir.walk(stmt.dist))
    first = stmt.lhs.indices[0] if len(stmt.lhs.indices) == 1 else None
    return reads and (loop is not None or isinstance(first, ir.Num))


def observation(ctx: Context, stmt: ir.Sample, loop: ir.For | None, priors: dict) -> Site | None:
    """An observation that reads a chain is summed into the chain's emissions (:mod:`pplang.hmm`),
    never a NumPyro site of its own, so several statements may observe parts of the same data
    (``y[1]`` before the loop, ``y[t]`` in it): the hmm pass checks that the parts do not overlap.
    One element ``y[c]`` is a site without plates whose value is ``y[c]``."""
    name = stmt.lhs.name
    sym = ctx.symbols[name]
    ctx.symbols[name] = replace(sym, observed=False)
    site = None
    try:
        if loop is None:
            c = stmt.lhs.indices[0]
            if not c.is_int or c.value < 1:
                ctx.err("invalid-lhs", "an element of data is written with a whole-number index >= 1", c.span)
                return None
            site = _element(ctx, stmt, sym)
        else:
            site = sites.sample(ctx, stmt, priors=priors, loop=loop)
    finally:
        ctx.symbols[name] = replace(ctx.symbols[name], observed=True)
    return site


def _element(ctx: Context, stmt: ir.Sample, sym: Symbol) -> Site | None:
    """``y[c] ~ D(...)``: one element of data, observed."""
    info = REGISTRY.get(stmt.dist.dist)
    if info is None:
        ctx.err("unknown-distribution", f'unknown distribution "{stmt.dist.dist}"', stmt.dist.dist_span,
                suggest_distribution(stmt.dist.dist))
        return None
    ctx.plates = ()
    value = sites.expr(ctx, ir.Index(ir.Name(sym.name, stmt.lhs.span), stmt.lhs.indices, stmt.lhs.span))
    if value is None:
        return None
    if value.type.rank != info.event_rank:
        ctx.err("unsupported", f"{sym.name}[{int(stmt.lhs.indices[0].value)}] has {value.type.rank} dimension(s) but "
                f"{info.name} describes {info.event_rank}", stmt.lhs.span,
                "one element observed with a chain's state is a scalar (or one event of a vector distribution)")
        return None
    t = Type(sym.type.elem, value.type.dims)
    args = sites._typed_args(ctx, stmt, info, replace(sym, type=t), True)
    if args is None:
        return None
    _, typed, trunc = args
    return Site(sym.name, sym.role, t, (), info, tuple((p, typed[p]) for p in info.params if p in typed), trunc,
                Method.PLAIN, ir.Centered(), stmt.span, value=value)
