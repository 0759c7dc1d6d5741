"""Compiling untrusted models must never run code smuggled into the .ppl file."""

import json

import numpy as np
import pytest
from numpyro import handlers

import pplang
from pplang.diagnostics import PplangError

HOSTILE_NAMES = ["lambda", "class", "sum", "print", "np", "jnp", "numpyro", "dist", "jax", "model", "data",
                 "None", "True", "__import__", "exec", "constraints", "transform_data", "reparam_config"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_python_keywords_and_generated_names_work_as_model_names(name):
    src = f"data N: int\ndata {name}_y: real[N]\n{name} ~ Normal(0, 1)\n{name}_y[i] ~ Normal({name}, 1)\n"
    try:
        model = pplang.compile(src.replace(f"{name}_y", "y") if name == "data" else src)
    except PplangError as exc:  # a clear diagnostic is acceptable for reserved words
        assert exc.diagnostics[0].code in ("reserved-name", "syntax-error")
        assert name in ("data",)  # only the language's own keywords are refused
        return
    compile(model.python_source, "<check>", "exec")  # the generated module is valid Python
    obs = f"{name}_y"
    data = model.prepare_data({"N": 3, obs: [0.5, 1.0, 1.5]})
    tr = handlers.trace(handlers.seed(model.numpyro_model, 0)).get_trace(**data)
    assert tr[name]["type"] == "sample" and not tr[name]["is_observed"]
    assert tr[obs]["is_observed"] and np.shape(tr[obs]["value"]) == (3,)


def test_model_argument_named_like_a_keyword_is_passed_by_its_model_name():
    model = pplang.compile("data lambda: real<lower=0>\nx ~ Exponential(lambda)\n")
    post = model.sample({"lambda": 2.0}, chains=1, warmup=100, samples=200, seed=1)
    assert 0.2 < post.samples["x"].mean() < 1.0


BREAKOUTS = [
    'x ~ Normal(0, 1)\n__import__("os").system("touch PWNED")\n',
    "x ~ Normal(0, 1) # \n import os; os.system('touch PWNED')\n",
    "x ~ Normal(0, 1)\ny = x\nos.system\n",
    'x ~ Normal(0, "1); import os; os.system(\'touch PWNED\'); (")\n',
    "x ~ Normal(0, 1\\\n)); import os\n",
    "x ~ Normal(0, 1)\n" + "y = x # \"\"\"\nimport os\n",
    "data `os`: int\n",
    "x ~ Normal(0, 1e999)\n",
]


@pytest.mark.parametrize("source", BREAKOUTS)
def test_breakout_attempts_execute_nothing(tmp_path, monkeypatch, source):
    monkeypatch.chdir(tmp_path)
    try:
        model = pplang.compile(source)
        model.numpyro_model  # executes the generated module
    except PplangError:
        pass
    assert not (tmp_path / "PWNED").exists()


def test_numbers_are_rendered_as_literals_not_text():
    """1e999 once became the bare name `inf` in the generated code: it is refused, located."""
    for text in ("1e999", "1" * 400):
        with pytest.raises(PplangError) as exc:
            pplang.compile(f"x ~ Normal(0, {text})\n")
        (d,) = exc.value.diagnostics
        assert d.code == "number-out-of-range" and (d.span.line, d.span.column) == (1, 15)
    model = pplang.compile("x ~ Normal(0.5, 2.5e-3)\ny = x * 1e300\n")
    assert "dist.Normal(0.5, 0.0025)" in model.python_source and "1e+300" in model.python_source
    compile(model.python_source, "<check>", "exec")


def test_data_files_are_parsed_as_json_only(tmp_path):
    f = tmp_path / "d.json"
    f.write_text('{"N": __import__("os").getpid()}')
    model = pplang.compile("data N: int\nx ~ Normal(0, 1)\n")
    with pytest.raises(PplangError) as exc:
        model.prepare_data(str(f))
    assert exc.value.diagnostics[0].code == "data-file"
    f.write_text(json.dumps({"N": 3}))
    assert model.prepare_data(str(f))["N"] == 3
