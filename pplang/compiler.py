"""The driver: source text -> IR -> checked model (spec) -> NumPyro source -> Model."""

from __future__ import annotations

from pathlib import Path

from . import checks, lower_numpyro, syntax
from lark.exceptions import VisitError

from .diagnostics import Diagnostic, PplangError
from .ir import Span
from .runtime import Model


def compile(source: str, path: str = "<string>") -> Model:  # noqa: A001 - the public name
    """Compile pplang ``source``; ``path`` is used in messages. Raises :class:`PplangError`."""
    try:
        try:
            program = syntax.parse(source)
            spec = checks.check(program)
            lowered = lower_numpyro.lower(spec, Path(path).name)
        except (RecursionError, VisitError) as exc:
            if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
                raise
            raise _too_deep(source) from None
    except PplangError as exc:
        exc.source, exc.file = exc.source or source, exc.file or path
        raise
    return Model(source, path, program, spec, lowered)


def _too_deep(source: str) -> PplangError:
    """Nesting beyond Python's recursion limit: point at the most deeply nested line."""
    lines = source.splitlines() or [""]
    depth = [sum(line.count(c) for c in "(-[+*/^") for line in lines]
    k = max(range(len(lines)), key=depth.__getitem__)
    span = Span(k + 1, 1, k + 1, len(lines[k]) + 1)
    return PplangError([Diagnostic("syntax-error", "this expression is nested too deeply for pplang", span,
                                   "split it into several definitions with `local name = ...`")])


def load(path: str | Path) -> Model:
    """Read and compile a ``.ppl`` file."""
    try:
        source = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PplangError([Diagnostic("file-not-found", f"cannot read {path}: {reason}")], file=str(path)) from None
    return compile(source, str(path))
