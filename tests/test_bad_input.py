"""Bad input never costs a user their work, their trust or their machine: every case of
tests/bad_input/cases.toml (input files, a command line, the exit status and a message fragment
expected) runs through the command line in a subprocess. Each stops before sampling with a plain,
located message (exit 1), or runs with the warning it names; never a traceback or an internal
error (exit 2)."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pplang
from conftest import ROOT, record_output

CASES_FILE = Path(__file__).parent / "bad_input" / "cases.toml"
CASES = tomllib.loads(CASES_FILE.read_text())
REPEAT = re.compile(r"<<(.+?)\*(\d+)>>")


def expand(text: str) -> str:
    """``<<TEXT*N>>`` -> TEXT repeated N times (inputs too large to write out)."""
    return REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text)


def run_case(case: dict, where: Path) -> subprocess.CompletedProcess:
    files = {**CASES["default"]["files"], **case.get("files", {})}
    for name, text in files.items():
        (where / name).write_bytes(expand(text).encode(case.get("encoding", "utf-8")))
    for name in case.get("dirs", []):
        (where / name).mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-m", "pplang.cli", *map(expand, case["argv"])], capture_output=True, text=True,
                       cwd=where, env=env, timeout=120)
    record_output(r.stderr)
    return r


def test_the_cases_are_well_formed():
    ids = [c["id"] for c in CASES["case"]]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES["case"]:
        assert set(case) <= {"id", "argv", "exit", "expect", "also", "absent", "files", "dirs", "encoding"}, case["id"]
        assert case["exit"] in (0, 1), case["id"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES["case"]])
def test_bad_input(case, tmp_path):
    r = run_case(case, tmp_path)
    err = r.stderr
    assert r.returncode == case["exit"], f"exit {r.returncode}, expected {case['exit']}:\n{err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err
    for key in ("expect", "also"):
        if key in case:
            assert case[key] in err, f"{key} {case[key]!r} not in:\n{err[-2000:]}"
    if "absent" in case:
        assert case["absent"] not in err, err[-2000:]
    assert len(err) < 20_000, "a message must stay short, whatever the input's size"


@pytest.mark.parametrize("text", ["data N: int\r\rmu ~ Normal(0, 1)\r", "\ufeffdata N: int\r\nmu ~ Normal(0, 1)\n",
                                  "\ufeffmu ~ Normal(0,\r 1)\rnu ~ Normall(0, 1)\r"])
def test_compile_reads_line_endings_and_a_bom_as_load_does(text, tmp_path):
    """``pplang.compile(text)`` and ``pplang.load(path)`` see the same model: a lone \\r ends a
    line and a byte-order mark is dropped, so positions agree."""
    f = tmp_path / "m.ppl"
    f.write_bytes(text.encode())

    def outcome(make):
        try:
            return make().python_source
        except pplang.PplangError as exc:
            return [(d.code, d.span.line, d.span.column) for d in exc.diagnostics]

    from_text, from_file = outcome(lambda: pplang.compile(text, str(f))), outcome(lambda: pplang.load(f))
    assert from_text == from_file
    if isinstance(from_text, list):
        assert from_text == [("unknown-distribution", 3, 6)]


def test_the_python_api_refuses_what_the_command_line_refuses(tmp_path):
    model = pplang.compile("mu ~ Normal(0, 1)\n")
    for kwargs, message in [({"samples": 0}, "samples must be at least 1"), ({"samples": -1}, "at least 1"),
                            ({"seed": 2**63}, "seed must lie in")]:
        with pytest.raises(pplang.PplangError) as exc:
            model.prior_predictive(**kwargs)
        assert exc.value.diagnostics[0].code == "bad-setting" and message in exc.value.diagnostics[0].message
    with pytest.raises(pplang.PplangError) as exc:
        model.sample(seed=2**64 - 1)
    assert "--seed must lie in" in exc.value.diagnostics[0].message
