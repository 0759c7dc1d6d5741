"""Enumeration: discrete latents with finitely many values are summed out exactly (spec -> spec).

``z[i] ~ Categorical(w)``, ``tau ~ DiscreteUniform(1, T)``, ``c[i] ~ Bernoulli(p)`` or
``k ~ Binomial(n, p)`` (``n`` data) cannot be sampled by NUTS. :func:`enumerate_discrete` turns each
into an ENUMERATED site, rendered with ``infer={"enumerate": "parallel"}``: NumPyro evaluates every
statement that reads it at all of its values at once (one extra tensor dimension per enumerated
latent, to the left of every plate dimension) and NUTS samples the continuous parameters from the
marginal density. The draws of the discrete latents and their probabilities come afterwards
(:mod:`pplang.discrete`).

What the pass decides, so that lowering only renders it:

- ``max_plate_nesting``: the most plates of any model statement. Enumeration dimensions go to its
  left, so they never meet a plate dimension.
- outcomes counted from 0: NumPyro enumerates the values 0..size-1 whatever the support, so a
  DiscreteUniform(low, high) is rendered as ``DiscreteUniform(0, high - low) + low`` and a
  Categorical (Stan's 1..K) as NumPyro's 0-based class ``+ 1`` (``Site.offset``), not through the
  registry's 1-based wrapper, whose log density would be evaluated one value off.
- which definitions carry enumeration dimensions (``Definition.enumerated``), and which statements
  combine which enumerated latents (``Spec.enum_uses``, for the size warning).
- uses it cannot sum out are errors (``enumeration``): a constant or data index (``z[1]``,
  ``z[g[i]]``), a whole-array read, a plate of another name, a ``for`` loop, ``target +=``, a
  non-centred or flat site, or bounds that are not data. (A ``for`` loop over ``z[t - 1]`` is a
  hidden Markov chain: :mod:`pplang.hmm` sums it out before this pass.)

A model element reads an enumerated ``z[n]`` only through the plate indices of its own statement;
its value there has size 1 along every plate, so it broadcasts against the statement's arrays
(lowering renders ``z`` itself, or, where the plate layout differs, a form that is right both
under enumeration and when ``z`` holds posterior draws).
"""

from __future__ import annotations

from dataclasses import replace

from . import ir
from .diagnostics import Diagnostic, PplangError
from .spec import (Chain, Definition, EnumUse, Factor, FlatParam, InitElement, Loop, Method, Role, Site, Spec, TExpr,
                   VType)

FINITE = ("boolean", "categorical", "integer_interval")


def enumerate_discrete(spec: Spec) -> Spec:
    """The spec with every discrete latent marked ENUMERATED (or a PplangError listing the uses
    that cannot be summed out). A spec without discrete latents is returned unchanged."""
    discrete = {s.name for s in spec.sites() if s.role is Role.LATENT and s.dist.discrete}
    if not discrete:
        return spec
    errors: list[Diagnostic] = []
    carriers: dict[str, tuple] = {}  # name -> its plates: values that carry enumeration dimensions
    latents_of: dict[str, frozenset[str]] = {}  # carrier -> the enumerated latents it depends on
    items, uses = [], []
    for item in spec.items:
        read = _reads(item, carriers, errors)
        names = frozenset().union(*(latents_of[n] for n in read)) if read else frozenset()
        if isinstance(item, Site) and item.name in discrete:
            item = _site(spec, item, errors)
            carriers[item.name] = item.plates
            latents_of[item.name] = names | {item.name}
            names = latents_of[item.name]
        elif read and isinstance(item, Definition):
            item = replace(item, enumerated=True)
            carriers[item.name] = item.plates
            latents_of[item.name] = names
        elif read:
            _refuse_reader(item, read, errors)
        if names and not isinstance(item, (Loop, Factor, InitElement, FlatParam, Chain)):
            uses.append(EnumUse(tuple(sorted(names)), item.plates, item.span))
        items.append(item)
    if errors:
        raise PplangError(errors, warnings=spec.warnings)
    nesting = max([len(i.plates) for i in items if isinstance(i, (Site, Definition, Factor, InitElement))]
                  + [len(b.plates) for i in items if isinstance(i, Loop) for b in i.body] + [0])
    return replace(spec, items=tuple(items), max_plate_nesting=nesting, enum_uses=tuple(uses))


def _site(spec: Spec, site: Site, errors: list[Diagnostic]) -> Site:
    """A discrete latent site made ENUMERATED, its outcomes counted from 0."""
    if site.truncation is not None:
        errors.append(Diagnostic("enumeration", f'the discrete latent "{site.name}" cannot be truncated',
                                 site.span, "give its distribution the bounds instead (DiscreteUniform(lo, hi))"))
    for param in ("low", "high", "total_count"):
        te = site.arg(param)
        if te is not None and not _known(spec, te):
            errors.append(Diagnostic("enumeration", f'{site.dist.name}\'s {param} must be data for "{site.name}" '
                                     "to be enumerated: its number of values is fixed before sampling",
                                     te.node.span, "use a data value (or a literal) that is the same for every "
                                     "element"))
    if site.arg("low") is not None:  # DiscreteUniform(low, high) = DiscreteUniform(0, high - low) + low
        low, high = site.arg("low"), site.arg("high")
        zero = TExpr(ir.Num(0, True), VType("int"))
        width = TExpr(ir.BinOp("-", high.node, low.node, high.node.span), VType("int"), (high, low))
        args = tuple((p, zero if p == "low" else width if p == "high" else e) for p, e in site.args)
        return replace(site, method=Method.ENUMERATED, args=args, offset=low.node)
    if site.dist.offset:  # Stan's 1..K: NumPyro's own 0-based class, the offset added explicitly
        return replace(site, method=Method.ENUMERATED, dist=replace(site.dist, offset=0),
                       offset=ir.Num(site.dist.offset, True))
    return replace(site, method=Method.ENUMERATED)


