import os
import re
from pathlib import Path

import pytest

from pplang.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden expectations")


@pytest.fixture
def update_goldens(request):
    return request.config.getoption("--update-goldens")


@pytest.fixture(scope="session")
def eight_schools_data():
    import json

    return json.loads((EXAMPLES / "eight_schools.json").read_text())


@pytest.fixture(autouse=True)
def _restore_jax_x64():
    """Tests do not leak JAX's x64 flag into each other: whatever a test sets, the next one starts
    with the flag as it was (JAX imported on demand, so tests that never touch JAX stay cheap)."""
    import sys

    before = sys.modules["jax"].config.jax_enable_x64 if "jax" in sys.modules else None
    yield
    if "jax" in sys.modules:
        jax = sys.modules["jax"]
        if before is None:  # JAX was first imported during the test: its default
            before = os.environ.get("JAX_ENABLE_X64", "").lower() in ("1", "true", "yes", "on")
        if jax.config.jax_enable_x64 != before:
            jax.config.update("jax_enable_x64", before)
        # hundreds of tests compile programs in this one process: keep its memory mappings bounded
        # (pplang.jitcache explains the limit; tests that jit outside pplang's runs count too)
        from pplang.jitcache import release_compiled_programs_if_needed

        release_compiled_programs_if_needed(0.4)


# ----------------------------------------------------------------------------- diagnostic codes seen

_SEEN: set[str] = set()
_CODE = re.compile(r"(?:error|warning)\[([a-z-]+)\]|: (?:error|warning): .*  \[([a-z-]+)\]$", re.M)


def record_output(text: str) -> str:
    """Note the diagnostic codes in a pplang command's output (full or concise form), so a test that
    runs the command line in a subprocess counts as triggering them. Returns ``text``."""
    _SEEN.update(a or b for a, b in _CODE.findall(text))
    return text


@pytest.fixture(autouse=True)
def diagnostic_codes(request, monkeypatch):
    """The codes of every diagnostic this test produced (in this process, or in a command's output
    passed to :func:`record_output`). A test that test_errors.COVERED_ELSEWHERE names as the
    trigger of a code fails when it did not produce that code."""
    from test_errors import COVERED_ELSEWHERE

    _SEEN.clear()
    created = Diagnostic.__post_init__

    def record(self):
        created(self)
        _SEEN.add(self.code)

    monkeypatch.setattr(Diagnostic, "__post_init__", record)
    yield _SEEN
    me = {f"{request.module.__name__}.{request.node.name}", f"{request.module.__name__}.{request.node.originalname}"}
    owed = sorted(code for code, test in COVERED_ELSEWHERE.items() if test in me and code not in _SEEN)
    assert not owed, f"test_errors.COVERED_ELSEWHERE names {request.node.name} as triggering {owed}, but it did not"


@pytest.fixture
def x64():
    """float64 for one test (test files that compare with exact computations)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)
