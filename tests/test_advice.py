"""After sampling: warnings that point at the statement to fix."""

import numpy as np
import pytest

import pplang
from pplang.advice import ess_bulk, ess_tail, funnel_statements, rank_rhat, sampling_diagnostics
from conftest import EXAMPLES


def test_funnel_pattern_is_found_statically():
    centered = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    (stmt,) = funnel_statements(centered)
    assert stmt.name == "theta" and stmt.span.line == 8
    assert funnel_statements(pplang.load(EXAMPLES / "eight_schools.ppl")) == []
    assert funnel_statements(pplang.load(EXAMPLES / "eight_schools_manual.ppl")) == []


def test_rank_diagnostics_on_known_draws():
    rng = np.random.default_rng(0)
    iid = rng.normal(size=(4, 1000))
    assert abs(rank_rhat(iid) - 1) < 0.01
    assert 3000 < ess_bulk(iid) < 5000
    stuck = iid + np.arange(4)[:, None]  # chains centred at different places
    assert rank_rhat(stuck) > 1.5


@pytest.mark.slow
def test_centered_divergences_point_at_theta_and_the_fix_removes_them(eight_schools_data):
    """At the seed's settings (8 chains, 1000 warmup, 5000 draws, seed 0)."""
    centered = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    post = centered.sample(eight_schools_data, seed=0)
    warnings = sampling_diagnostics(centered, post)
    codes = [w.code for w in warnings]
    assert "divergent-transitions" in codes
    (funnel,) = [w for w in warnings if w.code == "funnel-reparam"]
    assert funnel.span.line == 8 and "theta" in funnel.message
    fix, alternative = funnel.help.splitlines()
    assert fix.endswith("theta[n] ~ Normal(mu, tau) noncentered")
    assert "theta[n] ~ Normal(mu, tau) auto" in alternative and "--reparam auto" in alternative
    (divergent,) = [w for w in warnings if w.code == "divergent-transitions"]
    assert "--target-accept 0.95" in divergent.help  # the flag that raises it, one step up from 0.8
    assert "lowest quarter" in funnel.message

    fixed_source = centered.source.replace("theta[n] ~ Normal(mu, tau)", fix.split(":  ", 1)[1])
    fixed = pplang.compile(fixed_source, "fixed.ppl")
    post_fixed = fixed.sample(eight_schools_data, seed=0)
    # 8 x 5,000 draws: the centred model diverges on a few percent of them (~1,000), the non-centred
    # on about 10 (a rare-event count: Poisson, sd ~3), so 0.1% (40) is far above its chance level
    # and far below the centred model's
    assert post.num_divergences >= 200
    assert post_fixed.num_divergences <= 0.001 * 8 * 5000 < post.num_divergences / 5
    assert not any(w.code == "funnel-reparam" for w in sampling_diagnostics(fixed, post_fixed))


def test_divergence_advice_names_the_flag_one_step_up():
    from types import SimpleNamespace

    from pplang.advice import _raise_target_accept
    from pplang.settings import DEFAULTS

    def helped(target):
        return _raise_target_accept(SimpleNamespace(settings=SimpleNamespace(target_accept=target)))

    assert "--target-accept 0.95" in helped(DEFAULTS.target_accept) and "target_accept=0.95" in helped(0.8)
    assert "--target-accept 0.99" in helped(0.95)
    assert "--target-accept 0.999" in helped(0.99)
    assert "already 0.999" in helped(0.999)


class _Draws:
    """What sampling_diagnostics reads of a Posterior, from arrays (chains, draws, ...); the
    summary numbers by Posterior's own method."""

    def __init__(self, model, samples, extra, max_tree_depth=10):
        from types import SimpleNamespace

        from pplang.settings import DEFAULTS

        self.reported, self.num_chains, self.settings = model.reported, len(samples["mu"]), DEFAULTS
        self.model, self._statistics, self.grouped_samples = None, None, dict(samples)
        self.mcmc = SimpleNamespace(get_samples=lambda group_by_chain: samples,
                                    get_extra_fields=lambda group_by_chain: extra,
                                    sampler=SimpleNamespace(_max_tree_depth=max_tree_depth))

    def statistics(self):
        from pplang.runtime import Posterior

        return Posterior.statistics(self)


def _healthy(rng, chains=4, draws=1000):
    samples = {"mu": rng.normal(size=(chains, draws)), "tau": rng.gamma(4.0, size=(chains, draws)),
               "theta": rng.normal(size=(chains, draws, 8))}
    extra = {"diverging": np.zeros((chains, draws), bool), "num_steps": np.full((chains, draws), 7),
             "energy": rng.normal(size=(chains, draws))}
    return samples, extra


def test_each_sampling_warning_on_draws_that_show_it():
    centered = pplang.load(EXAMPLES / "eight_schools_centered.ppl")
    rng = np.random.default_rng(0)
    samples, extra = _healthy(rng)
    assert sampling_diagnostics(centered, _Draws(centered, samples, extra)) == []

    samples["mu"] = samples["mu"] + 3 * np.arange(4)[:, None]  # the chains disagree about mu
    extra["diverging"][:, :25] = True  # 100 divergences, all where tau is smallest
    samples["tau"][:, :25] = 0.01
    extra["num_steps"][0, :5] = 2 ** 10 - 1  # five trajectories at the depth limit
    extra["energy"][1] = np.cumsum(rng.normal(size=1000))  # chain 2: energy wanders (E-BFMI ~ 0)
    got = {d.code: d for d in sampling_diagnostics(centered, _Draws(centered, samples, extra))}
    assert set(got) == {"divergent-transitions", "funnel-reparam", "high-rhat", "low-ess", "max-treedepth",
                        "low-ebfmi"}
    assert got["divergent-transitions"].message.startswith("100 of 4000 transitions diverged")
    assert got["funnel-reparam"].span.line == 8 and "100% of the divergent transitions have tau" in \
        got["funnel-reparam"].message
    assert "(worst: mu " in got["high-rhat"].message and "mu" in got["low-ess"].message
    assert got["max-treedepth"].message.startswith("5 of 4000 transitions hit the maximum tree depth (10)")
    assert "chain 2:" in got["low-ebfmi"].message and "chain 1:" not in got["low-ebfmi"].message
    assert all(d.severity == "warning" for d in got.values())
