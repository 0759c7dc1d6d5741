"""Sampler settings as a Stan user writes them: one set of defaults (cli, Model.sample, the ejected
program, the record in a fit), the NUTS flags (--target-accept, --max-tree-depth, --dense-mass,
--thin, --init) checked before anything runs, and --vars."""

import dataclasses
import inspect
import json

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES
from pplang import cli
from pplang.conformance import REFERENCES
from pplang.diagnostics import PplangError
from pplang.eject import eject
from pplang.inits import read_init
from pplang.results import run_attrs
from pplang.runtime import Model, Posterior
from pplang.settings import DEFAULTS, SETTING_NAMES, SamplerSettings

SCHOOLS = EXAMPLES / "eight_schools.ppl"
SCHOOLS_DATA = EXAMPLES / "eight_schools.json"


def _ejected_args(model, argv):
    namespace = {"__name__": "ejected"}
    exec(compile(eject(model, str(SCHOOLS_DATA)), "<ejected>", "exec"), namespace)
    return namespace["parse_args"](argv)


# ----------------------------------------------------------------------------- one set of defaults


def test_cli_api_eject_and_results_share_one_set_of_defaults():
    assert SETTING_NAMES == ("chains", "warmup", "samples", "seed", "chain_method", "target_accept",
                             "max_tree_depth", "dense_mass", "thin", "float64")
    assert (DEFAULTS.chains, DEFAULTS.warmup, DEFAULTS.samples, DEFAULTS.seed, DEFAULTS.chain_method) == (
        8, 1000, 5000, 0, "vectorized")
    assert (DEFAULTS.target_accept, DEFAULTS.max_tree_depth, DEFAULTS.dense_mass, DEFAULTS.thin) == (0.8, 10, False, 1)
    run_args = vars(cli._parser().parse_args(["run", "m.ppl"]))
    api = inspect.signature(Model.sample).parameters
    ejected = vars(_ejected_args(pplang.load(SCHOOLS), []))
    record = Posterior(None, [], 8, 5000, 1000, 0, "vectorized").settings_record
    attrs = json.loads(run_attrs(pplang.load(SCHOOLS), None, 0, record)["settings"])
    for name in SETTING_NAMES:
        want = getattr(DEFAULTS, name)
        assert run_args[name] == want, name
        assert api[name].default == want, name
        assert ejected[name] == want, name
        assert record[name] == want and attrs[name] == want, name


def test_cli_and_eject_read_the_defaults_rather_than_copy_them(monkeypatch):
    other = dataclasses.replace(DEFAULTS, chains=3, target_accept=0.9, thin=2)
    monkeypatch.setattr(cli, "DEFAULTS", other)
    monkeypatch.setattr("pplang.eject.DEFAULTS", other)
    args = cli._parser().parse_args(["run", "m.ppl"])
    assert (args.chains, args.target_accept, args.thin) == (3, 0.9, 2)
    ejected = _ejected_args(pplang.load(SCHOOLS), [])
    assert (ejected.chains, ejected.target_accept, ejected.thin) == (3, 0.9, 2)


# ----------------------------------------------------------------------------- checked first


BAD = [
    (["--target-accept", "1.5"], "--target-accept must be strictly between 0 and 1"),
    (["--target-accept", "1"], "--target-accept must be strictly between 0 and 1"),
    (["--target-accept", "0"], "--target-accept must be strictly between 0 and 1"),
    (["--target-accept", "nan"], "--target-accept must be strictly between 0 and 1"),
    (["--max-tree-depth", "0"], "--max-tree-depth must be at least 1, got 0"),
    (["--thin", "0"], "--thin must be at least 1, got 0"),
    (["--samples", "10", "--thin", "11"], "--thin 11 keeps no draws of --samples 10"),
    (["--chains", "0"], "--chains must be at least 1, got 0"),
    (["--warmup", "-1"], "--warmup must be at least 0, got -1"),
]


