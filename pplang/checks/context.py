"""The state the check passes share: the symbol table being built, diagnostics, and the plates
and loop of the statement being checked."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .. import ir
from ..diagnostics import Diagnostic
from ..spec import IndexUse, Plate, Role, SizeCheck, Symbol

RESERVED = {"data", "param", "target", "for", "in", "generated", "local", "noncentered", "centered", "partial",
            "auto", "def", "return"}


def suggest(name: str, options) -> str | None:
    match = difflib.get_close_matches(name, sorted(options), n=1)
    return f'did you mean "{match[0]}"?' if match else None


@dataclass
class Context:
    """Mutable state of one check run. ``symbols`` grows in source order; ``declared_sizes``
    holds the sizes of every ``data``/``param`` declaration in the file (known up front, for index
    range inference); ``failed`` names whose statement had an error (uses of them are not reported
    again, so one bad definition gives one error)."""

    program: ir.Program
    symbols: dict[str, Symbol] = field(default_factory=dict)
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    size_checks: list[SizeCheck] = field(default_factory=list)
    index_uses: list[IndexUse] = field(default_factory=list)
    declared_sizes: dict[str, tuple[ir.Expr, ...]] = field(default_factory=dict)
    occurrences: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # index -> (array, dim)
    refs: dict[str, list[ir.Span]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    plates: tuple[Plate, ...] = ()
    loop_var: str | None = None
    inits: dict[str, dict[int, tuple[ir.Expr, ...]]] = field(default_factory=dict)  # x[k] before a loop
    definitions: dict[str, object] = field(default_factory=dict)  # name -> its Definition or Loop
    functions: object = None  # the user-defined functions (checks.functions.Functions)

    def err(self, code: str, msg: str, span: ir.Span, help: str | None = None) -> None:
        self.errors.append(Diagnostic(code, msg, span, help))

    def warn(self, code: str, msg: str, span: ir.Span, help: str | None = None) -> None:
        self.warnings.append(Diagnostic(code, msg, span, help, severity="warning"))

    def declare(self, sym: Symbol) -> bool:
        """Add ``sym`` to the table; False (with an error) for a reserved or duplicate name."""
        if sym.name in RESERVED:
            self.err("reserved-name", f'"{sym.name}" is a reserved word', sym.span)
            return False
        if sym.name.startswith("_pp"):
            self.err("reserved-name", f'names starting with "_pp" are reserved: "{sym.name}"', sym.span)
            return False
        fdef = self.functions.declared.get(sym.name) if self.functions is not None else None
        if fdef is not None:
            self.err("duplicate-definition", f'"{sym.name}" is the function defined at line {fdef.span.line}', sym.span,
                     "give the quantity or the function another name")
            return False
        if sym.name in self.symbols:
            prev = self.symbols[sym.name].span
            self.err("duplicate-definition", f'"{sym.name}" is already defined at line {prev.line}', sym.span)
            return False
        self.symbols[sym.name] = sym
        return True

    def constant(self, expr: ir.Expr) -> bool:
        """True when ``expr`` depends only on literals and data (known before sampling)."""
        return all(self.symbols[n].role in (Role.DATA, Role.DERIVED) for n in names_in(expr) if n in self.symbols)

    def size_equal(self, a: ir.Expr, b: ir.Expr, span: ir.Span, what: str, help: str | None = None) -> None:
        """Require two sizes to be equal: now when both are literals, else once data is known."""
        if a == b:
            return
        if isinstance(a, ir.Num) and isinstance(b, ir.Num):
            self.err("shape-mismatch", f"sizes differ: {int(a.value)} vs {int(b.value)} ({what})", span, help)
            return
        self.size_checks.append(SizeCheck(a, b, span, what, help))

    def plate_order(self, *groups: tuple[str, ...]) -> tuple[str, ...]:
        used = set().union(*groups)
        return tuple(p.index for p in self.plates if p.index in used)

    def note_ref(self, name: str, span: ir.Span) -> None:
        self.refs.setdefault(name, []).append(span)


def names_in(expr) -> set[str]:
    """All names referenced in an expression (indexing bases included)."""
    return {n.id for n in ir.walk(expr) if isinstance(n, ir.Name)}
