"""Hidden Markov chains written as they are thought (pplang.hmm, pplang.forward): the forward
algorithm, forward-backward and FFBS against brute-force enumeration of every state sequence, the
compiled model's marginal density, the reported states, the refusals, and (slow) a simulated HMM
against the same model with the forward algorithm written by hand."""

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import pplang
from pplang.diagnostics import PplangError, render_all
from conftest import EXAMPLES

HMM = """
data T: int<lower=1>
data K: int<lower=1>
data y: real[T]
param rho: simplex[K]
param Gamma: simplex[K, K]
param mu: ordered[K]
param sigma: real<lower=0>
rho ~ Dirichlet(rep_vector(1.0, K))
Gamma[k] ~ Dirichlet(rep_vector(1.0, K))
mu ~ Normal(0, 5)
sigma ~ HalfNormal(2)
z[1] ~ Categorical(rho)
for t in 2:T {
  z[t] ~ Categorical(Gamma[z[t - 1]])
}
y[t] ~ Normal(mu[z[t]], sigma)
"""

# the same model, the observations written in the loop's body and y[1] before it
HMM_IN_LOOP = HMM.replace("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ny[t] ~ Normal(mu[z[t]], sigma)\n",
                          "y[1] ~ Normal(mu[z[1]], sigma)\nfor t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n"
                          "  y[t] ~ Normal(mu[z[t]], sigma)\n}\n")

# the priors alone: the compiled HMM's density minus this one is log p(y | parameters)
PRIORS = HMM.split("z[1] ~")[0]

# the forward algorithm by hand (the style of examples/posteriordb/hmm_example-hmm_example.ppl)
HMM_BY_HAND = PRIORS + """
local gamma[1, k] = log(rho[k]) + normal_lpdf(y[1] | mu[k], sigma)
for t in 2:T {
  local gamma[t, k] = log_sum_exp(gamma[t - 1] + log(Gamma[:, k])) + normal_lpdf(y[t] | mu[k], sigma)
}
target += log_sum_exp(gamma[T])
"""

# transitions that vary with t (a covariate), Poisson observations, Bernoulli-free 3 states
HMM_COVARIATE = """
data T: int<lower=1>
data K: int<lower=1>
data x: real[T]
data y: int[T]
param A: matrix[K, K]
param b: vector[K]
param lam: positive_ordered[K]
param rho: simplex[K]
z[1] ~ Categorical(rho)
for t in 2:T {
  z[t] ~ CategoricalLogit(A[z[t - 1]] + b * x[t])
}
y[t] ~ Poisson(lam[z[t]])
"""


def brute_force(log_init, log_trans, emission):
    """Every one of the K^T sequences: their log joint probabilities (with the observations)."""
    T, K = emission.shape
    seqs = np.array(list(itertools.product(range(K), repeat=T)))
    lp = log_init[seqs[:, 0]] + emission[np.arange(T), seqs].sum(axis=1)
    for t in range(1, T):
        lp += log_trans[t - 1, seqs[:, t - 1], seqs[:, t]]
    return seqs, lp


def random_hmm(T, K, seed):
    rng = np.random.default_rng(seed)
    log_init = np.log(rng.dirichlet(np.ones(K)))
    log_trans = np.log(rng.dirichlet(np.ones(K), size=(T - 1, K)))  # varies with t
    emission = rng.normal(-2, 1.5, size=(T, K))
    return log_init, log_trans, emission


def simulate(T, seed, mu=(-1.0, 1.5), sigma=0.6, Gamma=((0.9, 0.1), (0.2, 0.8))):
    rng = np.random.default_rng(seed)
    Gamma, K = np.array(Gamma), len(mu)
    z = np.zeros(T, int)
    z[0] = rng.integers(K)
    for t in range(1, T):
        z[t] = rng.choice(K, p=Gamma[z[t - 1]])
    y = rng.normal(np.array(mu)[z], sigma)
    return {"T": T, "K": K, "y": y.tolist()}, z + 1


# ----------------------------------------------------------------------------- the algorithms


