"""Hidden Markov chains, summed out by the forward algorithm (spec -> spec).

    z[1] ~ Categorical(rho)
    for t in 2:T {
      z[t] ~ Categorical(Gamma[z[t - 1]])
    }
    y[t] ~ Normal(mu[z[t]], sigma)

:mod:`pplang.checks.chains` turns the first two statements into sites of the undeclared chain
``z``. :func:`hidden_chains` gathers them and every observation that reads ``z[t]`` into one
:class:`~pplang.spec.Chain`, which lowering renders as the forward algorithm (not NumPyro's
enumeration of a scan, from which ``infer_discrete`` cannot recover the states):

- the emission matrix ``E[t, k]``: each observation evaluated at all K states at once (its reads
  of ``z[t]`` become reads of the grid of states, :attr:`Chain.state`), vectorised over t;
- the log transition matrices ``L[t, j, k] = log p(z[t] = k | z[t - 1] = j)``, the step evaluated
  at every previous state (its reads of ``z[t - 1]`` become the grid), varying with t when the
  step's arguments do;
- ``log p(y)`` by one ``jax.lax.scan``, added with one factor.

The states are reported after sampling (forward-filter backward-sample draws and smoothed
marginals: :mod:`pplang.forward`). Anything else that reads the chain is refused with a located
``hidden-markov`` error: a step reading further back than ``z[t - 1]``, a chain read by a prior, a
definition, ``target +=`` or a generated quantity, an observation reading two chains or another
enumerated latent, or reading ``z`` other than as ``z[t]`` (t an index over the chain) or ``z[1]``.
"""

from __future__ import annotations

from dataclasses import replace

from . import ir
from .diagnostics import Diagnostic, PplangError
from .enumerate import _site as enumerated_site, support_size
from .spec import (Chain, Definition, Emission, Factor, InitElement, Loop, Method, Site, SizeCheck, Spec, TExpr,
                   VType)

CODE = "hidden-markov"


def hidden_chains(spec: Spec) -> Spec:
    """The spec with each hidden Markov chain and its observations gathered into a :class:`Chain`
    (or a PplangError listing what cannot be summed out). Without chains: unchanged."""
    firsts = {s.name: s for s in spec.sites() if s.method is Method.ENUMERATED and s.element}
    if not firsts:
        return spec
    steps = {s.name: s for s in spec.sites() if s.name in firsts and s.method is Method.ENUMERATED and s.value}
    errors: list[Diagnostic] = []
    emissions: dict[str, list[Emission]] = {n: [] for n in firsts}
    last: dict[str, int] = {}
    items: list = []
    for item in spec.items:
        if isinstance(item, Site) and item.name in firsts and item in (firsts[item.name], steps.get(item.name)):
            last[item.name] = len(items)
            continue
        read = _chains_read(item, firsts)
        if not read:
            items.append(item)
            continue
        if len(read) > 1:
            errors.append(Diagnostic(CODE, f"this statement reads the hidden Markov chains {' and '.join(sorted(read))}: "
                                     "chains that interact are not summed out", item.span,
                                     "one chain per model statement; a joint chain (one state per pair) can be "
                                     "written as one Categorical over the product of the states"))
            continue
        name = next(iter(read))
        e = _emission(item, name, errors)
        if e is not None:
            emissions[name].append(e)
            last[name] = len(items)
    for name in emissions:
        _no_overlap(emissions[name], errors)
    for g in spec.generated:
        for name in _chains_read(g, firsts):
            errors.append(_refused(g, name, "a generated quantity"))
    size_checks = list(spec.size_checks)
    chains: dict[int, list[Chain]] = {}
    for name, first in firsts.items():
        step = steps.get(name)
        if step is None:
            continue
        others = [n for te in _texprs(first) + _texprs(step) for n in _chain_reads(te, set(firsts) - {name})]
        if others:
            errors.append(Diagnostic(CODE, f'the chain "{name}" reads the hidden Markov chain "{others[0].base.id}": '
                                     "chains that interact are not summed out", others[0].span,
                                     "a joint chain (one state per pair) can be written as one Categorical over the "
                                     "product of the states"))
            continue
        chain = _chain(spec, first, step, tuple(emissions[name]), errors, size_checks)
        if chain is not None:
            chains.setdefault(last[name], []).append(chain)
    if errors:
        raise PplangError(errors, warnings=spec.warnings)
    out: list = []
    for k in range(len(items) + 1):  # each chain where its last statement was written
        out += chains.get(k, [])
        out += items[k:k + 1]
    return replace(spec, items=tuple(out), size_checks=tuple(size_checks))


