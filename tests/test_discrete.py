"""Discrete latents summed out by enumeration: the spec pass, the generated code, the enumerated
density against hand-marginalised ones, the reported draws and probabilities, and (slow) posteriors
against exact computations."""

import json

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp
from scipy import stats

import pplang
from pplang.diagnostics import PplangError
from pplang.spec import Method
from conftest import EXAMPLES


MIXTURE = """
data N: int
data K: int
data y: real[N]
param mu: ordered[K]
mu ~ Normal(0, 10)
w ~ Dirichlet(rep_vector(1, K))
sigma ~ HalfNormal(5)
z[i] ~ Categorical(w)
y[i] ~ Normal(mu[z[i]], sigma)
"""

MIXTURE_BY_HAND = """
data N: int
data K: int
data y: real[N]
param mu: ordered[K]
mu ~ Normal(0, 10)
w ~ Dirichlet(rep_vector(1, K))
sigma ~ HalfNormal(5)
target += log_sum_exp(log(w) + normal_lpdf(y[i] | mu, sigma))
"""

LATENT_CLASS = """
data N: int
data J: int
data y: int[N, J]
pi ~ Beta(1, 1)
param theta: real<lower=0, upper=1>[2, J]
theta ~ Beta(1, 1)
c[n] ~ Bernoulli(pi)
p[n, j] = theta[c[n] + 1, j]
y[n, j] ~ Bernoulli(p[n, j])
generated c2[n] = 2 * c[n]
"""