def test_forward_backward_and_ffbs_match_brute_force(x64):
    import jax

    from pplang.forward import ffbs, log_marginal, marginals

    log_init, log_trans, emission = random_hmm(5, 3, seed=0)
    seqs, lp = brute_force(log_init, log_trans, emission)
    assert float(log_marginal(log_init, log_trans, emission)) == pytest.approx(logsumexp(lp), abs=1e-10)
    post = np.exp(lp - logsumexp(lp))
    exact = np.stack([np.bincount(seqs[:, t], weights=post, minlength=3) for t in range(5)])
    np.testing.assert_allclose(np.asarray(marginals(log_init, log_trans, emission)), exact, atol=1e-10, rtol=0)
    n = 40_000
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    draws = np.asarray(jax.vmap(lambda k: ffbs(k, log_init, log_trans, emission))(keys))
    codes = draws @ (3 ** np.arange(4, -1, -1))  # the sequence's row in ``seqs`` (itertools' order)
    freq = np.bincount(codes, minlength=len(seqs)) / n
    # each of the 243 frequencies is a binomial proportion: within 5 standard errors (plus 1/n for
    # sequences of tiny probability) of the exact probability; a chance failure of any one cell is
    # < 243 * 6e-7, and the key is fixed
    np.testing.assert_array_less(np.abs(freq - post), 5 * np.sqrt(post * (1 - post) / n) + 1 / n)


def test_the_generated_forward_algorithm_equals_pplangs(x64):
    """The helper the generated program defines (standalone) computes what pplang.forward does."""
    from pplang.distributions import HELPERS
    from pplang.forward import log_marginal

    scope: dict = {}
    exec("import jax\nimport jax.numpy as jnp\n" + HELPERS["_pp_hmm_forward"], scope)
    args = random_hmm(6, 2, seed=1)
    assert float(scope["_pp_hmm_forward"](*args)) == pytest.approx(float(log_marginal(*args)), abs=1e-10)
    one = tuple(a[:1] if a.ndim == 2 else a for a in (args[0], args[1][:0], args[2][:1]))  # T = 1
    assert float(scope["_pp_hmm_forward"](*one)) == pytest.approx(logsumexp(one[0] + one[2][0]), abs=1e-12)


# ----------------------------------------------------------------------------- the compiled model


def _log_density(model, data, params):
    from numpyro.infer.util import log_density

    return float(log_density(model.numpyro_model, (), model.prepare_data(data), params)[0])


@pytest.mark.parametrize("source", [HMM, HMM_IN_LOOP], ids=["after-loop", "in-loop"])
def test_marginal_density_equals_brute_force(x64, source):
    data, _ = simulate(6, seed=4)
    data["K"] = 3
    rng = np.random.default_rng(5)
    params = {"rho": rng.dirichlet(np.ones(3)), "Gamma": rng.dirichlet(np.ones(3), size=3),
              "mu": np.array([-1.0, 0.2, 1.3]), "sigma": 0.7}
    y = np.array(data["y"])
    emission = stats.norm.logpdf(y[:, None], params["mu"][None, :], params["sigma"])
    log_trans = np.broadcast_to(np.log(params["Gamma"]), (5, 3, 3))
    _, lp = brute_force(np.log(params["rho"]), log_trans, emission)
    model = pplang.compile(source)
    assert [c.name for c in model.spec.chains] == ["z"] and not model.spec.enumerated
    got = _log_density(model, data, params) - _log_density(pplang.compile(PRIORS), data, params)
    assert got == pytest.approx(logsumexp(lp), abs=1e-10)


def test_transitions_that_vary_with_t(x64):
    rng = np.random.default_rng(6)
    T, K = 5, 3
    data = {"T": T, "K": K, "x": rng.normal(size=T).tolist(), "y": rng.poisson(3, T).tolist()}
    params = {"A": rng.normal(size=(K, K)), "b": rng.normal(size=K), "lam": np.array([1.0, 3.0, 6.0]),
              "rho": rng.dirichlet(np.ones(K))}
    logits = params["A"][None, :, :] + params["b"][None, None, :] * np.array(data["x"])[1:, None, None]
    log_trans = logits - logsumexp(logits, axis=-1, keepdims=True)
    emission = stats.poisson.logpmf(np.array(data["y"])[:, None], params["lam"][None, :])
    _, lp = brute_force(np.log(params["rho"]), log_trans, emission)
    model = pplang.compile(HMM_COVARIATE)
    assert _log_density(model, data, params) == pytest.approx(logsumexp(lp), abs=1e-10)


