"""Robustness: seeded random mutations of every example must end in a catalogued diagnostic with
a valid position (or compile cleanly) -- never an uncaught exception. The same for mutated data
files (types, sizes, encodings, nesting) and command lines: exit 0 or 1, never an internal error
(exit 2), a traceback or a hang."""

import json
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


# ----------------------------------------------------------------------------- data files and arguments

DATA_MODELS = [EXAMPLES / "eight_schools.ppl", EXAMPLES / "linear_regression.ppl", EXAMPLES / "coal_mining.ppl"]
VALUES = [True, False, None, "3", "", {}, [], [[]], 0, -1, 1.5, -0.0, 2**31, 2**53 + 1, 2**63, 2**64 - 1, -(2**63) - 1,
          10**400, 1e308, 1e19, [1, True], [None], [1, [2]], {"a": 1}]


def mutate_data(data: dict, rng: random.Random) -> bytes:
    """A JSON data file, mutated in its values' types, its sizes, its encoding or its nesting."""
    data = json.loads(json.dumps(data))
    keys = list(data)
    key = rng.choice(keys)
    kind = rng.randrange(10)
    if kind == 0:
        data[key] = rng.choice(VALUES)
    elif kind == 1 and isinstance(data[key], list) and data[key]:
        data[key][rng.randrange(len(data[key]))] = rng.choice(VALUES)
    elif kind == 2 and isinstance(data[key], list):
        data[key] = data[key] * rng.choice([0, 2, 100]) if rng.random() < 0.5 else data[key][: rng.randrange(3)]
    elif kind == 3:
        for _ in range(rng.choice([2, 70, 500])):
            data[key] = [data[key]]
    elif kind == 4:
        data[rng.choice(["\n", "\x1b[31m", "error[x]: ", "\u202e", "a" * 10_000, "N"]) + key] = 1
    text = json.dumps(data, allow_nan=rng.random() < 0.5 and kind != 4)
    if kind == 5:  # a key twice, a truncated or a deeply nested text
        text = text[:-1] + f', "{key}": 1}}'
    elif kind == 6:
        text = text[: rng.randrange(len(text))]
    elif kind == 7:
        depth = rng.choice([100, 5000, 100_000])
        text = text[:-1] + f', "{key}": ' + "[" * depth + "]" * depth + "}"
    elif kind == 8:
        text = text.replace(str(rng.randrange(10)), "9" * rng.choice([20, 400, 5000]), 1)
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"])
    raw = text.encode(encoding, errors="replace")
    if kind == 9:
        raw = raw[:5] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6))) + raw[5:]
    return raw


def _quiet_main(argv, capsys) -> tuple[int, str]:
    from pplang.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: --help, --version, a malformed flag
        rc = exc.code
    return rc, capsys.readouterr().err


def test_mutated_data_files_never_crash(tmp_path, capsys):
    rng = random.Random(20261126)
    counts = {0: 0, 1: 0, 2: 0}
    slowest, start = 0.0, time.perf_counter()
    for model in DATA_MODELS:
        base = json.loads(model.with_suffix(".json").read_text())
        for k in range(100):
            f = tmp_path / f"d{k}.json"
            f.write_bytes(mutate_data(base, rng))
            t0 = time.perf_counter()
            rc, err = _quiet_main(["check", str(model), "--data", str(f)], capsys)
            slowest = max(slowest, time.perf_counter() - t0)
            counts[rc] = counts.get(rc, 0) + 1
            assert rc in (0, 1), f"exit {rc} on {f.read_bytes()[:300]!r}:\n{err[-1500:]}"
            assert "Traceback" not in err and "\x1b" not in err and "\nerror[x]" not in err
            assert len(err) < 20_000
    print(f"data fuzz: {sum(counts.values())} files, exit 0: {counts[0]}, exit 1: {counts[1]}, internal errors: "
          f"{counts[2]}; slowest {slowest:.2f} s, all {time.perf_counter() - start:.1f} s")
    assert slowest < 10  # no hangs


class _Reached(BaseException):
    """The arguments were accepted and the expensive work was about to start."""


FLAGS = {
    "run": ["--chains", "--warmup", "--samples", "--seed", "--target-accept", "--max-tree-depth", "--thin",
            "--init", "--vars", "-o", "--chain-method", "--data", "--format"],
    "prior": ["--samples", "--seed", "--data"],
    "compile": ["-o", "--emit", "--data"],
    "graph": ["-o"],
    "check": ["--data", "--format"],
    "predict": ["--seed", "-o", "--fit", "--data"],
    "plot": ["-o", "--kind", "--vars"],
    "optimize": ["--iter", "--seed", "--restarts", "--learning-rate", "--algorithm", "-o"],
    "variational": ["--iter", "--seed", "--draws", "--family", "-o"],
    "pathfinder": ["--paths", "--draws", "--seed", "--history-size", "-o"],
}
ARGS = ["0", "-1", "1", "2", "1.5", "nan", "inf", "-inf", "1e400", "9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "99999999999", "abc", "", "\n", "\x1b[2J", "{}", '{"mu": 1e999}', "[1]", "-",
        "nodir/x.nc", "out.csv", "out.txt", ".", "/", "x.nc", "g.dot", "p.png", "m.py", "mu", "theta[99]"]


def test_mutated_arguments_never_crash(tmp_path, capsys, monkeypatch):
    """Random command lines: each ends in a diagnostic (exit 1), or reaches the expensive work
    (sampling, an approximate method, `auto`'s choice), which is stopped there."""
    import dataclasses

    import pplang.inference
    from pplang.runtime import Model

    def reached(*args, **kwargs):
        raise _Reached

    for name in ("sample", "prior_predictive", "resolve"):
        monkeypatch.setattr(Model, name, reached)
    for name, method in pplang.inference.METHODS.items():
        monkeypatch.setitem(pplang.inference.METHODS, name, dataclasses.replace(method, run=reached))
    monkeypatch.chdir(tmp_path)
    model = EXAMPLES / "eight_schools.ppl"
    rng = random.Random(20261127)
    counts: dict = {}
    start = time.perf_counter()
    for _ in range(400):
        command = rng.choice(list(FLAGS))
        argv = [command, "fit.nc" if command == "plot" else str(model)]
        for _ in range(rng.randrange(1, 4)):
            value = rng.choice(ARGS if rng.random() < 0.7 else ["1", "2", "10", "out.nc", "out.csv", "meanfield"])
            argv += [rng.choice(FLAGS[command] + ["--bogus", "--debug"]), value]
        if rng.random() < 0.2:
            argv.insert(rng.randrange(len(argv) + 1), rng.choice(ARGS))
        try:
            rc, err = _quiet_main(argv, capsys)
        except _Reached:
            rc, err = "reached", capsys.readouterr().err
        counts[rc] = counts.get(rc, 0) + 1
        assert rc in (0, 1, "reached"), f"exit {rc} on {argv}:\n{err[-1500:]}"
        assert "Traceback" not in err and "\x1b" not in err
    print(f"argument fuzz: {sum(counts.values())} command lines, "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=str))
          + f", internal errors (exit 2): {counts.get(2, 0)}; {time.perf_counter() - start:.1f} s")
