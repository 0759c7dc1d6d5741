"""Pedantic pass: warnings about programs that are valid but probably not what was meant
(Stan's pedantic mode): scales that can be negative, Uniform priors that do not match the declared
bounds, priors that are zero on part of the declared support, parameters without a prior, data that
is never used."""

from __future__ import annotations

from .. import ir
from ..distributions import POSITIVE_PARAMS
from ..spec import FlatParam, Method, Role, Site, Spec, Type
from .context import Context


def _can_be_negative(ctx: Context, e: ir.Expr, spec_sites: dict[str, Site]) -> str | None:
    """The name of a quantity in ``e`` whose support allows negative values, if ``e`` is just that
    quantity (or an element of it)."""
    name = e.id if isinstance(e, ir.Name) else e.base.id if isinstance(e, ir.Index) else None
    sym = ctx.symbols.get(name) if name else None
    if sym is None:
        return None
    if sym.declared and sym.type.container in ("real", "vector", "matrix", "int"):
        lo = sym.type.lower.node if sym.type.lower is not None else None
        if lo is None or (isinstance(lo, ir.Num) and lo.value < 0):
            return name
    site = spec_sites.get(name)
    if not sym.declared and site is not None and site.dist.support == "real" and site.truncation is None:
        return name
    return None


# Scalar supports narrower than the real line, as (lower, upper).
_SUPPORT_RANGE = {"positive": (0.0, float("inf")), "unit_interval": (0.0, 1.0)}


def _declared_range(t: Type) -> tuple[float, float] | None:
    """The interval a declared parameter's elements range over, or None when a bound is not a number."""
    if t.container in ("ordered", "positive_ordered"):
        return (0.0 if t.container == "positive_ordered" else -float("inf"), float("inf"))
    if t.container not in ("real", "vector", "matrix"):
        return None
    bounds = []
    for b, inf in ((t.lower, -float("inf")), (t.upper, float("inf"))):
        if b is None:
            bounds.append(inf)
        elif isinstance(b.node, ir.Num):
            bounds.append(b.node.value)
        elif isinstance(b.node, ir.Neg) and isinstance(b.node.operand, ir.Num):
            bounds.append(-b.node.operand.value)
        else:
            return None
    return bounds[0], bounds[1]


def _support_fix(t: Type, lo: float, hi: float) -> str:
    if t.container in ("ordered", "positive_ordered"):
        return "declare it positive_ordered" if hi == float("inf") else \
            "give it a prior over the whole real line, or declare a bounded vector"
    bounds = f"<lower={lo:g}>" if hi == float("inf") else f"<lower={lo:g}, upper={hi:g}>"
    return f"declare it `{t.container}{bounds}`, the prior's support, so the sampler never leaves it"


def _prior_support(ctx: Context, site: Site) -> None:
    """A declared parameter whose prior is zero on part of its declared support (`param x: real` with
    `x ~ Exponential(1)`): the sampler proposes values the prior rules out, and diverges there."""
    sym = ctx.symbols[site.name]
    rng = _SUPPORT_RANGE.get(site.dist.support)
    declared = _declared_range(sym.type) if sym.declared and sym.role is Role.LATENT else None
    if rng is None or declared is None or site.truncation is not None:
        return
    if declared[0] < rng[0] or declared[1] > rng[1]:
        where = f"outside ({rng[0]:g}, {rng[1]:g})" if rng[1] != float("inf") else f"below {rng[0]:g}"
        t = sym.type
        what = t.container + ("" if (t.lower, t.upper) == (None, None) else " with wider bounds")
        fix = (f"declare that element as a parameter of its own with the prior's support, or give it a prior "
               "over the whole range" if site.element or site.value is not None else _support_fix(t, *rng))
        ctx.warn("prior-support", f'the {site.dist.name} prior of "{site.name}" is zero {where}, but "{site.name}" '
                 f"is declared {what}", site.span, fix)


def _proper(ctx: Context, item: FlatParam) -> bool:
    """A flat density over a bounded interval with constant bounds is a proper uniform."""
    t = item.type
    return (t.lower is not None and t.upper is not None and t.event_rank == 0
            and ctx.constant(t.lower.node) and ctx.constant(t.upper.node))


def pedantic(ctx: Context, spec: Spec, program: ir.Program) -> None:
    sites = {s.name: s for s in spec.sites() if s.role is Role.LATENT}
    for site in spec.sites():
        for pname, te in site.args:
            if pname in POSITIVE_PARAMS:
                culprit = _can_be_negative(ctx, te.node, sites)
                if culprit:
                    ctx.warn("negative-scale", f'the {pname} of {site.dist.name} must be positive, but "{culprit}" '
                             "can be negative", te.node.span,
                             f"declare {culprit} with <lower=0>, or give it a positive distribution")
        sym = ctx.symbols[site.name]
        _prior_support(ctx, site)  # Uniform's support ("interval") is the uniform-bounds check's
        if site.dist.name == "Uniform" and sym.declared and sym.role is Role.LATENT:
            lo, hi = site.arg("low"), site.arg("high")
            if (sym.type.lower and sym.type.lower.node, sym.type.upper and sym.type.upper.node) != (
                    lo and lo.node, hi and hi.node):
                ctx.warn("uniform-bounds", f'the Uniform prior of "{sym.name}" does not match its declared bounds',
                         site.span, f"declare {sym.name} with <lower=..., upper=...> equal to the Uniform's "
                         "bounds, so the sampler never leaves the prior's support")
    element_priors = {s.name for s in spec.sites() if s.element or s.value is not None}  # part of it
    element_priors |= ctx.functions.density_priors if ctx.functions is not None else set()
    for item in spec.items:
        if isinstance(item, FlatParam) and item.name not in element_priors and not _proper(ctx, item):
            ctx.warn("improper-prior", f'parameter "{item.name}" has no prior: its density is flat (improper) over '
                     "its declared support", item.span,
                     f"add a prior, e.g. `{item.name} ~ Normal(0, 10)`, unless a flat prior is intended")
    # a statement that failed recorded no uses: count every name written anywhere instead
    written = {n.id if isinstance(n, ir.Name) else n.name for n in ir.walk(
        tuple(s for s in program.statements if not isinstance(s, ir.DataDecl))
        + tuple(s.type for s in program.statements if isinstance(s, ir.DataDecl))) if isinstance(n, (ir.Name, ir.Lhs))}
    for stmt in program.statements:
        if isinstance(stmt, ir.DataDecl) and stmt.name in ctx.symbols and stmt.name not in written \
                and not ctx.symbols[stmt.name].observed:
            ctx.warn("unused-data", f'data "{stmt.name}" is declared but never used', stmt.name_span,
                     "remove the declaration, or use it in the model")


__all__ = ["pedantic", "Method"]