def test_a_bernoulli_chain_with_counts_observed(x64):
    """States 0/1 (no offset), the transition read through z[t - 1] + 1, Binomial observations."""
    source = """
data T: int
data n: int
data y: int[T]
param p: real<lower=0, upper=1>[2]
param q: real<lower=0, upper=1>[2]
z[1] ~ Bernoulli(0.5)
for t in 2:T {
  z[t] ~ Bernoulli(p[z[t - 1] + 1])
}
y[t] ~ Binomial(n, q[z[t] + 1])
"""
    data = {"T": 6, "n": 5, "y": [0, 1, 4, 5, 3, 1]}
    params = {"p": np.array([0.3, 0.8]), "q": np.array([0.2, 0.7])}
    p1 = params["p"]
    log_trans = np.broadcast_to(np.log(np.array([[1 - p1[0], p1[0]], [1 - p1[1], p1[1]]])), (5, 2, 2))
    emission = stats.binom.logpmf(np.array(data["y"])[:, None], 5, params["q"][None, :])
    _, lp = brute_force(np.log([0.5, 0.5]), log_trans, emission)
    model = pplang.compile(source)
    assert model.spec.chains[0].offset is None
    assert _log_density(model, data, params) == pytest.approx(logsumexp(lp), abs=1e-10)


def test_ejected_program_computes_the_marginal_density(x64, tmp_path):
    from pplang.eject import eject

    model = pplang.compile(HMM)
    source = eject(model)
    assert "_pp_hmm_forward(" in source and "numpyro.factor('_pp_hmm_z'" in source
    scope: dict = {"__name__": "ejected"}
    exec(compile(source, "prog.py", "exec"), scope)
    data, _ = simulate(6, seed=7)
    params = {"rho": np.array([0.3, 0.7]), "Gamma": np.array([[0.8, 0.2], [0.4, 0.6]]),
              "mu": np.array([-1.0, 1.0]), "sigma": 0.8}
    from numpyro.infer.util import log_density

    got = float(log_density(scope["model"], (), model.prepare_data(data), params)[0])
    assert got == pytest.approx(_log_density(model, data, params), abs=1e-12)


# ----------------------------------------------------------------------------- reported states


def test_states_are_reported_like_enumerated_latents():
    """Small run: FFBS draws of z (1-based) per posterior draw, the smoothed probabilities equal to
    forward-backward computed here from the same continuous draws, in --json, the text summary
    and InferenceData."""
    from pplang.forward import marginals

    data, _ = simulate(40, seed=8)
    post = pplang.compile(HMM).sample(data, chains=1, warmup=150, samples=60, seed=2)
    s = post.samples
    assert s["z"].shape == (60, 40) and s["z"].dtype.kind == "i" and set(np.unique(s["z"])) <= {1, 2}
    y = np.array(data["y"])
    hand = np.mean([np.asarray(marginals(np.log(s["rho"][d]), np.broadcast_to(np.log(s["Gamma"][d]), (39, 2, 2)),
                                         stats.norm.logpdf(y[:, None], s["mu"][d][None, :], s["sigma"][d])))
                    for d in range(60)], axis=0)
    block = post.summary()["discrete"]["z"]
    assert block["values"] == [1, 2] and block["method"] == "forward algorithm"
    got = np.array([block["probabilities"][f"z[{t + 1}]"] for t in range(40)])
    np.testing.assert_allclose(got, hand, atol=1e-4)  # stored in float32
    # the draws agree with the probabilities (60 draws: 5 standard errors of the mean state)
    assert np.all(np.abs(s["z"].mean(axis=0) - (1 + got[:, 1])) <= 5 * np.sqrt(0.25 / 60) + 1e-9)
    assert "z[40]" in post.summary()["parameters"]
    assert "Posterior probabilities of z (summed out by the forward algorithm)" in \
        pplang.runtime.format_summary(post.summary())
    assert not any("no replicated data" in n for n in post.summary()["notes"])  # y is drawn now
    idata = post.to_arviz(predictive=False)
    assert idata.posterior["z"].shape == (1, 60, 40)
    assert list(idata.posterior["z_probs"].coords["z_value"].values) == [1, 2]