def mixture_data(n=60, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    return {"N": n, "K": 3, "y": rng.normal(np.array([-4.0, 0.0, 4.0])[z], 1.0).round(3).tolist()}


def coal_exact(y, keep, a=2.0, b=1.0):
    """P(tau | y) of examples/coal_mining.ppl on a grid, the rates integrated analytically (Gamma(a, b)
    priors are conjugate), with the posterior means and sds of e and l; ``keep`` masks the years
    that enter the likelihood."""
    t = np.arange(1, len(y) + 1)
    lp, moments = [], []
    for tau in t:
        parts = []
        for m in (keep & (t < tau), keep & (t >= tau)):
            s, n = y[m].sum(), m.sum()
            parts.append((a + s, b + n))
        lp.append(sum(gammaln(shape) - shape * np.log(rate) for shape, rate in parts))
        moments.append([(shape / rate, shape / rate**2 + (shape / rate) ** 2) for shape, rate in parts])
    p = np.exp(np.array(lp) - logsumexp(lp))
    m = np.einsum("t,tij->ij", p, np.array(moments))  # [e, l] x [mean, second moment]
    return p, m[:, 0], np.sqrt(m[:, 1] - m[:, 0] ** 2)


def mcse(post, name):
    row = post.summary()["parameters"][name]
    return row["mean"], row["sd"] / np.sqrt(row["ess_bulk"])


# ----------------------------------------------------------------------------- the spec pass and code


def test_finite_discrete_latents_are_enumerated():
    model = pplang.compile(MIXTURE)
    (z,) = model.spec.enumerated
    assert z.name == "z" and z.method is Method.ENUMERATED and model.spec.max_plate_nesting == 1
    src = model.python_source
    # NumPyro's own 0-based class, Stan's 1-based outcome added explicitly
    assert "z = numpyro.sample('z', dist.CategoricalProbs(w), infer={\"enumerate\": \"parallel\"}) + 1" in src
    assert "mu[(z - 1)]" in src


def test_discrete_uniform_is_enumerated_from_zero():
    """NumPyro enumerates the values 0..size-1 whatever the support: DiscreteUniform(1, T) is rendered
    as DiscreteUniform(0, T - 1) + 1, so tau = T is summed over and tau = 0 is not."""
    model = pplang.load(EXAMPLES / "coal_mining.ppl")
    assert "dist.DiscreteUniform(0, (T - 1)), infer={\"enumerate\": \"parallel\"}) + 1" in model.python_source


def test_single_step_indexing_of_a_table_by_two_enumerated_latents():
    """numpyro#2252: T[a][b] gives wrong weights under enumeration; T[a, b] is one indexing step."""
    model = pplang.compile("data N: int\ndata y: int[N]\nparam P: simplex[3]\nparam Q: real<lower=0, upper=1>[3, 2]\n"
                           "a[n] ~ Categorical(P)\nb[n] ~ Bernoulli(0.3)\ny[n] ~ Bernoulli(Q[a[n], b[n] + 1])\n")
    src = model.python_source
    assert "Q[(a - 1), ((b + 1) - 1)]" in src and "][" not in src.split("def model")[1]


def test_enumerated_density_equals_the_hand_marginalised_one(x64):
    """The density NUTS sees (NumPyro's enumeration over the compiled model) is the hand-written
    log_sum_exp over components, at any parameter value."""
    from numpyro.contrib.funsor import enum, log_density
    from numpyro.infer.util import log_density as plain_log_density

    data = mixture_data(20)
    enum_model, hand = pplang.compile(MIXTURE), pplang.compile(MIXTURE_BY_HAND)
    kw = enum_model.prepare_data(data)
    params = {"mu": np.array([-3.0, 0.5, 3.5]), "w": np.array([0.2, 0.5, 0.3]), "sigma": 1.3}
    got = log_density(enum(enum_model.numpyro_model, first_available_dim=-2), (), kw, params)[0]
    want = plain_log_density(hand.numpyro_model, (), hand.prepare_data(data), params)[0]
    y = np.array(data["y"])
    direct = logsumexp(np.log(params["w"]) + stats.norm.logpdf(y[:, None], params["mu"], 1.3), axis=1).sum()
    assert float(got) - float(want) == pytest.approx(0, abs=1e-8)
    assert float(want) - stats.norm.logpdf(params["mu"], 0, 10).sum() - stats.halfnorm.logpdf(1.3, scale=5) \
        - stats.dirichlet.logpdf(params["w"], np.ones(3)) == pytest.approx(direct, rel=1e-10)


def test_enumeration_across_a_two_plate_layout(x64):
    """c[n] read as theta[c[n] + 1, j] in a statement over (n, j): the enumeration dimension goes to
    the left of both plates (max_plate_nesting 2) and the density is the hand-marginalised one."""
    from numpyro.contrib.funsor import enum, log_density

    model = pplang.compile(LATENT_CLASS)
    assert model.spec.max_plate_nesting == 2
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (7, 3))
    kw = model.prepare_data({"N": 7, "J": 3, "y": y.tolist()})
    theta = np.array([[0.2, 0.7, 0.4], [0.9, 0.1, 0.6]])
    got = log_density(enum(model.numpyro_model, first_available_dim=-3), (), kw, {"pi": 0.3, "theta": theta})[0]
    per = np.stack([stats.bernoulli.logpmf(y, theta[k]).sum(1) for k in (0, 1)], 1) + np.log([0.7, 0.3])
    assert float(got) == pytest.approx(logsumexp(per, axis=1).sum(), rel=1e-10)


def test_deeper_definitions_set_the_plate_nesting():
    """A definition with more plates than every sample site: the model says so to NUTS (which guesses
    the nesting from the sample sites it traces)."""
    from numpyro import handlers
    from numpyro.infer.util import _guess_max_plate_nesting

    model = pplang.compile("data N: int\ndata J: int\ndata y: real[N]\nparam b: vector[J]\nb ~ Normal(0, 1)\n"
                           "z[n] ~ Bernoulli(0.5)\nm[n, j] = b[j] * z[n]\ny[n] ~ Normal(b[1] * z[n], 1)\n")
    assert model.spec.max_plate_nesting == 2
    tr = handlers.trace(handlers.seed(model.numpyro_model, 0)).get_trace(**model.prepare_data(
        {"N": 4, "J": 2, "y": [0.0, 1.0, 2.0, 3.0]}))
    assert _guess_max_plate_nesting(tr) == 2