def _chain(spec: Spec, first: Site, step: Site, emissions, errors, size_checks) -> Chain | None:
    name = first.name
    for te in _texprs(first):
        for node in _chain_reads(te, {name}):
            errors.append(Diagnostic(CODE, f'the first element of the chain "{name}" cannot depend on the chain',
                                     node.span, f"give {name}[1] its own initial distribution, e.g. Categorical(rho)"))
            return None
    plate = step.plates[0]
    if not (isinstance(plate.start, ir.Num) and plate.start.value == 2):
        errors.append(Diagnostic(CODE, f'the chain "{name}" must continue from {name}[1]: its loop starts at 2',
                                 step.span, f"write `for {plate.index} in 2:T`"))
        return None
    lag = ir.BinOp("-", ir.Name(plate.index), ir.Num(1.0, True))
    bad = [n for te in _texprs(replace(step, value=None)) for n in _chain_reads(te, {name}) if n.indices != (lag,)]
    if bad:
        errors.append(Diagnostic(CODE, f'element {plate.index} of the chain "{name}" may depend only on the element '
                                 f"before it, {name}[{plate.index} - 1]", bad[0].span,
                                 "a hidden Markov chain is first order; for a longer memory make the state a pair "
                                 "(one Categorical over K * K values) and index its transition table by it"))
        return None
    if step.dist.support != first.dist.support:
        errors.append(Diagnostic(CODE, f'{name}[1] and {name}[{plate.index}] must have the same kind of values '
                                 f"({first.dist.name} vs {step.dist.name})", step.span))
        return None
    grid = TExpr(ir.Name(f"_pp_state_{name}"), VType("int"))
    step = replace(step, args=tuple((p, _substitute(te, name, grid)) for p, te in step.args))
    before = len(errors)
    first, step = enumerated_site(spec, first, errors), enumerated_site(spec, step, errors)
    if len(errors) > before:
        return None
    states = support_size(first)
    if states != support_size(step):
        size_checks.append(SizeCheck(states, support_size(step), step.span,
                                     f'the number of values of {name}[1] and of {name}[{plate.index}]'))
    return Chain(name, first.type.shape[0], states, first.offset, first, step, emissions, step.span)


def _emission(item, name: str, errors: list[Diagnostic]) -> Emission | None:
    """An observation that reads ``name[t]`` (t one of its plate indices) or one element ``name[c]``."""
    if not isinstance(item, Site) or not item.observed:
        errors.append(_refused(item, name, _what(item)))
        return None
    if item.missing is not None:
        errors.append(Diagnostic(CODE, f'"{item.name}" has missing values and reads the hidden Markov chain "{name}": '
                                 "this is not supported yet", item.span, "drop the missing entries from the data"))
        return None
    plates = {p.index: k for k, p in enumerate(item.plates)}
    reads = [n for te in _texprs(item) for n in _chain_reads(te, {name})]
    kinds = set()
    for node in reads:
        idx = node.indices[0] if len(node.indices) == 1 else None
        if isinstance(idx, ir.Name) and idx.id in plates:
            kinds.add(("axis", plates[idx.id]))
        elif isinstance(idx, ir.Num) and idx.is_int:
            kinds.add(("at", int(idx.value)))
        else:
            errors.append(Diagnostic(CODE, f'an observation may read the hidden Markov chain "{name}" only as '
                                     f"{name}[t] (t an index of the statement) or one element ({name}[1])",
                                     node.span, "the observations at time t depend on the state at time t"))
            return None
    whole = [n for te in _texprs(item) for n in _whole_reads(te, name)]
    if whole:
        errors.append(Diagnostic(CODE, f'the hidden Markov chain "{name}" is read whole: read it element by element, '
                                 f"{name}[t]", whole[0].span))
        return None
    if len(kinds) != 1:
        errors.append(Diagnostic(CODE, f'this observation reads the chain "{name}" at several times', item.span,
                                 f"each observation reads one element, {name}[t]"))
        return None
    kind, val = kinds.pop()
    grid = TExpr(ir.Name(f"_pp_state_{name}"), VType("int"))
    args = tuple((p, _substitute(te, name, grid)) for p, te in item.args)
    trunc = None if item.truncation is None else tuple(None if b is None else _substitute(b, name, grid)
                                                       for b in item.truncation)
    site = replace(item, args=args, truncation=trunc)
    return Emission(site, val, None) if kind == "axis" else Emission(site, None, val)