# ----------------------------------------------------------------------------- refusals


def _refused(source: str):
    with pytest.raises(PplangError) as err:
        pplang.compile(source)
    return err.value.diagnostics


HEAD = "data T: int<lower=1>\ndata K: int<lower=1>\ndata y: real[T]\nparam rho: simplex[K]\nparam Gamma: simplex[K, K]\n" \
       "param mu: vector[K]\nz[1] ~ Categorical(rho)\n"  # lines 1-7


@pytest.mark.parametrize("body, line, column, message", [
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 2]])\n}\ny[t] ~ Normal(mu[z[t]], 1)\n",
     9, 28, "may depend only on the element before it, z[t - 1]"),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]] * 0.5 + Gamma[z[1]] * 0.5)\n}\ny[t] ~ Normal(mu[z[t]], 1)\n",
     9, 52, "may depend only on the element before it"),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\nx[t] ~ Normal(mu[z[t]], 1)\ny[t] ~ Normal(x[t], 1)\n",
     11, 1, "cannot be read by the prior of a continuous parameter"),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\nm[t] = mu[z[t]]\ny[t] ~ Normal(m[t], 1)\n",
     11, 1, "cannot be read by a definition"),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ntarget += normal_lpdf(y[t] | mu[z[t]], 1)\n",
     11, 1, "cannot be read by `target +=`"),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ny[t] ~ Normal(mu[z[t]], 1)\ngenerated w[t] = 2 * z[t]\n",
     12, 11, "cannot be read by a generated quantity"),
    ("w[1] ~ Categorical(rho)\nfor t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n  w[t] ~ Categorical(Gamma[w[t - 1]])\n}\n"
     "y[t] ~ Normal(mu[z[t]] + mu[w[t]], 1)\n", 13, 1, "reads the hidden Markov chains w and z"),
    ("w[1] ~ Categorical(rho)\nfor t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n  w[t] ~ Categorical(Gamma[z[t - 1]])\n}\n"
     "y[t] ~ Normal(mu[z[t]], 1)\n", 11, 28, 'the chain "w" reads the hidden Markov chain "z"'),
    ("for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ny[t] ~ Normal(mu[z[t - 1]], 1)\n",
     11, 18, "only as z[t]"),
    ("y[1] ~ Normal(mu[z[1]], 1)\nfor t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ny[t] ~ Normal(mu[z[t]], 1)\n",
     12, 1, "observed here and by an earlier statement"),
], ids=["two-back", "constant-back", "continuous-prior", "definition", "target", "generated", "two-chains",
        "chain-reads-chain", "lagged-emission", "observed-twice"])
def test_what_is_not_supported_is_refused_where_it_is_written(body, line, column, message):
    diags = _refused(HEAD + body)
    d = next(d for d in diags if d.code == "hidden-markov")
    assert (d.span.line, d.span.column) == (line, column) and message in d.message, (d.span, d.message)
    assert d.help


def test_a_chain_without_its_first_element_asks_for_it():
    diags = _refused(HEAD.replace("z[1] ~ Categorical(rho)\n", "") +
                     "for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\ny[t] ~ Normal(mu[z[t]], 1)\n")
    d = diags[0]
    assert d.code == "invalid-lhs" and (d.span.line, d.span.column) == (8, 3)
    assert "must be given before the loop" in d.message and "z[1] ~ Categorical" in d.help