def _known(spec: Spec, te: TExpr) -> bool:
    """Data (or literals) that do not vary along the statement's plates."""
    names = {n.id for n in ir.walk(te.node) if isinstance(n, ir.Name)}
    return not te.type.plates and all(
        spec.symbols[n].role in (Role.DATA, Role.DERIVED) for n in names if n in spec.symbols)


def support_size(site: Site) -> ir.Expr:
    """The number of values of an enumerated site, as a size expression over data."""
    if site.dist.support == "boolean":
        return ir.Num(2, True)
    if site.dist.support == "categorical":
        return site.arg(site.dist.params[0]).type.dims[-1]
    if site.arg("total_count") is not None:  # Binomial: 0..n
        return ir.BinOp("+", site.arg("total_count").node, ir.Num(1, True))
    return ir.BinOp("+", site.arg("high").node, ir.Num(1, True))  # DiscreteUniform(0, high - low)


def _texprs(item) -> list[TExpr]:
    match item:
        case Site():
            bounds = [b for b in (item.truncation or ()) if b is not None]
            return [e for _, e in item.args] + bounds + list(item.element)
        case Definition() | Factor() | InitElement():
            return [item.value]
        case Loop():
            return [b.value for b in item.body]
        case Chain():
            return [e for s in (item.first, item.step, *(m.site for m in item.emissions)) for e in _texprs(s)]
    return []


def _walk(te: TExpr):
    yield te
    for a in te.args:
        yield from _walk(a)


def _reads(item, carriers: dict[str, tuple], errors: list[Diagnostic]) -> set[str]:
    """The carriers ``item`` reads; a read that is not element-wise within the same plates is an error."""
    read: set[str] = set()
    plates = {p.index: p for p in getattr(item, "plates", ())}
    for top in _texprs(item):
        inside: set[int] = set()
        for te in _walk(top):
            node = te.node
            if isinstance(node, ir.Index) and node.base.id in carriers:
                inside.add(id(node.base))
                read.add(node.base.id)
                _check_index(node, carriers[node.base.id], plates, errors)
            elif isinstance(node, ir.Name) and node.id in carriers and id(node) not in inside:
                read.add(node.id)
                if carriers[node.id]:
                    errors.append(Diagnostic(
                        "enumeration", f'"{node.id}" depends on an enumerated discrete latent: read it element by '
                        f"element, {node.id}[{', '.join(p.index for p in carriers[node.id])}]", node.span,
                        "each element is summed out on its own; a whole-array read would tie them together"))
    return read


def _check_index(node: ir.Index, own: tuple, plates: dict, errors: list[Diagnostic]) -> None:
    name = node.base.id
    ok = len(node.indices) == len(own) and all(
        isinstance(i, ir.Name) and i.id in plates and plates[i.id].name == p.name and plates[i.id].size == p.size
        for i, p in zip(node.indices, own))
    if not ok:
        want = f"{name}[{', '.join(p.index for p in own)}]"
        errors.append(Diagnostic(
            "enumeration", f'"{name}" depends on an enumerated discrete latent, so it can be read only element by '
            f"element within the same index set ({want}, inside a statement over those indices)", node.span,
            "each element is summed out on its own; a constant or data index would tie elements together: "
            "marginalise by hand with `target += log_sum_exp(...)` for such models"))


def _refuse_reader(item, read: set[str], errors: list[Diagnostic]) -> None:
    """Statements that read an enumerated latent but cannot carry its enumeration dimension."""
    name = sorted(read)[0]
    what = None
    match item:
        case Loop():
            what = "a `for` loop (a recursion over an enumerated latent: hidden Markov models are not enumerated yet)"
        case Factor():
            what = "`target +=` (its terms are summed before enumeration could keep them apart)"
        case InitElement():
            what = "the first element of a recursion"
        case Chain():
            what = "a hidden Markov chain's statements (one discrete latent per statement there)"
        case Site(method=Method.FLAT | Method.SORTED | Method.FACTOR):
            what = "the prior of a declared parameter or a defined quantity"
        case Site(reparam=r) if not isinstance(r, ir.Centered):
            what = "a non-centred (reparameterised) site"
    if what is not None:
        errors.append(Diagnostic("enumeration", f'"{name}" depends on an enumerated discrete latent and cannot be '
                                 f"read by {what}", item.span,
                                 "read it in a sampling statement or a definition, or marginalise by hand with "
                                 "`target += log_sum_exp(...)`"))
