"""Parameterisation pass: an annotation on a sampling statement becomes a typed value, checked
against the site (observed, generated, distribution family, lowering method); ``auto`` is checked
once the whole model is known (:func:`check_auto`: the site must have something to choose)."""

from __future__ import annotations

from .. import ir
from ..distributions import DistInfo
from ..spec import Definition, FlatParam, Loop, Method, Role, Site, Spec
from .context import Context, names_in

WORDS = {ir.NonCentered: "noncentered", ir.Partial: "partially centred", ir.Auto: "auto-reparameterised",
         ir.Centered: "centered"}


def check_reparam(ctx: Context, stmt: ir.Sample, info: DistInfo, method: Method, observed: bool,
                  generated: bool) -> ir.Annotation:
    """The site's parameterisation; the default (centred) after an error."""
    ann = stmt.annotation
    if isinstance(ann, ir.Centered):
        return ann
    word = WORDS[type(ann)]
    if observed:
        ctx.err("reparam-on-observed", f'"{stmt.lhs.name}" is observed data: it cannot be {word}', ann.span,
                "remove the annotation")
    elif generated:
        ctx.err("reparam-unsupported", f"a generated quantity is drawn after sampling: it cannot be {word}",
                ann.span, "remove the annotation")
    elif method is Method.FACTOR:
        ctx.err("reparam-unsupported", f'"{stmt.lhs.name}" is not sampled here (its value is defined elsewhere), so '
                f"it cannot be {word}", ann.span, "remove the annotation")
    elif isinstance(ann, ir.Partial) and not 0 <= ann.centered <= 1:
        ctx.err("reparam-unsupported", "partial(c) needs 0 <= c <= 1", ann.span)
    elif not info.locscale or method is not Method.PLAIN:
        ctx.err("reparam-unsupported", f"{info.name} is not a location-scale family with real support; "
                f"it cannot be {word}", ann.span)
    elif f"{stmt.lhs.name}_decentered" in ctx.symbols or f"{stmt.lhs.name}_decentered" in ctx.declared_sizes:
        ctx.err("reserved-name", f'"{stmt.lhs.name}_decentered" names the auxiliary variable of a non-centred '
                f'"{stmt.lhs.name}", but the model already uses that name', ann.span,
                f'rename the other "{stmt.lhs.name}_decentered"')
    else:
        return ann
    return ir.Centered(ann.span)


# ----------------------------------------------------------------------------- auto


def latent_dependent(spec: Spec) -> set[str]:
    """Names whose value depends on a parameter: the latents, and every definition (deterministic,
    local, loop-defined) computed from one, transitively."""
    dep = {s.name for s in spec.sites() if s.role is Role.LATENT}
    dep |= {i.name for i in spec.items if isinstance(i, FlatParam)}
    dep |= {s.name for s in spec.of_role(Role.LATENT)}
    changed = True
    while changed:  # loops may define names used before them in the loop: iterate to the fixed point
        changed = False
        for item in spec.items:
            if isinstance(item, Definition) and item.name not in dep and names_in(item.value.node) & dep:
                dep.add(item.name)
                changed = True
            elif isinstance(item, Loop) and not set(item.defined) <= dep:
                if any(names_in(b.value.node) & dep for b in item.body):
                    dep |= set(item.defined)
                    changed = True
    return dep


def auto_problem(site: Site, dependent: set[str]) -> str | None:
    """Why ``auto`` cannot apply to ``site`` (None when it can): it must be a latent location-scale
    statement sampled as written whose location or scale depends on another parameter, else
    centred and non-centred are the same model and there is nothing to choose."""
    if site.role is not Role.LATENT or not site.dist.locscale or site.method is not Method.PLAIN:
        return f"{site.dist.name} here is not a latent location-scale statement"
    uses = set()
    for param in ("loc", "scale"):
        arg = site.arg(param)
        if arg is not None:
            uses |= names_in(arg.node)
    if not (uses - {site.name}) & dependent:
        return (f'the location and scale of "{site.name}" depend on no other parameter, so centred and '
                "non-centred are the same model: there is nothing to choose")
    return None


def eligible_sites(spec: Spec) -> list[Site]:
    """The sites ``--reparam auto`` may choose for: no parameterisation written, and :func:`auto_problem`
    finds none."""
    dependent = latent_dependent(spec)
    return [s for s in spec.sites() if isinstance(s.reparam, ir.Centered) and s.reparam.span == ir.NO_SPAN
            and s.role is Role.LATENT and auto_problem(s, dependent) is None]


def check_auto(ctx: Context, spec: Spec) -> None:
    """Every ``auto`` annotation must have something to choose (located error otherwise)."""
    dependent = latent_dependent(spec)
    for site in spec.sites():
        if isinstance(site.reparam, ir.Auto):
            problem = auto_problem(site, dependent)
            if problem:
                ctx.err("reparam-unsupported", f"`auto` does not apply: {problem}", site.reparam.span,
                        "remove `auto`; it applies where a location or scale is itself a parameter, as in "
                        "theta[n] ~ Normal(mu, tau)")
