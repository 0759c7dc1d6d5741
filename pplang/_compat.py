"""Small shims so pplang runs on every Python its ``requires-python`` allows (3.10+)."""

from __future__ import annotations

try:
    from typing import assert_never
except ImportError:  # Python 3.10
    from typing import NoReturn

    def assert_never(arg: NoReturn, /) -> NoReturn:  # type: ignore[misc]
        """Mark code that a closed union makes unreachable (typing.assert_never from 3.11)."""
        raise AssertionError(f"Expected code to be unreachable, but got: {arg!r}")

__all__ = ["assert_never"]
