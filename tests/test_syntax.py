"""Grammar, IR and generated-code goldens, and the grammar's presence in the built wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import lark
import pytest

import pplang
from pplang.spec import dump as spec_dump
from pplang import ir, syntax
from conftest import EXAMPLES, ROOT

GOLDEN = Path(__file__).parent / "golden"


def test_grammar_is_unambiguous_lalr():
    lark.Lark(syntax.grammar_text(), parser="lalr", strict=True)


def test_spans_do_not_affect_equality():
    a = syntax.parse("mu ~ Normal(0, 5)\n")
    b = syntax.parse("\n\n   mu   ~   Normal( 0,\n 5 )   # comment\n")
    assert a == b
    assert a.statements[0].span.line == 1 and b.statements[0].span.line == 3


def test_newlines_inside_parentheses_and_comments():
    prog = syntax.parse("# header\nx ~ Normal(\n  0,\n  1\n)  # trailing\n\n\ny ~ Normal(x, 1)\n")
    assert [type(s).__name__ for s in prog.statements] == ["Sample", "Sample"]


def test_operator_precedence():
    (stmt,) = syntax.parse("x = -a ^ 2 * b + c / d\n").statements
    v = stmt.value
    assert isinstance(v, ir.BinOp) and v.op == "+"
    assert isinstance(v.left, ir.BinOp) and v.left.op == "*"
    assert isinstance(v.left.left, ir.Neg) and isinstance(v.left.left.operand, ir.BinOp)
    assert v.left.left.operand.op == "^"


def test_annotations_become_typed_values():
    prog = syntax.parse("a ~ Normal(0, 1) noncentered\nb ~ Normal(0, 1) partial(0.3)\nc ~ Normal(0, 1)\n")
    anns = [s.annotation for s in prog.statements]
    assert anns == [ir.NonCentered(), ir.Partial(0.3), ir.Centered()]


EXAMPLE_FILES = sorted(p.relative_to(EXAMPLES).with_suffix("") for p in EXAMPLES.rglob("*.ppl"))


def stages(model) -> dict[str, str]:
    """Every stage's dump: the parsed IR, the checked spec, the generated NumPyro module."""
    return {".ir": ir.dump(model.program) + "\n", ".spec": spec_dump(model.spec), ".py": model.python_source}


@pytest.mark.parametrize("name", EXAMPLE_FILES, ids=str)
def test_goldens(name, update_goldens):
    """Goldens for every example at every stage. They are written only by
    ``pytest --update-goldens`` (review the diff); a missing golden is a failure."""
    model = pplang.load(EXAMPLES / name.with_suffix(".ppl"))
    for suffix, text in stages(model).items():
        path = GOLDEN / name.with_suffix(suffix)
        if update_goldens:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"{path} is missing: run pytest --update-goldens and review it"
        assert text == path.read_text(), f"{path} differs; rerun with --update-goldens and review the diff"


def test_wheel_ships_the_grammar(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("pplang-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pplang/grammars/pplang.lark" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import pplang, pplang.grammars, pathlib;"
            "print(pathlib.Path(pplang.grammars.__path__[0]).resolve());"
            "pplang.compile(open(r'%s').read())" % (EXAMPLES / "eight_schools.ppl"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(site), "PATH": ""}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(site.resolve()))


@pytest.mark.parametrize("src, message, hint", [
    ("data N: int\nparam z: vector[N]\nto_vector(z) ~ Normal(0, 1)\n", "not a call of 'to_vector'", "z ~ Normal(0, 1)"),
    ("data N: int\ndata K: int\ndata y: vector[K][N]\n", "array of vectors is written as a matrix", "matrix[N, K]"),
])
def test_stan_forms_that_stay_unsupported_say_what_to_write(src, message, hint):
    with pytest.raises(pplang.PplangError) as exc:
        pplang.compile(src, "m.ppl")
    d = exc.value.diagnostics[0]
    assert d.code == "syntax-error" and message in d.message and hint in d.help