@pytest.mark.parametrize("flags,message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_settings_are_refused_before_the_model_is_read(flags, message, capsys):
    """The model file does not exist: the setting is refused before anything is compiled."""
    assert cli.main(["run", "no-such-model.ppl", *flags]) == 1
    err = capsys.readouterr().err
    assert "error[bad-setting]" in err and message in err
    assert "Traceback" not in err and "cannot read" not in err


def test_model_sample_checks_settings_before_data():
    model = pplang.load(SCHOOLS)
    with pytest.raises(PplangError) as exc:
        model.sample(None, target_accept=1.2, thin=0)  # no data either: the settings come first
    assert [d.code for d in exc.value.diagnostics] == ["bad-setting", "bad-setting"]
    assert SamplerSettings(samples=np.int64(10), thin=np.int64(2)).problems() == []


# ----------------------------------------------------------------------------- reaching NUTS


@pytest.mark.parametrize("posterior,target", [("gp_pois_regr-gp_pois_regr", 0.99), ("mcycle_gp-accel_gp", 0.999)])
def test_posteriordb_adapt_delta_reaches_nuts(posterior, target, monkeypatch, capsys):
    """posteriordb ran these two at adapt_delta 0.99 / 0.999: --target-accept sets NUTS's
    target_accept_prob (and --max-tree-depth, --dense-mass, --thin reach the kernel and MCMC)."""
    data = REFERENCES / posterior / "data.json"
    if not data.exists():
        pytest.skip(f"no conformance data at {data}")
    runs = []
    sample = Model.sample

    def spy(self, *args, **kwargs):
        runs.append(sample(self, *args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(Model, "sample", spy)
    rc = cli.main(["run", str(EXAMPLES / "posteriordb" / f"{posterior}.ppl"), "--data", str(data), "--chains", "1",
                   "--warmup", "4", "--samples", "6", "--thin", "2", "--target-accept", str(target),
                   "--max-tree-depth", "3", "--dense-mass", "--json", "--no-progress", "--vars", "alpha" if
                   posterior.startswith("gp") else "sdgp_1"])
    out = capsys.readouterr().out
    assert rc == 0
    kernel = runs[0].mcmc.sampler
    assert kernel._target_accept_prob == target
    assert kernel._max_tree_depth == 3 and kernel._dense_mass is True
    assert runs[0].mcmc.thinning == 2 and len(runs[0].samples["alpha" if posterior.startswith("gp") else "sdgp_1"]) == 3
    summary = json.loads(out)
    assert summary["settings"]["target_accept"] == target and summary["settings"]["thin"] == 2
    assert list(summary["parameters"]) == ["alpha" if posterior.startswith("gp") else "sdgp_1"]


# ----------------------------------------------------------------------------- --init


def test_initial_values_are_checked_against_the_model():
    model = pplang.load(SCHOOLS)

    def problems(init):
        with pytest.raises(PplangError) as exc:
            model.sample(SCHOOLS_DATA, init=init)
        return exc.value.diagnostics

    (d,) = problems({"muu": 1})
    assert d.code == "bad-init" and '"muu"' in d.message and 'did you mean "mu"?' in d.help
    assert "mu, tau, theta_decentered" in d.help
    (d,) = problems({"theta": [0] * 8})  # non-centred: NumPyro samples theta_decentered
    assert d.span.line == 9 and "theta_decentered" in d.help
    (d,) = problems({"y": 0})
    assert d.span.line == 4 and "is data" in d.message
    (d,) = problems({"theta_decentered": [0, 1]})
    assert d.span.line == 9 and "shape (8)" in d.message and "shape (2)" in d.message
    (d,) = problems({"mu": 1, "tau": -1.5})
    assert d.span.line == 8 and "tau = -1.5 is outside the support of tau (greater than 0)" in d.message
    (d,) = problems({"mu": "a"})
    assert "must be a number" in d.message


def test_init_reads_inline_json_or_a_file(tmp_path):
    assert read_init('{"mu": 1, "theta_decentered": [0, 0]}') == {"mu": 1, "theta_decentered": [0, 0]}
    f = tmp_path / "init.json"
    f.write_text('{"tau": 2.5}')
    assert read_init(str(f)) == {"tau": 2.5}
    for text, words in [('{"mu": 1,', "not valid JSON"), ("[1, 2]", "must hold a JSON object"),
                        (str(tmp_path / "none.json"), "cannot read")]:
        with pytest.raises(PplangError) as exc:
            read_init(text)
        assert exc.value.diagnostics[0].code == "bad-init" and words in exc.value.diagnostics[0].message


def test_init_starts_nuts_where_numpyro_init_to_value_does(eight_schools_data):
    """The same draws as a hand-written MCMC(NUTS(model, init_strategy=init_to_value(...)));
    a scalar fills every element of theta_decentered."""
    import jax
    from numpyro.infer import MCMC, NUTS, init_to_value

    model = pplang.load(SCHOOLS)
    init = {"mu": 12.0, "tau": 0.5, "theta_decentered": 1.0}
    post = model.sample(eight_schools_data, chains=1, warmup=0, samples=3, seed=4, init=init)
    values = {"mu": np.asarray(12.0), "tau": np.asarray(0.5), "theta_decentered": np.ones(8)}
    mcmc = MCMC(NUTS(model.numpyro_model, init_strategy=init_to_value(values=values)), num_warmup=0,
                num_samples=3, num_chains=1, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(4), **model.prepare_data(eight_schools_data))
    for name, draws in mcmc.get_samples().items():
        np.testing.assert_array_equal(post.samples[name], np.asarray(draws), err_msg=name)
    assert post.settings_record["init"] == init


# ----------------------------------------------------------------------------- --vars


def test_vars_are_checked_before_sampling(capsys, monkeypatch):
    monkeypatch.setattr(Model, "sample", lambda *a, **k: pytest.fail("sampled before checking --vars"))
    assert cli.main(["run", str(SCHOOLS), "--vars", "mu", "tua"]) == 1
    err = capsys.readouterr().err
    assert 'error[unknown-var]: --vars: the model reports no quantity "tua"' in err
    assert 'did you mean "tau"?' in err and "Traceback" not in err
