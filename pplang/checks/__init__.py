"""Checks: IR program -> :class:`pplang.spec.Spec`, the typed checked model.

The passes, one module each: ``context`` (the symbol table and diagnostics they share),
``exprs`` (typing and shapes of expressions), ``plates`` (index variables and their ranges),
``sites`` (declarations, sampling statements, definitions and factors, with each latent's lowering
method), ``chains`` (hidden Markov chains written element by element), ``reparam`` (parameterisation; ``auto`` is checked on the whole model), ``loops``
(recursions) and ``pedantic`` (warnings). The driver below walks the statements in source order,
because a statement's types depend on what was declared before it, then runs the whole-model
passes.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from .._compat import assert_never
from ..diagnostics import PplangError
from ..spec import FlatParam, Role, Spec
from . import chains, loops, plates, sites
from .context import Context, names_in
from .functions import Functions
from .pedantic import pedantic
from .reparam import check_auto

__all__ = ["check", "names_in"]


def check(program: ir.Program) -> Spec:
    """Run every check on ``program``; raise :class:`PplangError` listing all errors found."""
    ctx = Context(ir.Program(tuple(s for s in program.statements if not isinstance(s, ir.FunctionDef))))
    ctx.functions = functions = Functions(program)
    ctx.declared_sizes = {s.name: s.type.dims for s in program.statements
                          if isinstance(s, (ir.DataDecl, ir.ParamDecl))}
    ctx.occurrences = plates.program_occurrences(program)
    local = {s.lhs.name for s in _flatten(program.statements) if isinstance(s, ir.Define) and s.local}
    sampled = {s.lhs.name for s in program.statements  # a whole (or per plate element) prior
               if isinstance(s, ir.Sample) and not (s.lhs.indices and isinstance(s.lhs.indices[0], (ir.Num, ir.Range)))
               and functions.density(s.dist.dist) is None}
    state = loops.LoopState()
    chain_loops = chains.find(program)  # hidden Markov chains: z[1] ~ ... and z[t] ~ ... in a loop
    priors: dict[str, ir.Span] = {}
    items, generated, derived = [], [], []
    for stmt in program.statements:
        ctx.plates = ()
        if not isinstance(stmt, ir.Generated):
            _no_generated_refs(ctx, stmt)
        match stmt:
            case ir.DataDecl():
                sites.data_decl(ctx, stmt)
            case ir.DerivedData():
                derived.append(sites.derived_data(ctx, stmt))
            case ir.ParamDecl():
                sites.param_decl(ctx, stmt)
                if stmt.name not in sampled and stmt.name in ctx.symbols:
                    items.append(FlatParam(stmt.name, ctx.symbols[stmt.name].type, stmt.name_span))
            case ir.Sample() if functions.density(stmt.dist.dist) is not None:
                items.append(functions.density_statement(ctx, stmt))  # `~` with a user-defined density
            case ir.Sample() if stmt.lhs.name in chain_loops and stmt.lhs.indices == (ir.Num(1.0, True),):
                items.append(chains.first(ctx, stmt, chain_loops[stmt.lhs.name]))
            case ir.Sample() if chains.observes(ctx, stmt, chain_loops):
                items.append(chains.observation(ctx, stmt, None, priors))
            case ir.Sample():
                items.append(sites.sample(ctx, stmt, priors=priors))
            case ir.Define(lhs=lhs) if lhs.indices and isinstance(lhs.indices[0], ir.Num):
                items.append(loops.init_element(ctx, state, stmt))
            case ir.Define():
                item = sites.define(ctx, stmt, Role.LOCAL if stmt.local else Role.DETERMINISTIC)
                items.append(item)
                if item is not None:
                    ctx.definitions[item.name] = item
            case ir.Target():
                items.append(sites.target(ctx, stmt))
            case ir.For():
                loop = loops.for_loop(ctx, state, stmt, local)
                if loop is not None and loop.body:
                    items.append(loop)
                    ctx.definitions.update({name: loop for name in loop.defined})
                if loop is not None:  # `~` and `target +=` of the body: lifted out, vectorised over t
                    items += [_lifted(ctx, b, stmt, chain_loops, priors) for b in stmt.body
                              if isinstance(b, (ir.Sample, ir.Target))]
            case ir.Generated():
                generated.append(_generated(ctx, stmt))
            case ir.FunctionDef():
                functions.declare(ctx, stmt)
            case _:
                assert_never(stmt)
    spec = Spec(ctx.symbols, tuple(d for d in derived if d is not None), tuple(i for i in items if i is not None),
                tuple(g for g in generated if g is not None), tuple(ctx.size_checks), tuple(ctx.index_uses),
                ctx.warnings, functions=tuple(functions.typed), solvers=tuple(sorted(functions.solvers)))
    pedantic(ctx, spec, program)
    check_auto(ctx, spec)
    for name, spans in ctx.refs.items():
        if name in ctx.symbols:
            ctx.symbols[name] = replace(ctx.symbols[name], refs=tuple(spans))
    if ctx.errors:
        raise PplangError(ctx.errors, warnings=ctx.warnings)
    return spec


def _lifted(ctx: Context, stmt: ir.Sample | ir.Target, loop: ir.For, chain_loops: dict, priors: dict):
    """A ``~`` or ``target +=`` of a loop's body: a hidden Markov chain's step or observation, or lifted."""
    if isinstance(stmt, ir.Sample) and chain_loops.get(stmt.lhs.name) is loop and \
            stmt.lhs.indices == (ir.Name(loop.var),):
        return chains.step(ctx, stmt, loop)
    if isinstance(stmt, ir.Sample) and chains.observes(ctx, stmt, chain_loops, loop):
        return chains.observation(ctx, stmt, loop, priors)
    return loops.lifted(ctx, stmt, loop, priors)


def _generated(ctx: Context, stmt: ir.Generated):
    """``generated x = e`` / ``generated x[n] ~ D(...)``: a new quantity per posterior draw."""
    inner = stmt.stmt
    lhs = inner.lhs
    if lhs.name in ctx.symbols:
        prev = ctx.symbols[lhs.name]
        ctx.err("duplicate-definition", f'"{lhs.name}" is already defined at line {prev.span.line}', lhs.span,
                f'a generated quantity needs a new name, e.g. "{lhs.name}_rep"')
        return None
    match inner:
        case ir.Sample() if ctx.functions.density(inner.dist.dist) is not None:
            ctx.err("unsupported", f"a user-defined density cannot be drawn from ({ctx.functions.density(inner.dist.dist)} "
                    "has no random number generator)", inner.dist.dist_span,
                    f"draw with built-in distributions, or compute the value: generated {lhs.name} = ...")
            return None
        case ir.Sample():
            return sites.sample(ctx, inner, generated=True)
        case ir.Define() if lhs.indices and isinstance(lhs.indices[0], ir.Num):
            ctx.err("invalid-lhs", "a generated quantity is defined whole: index it only by fresh index "
                    "variables", lhs.indices[0].span, f"write generated {lhs.name}[n] = ...")
            return None
        case ir.Define():
            return sites.define(ctx, inner, Role.GENERATED)
        case _:
            assert_never(inner)


def _no_generated_refs(ctx: Context, stmt: ir.Stmt) -> None:
    """A model statement may not read a generated quantity: they depend on the model, never the
    reverse (they are computed after sampling)."""
    for node in ir.walk(stmt):
        if isinstance(node, ir.Name) and node.id in ctx.symbols and ctx.symbols[node.id].role is Role.GENERATED:
            ctx.err("generated-in-model", f'"{node.id}" is a generated quantity: the model cannot use it',
                    node.span, f"generated quantities are computed after sampling; to use {node.id} in the "
                    f"model, define it without `generated`")
            return


def _flatten(stmts) -> list:
    """Statements with loop bodies flattened in."""
    out = []
    for s in stmts:
        out.append(s)
        if isinstance(s, ir.For):
            out += _flatten(s.body)
    return out
