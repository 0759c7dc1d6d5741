"""Parameterisation pass: an annotation on a sampling statement becomes a typed value, checked
against the site (observed, generated, distribution family, lowering method)."""

from __future__ import annotations

from .. import ir
from ..distributions import DistInfo
from ..spec import Method
from .context import Context

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
    elif isinstance(ann, ir.Auto):
        ctx.err("unsupported", "the `auto` parameterisation is not available yet", ann.span,
                "use `noncentered`, or `partial(c)` with 0 <= c <= 1")
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