def test_a_chain_and_a_mixture_in_one_statement_is_refused():
    diags = _refused(HEAD + "c[t] ~ Categorical(rho)\nfor t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\n"
                     "y[t] ~ Normal(mu[z[t]] + mu[c[t]], 1)\n")
    assert any(d.code == "enumeration" and "hidden Markov chain" in d.message for d in diags)


def test_error_text_is_located_with_a_caret():
    with pytest.raises(PplangError) as err:
        pplang.compile(HEAD + "for t in 2:T {\n  z[t] ~ Categorical(Gamma[z[t - 1]])\n}\nm[t] = mu[z[t]]\n", "m.ppl")
    text = render_all(err.value.diagnostics, err.value.source, err.value.file)
    assert "error[hidden-markov]" in text and "m.ppl:11:1" in text and "^" in text and "help:" in text


# ----------------------------------------------------------------------------- recovery (slow)


def mcse(post, name):
    row = post.summary()["parameters"][name]
    return row["mean"], row["sd"] / np.sqrt(row["ess_bulk"])


@pytest.mark.slow
def test_simulated_hmm_states_and_parameters_match_the_hand_written_forward_algorithm():
    data, truth = simulate(200, seed=1)
    kw = dict(chains=2, warmup=400, samples=600, seed=0)
    post = pplang.compile(HMM).sample(data, **kw)
    probs = post.summary()["discrete"]["z"]["probabilities"]
    best = np.array([np.argmax(probs[f"z[{t + 1}]"]) + 1 for t in range(200)])
    accuracy = np.mean(best == truth)
    assert accuracy >= 0.9, accuracy
    hand = pplang.compile(HMM_BY_HAND).sample(data, **kw)
    for name in ("mu[1]", "mu[2]", "sigma", "Gamma[1,1]", "Gamma[2,2]", "rho[1]"):
        (m1, se1), (m2, se2) = mcse(post, name), mcse(hand, name)
        # two independent MCMC estimates of the same posterior mean: their difference has standard
        # error hypot(se1, se2); 4 of them leaves a chance failure per parameter below 1e-4
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2), (name, m1, m2, se1, se2)


# ----------------------------------------------------------------------------- drawing and scoring y


# the parameters of the transitions and the means given as data: the prior predictive's states can
# be compared with known probabilities (and mu is a plain vector: an ordered one has no proper prior)
HMM_FIXED = """
data T: int<lower=1>
data K: int<lower=1>
data rho: vector[K]
data Gamma: matrix[K, K]
data mu: vector[K]
data y: real[T]
param sigma: real<lower=0>
sigma ~ HalfNormal(1)
z[1] ~ Categorical(rho)
for t in 2:T {
  z[t] ~ Categorical(Gamma[z[t - 1]])
}
y[t] ~ Normal(mu[z[t]], sigma)
"""
HMM_PROPER = HMM.replace("param mu: ordered[K]", "param mu: vector[K]")


def _given(draws, T, seed):
    """Posterior-like draws (1 chain) of HMM's parameters and states, 1-based states."""
    rng = np.random.default_rng(seed)
    return {"rho": np.full((1, draws, 2), 0.5), "Gamma": np.full((1, draws, 2, 2), 0.5),
            "mu": np.sort(rng.normal(0, 2, size=(1, draws, 2)), axis=-1), "sigma": rng.uniform(0.3, 1.5, (1, draws)),
            "z": rng.integers(1, 3, size=(1, draws, T))}


def test_replicated_y_is_drawn_at_the_given_states():
    """Posterior predictive with one fixed draw repeated: y[t] ~ Normal(mu[z[t]], sigma) at the
    given states (mean and sd of 4000 replications within 5 Monte Carlo standard errors)."""
    model = pplang.compile(HMM)
    data, _ = simulate(6, seed=3)
    kwargs = model.prepare_data(data)
    n, z = 4000, np.array([1, 2, 2, 1, 2, 1])
    samples = {"rho": np.full((1, n, 2), 0.5), "Gamma": np.full((1, n, 2, 2), 0.5),
               "mu": np.broadcast_to([-1.0, 2.0], (1, n, 2)), "sigma": np.full((1, n), 0.5),
               "z": np.broadcast_to(z, (1, n, 6))}
    y = model.replicate(samples, kwargs, seed=4)["y"][0]
    assert y.shape == (n, 6)
    expected = np.array([-1.0, 2.0])[z - 1]
    assert np.all(np.abs(y.mean(axis=0) - expected) < 5 * 0.5 / np.sqrt(n))
    assert np.all(np.abs(y.std(axis=0) - 0.5) < 5 * 0.5 / np.sqrt(2 * n))