def test_infinite_support_is_refused_with_a_hint():
    with pytest.raises(PplangError) as err:
        pplang.compile("mu ~ Normal(0, 1)\nk ~ Poisson(exp(mu))\n")
    (d,) = err.value.diagnostics
    assert d.code == "invalid-type" and d.span.line == 2 and d.span.column == 5
    assert "infinitely many values" in d.message and "log_sum_exp" in d.help


def test_large_enumerations_are_warned_with_their_size():
    model = pplang.compile("data N: int\ndata y: real[N]\na ~ DiscreteUniform(1, 1000)\nb ~ DiscreteUniform(1, 1000)\n"
                           "y[n] ~ Normal(a - b, 1)\n")
    model.prepare_data({"N": 100, "y": [0.0] * 100})
    (w,) = [d for d in model.data_warnings if d.code == "enumeration-size"]
    assert "1000 (a) × 1000 (b) × 100 = 100,000,000 elements" in w.message and w.span.line == 5


def test_models_without_discrete_latents_are_unchanged():
    for name in ("eight_schools", "linear_regression"):
        assert not pplang.load(EXAMPLES / f"{name}.ppl").spec.enumerated


# ----------------------------------------------------------------------------- reported draws and probabilities


def test_membership_probabilities_and_draws_are_reported():
    """Small run: draws of z (1-based), per-observation membership probabilities equal to the ones
    computed by hand from the same continuous draws, and both in --json and InferenceData."""
    data = mixture_data(30)
    post = pplang.compile(MIXTURE).sample(data, chains=1, warmup=150, samples=100, seed=1)
    z = post.samples["z"]
    assert z.shape == (100, 30) and set(np.unique(z)) <= {1, 2, 3}
    s = post.samples
    y = np.array(data["y"])
    lp = np.log(s["w"])[:, None, :] + stats.norm.logpdf(y[None, :, None], s["mu"][:, None, :],
                                                         s["sigma"][:, None, None])
    hand = np.exp(lp - logsumexp(lp, axis=-1, keepdims=True)).mean(axis=0)
    block = post.summary()["discrete"]["z"]
    assert block["values"] == [1, 2, 3]
    got = np.array([block["probabilities"][f"z[{i + 1}]"] for i in range(30)])
    np.testing.assert_allclose(got, hand, atol=2e-5)
    assert "z[30]" in post.summary()["parameters"]
    idata = post.to_arviz(predictive=False)
    assert idata.posterior["z"].shape == (1, 100, 30)
    assert list(idata.posterior["z_probs"].coords["z_value"].values) == [1, 2, 3]


def test_coal_mining_example_runs_and_reports_tau():
    post = pplang.load(EXAMPLES / "coal_mining.ppl").sample(EXAMPLES / "coal_mining.json", chains=1, warmup=100,
                                                             samples=100, seed=0)
    tau = post.samples["tau"]
    assert tau.dtype.kind == "i" and 1 <= tau.min() and tau.max() <= 112
    probs = post.summary()["discrete"]["tau"]["probabilities"]["tau"]
    assert len(probs) == 112 and sum(probs) == pytest.approx(1, abs=1e-4)
    text = pplang.runtime.format_summary(post.summary())
    assert "Posterior probabilities of tau" in text


def test_generated_and_deterministic_quantities_use_the_discrete_draws():
    rng = np.random.default_rng(2)
    c = rng.integers(0, 2, 12)
    y = (rng.random((12, 3)) < np.where(c[:, None] == 1, 0.9, 0.1)).astype(int)
    post = pplang.compile(LATENT_CLASS).sample({"N": 12, "J": 3, "y": y.tolist()}, chains=1, warmup=100,
                                               samples=50, seed=0)
    s = post.samples
    assert s["p"].shape == (50, 12, 3)
    np.testing.assert_allclose(s["p"], np.take_along_axis(s["theta"], s["c"][:, :, None], 1), rtol=1e-6)
    np.testing.assert_array_equal(post.generated()["c2"], 2 * s["c"])


