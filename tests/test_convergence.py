"""One set of convergence numbers: the summary's r_hat, ess_bulk and ess_tail are ArviZ's
rank-normalised statistics (computed in NumPy so `pplang run` need not import ArviZ), the warnings
read the same numbers, and q5/q95 are quantiles of the draws."""

import numpy as np
import pytest

import pplang
from conftest import EXAMPLES
from pplang.advice import sampling_diagnostics
from pplang.convergence import ess_bulk, ess_tail, rank_rhat, summarize
from pplang.runtime import format_summary


def _ar1(rng, chains, draws, phi):
    x = np.zeros((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=chains)
    return x


def _cases():
    rng = np.random.default_rng(1)
    shifted = _ar1(rng, 4, 1000, 0.7)
    shifted[1] += 0.1
    return {
        "autocorrelated": shifted,
        "odd draws, slow mixing": _ar1(rng, 3, 501, 0.95) + np.array([[0.0], [0.3], [0.0]]),
        "heavy tails": rng.standard_cauchy((4, 300)),
        "ties": np.round(_ar1(rng, 4, 200, 0.5), 1),
        "one chain": _ar1(rng, 1, 400, 0.5),
        "antithetic": np.tile([1.0, -1.0], (4, 60)) + 0.01 * rng.normal(size=(4, 120)),
        "constant": np.full((4, 50), 2.0),
        "few draws": rng.normal(size=(2, 5)),
    }


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # ArviZ divides 0 by 0 on constant draws
@pytest.mark.parametrize("name", list(_cases()))
def test_rank_rhat_and_bulk_and_tail_ess_equal_arviz(name):
    import arviz as az

    x = _cases()[name]
    for ours, theirs in [(rank_rhat(x), az.rhat(x)), (ess_bulk(x), az.ess(x, method="bulk")),
                         (ess_tail(x), az.ess(x, method="tail"))]:
        ours, theirs = float(ours), float(theirs)
        assert (np.isnan(ours) and np.isnan(theirs)) or ours == pytest.approx(theirs, rel=1e-8, abs=1e-8)
    if name == "one chain":
        assert np.isnan(rank_rhat(x))  # R-hat compares chains


def test_summarize_does_every_element_at_once():
    import arviz as az

    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 80, 2, 3)).cumsum(axis=1)  # random walks: poor mixing, distinct per element
    s = summarize(x)
    assert all(v.shape == (2, 3) for v in s.values())
    for idx in np.ndindex(2, 3):
        col = x[(slice(None), slice(None)) + idx]
        assert s["r_hat"][idx] == pytest.approx(float(az.rhat(col)), rel=1e-8)
        assert s["ess_bulk"][idx] == pytest.approx(float(az.ess(col, method="bulk")), rel=1e-8)
        assert s["ess_tail"][idx] == pytest.approx(float(az.ess(col, method="tail")), rel=1e-8)
        assert s["q5"][idx] == np.quantile(col, 0.05) and s["q95"][idx] == np.quantile(col, 0.95)
        assert s["sd"][idx] == pytest.approx(np.std(col, ddof=1))


@pytest.fixture(scope="module")
def cauchy():
    """A heavy-tailed posterior, where a 90% HDI and the 5%/95% quantiles differ clearly."""
    model = pplang.compile("x ~ Cauchy(0, 1)\n", "cauchy.ppl")
    return model.sample(None, chains=2, warmup=200, samples=1000, seed=1)


def test_q5_and_q95_are_quantiles_of_all_draws_on_a_heavy_tailed_posterior(cauchy):
    from numpyro.diagnostics import hpdi

    draws = cauchy.samples["x"]
    row = cauchy.summary()["parameters"]["x"]
    assert row["q5"] == np.quantile(draws, 0.05) and row["q95"] == np.quantile(draws, 0.95)
    assert row["median"] == np.median(draws) and row["sd"] == pytest.approx(np.std(draws, ddof=1))
    lo, hi = hpdi(draws, 0.9)  # what the 5%/95% columns used to show: not the quantiles
    assert abs(lo - row["q5"]) + abs(hi - row["q95"]) > 0.05 * (row["q95"] - row["q5"])