def test_log_likelihood_is_the_emission_density_at_the_drawn_state(x64):
    """log_likelihood given the states: log Normal(y[t] | mu[z[t]], sigma) per draw and t, exactly."""
    model = pplang.compile(HMM)
    data, _ = simulate(7, seed=5)
    kwargs = model.prepare_data(data)
    samples = _given(5, 7, seed=6)
    ll = model.log_likelihood(samples, kwargs)["y"]
    mu = np.take_along_axis(samples["mu"], samples["z"] - 1, axis=-1)
    hand = stats.norm.logpdf(np.array(data["y"]), mu, samples["sigma"][..., None])
    assert ll.shape == (1, 5, 7)
    np.testing.assert_allclose(ll, hand, rtol=0, atol=1e-10)


def test_the_simulation_mode_density_is_the_joint_with_the_states(x64):
    """With _pp_simulate the model's log density is log p(params) + log p(z) + log p(y | z): the
    states' density (_pp_MarkovChain.log_prob) and the emissions' by hand."""
    from numpyro.infer.util import log_density

    from pplang.lower_numpyro import SIMULATE_FLAG

    model = pplang.compile(HMM)
    data, _ = simulate(5, seed=1)
    p = {k: np.asarray(v[0, 0]) for k, v in _given(1, 5, seed=2).items()}
    z = p["z"] = p["z"] - 1  # NumPyro's outcomes
    got = float(log_density(model._as_written, (), {**model.prepare_data(data), SIMULATE_FLAG: True}, p)[0])
    G = p["Gamma"]
    hand = (stats.dirichlet.logpdf(p["rho"], [1, 1]) + sum(stats.dirichlet.logpdf(G[k], [1, 1]) for k in range(2))
            + stats.norm.logpdf(p["mu"], 0, 5).sum() + stats.halfnorm.logpdf(p["sigma"], scale=2)
            + np.log(p["rho"][z[0]]) + sum(np.log(G[z[t - 1], z[t]]) for t in range(1, 5))
            + stats.norm.logpdf(np.array(data["y"]), p["mu"][z], p["sigma"]).sum())
    assert got == pytest.approx(hand, abs=1e-10)


def test_prior_predictive_draws_the_chain_forward():
    """The states' first element and transition frequencies of long simulated chains match rho and
    Gamma; y given the states is Normal(mu[z[t]], sigma) (standardised residuals: mean 0, sd 1)."""
    rho, Gamma, mu = [0.2, 0.8], [[0.9, 0.1], [0.3, 0.7]], [-1.0, 3.0]
    model = pplang.compile(HMM_FIXED)
    n, T = 200, 300
    prior = model.prior_predictive({"T": T, "K": 2, "rho": rho, "Gamma": Gamma, "mu": mu}, samples=n, seed=1)
    z, y, sigma = prior["z"], prior["y"], prior["sigma"]
    assert z.shape == (n, T) and y.shape == (n, T) and set(np.unique(z)) == {1, 2}
    p1 = np.mean(z[:, 0] == 1)
    assert abs(p1 - rho[0]) < 5 * np.sqrt(rho[0] * rho[1] / n)
    prev, nxt = z[:, :-1].ravel(), z[:, 1:].ravel()
    for j in (1, 2):
        from_j = nxt[prev == j]
        p = Gamma[j - 1][1]
        assert abs(np.mean(from_j == 2) - p) < 5 * np.sqrt(p * (1 - p) / len(from_j)), j
    r = ((y - np.array(mu)[z - 1]) / sigma[:, None]).ravel()
    assert abs(r.mean()) < 5 / np.sqrt(r.size) and abs(r.std() - 1) < 5 / np.sqrt(2 * r.size)


