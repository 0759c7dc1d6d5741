"""Tests and runs leave no global state behind: JAX's x64 flag, and Python-version features."""

import ast
import importlib
import typing
from pathlib import Path

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES

PACKAGE = Path(pplang.__file__).parent


def test_float64_is_scoped_to_the_run():
    """`float64=True` computes in double precision without switching JAX's flag for the process,
    and what is computed later from the draws is double precision too."""
    import jax

    model = pplang.load(EXAMPLES / "linear_regression.ppl")
    post = model.sample(EXAMPLES / "linear_regression.json", chains=1, warmup=20, samples=20, float64=True)
    assert not jax.config.jax_enable_x64
    assert post.samples["alpha"].dtype == np.float64
    assert post.predictive()["y"].dtype == np.float64 and post.log_likelihood()["y"].dtype == np.float64
    assert post.generated()["log_lik"].dtype == np.float64
    prior = model.prior_predictive(EXAMPLES / "linear_regression.json", samples=3, float64=True)
    assert prior["alpha"].dtype == np.float64 and not jax.config.jax_enable_x64
    assert model.prior_predictive(EXAMPLES / "linear_regression.json", samples=3)["alpha"].dtype == np.float32


def test_a_test_may_switch_x64_on():
    import jax

    jax.config.update("jax_enable_x64", True)


def test_the_next_test_starts_with_x64_as_it_was():
    """Runs after the test above (pytest keeps the file's order): conftest's autouse fixture put
    the flag back."""
    import jax

    assert not jax.config.jax_enable_x64


def _imports_assert_never_from_typing(path: Path) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "typing"
               and any(a.name == "assert_never" for a in node.names) for node in ast.walk(ast.parse(path.read_text())))


@pytest.mark.parametrize("module", [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
                                    if p.name != "_compat.py"])
def test_modules_run_on_python_3_10(module):
    """requires-python is >=3.10, and typing.assert_never is 3.11+: modules take it from pplang._compat."""
    assert not _imports_assert_never_from_typing(PACKAGE / module)


def test_compat_assert_never_without_typing_assert_never(monkeypatch):
    import pplang._compat

    monkeypatch.delattr(typing, "assert_never")
    try:
        backport = importlib.reload(pplang._compat).assert_never
        assert backport.__module__ == "pplang._compat"
        with pytest.raises(AssertionError, match="unreachable.*'oops'"):
            backport("oops")
    finally:
        monkeypatch.undo()
        importlib.reload(pplang._compat)
    assert pplang._compat.assert_never is typing.assert_never