def test_table_and_json_show_arviz_rank_statistics(cauchy):
    import arviz as az

    grouped = cauchy.grouped_samples["x"]
    row = cauchy.summary()["parameters"]["x"]
    assert row["r_hat"] == pytest.approx(float(az.rhat(grouped)), rel=1e-8)
    assert row["ess_bulk"] == pytest.approx(float(az.ess(grouped, method="bulk")), rel=1e-8)
    assert row["ess_tail"] == pytest.approx(float(az.ess(grouped, method="tail")), rel=1e-8)
    assert "n_eff" not in row
    header, line = format_summary(cauchy.summary()).splitlines()[:2]
    assert header.split() == ["mean", "std", "median", "5.0%", "95.0%", "ess_bulk", "ess_tail", "r_hat"]
    assert line.split()[-3:] == [f"{row['ess_bulk']:.0f}", f"{row['ess_tail']:.0f}", f"{row['r_hat']:.3f}"]


def test_warnings_quote_the_summary_numbers(eight_schools_data):
    """Too few draws for R-hat <= 1.01: the warning's worst R-hat is the table's."""
    model = pplang.load(EXAMPLES / "eight_schools.ppl")
    post = model.sample(eight_schools_data, chains=2, warmup=50, samples=50, seed=0)
    rows = post.summary()["parameters"]
    (high,) = [w for w in sampling_diagnostics(model, post) if w.code == "high-rhat"]
    worst = max(rows, key=lambda k: rows[k]["r_hat"])
    assert f"(worst: {worst} {rows[worst]['r_hat']:.3f})" in high.message
    assert sum(r["r_hat"] > 1.01 for r in rows.values()) == int(high.message.split(" for ")[1].split()[0])
    low = [w for w in sampling_diagnostics(model, post) if w.code == "low-ess"]
    assert low and all(rows[k]["ess_bulk"] < 200 for k in ("mu", "tau"))


def test_vars_select_rows_in_the_order_given():
    model = pplang.compile("data J: int\ndata y: real[J]\nparam theta: real[J]\nmu ~ Normal(0, 1)\n"
                           "theta[j] ~ Normal(mu, 1)\ny[j] ~ Normal(theta[j], 1)\n", "m.ppl")
    post = model.sample({"J": 3, "y": [0.0, 1.0, 2.0]}, chains=1, warmup=20, samples=20, seed=0)
    assert list(post.summary(["theta[2]", "mu"])["parameters"]) == ["theta[2]", "mu"]
    assert list(post.summary(["theta"])["parameters"]) == ["theta[1]", "theta[2]", "theta[3]"]
    with pytest.raises(pplang.PplangError) as exc:
        post.summary(["theta[4]"])
    assert exc.value.diagnostics[0].code == "unknown-var" and "theta[1] ... theta[3]" in exc.value.diagnostics[0].help


def test_one_chain_says_r_hat_cannot_be_computed():
    summary = {"parameters": {"x": {"mean": 0.0, "sd": 1.0, "median": 0.0, "q5": -6.0, "q95": 6.0, "ess_bulk": 900.0,
                                    "ess_tail": 800.0, "r_hat": None}},
               "num_divergences": 0, "notes": ["R-hat cannot be computed from one chain"]}
    lines = format_summary(summary).splitlines()
    assert lines[1].split()[-1] == "-"
    assert lines[-1] == "Note: R-hat cannot be computed from one chain"


def test_many_draws_summarised_in_threads_give_the_same_numbers(monkeypatch):
    """Thousands of chains: the elements are split among threads; every number is the one-thread
    number, bit for bit (ties included, as float32 draws have)."""
    from pplang import convergence

    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 200, 6)).astype(np.float32)
    x[:, :, 2] = np.round(x[:, :, 2], 1)  # many ties
    x[5, 7, 4] = np.nan
    monkeypatch.setattr(convergence, "PARALLEL_FROM", 1 << 40)
    one = convergence.summarize(x)
    monkeypatch.setattr(convergence, "PARALLEL_FROM", 1)
    monkeypatch.setattr(convergence.os, "cpu_count", lambda: 4)
    threaded = convergence.summarize(x)
    for k in one:
        np.testing.assert_array_equal(threaded[k], one[k], err_msg=k)


def test_quantities_summarised_side_by_side_equal_each_alone():
    from pplang.convergence import summarize
    from pplang.posterior import _summarize_together

    rng = np.random.default_rng(4)
    arrays = {"mu": rng.normal(size=(3, 50)).astype(np.float32), "theta": rng.normal(size=(3, 50, 2, 2)),
              "k": rng.integers(0, 5, size=(3, 50, 3)), "s": rng.normal(size=(3, 50, 2)).astype(np.float32)}
    together = _summarize_together(arrays)
    assert list(together) == list(arrays)
    for name, a in arrays.items():
        alone = summarize(a)
        for k in alone:
            np.testing.assert_array_equal(together[name][k], alone[k], err_msg=f"{name} {k}")
