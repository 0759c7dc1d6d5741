"""Statement order (spec -> spec): a statement comes after the statements that give the quantities
it reads their values.

Declared parameters exist before any statement, as in Stan's model block, so a user may write
``mu ~ Normal(0, tau)`` above ``tau ~ HalfNormal(1)`` (or ``mu[1] ~ Normal(0, tau)`` for an element
of a declared ``mu``). NumPyro's model function, though, creates ``tau`` at its ``~`` statement, so
the generated code must sample ``tau`` first. :func:`order` keeps the written order whenever every
statement reads only quantities made above it (so such models generate the same code as before),
and otherwise sorts the statements stably: each after every statement that makes a quantity it
reads, the rest in written order. Where no order works (a quantity that depends on itself through
other statements) the model is refused at the first statement that reads too early.
"""

from __future__ import annotations

from dataclasses import replace

from .checks.context import names_in
from .diagnostics import Diagnostic, PplangError
from .spec import Chain, Definition, Factor, FlatParam, InitElement, Item, Loop, Method, Site, Spec


def writes(item: Item) -> set[str]:
    """The quantities whose value ``item`` makes."""
    match item:
        case FlatParam() | Definition() | InitElement():
            return {item.name}
        case Site():
            return set() if item.observed or item.method is Method.FACTOR else {item.name}
        case Loop():
            return set(item.defined)
        case _:
            return set()


def reads(item: Item) -> set[str]:
    """The names ``item`` reads (symbols and plate indices alike; only written names matter)."""
    exprs = []
    match item:
        case Site():
            exprs = [e for _, e in item.args] + [b for b in (item.truncation or ()) if b is not None]
            exprs += list(item.element) + ([item.value] if item.value is not None else [])
            out = set().union(*(names_in(e.node) for e in exprs)) if exprs else set()
            return out | ({item.name} if item.method is Method.FACTOR and not item.observed else set())
        case Definition() | InitElement() | Factor():
            exprs = [item.value]
        case Loop():
            exprs = [b.value for b in item.body]
        case Chain():
            return set().union(*(reads(s) for s in (item.first, item.step, *(e.site for e in item.emissions))))
    return set().union(*(names_in(e.node) for e in exprs)) if exprs else set()


def _early_read(items: list[Item], sequence: list[int], made: list[set[str]],
                read: list[set[str]]) -> tuple[int, str] | None:
    """The first (statement, name) in ``sequence`` that reads a quantity some statement makes but
    none above it has made yet."""
    makers = set().union(*made) if made else set()
    done: set[str] = set()
    for k in sequence:
        early = sorted(n for n in read[k] - made[k] if n in makers and n not in done)
        if early:
            return k, early[0]
        done |= made[k]
    return None


def _sorted(items: tuple[Item, ...], source: str | None, file: str | None) -> tuple[Item, ...]:
    made = [writes(i) for i in items]
    read = [reads(i) for i in items]
    written = list(range(len(items)))
    if _early_read(list(items), written, made, read) is None:
        return items
    makers: dict[str, list[int]] = {}
    for k, names in enumerate(made):
        for n in names:
            makers.setdefault(n, []).append(k)
    needs = [{i for n in read[k] - made[k] for i in makers.get(n, ()) if i != k} for k in written]
    placed: list[int] = []
    left = set(written)
    while left:
        ready = [k for k in sorted(left) if not (needs[k] & left)]
        if not ready:
            break
        placed.append(ready[0])
        left.remove(ready[0])
    early = _early_read(list(items), placed + sorted(left), made, read)
    if left or early is not None:
        k, name = early or _early_read(list(items), written, made, read)
        maker = items[makers[name][0]]
        raise PplangError([Diagnostic(
            "unsupported", f'"{name}" is read here, but its value comes from line {maker.span.line}, which itself '
            f"depends on this statement: the statements cannot be put in an order that computes them",
            span=items[k].span, help=f'give "{name}" a value that does not depend on this statement')],
            source=source, file=file)
    return tuple(items[k] for k in placed)


def order(spec: Spec, source: str | None = None, file: str | None = None) -> Spec:
    """``spec`` with its model statements and its generated statements each in an order where every
    quantity is made before it is read (the written order when it already is)."""
    items = _sorted(spec.items, source, file)
    generated = _sorted(spec.generated, source, file)
    if items is spec.items and generated is spec.generated:
        return spec
    return replace(spec, items=items, generated=generated)