def test_the_command_line_draws_y(tmp_path, capsys):
    """`pplang run examples/hmm.ppl --predict -o fit.nc`: the states' draws and probabilities,
    replicated y, its log-likelihood and the observed y in InferenceData; `pplang prior` on an HMM."""
    import arviz as az

    from pplang.cli import main

    out = tmp_path / "fit.nc"
    assert main(["run", str(EXAMPLES / "hmm.ppl"), "--chains", "1", "--warmup", "30", "--samples", "10",
                 "--predict", "-o", str(out), "--no-progress"]) == 0
    idata = az.from_netcdf(out)
    assert idata.posterior["z"].shape == (1, 10, 200) and idata.posterior["z_probs"].shape == (1, 10, 200, 3)
    assert {"posterior_predictive", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.posterior_predictive["y"].shape == (1, 10, 200)
    assert idata.log_likelihood["y"].shape == (1, 10, 200)
    observed = json.loads((EXAMPLES / "hmm.json").read_text())["y"]
    np.testing.assert_allclose(idata.observed_data["y"], observed)
    model = tmp_path / "hmm.ppl"
    model.write_text(HMM_PROPER)
    data = tmp_path / "hmm.json"
    data.write_text(json.dumps(simulate(12, seed=1)[0]))
    assert main(["prior", str(model), "--data", str(data), "--samples", "5"]) == 0
    assert "Variable: y" in capsys.readouterr().out


@pytest.mark.slow  # about 11 s
def test_sbc_ranks_the_parameters_of_a_chain():
    """sbc simulates states and y; the continuous parameters are ranked, the states are not."""
    from pplang.sbc import calibrate

    data, _ = simulate(10, seed=9)
    cal = calibrate(pplang.compile(HMM_PROPER), data, reps=2, draws=9, bins=10, chains=1, warmup=60, samples=20)
    assert {"mu[1]", "sigma", "Gamma[1,2]", "rho[1]"} <= set(cal.ranks)
    assert not any(k.startswith("z") for k in cal.ranks)
    assert all(len(r) == 2 and 0 <= r.min() and r.max() <= 9 for r in cal.ranks.values())


def test_observations_in_several_statements_are_refused_where_written():
    """y[1] before the loop and y[t] in it: each would be a site named y, so drawing or scoring y
    given the states is refused where y is first observed (sampling it is unaffected)."""
    data, _ = simulate(10, seed=9)
    model = pplang.compile(HMM_IN_LOOP)
    with pytest.raises(PplangError) as err:
        model.prior_predictive(data, samples=5)
    (d,) = err.value.diagnostics
    assert d.code == "unsupported" and 'cannot draw from the prior: "y" is observed with the hidden Markov chain' \
        in d.message and d.span.line == 14
    kwargs, samples = model.prepare_data(data), _given(3, 10, seed=1)
    with pytest.raises(PplangError, match="cannot draw replicated data"):
        model.replicate(samples, kwargs)
    with pytest.raises(PplangError, match="cannot compute the log-likelihood"):
        model.log_likelihood(samples, kwargs)


def test_an_array_of_simplexes():
    """simplex[N, K]: N simplexes of size K, flat over each row without a prior; Stan's array form
    is answered with it."""
    model = pplang.compile("data K: int\nparam Gamma: simplex[3, K]\n")
    (t,) = [s.type for s in model.spec.symbols.values() if s.name == "Gamma"]
    assert t.container == "simplex" and len(t.shape) == 2 and t.event_rank == 1
    assert "dist.ImproperUniform(constraints.simplex, (), (3, K))" in model.python_source
    with pytest.raises(PplangError) as err:
        pplang.compile("data K: int\nparam Gamma: simplex[K][K]\n")
    (d,) = err.value.diagnostics
    assert d.code == "syntax-error" and "array of simplexes" in d.message and "simplex[N, K]" in d.help
    with pytest.raises(PplangError, match="simplex needs one size"):
        pplang.compile("data K: int\nparam G: simplex[K, K, K]\n")
