"""The driver: source text -> IR -> checked model (spec) -> hidden Markov chains (spec -> spec) ->
enumeration of discrete latents (spec -> spec) -> statement order (spec -> spec) -> NumPyro source -> Model."""

from __future__ import annotations

from pathlib import Path

from . import checks, lower_numpyro, syntax
from lark.exceptions import VisitError

from .diagnostics import Diagnostic, PplangError
from .enumerate import enumerate_discrete
from .hmm import hidden_chains
from .ir import Span
from .order import order
from .runtime import Model


def compile(source: str, path: str = "<string>") -> Model:  # noqa: A001 - the public name
    """Compile pplang ``source``; ``path`` is used in messages. Raises :class:`PplangError`."""
    source = normalise(source)
    try:
        try:
            program = syntax.parse(source)
            spec = order(enumerate_discrete(hidden_chains(checks.check(program))))
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
    """Read and compile a ``.ppl`` file (UTF-8; a byte-order mark and any line ending are fine)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PplangError([Diagnostic("file-not-found", f"cannot read {path}: {reason}")], file=str(path)) from None
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        text = raw.decode("utf-8", errors="replace")
        raise PplangError([Diagnostic("syntax-error", f"the file is not valid UTF-8 text (byte 0x{raw[exc.start]:02x})",
                                      Span(line, col, line, col + 1), "save the model file as UTF-8")],
                          source=text, file=str(path)) from None
    return compile(source, str(path))


def normalise(source: str) -> str:
    """One form of the text for every entry point: no byte-order mark, ``\n`` line endings."""
    return source.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
