"""Robustness: seeded random mutations of every example must end in a catalogued diagnostic with
a valid position (or compile cleanly) -- never an uncaught exception."""

import random
import time

import pytest

import pplang
from pplang.diagnostics import CATALOGUE, PplangError
from conftest import EXAMPLES

SOURCES = sorted(EXAMPLES.rglob("*.ppl"))
TOKENS = ["~", "=", "(", ")", "[", "]", ",", "+", "-", "*", "/", "^", "@", "<", ">", ":", "{", "}", "'",
          "data", "param", "for", "in", "target", "+=", "noncentered", "T", "int", "real", "vector",
          "Normal", "x", "1", "0.5", "1e400", "\n", " ", "#", "?", "==", "lambda", "sum", "jnp", "__import__"]


def mutate(text: str, rng: random.Random) -> str:
    kind = rng.randrange(8)
    if not text:
        return rng.choice(TOKENS)
    i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    if kind == 0:
        return text[:i] + text[j:]  # delete a span
    if kind == 1:
        return text[:i] + text[i:j] * 2 + text[j:]  # duplicate a span
    if kind == 2:
        return text[:i] + rng.choice(TOKENS) + text[i:]  # insert a token
    if kind == 3:
        return text[:i]  # truncate
    if kind == 4:
        return text[:i] + "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(1, 6))) + text[i:]
    if kind == 5:
        depth = rng.randrange(1, 300)
        return text[:i] + "(" * depth + "x" + ")" * rng.randrange(depth + 2) + text[i:]
    if kind == 6:
        return text[:i] + "x" * rng.randrange(1, 5000) + text[i:]
    lines = text.splitlines(keepends=True)
    rng.shuffle(lines)
    return "".join(lines)


def test_mutated_examples_never_crash():
    rng = random.Random(20261125)
    n = 0
    start = time.perf_counter()
    for src_path in SOURCES:
        base = src_path.read_text()
        for _ in range(500):
            text = base
            for _ in range(rng.randrange(1, 4)):
                text = mutate(text, rng)
            n += 1
            try:
                pplang.compile(text, "fuzz.ppl")
            except PplangError as exc:
                assert exc.diagnostics
                nlines = max(1, len(text.splitlines()))
                for d in exc.diagnostics:
                    assert d.code in CATALOGUE
                    assert 0 <= d.span.line <= nlines + 1, (d, text)
            except RecursionError:
                pytest.fail(f"recursion error on input:\n{text[:500]}")
    elapsed = time.perf_counter() - start
    print(f"{n} mutated inputs in {elapsed:.1f} s")
    assert n >= 500 * len(SOURCES)


@pytest.mark.parametrize("depth", [300, 5000])
@pytest.mark.parametrize("prefix,suffix", [("-", ""), ("(1+", ")"), ("exp(", ")")])
def test_deep_nesting_is_a_diagnostic(prefix, suffix, depth):
    expr = prefix * depth + "1" + suffix * depth
    try:
        model = pplang.compile(f"data N: int\nmu ~ Normal({expr}, 1)\n")
        model.numpyro_model  # generating Python must not fail either
    except PplangError as exc:
        assert exc.diagnostics[0].code == "syntax-error" and exc.diagnostics[0].span.line == 2
