"""The driver: source text -> IR -> checked model -> NumPyro source -> Model."""

from __future__ import annotations

from pathlib import Path

from . import checks, lower_numpyro, syntax
from .diagnostics import Diagnostic, PplangError
from .runtime import Model


def compile(source: str, path: str = "<string>") -> Model:  # noqa: A001 - the public name
    """Compile pplang ``source``; ``path`` is used in messages. Raises :class:`PplangError`."""
    try:
        program = syntax.parse(source)
        checked = checks.check(program)
        lowered = lower_numpyro.lower(checked, Path(path).name)
    except PplangError as exc:
        exc.source, exc.file = exc.source or source, exc.file or path
        raise
    return Model(source, path, program, checked, lowered)


def load(path: str | Path) -> Model:
    """Read and compile a ``.ppl`` file."""
    try:
        source = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PplangError([Diagnostic("file-not-found", f"cannot read {path}: {reason}")], file=str(path)) from None
    return compile(source, str(path))