def _no_overlap(emissions: list[Emission], errors: list[Diagnostic]) -> None:
    """Observations of parts of the same data (``y[1]`` and ``y[t]`` for t in 2:T) must not overlap:
    each element is observed once."""
    seen: dict[str, list[tuple[float, float]]] = {}
    for e in emissions:
        if e.axis is None:
            lo = hi = float(e.at)
        else:
            start = e.site.plates[e.axis].start
            if start is not None and not isinstance(start, ir.Num):
                continue
            lo, hi = (1.0 if start is None else float(start.value)), float("inf")
        for a, b in seen.get(e.site.name, []):
            if lo <= b and a <= hi:
                errors.append(Diagnostic(CODE, f'"{e.site.name}" is observed here and by an earlier statement at the '
                                         "same positions", e.site.span,
                                         "observe each element once: y[1] before the loop and y[t] in it, or y[t] "
                                         "after it for every t"))
                return
        seen.setdefault(e.site.name, []).append((lo, hi))


def _what(item) -> str:
    match item:
        case Site(observed=False):
            return "the prior of a continuous parameter"
        case Site():
            return "this statement"
        case Definition():
            return "a definition"
        case Factor():
            return "`target +=`"
        case Loop() | InitElement():
            return "a `for` loop's recursion"
    return "this statement"


def _refused(item, name: str, what: str) -> Diagnostic:
    return Diagnostic(CODE, f'the hidden Markov chain "{name}" cannot be read by {what}: only observations '
                      f"({name}[t] in a `~` statement on data) are summed out with it", item.span,
                      f"write the observation's distribution with {name}[t] in it (y[t] ~ Normal(mu[{name}[t]], sigma)); "
                      "a state-dependent prior or definition is not supported")


def _texprs(item) -> list[TExpr]:
    match item:
        case Site():
            bounds = [b for b in (item.truncation or ()) if b is not None]
            return [e for _, e in item.args] + bounds + list(item.element) + ([item.value] if item.value else [])
        case Definition() | Factor() | InitElement():
            return [item.value]
        case Loop():
            return [b.value for b in item.body]
    return []


def _chains_read(item, chains) -> set[str]:
    out = set()
    for te in _texprs(item):
        out |= {n.id for n in ir.walk(te.node) if isinstance(n, ir.Name) and n.id in chains}
    if isinstance(item, Site) and item.value is not None and item.name in chains:
        out.discard(item.name)
    return out


def _chain_reads(te: TExpr, names) -> list[ir.Index]:
    return [n for n in ir.walk(te.node) if isinstance(n, ir.Index) and n.base.id in names]


def _whole_reads(te: TExpr, name: str) -> list[ir.Name]:
    inside = {id(n.base) for n in ir.walk(te.node) if isinstance(n, ir.Index)}
    return [n for n in ir.walk(te.node) if isinstance(n, ir.Name) and n.id == name and id(n) not in inside]


def _substitute(te: TExpr, name: str, grid: TExpr) -> TExpr:
    """``te`` with every typed read of ``name[...]`` replaced by ``grid``."""
    if isinstance(te.node, ir.Index) and te.node.base.id == name:
        return grid
    if not te.args:
        return te
    return replace(te, args=tuple(_substitute(a, name, grid) for a in te.args))
