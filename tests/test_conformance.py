"""Conformance against posteriordb references (../shared/conformance), and the no-loop rule.

The slow tests run every examples/posteriordb/*.ppl with a fixed seed, float64, 4 chains x 1000
warm-up x 1000 draws, and apply the README's criterion (pplang.conformance) to every reported
parameter. The centred eight schools model is the documented exception: as written it must fail
the run-validity gate, and annotating theta `noncentered` must make it pass.
"""

from __future__ import annotations

import re

import pytest

from pplang import conformance
from pplang.compiler import compile as compile_source, load
from pplang.spec import Role

POSTERIORS = conformance.posteriors()
CENTERED = "eight_schools-eight_schools_centered"
needs_references = pytest.mark.skipif(not conformance.REFERENCES.is_dir(),
                                      reason="../shared/conformance is not available")


# Reference posteriors that the language cannot express yet, with the reason. Each is a strict
# expected failure of test_every_reference_has_a_model: adding its model makes the test XPASS and
# fail, so the entry has to be removed here at the same time.
NOT_YET_EXPRESSIBLE: dict[str, str] = {}


def _reference_folders() -> list[str]:
    if not conformance.REFERENCES.is_dir():
        return []
    return sorted(p.name for p in conformance.REFERENCES.iterdir() if (p / "reference.json").is_file())


REFERENCE_FOLDERS = _reference_folders()


def _with_expected_failures(folders: list[str]) -> list:
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=NOT_YET_EXPRESSIBLE[name]))
            if name in NOT_YET_EXPRESSIBLE else name for name in folders]


@needs_references
@pytest.mark.parametrize("posterior", _with_expected_failures(REFERENCE_FOLDERS))
def test_every_reference_has_a_model(posterior):
    assert posterior in POSTERIORS, f"no model examples/posteriordb/{posterior}.ppl"


@needs_references
def test_every_model_has_a_reference():
    assert sorted(set(POSTERIORS) - set(REFERENCE_FOLDERS)) == []


@needs_references
def test_not_yet_expressible_names_reference_folders():
    assert sorted(set(NOT_YET_EXPRESSIBLE) - set(REFERENCE_FOLDERS)) == []


@pytest.mark.parametrize("posterior", POSTERIORS)
def test_generated_code_has_no_python_loop(posterior):
    source = load(conformance.EXAMPLES / f"{posterior}.ppl").python_source
    assert not re.search(r"^\s*(for|while)\s", source, flags=re.M), source


@needs_references
@pytest.mark.parametrize("posterior", ["garch-garch11", "hmm_example-hmm_example", "arK-arK"])
def test_log_density_graph_does_not_grow_with_data(posterior):
    """The traced log density has the same number of equations for a short and a long series:
    recursions are one lax.scan, lags are gathers, nothing is unrolled per time step."""
    import jax
    from numpyro.infer.util import initialize_model

    from pplang.runtime import precision

    model = load(conformance.EXAMPLES / f"{posterior}.ppl")
    full = model.prepare_data(conformance.REFERENCES / posterior / "data.json")
    n_key = "T" if "T" in full else "N"
    sizes = []
    with precision(float64=True):  # as the conformance runs; scoped, so no other test sees it
        for n in (30, 60):
            raw = {k: v for k, v in full.items() if k in {s.name for s in model.spec.of_role(Role.DATA)}}
            raw = {**raw, n_key: n, "y": raw["y"][:n]}
            kwargs = model.prepare_data(raw)
            info = initialize_model(jax.random.PRNGKey(0), model.numpyro_model, model_kwargs=kwargs)
            jaxpr = jax.make_jaxpr(info.potential_fn)(info.param_info.z)
            sizes.append(len(str(jaxpr).splitlines()))
    assert sizes[0] == sizes[1]


def _assert_passes(result: conformance.Result) -> None:
    assert result.passed, f"{result.posterior}: " + "; ".join(result.failures()[:12])


@pytest.mark.slow
@needs_references
@pytest.mark.parametrize("posterior", [p for p in POSTERIORS if p != CENTERED])
def test_conformance(posterior):
    _assert_passes(conformance.run(posterior, seed=0))


@pytest.mark.slow
@needs_references
def test_centered_eight_schools_fails_as_written_and_passes_noncentered():
    path = conformance.EXAMPLES / f"{CENTERED}.ppl"
    as_written = conformance.run(CENTERED, seed=0)
    assert not as_written.passed
    assert as_written.divergences > 0 or any(not c.ok_valid for c in as_written.checks)

    source = path.read_text().replace("theta ~ Normal(mu, tau)", "theta ~ Normal(mu, tau) noncentered")
    assert "noncentered" in source
    fixed = conformance.run(CENTERED, model_path=_write(path.parent, source), seed=0)
    _assert_passes(fixed)


def _write(folder, source):
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp()) / "eight_schools_centered_nc.ppl"
    tmp.write_text(source)
    return tmp


def test_compiled_models_report_reference_names():
    for posterior in POSTERIORS:
        model = load(conformance.EXAMPLES / f"{posterior}.ppl")
        if not conformance.REFERENCES.is_dir():
            continue
        ref = conformance.load_reference(posterior)["parameters"]
        bases = {re.sub(r"\[.*", "", name) for name in ref}
        assert bases <= set(model.reported), posterior


def test_noncentered_annotation_compiles_for_declared_vector():
    src = (conformance.EXAMPLES / f"{CENTERED}.ppl").read_text().replace(
        "theta ~ Normal(mu, tau)", "theta ~ Normal(mu, tau) noncentered")
    model = compile_source(src)
    assert "LocScaleReparam(centered=0)" in model.python_source
