"""Checks of command-line input made before any work is done: where an output file goes, and the
ranges of counts and seeds. A bad value is a located ``error[...]`` with exit status 1, reported
before the model is compiled or sampled, so a mistake never costs a finished run. Nothing here
imports JAX."""

from __future__ import annotations

import numbers
import os
from pathlib import Path

from .diagnostics import Diagnostic, PplangError

SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1  # what jax.random.PRNGKey accepts (a 64-bit integer)
COUNT_MAX = 2**31 - 1  # chains, draws, iterations: JAX counts them in 32-bit integers


def whole_problem(flag: str, value, least: int | None = None, most: int | None = None) -> str | None:
    """What is wrong with ``value`` for the whole-number flag ``flag`` (None: nothing)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"{flag} must be a whole number, got {value!r}"
    if least is not None and value < least:
        return f"{flag} must be at least {least}, got {value}"
    if most is not None and value > most:
        return f"{flag} must be at most {most}, got {value}"
    return None


def seed_problem(flag: str, value) -> str | None:
    """A seed must fit the 64-bit integer that ``jax.random.PRNGKey`` takes."""
    problem = whole_problem(flag, value)
    if problem is None and not SEED_MIN <= value <= SEED_MAX:
        return f"{flag} must lie in -2^63..2^63-1 (a 64-bit integer, as jax.random.PRNGKey takes), got {value}"
    return problem


def count_problem(flag: str, value, least: int = 1) -> str | None:
    return whole_problem(flag, value, least, COUNT_MAX)


def refuse(problems: list[str | None]) -> None:
    """Raise ``bad-setting`` for every problem found (``None`` entries are no problem)."""
    found = [p for p in problems if p]
    if found:
        raise PplangError([Diagnostic("bad-setting", p) for p in found])


def check_output_path(path: str | Path, suffixes: tuple[str, ...] | None = None, what: str = "the output") -> Path:
    """Refuse an output path that cannot be written, before the work that fills it: an unknown
    suffix (``output-format``), a directory, a missing or read-only parent (``output-path``)."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise PplangError([Diagnostic("output-format", f"cannot write {what} to {path}: the suffix must be "
                                      + " or ".join(suffixes), help=f"name a file ending in {', '.join(suffixes)}",
                                      file=str(path))])
    parent = path.parent
    problem, hint = None, None
    if path.is_dir():
        example = path / ("out" + suffixes[0]) if suffixes else None
        problem, hint = "is a directory", "name a file inside it" + (f", e.g. {example}" if example else "")
    elif not parent.exists():
        problem, hint = f"its directory {parent} does not exist", f"create it first: mkdir -p {parent}"
    elif not parent.is_dir():
        problem, hint = f"{parent} is not a directory", "choose a path inside a directory"
    elif path.exists() and not os.access(path, os.W_OK):
        problem, hint = "the file exists and is read-only", "choose another name, or make the file writable"
    elif not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        problem, hint = f"the directory {parent} is not writable", "choose a directory you can write to"
    if problem:
        raise PplangError([Diagnostic("output-path", f"cannot write {what} to {path}: {problem}", help=hint,
                                      file=str(path))])
    return path


def write_text(path: str | Path, text: str) -> None:
    """Write ``text``; a failure (disk full, a race with the checks above) is an ``output-path`` error."""
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise PplangError([Diagnostic("output-path", f"cannot write {path}: {exc.strerror or exc}",
                                      file=str(path))]) from None