# ----------------------------------------------------------------------------- posteriors (slow)


@pytest.mark.slow
def test_coal_mining_posterior_matches_the_exact_one():
    data = json.loads((EXAMPLES / "coal_mining.json").read_text())
    y = np.array(data["y"])
    p, mean, sd = coal_exact(y, np.ones(len(y), bool))
    post = pplang.load(EXAMPLES / "coal_mining.ppl").sample(data, chains=4, warmup=500, samples=1000, seed=0)
    q = np.array(post.summary()["discrete"]["tau"]["probabilities"]["tau"])
    assert 0.5 * np.abs(q - p).sum() < 0.02
    counts = np.bincount(post.samples["tau"], minlength=len(y) + 1)[1:] / post.samples["tau"].size
    assert 0.5 * np.abs(counts - p).sum() < 0.06  # draws: Monte Carlo error of 4000 draws
    for k, name in enumerate(("e", "l")):
        m, se = mcse(post, name)
        assert abs(m - mean[k]) < 4 * se, (name, m, mean[k], se)
        assert post.summary()["parameters"][name]["sd"] == pytest.approx(sd[k], rel=0.1)


@pytest.mark.slow
def test_mixture_matches_the_hand_marginalised_model():
    data = mixture_data(80, seed=3)
    kw = dict(chains=4, warmup=500, samples=1000, seed=0)
    enum_post = pplang.compile(MIXTURE).sample(data, **kw)
    hand_post = pplang.compile(MIXTURE_BY_HAND).sample(data, **kw)
    for name in ("mu[1]", "mu[2]", "mu[3]", "w[1]", "w[2]", "w[3]", "sigma"):
        (m1, se1), (m2, se2) = mcse(enum_post, name), mcse(hand_post, name)
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2), (name, m1, m2)
    s, y = enum_post.samples, np.array(data["y"])
    lp = np.log(s["w"])[:, None, :] + stats.norm.logpdf(y[None, :, None], s["mu"][:, None, :],
                                                         s["sigma"][:, None, None])
    hand = np.exp(lp - logsumexp(lp, axis=-1, keepdims=True)).mean(axis=0)
    got = enum_post.summary()["discrete"]["z"]["probabilities"]
    np.testing.assert_allclose([got[f"z[{i + 1}]"] for i in range(80)], hand, atol=2e-5)


def test_observed_and_generated_categories_are_one_based():
    """Stan's categorical counts 1..K: observed and generated sites go through the registry's
    1-based wrapper (replicated data and generated draws come back as 1..K); only an enumerated
    latent uses NumPyro's 0-based class plus 1."""
    src = ("data N: int\ndata K: int\ndata y: int[N]\nw ~ Dirichlet(rep_vector(1, K))\ny[n] ~ Categorical(w)\n"
           "generated k ~ Categorical(w)\n")
    model = pplang.compile(src)
    assert "_pp_OneBased(dist.CategoricalProbs(w)), obs=y)" in model.python_source
    post = model.sample({"N": 6, "K": 3, "y": [1, 3, 3, 2, 3, 3]}, chains=1, warmup=50, samples=200, seed=0)
    assert post.samples["w"].mean(0)[2] > 0.4  # the counts of category 3 moved w[3], not w[4 - 1] ...
    rep = post.predictive()["y"]
    gen = post.generated()["k"]
    assert set(np.unique(rep)) == {1, 2, 3} and set(np.unique(gen)) == {1, 2, 3}
    prior = model.prior_predictive({"N": 6, "K": 3}, samples=100)
    assert set(np.unique(prior["y"])) == {1, 2, 3}


def test_binomial_with_a_data_count_is_enumerated(x64):
    """k ~ Binomial(n, p) with data n: summed over 0..n (NumPyro's BinomialProbs takes probs first, so
    the arguments go by name); binomial_lpmf agrees."""
    from numpyro.contrib.funsor import enum, log_density

    src = "data n: int\ndata M: int\ndata y: real[M]\np ~ Beta(2, 2)\nk ~ Binomial(n, p)\ny[i] ~ Normal(k, 1)\n"
    model = pplang.compile(src)
    assert "dist.BinomialProbs(total_count=n, probs=p)" in model.python_source
    kw = model.prepare_data({"n": 5, "M": 3, "y": [2.0, 3.1, 2.5]})
    got = log_density(enum(model.numpyro_model, first_available_dim=-2), (), kw, {"p": 0.4})[0]
    ks = np.arange(6)
    want = stats.beta.logpdf(0.4, 2, 2) + logsumexp(
        stats.binom.logpmf(ks, 5, 0.4) + stats.norm.logpdf(np.array([2.0, 3.1, 2.5])[:, None], ks, 1).sum(0))
    assert float(got) == pytest.approx(want, rel=1e-10)
    lpmf = pplang.compile("p ~ Beta(2, 2)\ntarget += binomial_lpmf(3 | 5, p)\n").python_source
    assert "dist.BinomialProbs(total_count=5, probs=p).log_prob(3)" in lpmf


# ----------------------------------------------------------------------------- the ejected program


def _run_ejected(tmp_path, model, data, settings):
    """Eject ``model``, import the program and run its main() in this process; its --save draws."""
    import importlib.util

    from pplang.eject import eject

    (tmp_path / "data.json").write_text(json.dumps(data))
    (tmp_path / "prog.py").write_text(eject(model))
    spec = importlib.util.spec_from_file_location(f"ejected_{abs(hash(str(tmp_path)))}", tmp_path / "prog.py")
    prog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prog)
    prog.main([str(tmp_path / "data.json"), *settings, "--save", str(tmp_path / "draws.npz")])
    return np.load(tmp_path / "draws.npz")


def _hmm_data():
    return json.loads((EXAMPLES / "hmm.json").read_text())


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide")  # NumPyro's r_hat of a constant z[i]
@pytest.mark.parametrize("case", ["mixture", "hmm"])
def test_ejected_program_draws_the_discrete_latents_as_pplang_does(case, tmp_path, capsys):
    """The ejected program draws every discrete latent after sampling with pplang's keys: an
    enumerated one (Categorical, 1-based), the deterministic and generated quantities that read it
    (recomputed with its draws, never with enumeration dimensions or prior draws), and a hidden
    Markov chain's states (FFBS): all equal to pplang's."""
    mixture = MIXTURE + "m[i] = mu[z[i]]\ngenerated zz[i] = 10 * z[i]\n"
    model, data = {
        "mixture": lambda: (pplang.compile(mixture), mixture_data(20)),
        "hmm": lambda: (pplang.load(EXAMPLES / "hmm.ppl"), _hmm_data()),
    }[case]()
    settings = dict(chains=2, warmup=40, samples=15, seed=3)
    ejected = _run_ejected(tmp_path, model, data, [f"--{k}={v}" for k, v in settings.items()])
    post = model.sample(data, **settings)
    want = {**post.grouped_samples, **post.generated(grouped=True)}
    discrete = {"mixture": ["z", "m", "zz"], "hmm": ["z"]}[case]
    for name in discrete:
        assert name in ejected.files, name
        np.testing.assert_array_equal(ejected[name], want[name], err_msg=name)
    for name in ejected.files:
        np.testing.assert_allclose(ejected[name], want[name], rtol=1e-6, err_msg=name)
    assert discrete[0] in capsys.readouterr().out  # printed in the program's summary
