"""The registry's breadth, written as a Stan user would: each distribution row and each function
against an independent computation (scipy / numpy, float64), the shapes they give, Stan's 1-based
categories, and what the unsupported forms tell the user to write instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import pplang
from pplang import PplangError
from pplang.distributions import REGISTRY
from pplang.functions import OVERLOADS


def _trace(model, kw, values=None):
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_uniform

    seeded = handlers.seed(model.numpyro_model, 0)
    if values:
        seeded = handlers.substitute(seeded, values)
    else:  # values in each site's support, as NUTS's initialisation draws them
        seeded = handlers.substitute(seeded, substitute_fn=init_to_uniform)
    return handlers.trace(seeded).get_trace(**kw)


def log_density(model, data, values):
    from numpyro.infer.util import log_density as ld

    kw = model.prepare_data(data)
    return float(ld(model.numpyro_model, (), kw, values)[0])


def sites(model, data, values=None):
    """name -> (distribution class names, value shape) of every sample site."""
    tr = _trace(model, model.prepare_data(data), values)
    out = {}
    for k, s in tr.items():
        if s["type"] == "sample" and not k.startswith("_pp"):
            fn, names = s["fn"], []
            while fn is not None:
                names.append(type(fn).__name__)
                fn = getattr(fn, "base_dist", None) or getattr(fn, "base", None)
            out[k] = (names, np.shape(s["value"]))
    return out


def errors(src: str) -> list[tuple[str, str, str]]:
    with pytest.raises(PplangError) as exc:
        pplang.compile(src)
    return [(d.code, d.message, d.help or "") for d in exc.value.diagnostics]


def lkj_log_c(k: int, eta: float) -> float:
    """log of the LKJ normalising constant (Lewandowski, Kurowicka and Joe 2009)."""
    return -(sum((2 * eta - 2 + k - i) * (k - i) for i in range(1, k)) * np.log(2)
             + sum((k - i) * special.betaln(eta + (k - i - 1) / 2, eta + (k - i - 1) / 2) for i in range(1, k)))


def expit(x):
    return 1 / (1 + np.exp(-x))


def ordered_probs(eta, c, cdf):
    """Stan's ordered_logistic / ordered_probit: P(y = k) for k = 1..K, one row per eta."""
    upper = cdf(np.asarray(eta)[:, None] - np.asarray(c))  # P(y > k), k = 1..K-1
    return np.concatenate([1 - upper[:, :1], upper[:, :-1] - upper[:, 1:], upper[:, -1:]], axis=1)


SIGMA = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.5]])
CORR = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.0]])
S_VAL = np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.4], [0.0, 0.4, 1.0]])
Y_VEC = np.array([[0.1, 0.2, -0.3], [1.5, -0.7, 0.4]])
ETA = np.array([-0.5, 0.3, 1.2, 2.0, -1.5])
CUTS = np.array([-1.0, 0.4, 1.5])
Y_ORD = np.array([1, 2, 3, 4, 1])

# (row, declarations, left side, arguments, data, values, reference log density)
CASES = [
    ("Categorical", "data N: int\ndata K: int\ndata y: int[N]\ndata theta: vector[K]", "y[n]", "theta",
     {"N": 4, "K": 3, "y": [1, 3, 2, 3], "theta": [0.2, 0.3, 0.5]}, {},
     np.log([0.2, 0.5, 0.3, 0.5]).sum()),
    ("CategoricalLogit", "data N: int\ndata K: int\ndata y: int[N]\ndata b: vector[K]", "y[n]", "b",
     {"N": 3, "K": 3, "y": [3, 1, 2], "b": [0.1, -0.4, 1.2]}, {},
     special.log_softmax([0.1, -0.4, 1.2])[[2, 0, 1]].sum()),
    ("OrderedLogistic", "data N: int\ndata y: int[N]\ndata eta: vector[N]\ndata c: vector[3]", "y[n]", "eta[n], c",
     {"N": 5, "y": Y_ORD, "eta": ETA, "c": CUTS}, {},
     np.log(ordered_probs(ETA, CUTS, expit)[np.arange(5), Y_ORD - 1]).sum()),
    ("OrderedProbit", "data N: int\ndata y: int[N]\ndata eta: vector[N]\ndata c: vector[3]", "y[n]", "eta[n], c",
     {"N": 5, "y": Y_ORD, "eta": ETA, "c": CUTS}, {},
     np.log(ordered_probs(ETA, CUTS, stats.norm.cdf)[np.arange(5), Y_ORD - 1]).sum()),
    ("Multinomial", "data N: int\ndata y: int[N, 3]\ndata theta: vector[3]", "y[n]", "theta",
     {"N": 2, "y": [[2, 0, 3], [1, 4, 1]], "theta": [0.2, 0.3, 0.5]}, {},
     stats.multinomial(5, [0.2, 0.3, 0.5]).logpmf([2, 0, 3]) + stats.multinomial(6, [0.2, 0.3, 0.5]).logpmf([1, 4, 1])),
    ("MultinomialLogit", "data N: int\ndata y: int[N, 3]\ndata b: vector[3]", "y[n]", "b",
     {"N": 2, "y": [[2, 0, 3], [1, 4, 1]], "b": [0.1, -0.4, 1.2]}, {},
     sum(stats.multinomial(sum(r), special.softmax([0.1, -0.4, 1.2])).logpmf(r) for r in ([2, 0, 3], [1, 4, 1]))),
    ("BetaBinomial", "data N: int\ndata y: int[N]\ndata T: int[N]", "y[n]", "T[n], 2.5, 1.5",
     {"N": 3, "y": [0, 4, 7], "T": [5, 8, 7]}, {}, stats.betabinom([5, 8, 7], 2.5, 1.5).logpmf([0, 4, 7]).sum()),
    ("ZeroInflatedPoisson", "data N: int\ndata y: int[N]", "y[n]", "0.3, 2.5",
     {"N": 4, "y": [0, 0, 3, 1]}, {},
     2 * np.log(0.3 + 0.7 * np.exp(-2.5)) + np.log(0.7) * 2 + stats.poisson(2.5).logpmf([3, 1]).sum()),
    ("ZeroInflatedNegativeBinomial2", "data N: int\ndata y: int[N]", "y[n]", "4.0, 1.5, 0.2",
     {"N": 3, "y": [0, 2, 9]}, {},
     np.log(0.2 + 0.8 * stats.nbinom(1.5, 1.5 / 5.5).pmf(0))
     + np.log(0.8) * 2 + stats.nbinom(1.5, 1.5 / 5.5).logpmf([2, 9]).sum()),
    ("Weibull", "data N: int\ndata y: vector[N]", "y[n]", "1.5, 2.0",  # Stan's weibull(alpha shape, sigma scale)
     {"N": 3, "y": [0.4, 1.3, 3.2]}, {}, stats.weibull_min(1.5, scale=2.0).logpdf([0.4, 1.3, 3.2]).sum()),
    ("VonMises", "data N: int\ndata y: vector[N]", "y[n]", "0.5, 2.0",
     {"N": 3, "y": [1.0, -2.0, 3.0]}, {}, stats.vonmises(2.0, loc=0.5).logpdf([1.0, -2.0, 3.0]).sum()),
    ("DiscreteUniform", "data N: int\ndata y: int[N]", "y[n]", "2, 6",
     {"N": 3, "y": [2, 6, 4]}, {}, 3 * np.log(1 / 5)),
    ("Binomial", "data N: int\ndata y: int[N]\ndata T: int[N]", "y[n]", "T[n], 0.3",
     {"N": 3, "y": [0, 4, 7], "T": [5, 8, 7]}, {}, stats.binom([5, 8, 7], 0.3).logpmf([0, 4, 7]).sum()),
    ("BinomialLogit", "data N: int\ndata y: int[N]\ndata T: int[N]", "y[n]", "T[n], -0.2",
     {"N": 3, "y": [0, 4, 7], "T": [5, 8, 7]}, {}, stats.binom([5, 8, 7], expit(-0.2)).logpmf([0, 4, 7]).sum()),
    ("MultivariateStudentT", "data N: int\ndata y: matrix[N, 3]\ndata S: matrix[3, 3]", "y[n]",
     "4.0, [0.1, 0.0, -0.2], S", {"N": 2, "y": Y_VEC, "S": SIGMA}, {},
     stats.multivariate_t([0.1, 0.0, -0.2], SIGMA, df=4).logpdf(Y_VEC).sum()),
    ("MultivariateStudentTCholesky", "data N: int\ndata y: matrix[N, 3]\ndata L: matrix[3, 3]", "y[n]",
     "4.0, [0.1, 0.0, -0.2], L", {"N": 2, "y": Y_VEC, "L": np.linalg.cholesky(SIGMA)}, {},
     stats.multivariate_t([0.1, 0.0, -0.2], SIGMA, df=4).logpdf(Y_VEC).sum()),
    ("LKJCorr", "param Omega: corr_matrix[3]", "Omega", "2.5", {}, {"Omega": CORR},
     lkj_log_c(3, 2.5) + 1.5 * np.linalg.slogdet(CORR)[1]),
    ("LKJCholesky", "data K: int\nparam L: cholesky_factor_corr[K]", "L", "2.5", {"K": 3},
     {"L": np.linalg.cholesky(CORR)},
     lkj_log_c(3, 2.5) + sum((3 - k + 2 * 2.5 - 2) * np.log(np.linalg.cholesky(CORR)[k - 1, k - 1]) for k in (2, 3))),
    ("Wishart", "data S: matrix[3, 3]\nparam W: cov_matrix[3]", "W", "5.0, S", {"S": SIGMA}, {"W": S_VAL},
     stats.wishart(5, SIGMA).logpdf(S_VAL)),
    ("InverseWishart", "data S: matrix[3, 3]\nparam W: cov_matrix[3]", "W", "5.0, S", {"S": SIGMA}, {"W": S_VAL},
     stats.invwishart(5, SIGMA).logpdf(S_VAL)),
]


# NumPyro's BetaBinomial computes log B(n - k + 1, k) by a series (error ~1e-7); scipy's is exact
TOL = {"BetaBinomial": 1e-6, "ZeroInflatedNegativeBinomial2": 1e-6}  # NegativeBinomial2 likewise


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("row, decls, lhs, args, data, values, ref", CASES, ids=_ids(CASES))
def test_sampling_statement_density(row, decls, lhs, args, data, values, ref, x64):
    """``lhs ~ Row(args)`` reaches the generated code as the row's NumPyro class and scores what
    Stan's distribution of the same name scores (1-based categories included)."""
    model = pplang.compile(f"{decls}\n{lhs} ~ {row}({args})\n")
    info = REGISTRY[row]
    name = lhs.split("[")[0]
    classes, _ = sites(model, data, values)[name]
    assert info.numpyro in classes or info.numpyro == "ZeroInflatedNegativeBinomial2" and "ZeroInflatedProbs" in classes
    assert ("_pp_OneBased" in classes) == bool(info.offset)
    assert log_density(model, data, values) == pytest.approx(ref, rel=TOL.get(row, 1e-9), abs=1e-9)


@pytest.mark.parametrize("row, decls, lhs, args, data, values, ref", CASES, ids=_ids(CASES))
def test_log_density_function(row, decls, lhs, args, data, values, ref, x64):
    """The generated ``<stan name>_lpdf`` / ``_lpmf`` of every row gives the same density, written
    Stan's way (``categorical_lpmf(y[n] | theta)``, 1-based)."""
    info = REGISTRY[row]
    fn = f"{info.stan_name or row.lower()}_{'lpmf' if info.discrete else 'lpdf'}"
    if not info.stan_name:
        fn = next(n for n in OVERLOADS if n.endswith(("_lpdf", "_lpmf")) and OVERLOADS[n][0].summary.endswith(
            f"of {row} at the first argument"))
    decls = decls.replace("param ", "data ")  # the value is data here
    model = pplang.compile(f"{decls}\ntarget += {fn}({lhs} | {args})\n")
    assert log_density(model, {**data, **values}, {}) == pytest.approx(ref, rel=TOL.get(row, 1e-9), abs=1e-9)


def test_every_row_has_a_density_case():
    new = {"Categorical", "CategoricalLogit", "OrderedLogistic", "OrderedProbit", "Multinomial", "MultinomialLogit",
           "BetaBinomial", "ZeroInflatedPoisson", "ZeroInflatedNegativeBinomial2", "Weibull", "VonMises",
           "LKJCorr", "MultivariateStudentT", "MultivariateStudentTCholesky", "Wishart", "InverseWishart",
           "DiscreteUniform"}
    assert new <= set(REGISTRY) and new <= set(_ids(CASES))


def test_stan_and_snake_names_of_the_density_functions():
    for name in ("categorical_lpmf", "categorical_logit_lpmf", "ordered_logistic_lpmf", "ordered_probit_lpmf",
                 "multinomial_lpmf", "beta_binomial_lpmf", "weibull_lpdf", "von_mises_lpdf", "lkj_corr_lpdf",
                 "lkj_corr_cholesky_lpdf", "multi_student_t_lpdf", "wishart_lpdf", "inv_wishart_lpdf",
                 "discrete_range_lpmf", "neg_binomial_2_lpmf", "multi_normal_lpdf", "inverse_wishart_lpdf",
                 "zero_inflated_poisson_lpmf", "negative_binomial2_lpmf"):
        assert name in OVERLOADS, name


# ----------------------------------------------------------------------------- 1-based categories


def test_categorical_draws_are_one_based(x64):
    """Replicated and generated draws are Stan's categories 1..K, never NumPyro's 0..K-1."""
    model = pplang.compile("data N: int\ndata K: int\ndata y: int[N]\nparam theta: simplex[K]\n"
                           "theta ~ Dirichlet(rep_vector(1, K))\ny[n] ~ Categorical(theta)\n"
                           "generated y_rep[n] ~ Categorical(theta)\n"
                           "generated z[n] ~ OrderedLogistic(0.0, [-1.0, 1.0])\n")
    data = {"N": 200, "K": 3, "y": [1, 2, 3] * 66 + [1, 1]}
    prior = model.prior_predictive(data, samples=20)
    assert prior["y"].shape == (20, 200) and prior["y"].min() == 1 and prior["y"].max() == 3
    samples = {"theta": np.full((1, 2, 3), 1 / 3)}
    gen = model.generate(samples, model.prepare_data(data))
    assert gen["y_rep"].shape == (1, 2, 200) and set(np.unique(gen["y_rep"])) == {1, 2, 3}
    assert set(np.unique(gen["z"])) == {1, 2, 3}


def test_categorical_zero_is_outside_the_support(x64):
    """A 0 (NumPyro's first category) has probability zero: the data must be 1..K, as in Stan."""
    model = pplang.compile("data N: int\ndata y: int[N]\ndata theta: vector[3]\ny[n] ~ Categorical(theta)\n")
    with pytest.warns(UserWarning):
        assert log_density(model, {"N": 2, "y": [0, 1], "theta": [0.2, 0.3, 0.5]}, {}) == -np.inf


def test_one_based_helper_is_emitted_only_when_used():
    assert "_pp_OneBased" not in pplang.compile("mu ~ Normal(0, 1)\n").python_source
    src = pplang.compile("data y: int\ntarget += categorical_lpmf(y | [0.5, 0.5])\n").python_source
    assert src.count("class _pp_OneBased") == 1


# ----------------------------------------------------------------------------- shapes of sites


@pytest.mark.parametrize("src, data, want", [
    ("data K: int\ndata N: int\ndata y: int[N]\ntheta ~ Dirichlet(rep_vector(1, K))\ny[n] ~ Categorical(theta)",
     {"K": 3, "N": 4, "y": [1, 2, 3, 3]}, {"theta": (3,), "y": (4,)}),
    ("data K: int\nparam Omega: corr_matrix[K]\nOmega ~ LKJCorr(2)", {"K": 3}, {"Omega": (3, 3)}),
    ("data K: int\nOmega ~ LKJCorr(2, dimension=K)", {"K": 4}, {"Omega": (4, 4)}),
    ("data K: int\nparam L: cholesky_factor_corr[K]\nL ~ LKJCholesky(2)", {"K": 3}, {"L": (3, 3)}),
    ("data S: matrix[2, 2]\nW ~ Wishart(4, S)", {"S": np.eye(2)}, {"W": (2, 2)}),
    ("data S: matrix[2, 2]\nparam W: cov_matrix[2]\nW ~ InverseWishart(4, S)", {"S": np.eye(2)}, {"W": (2, 2)}),
    ("data J: int\nparam mu: real[J]\nmu[j] ~ VonMises(0, 2)", {"J": 5}, {"mu": (5,)}),
    ("data J: int\nparam k: real<lower=0>[J]\nk[j] ~ Weibull(1.5, 2)", {"J": 5}, {"k": (5,)}),
    ("data J: int\ndata S: matrix[2, 2]\nparam x: matrix[J, 2]\nx[j] ~ MultivariateStudentT(3, [0.0, 1.0], S)",
     {"J": 4, "S": np.eye(2)}, {"x": (4, 2)}),
    ("data J: int\ndata L: matrix[2, 2]\nparam x: matrix[J, 2]\nx[j] ~ MultivariateStudentTCholesky(3, [0.0, 1.0], L)",
     {"J": 4, "L": [[1.0, 0.0], [0.5, 1.0]]}, {"x": (4, 2)}),
])
def test_latent_shapes(src, data, want):
    model = pplang.compile(src + "\n")
    got = {k: v[1] for k, v in sites(model, data).items()}
    assert got == want


def test_generated_multinomial_and_discrete_uniform_shapes():
    model = pplang.compile("data N: int\ndata T: int[N]\ntheta ~ Dirichlet([1.0, 1.0, 1.0])\n"
                           "generated y[n] ~ Multinomial(theta, T[n])\ngenerated u[n] ~ DiscreteUniform(1, 4)\n")
    data = {"N": 5, "T": [3, 4, 5, 6, 7]}
    gen = model.generate({"theta": np.full((1, 2, 3), 1 / 3)}, model.prepare_data(data))
    assert gen["y"].shape == (1, 2, 5, 3)
    assert (gen["y"].sum(-1) == np.array(data["T"])).all()
    assert gen["u"].min() >= 1 and gen["u"].max() <= 4


def test_lkj_dimension_comes_from_the_declared_type():
    """Stan's lkj_corr(eta): the dimension is taken from the declared type, and a given one must
    agree with it."""
    site = pplang.compile("data K: int\nparam Omega: corr_matrix[K]\nOmega ~ LKJCorr(2)\n").spec.sites()[0]
    assert [p for p, _ in site.args] == ["concentration", "dimension"]
    assert "dist.LKJ(concentration=2, dimension=K)" in pplang.compile(
        "data K: int\nparam Omega: corr_matrix[K]\nOmega ~ LKJCorr(2)\n").python_source
    assert errors("param Omega: corr_matrix[3]\nOmega ~ LKJCorr(2, 4)\n")[0][0] == "shape-mismatch"


def test_weibull_binds_stan_order_by_name():
    src = pplang.compile("data y: real\ny ~ Weibull(1.5, 2.0)\n").python_source
    assert "dist.Weibull(concentration=1.5, scale=2.0)" in src


def test_binomial_is_rendered_by_keyword():
    """Binomial(total_count, probs) is Stan's order; NumPyro's BinomialProbs takes probs first."""
    src = pplang.compile("data y: int\ny ~ Binomial(10, 0.3)\ntarget += binomial_lpmf(y | 10, 0.3)\n").python_source
    assert src.count("dist.BinomialProbs(total_count=10, probs=0.3)") == 2


def test_multinomial_total_count_defaults_to_the_observed_sum():
    src = pplang.compile("data N: int\ndata y: int[N, 3]\ny[n] ~ Multinomial([0.2, 0.3, 0.5])\n").python_source
    assert "jnp.sum(y, axis=-1)" in src


# ----------------------------------------------------------------------------- functions

A = np.array([[2.0, 0.5, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 1.5]])
B = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
LOW = np.array([[2.0, 0.0, 0.0], [0.5, 1.5, 0.0], [-0.3, 0.2, 1.1]])
V = np.array([0.3, -1.2, 0.8])
W = np.array([1.1, 0.4, -0.6])
FUNC_DATA = {"A": A, "B": B, "Lo": LOW, "v": V, "w": W, "p": [0.2, 0.7, 0.9], "q": [1.0, 0.0, 1.0],
             "k": [3, 1, 2]}
FUNC_DECLS = ("data A: matrix[3, 3]\ndata B: matrix[3, 2]\ndata Lo: matrix[3, 3]\ndata v: vector[3]\n"
              "data w: vector[3]\ndata p: vector[3]\ndata q: vector[3]\ndata k: int[3]\n")


@pytest.mark.parametrize("expr, want", [
    ("log_sum_exp(v, w)", np.logaddexp(V, W)),
    ("log_sum_exp(v)", special.logsumexp(V)),
    ("log_sum_exp(1.5, -0.3)", np.logaddexp(1.5, -0.3)),
    ("log_mix(0.3, v, w)", np.log(0.3 * np.exp(V) + 0.7 * np.exp(W))),
    ("log_mix(p, v, w)", special.logsumexp([np.log(FUNC_DATA["p"]) + V, np.log1p(-np.array(FUNC_DATA["p"])) + W],
                                           axis=0)),
    ("rep_matrix(2.5, 2, 3)", np.full((2, 3), 2.5)),
    ("rep_matrix(v, 2)", np.stack([V, V], axis=1)),
    ("diag_matrix(v)", np.diag(V)),
    ("identity_matrix(3)", np.eye(3)),
    ("identity_matrix(3) @ v", V),
    ("diag_pre_multiply(v, B)", np.diag(V) @ B),
    ("diag_post_multiply(B, [2.0, -1.0])", B @ np.diag([2.0, -1.0])),
    ("to_vector(B)", B.flatten(order="F")),
    ("to_vector(k)", np.array([3.0, 1.0, 2.0])),
    ("to_matrix([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)", np.array([1.0, 2, 3, 4, 5, 6]).reshape(2, 3, order="F")),
    ("to_matrix(B)", B),
    ("to_matrix(to_vector(B), 2, 3)", B.flatten(order="F").reshape(2, 3, order="F")),
    ("append_row(v, w)", np.concatenate([V, W])),
    ("append_row(0, v)", np.concatenate([[0.0], V])),
    ("append_row(v, 7)", np.concatenate([V, [7.0]])),
    ("append_row(A, B')", np.concatenate([A, B.T])),
    ("quad_form(A, B)", B.T @ A @ B),
    ("quad_form(A, v)", V @ A @ V),
    ("quad_form_diag(A, v)", np.diag(V) @ A @ np.diag(V)),
    ("softmax(v)", special.softmax(V)),
    ("log_softmax(v)", special.log_softmax(V)),
    ("cumulative_sum(v)", np.cumsum(V)),
    ("inv_logit(v)", special.expit(V)),
    ("logit(p)", special.logit(FUNC_DATA["p"])),
    ("rows_dot_product(B, B)", np.sum(B * B, axis=1)),
    ("rows_dot_product(v, w)", V * W),
    ("columns_dot_product(B, B)", np.sum(B * B, axis=0)),
    ("col_means(B)", B.mean(axis=0)),
    ("row_means(B)", B.mean(axis=1)),
    ("multiply_lower_tri_self_transpose(A)", np.tril(A) @ np.tril(A).T),
    ("tcrossprod(B)", B @ B.T),
    ("crossprod(B)", B.T @ B),
    ("determinant(A)", np.linalg.det(A)),
    ("log_determinant(A)", np.linalg.slogdet(A)[1]),
    ("inverse(A)", np.linalg.inv(A)),
    ("trace(A)", np.trace(A)),
    ("mdivide_left_tri_low(Lo, v)", np.linalg.solve(LOW, V)),
    ("mdivide_left_tri_low(A, B)", np.linalg.solve(np.tril(A), B)),
    ("lmultiply(q, p)", special.xlogy(FUNC_DATA["q"], FUNC_DATA["p"])),
    ("lmultiply(0, 0)", 0.0),
    ("binary_log_loss(q, p)", -(np.array(FUNC_DATA["q"]) * np.log(FUNC_DATA["p"])
                                + (1 - np.array(FUNC_DATA["q"])) * np.log1p(-np.array(FUNC_DATA["p"])))),
])
def test_function_value(expr, want, x64):
    """Each function's value (in derived data, so numpy's and JAX's float64 meet) and static shape."""
    model = pplang.compile(f"{FUNC_DECLS}data z = {expr}\n")
    (derived,) = model.spec.derived
    kw = model.prepare_data(FUNC_DATA)
    got = np.asarray(kw["z"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    sizes = {"3": 3, "2": 2}
    static = tuple(_size(d, sizes) for d in derived.type.shape)
    assert static == np.shape(want), (static, np.shape(want))


def _size(e, sizes):
    from pplang import ir

    match e:
        case ir.Num(value=v):
            return int(v)
        case ir.BinOp(op="+", left=a, right=b):
            return _size(a, sizes) + _size(b, sizes)
        case ir.BinOp(op="*", left=a, right=b):
            return _size(a, sizes) * _size(b, sizes)
    raise AssertionError(e)


def test_functions_per_plate_element(x64):
    """Signature functions batch over plates: one value per element, as the math says."""
    model = pplang.compile("data J: int\ndata X: matrix[J, 3]\ndata A: matrix[3, 3]\ndata s: matrix[J, 3]\n"
                           "param mu: real\nqf[j] = quad_form(A, X[j])\nd[j] = diag_pre_multiply(s[j], A)\n"
                           "m[j] = rep_matrix(s[j], 2)\nt[j] = to_vector(diag_matrix(X[j]))\nmu ~ Normal(0, 1)\n")
    X = np.arange(6.0).reshape(2, 3) / 4
    s = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    tr = _trace(model, model.prepare_data({"J": 2, "X": X, "A": A, "s": s}))
    np.testing.assert_allclose(tr["qf"]["value"], [x @ A @ x for x in X], rtol=1e-12)
    np.testing.assert_allclose(tr["d"]["value"], [np.diag(r) @ A for r in s], rtol=1e-12)
    np.testing.assert_allclose(tr["m"]["value"], [np.stack([r, r], 1) for r in s], rtol=1e-12)
    np.testing.assert_allclose(tr["t"]["value"], [np.diag(x).flatten(order="F") for x in X], rtol=1e-12)


def test_density_function_batches_with_plates(x64):
    """``ll[j] = categorical_lpmf(y | theta[j])``: y has its own batch dim; theta varies along j."""
    model = pplang.compile("data J: int\ndata N: int\ndata y: int[N]\ndata theta: matrix[J, 3]\nparam a: real\n"
                           "data X: matrix[N, 3]\ndata S: matrix[3, 3]\n"
                           "a ~ Normal(0, 1)\nll[j] = categorical_lpmf(y | theta[j])\n"
                           "mv[j] = multi_normal_lpdf(X | theta[j], S)\n")
    theta = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    y = np.array([1, 3, 3, 2])
    X = np.arange(12.0).reshape(4, 3) / 10
    tr = _trace(model, model.prepare_data({"J": 2, "N": 4, "y": y, "theta": theta, "X": X, "S": SIGMA}))
    np.testing.assert_allclose(tr["ll"]["value"], np.log(theta[:, y - 1]), rtol=1e-12)
    want = [stats.multivariate_normal(t, SIGMA).logpdf(X) for t in theta]
    np.testing.assert_allclose(tr["mv"]["value"], want, rtol=1e-10)


# ----------------------------------------------------------------------------- unsupported forms


@pytest.mark.parametrize("src, code, in_message, in_help", [
    ("data K: int\ntheta ~ Dirichlet(rep_vector(1, K))\ndata y: int\ny ~ categorical(theta)\n",
     "unknown-distribution", 'unknown distribution "categorical"', 'is "Categorical" here'),
    ("data y: int\ny ~ neg_binomial_2(3, 2)\n", "unknown-distribution", "", '"NegativeBinomial2"'),
    ("data y: real\nz = normal_rng(0, 1)\n", "unknown-function", "", "generated y ~ Normal(...)"),
    ("data y: real\ntarget += normal_lcdf(y | 0, 1)\n", "unknown-function", "", "T[lo, hi]"),
    ("data v: vector[3]\nz = log_mix(softmax(v), v)\n", "bad-arguments", "log_mix takes 3", "log_sum_exp(log(theta)"),
    ("z = rep_matrix(1.0, 3)\n", "shape-mismatch", "rep_matrix takes", "rep_matrix(x, m, n)"),
    ("data B: matrix[3, 2]\nz = to_matrix(B, 2, 3)\n", "shape-mismatch", "to_matrix takes",
     "to_matrix(to_vector(M), m, n)"),
    ("data J: int\ndata v: matrix[J, 2]\nz[j] = append_row(v[j], 1)\n", "unsupported", "append_row",
     "build the whole vector"),
    ("mu ~ Normal(0, 1)\nz = rep_matrix(1.0, 2, mu)\n", "invalid-type", "must be integer data", ""),
    ("data theta: vector[3]\ngenerated y ~ Multinomial(theta)\n", "bad-arguments", "needs total_count",
     "total_count=N"),
    ("u ~ Poisson(3)\n", "invalid-type", "discrete latent", "marginalise"),  # finite ones are enumerated
    ("Omega ~ LKJCorr(2)\n", "bad-arguments", "needs dimension", "corr_matrix"),
    ("data K: int\nparam L: cholesky_factor_corr[K]\nL ~ LKJCholesky(K, 2.0)\n", "invalid-type",
     "must be integer data", "Stan's order"),
    ("data N: int\ndata y: int[N]\ny[n] ~ Categorical(0.5)\n", "shape-mismatch", "probs needs 1", ""),
    ("data y: int\ntarget += categorical_lpmf(y | 0.5)\n", "shape-mismatch", "needs 1 dimension", ""),
    ("data v: vector[3]\ndata w: vector[2]\nz = quad_form_diag(diag_matrix(v), w)\n", "shape-mismatch", "sizes differ",
     ""),
])
def test_unsupported_forms_say_what_to_write(src, code, in_message, in_help):
    errs = errors(src)
    assert errs[0][0] == code, errs
    assert in_message in errs[0][1] and in_help in errs[0][2], errs


def test_docs_name_every_row_and_new_function():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    for name, row in REGISTRY.items():
        assert f"`{name}" in docs, name
        if row.stan_name and row.stan_name != name.lower():
            assert row.stan_name in docs, row.stan_name
    for fn in ("log_mix", "rep_matrix", "diag_matrix", "diag_pre_multiply", "diag_post_multiply", "to_vector",
               "to_matrix", "append_row", "quad_form", "quad_form_diag", "rows_dot_product", "columns_dot_product",
               "col_means", "row_means", "multiply_lower_tri_self_transpose", "tcrossprod", "crossprod",
               "determinant", "log_determinant", "inverse", "trace", "mdivide_left_tri_low", "lmultiply",
               "binary_log_loss", "log_sum_exp(a, b)"):
        assert f"`{fn}" in docs, fn


# ----------------------------------------------------------------------------- end-to-end models

E2E = [
    ("categorical", "data N: int\ndata K: int\ndata y: int<lower=1, upper=K>[N]\nparam theta: simplex[K]\n"
     "theta ~ Dirichlet(rep_vector(2, K))\ny[n] ~ Categorical(theta)\n",
     {"N": 6, "K": 3, "y": [1, 2, 3, 3, 2, 3]}, {"theta": (3,)}),
    ("categorical_logit", "data N: int\ndata K: int\ndata x: vector[N]\ndata y: int[N]\n"
     "param alpha: vector[K]\nparam beta: vector[K]\nalpha[k] ~ Normal(0, 1)\nbeta[k] ~ Normal(0, 1)\n"
     "y[n] ~ CategoricalLogit(alpha + beta * x[n])\n"
     "target += categorical_logit_lpmf(y[1] | alpha)\n",
     {"N": 4, "K": 3, "x": [0.1, -0.3, 1.2, 0.5], "y": [1, 3, 2, 3]}, {"alpha": (3,), "beta": (3,)}),
    ("ordered", "data N: int\ndata K: int\ndata x: vector[N]\ndata y: int[N]\nparam c: ordered[K - 1]\n"
     "beta ~ Normal(0, 2)\nc[k] ~ Normal(0, 5)\ny[n] ~ OrderedLogistic(x[n] * beta, c)\n"
     "generated ll[n] = ordered_probit_lpmf(y[n] | x[n] * beta, c)\n",
     {"N": 5, "K": 4, "x": [0.1, -0.3, 1.2, 0.5, 2.0], "y": [1, 2, 4, 3, 4]}, {"beta": (), "c": (3,)}),
    ("multinomial", "data N: int\ndata K: int\ndata y: int[N, K]\ntheta ~ Dirichlet(rep_vector(1, K))\n"
     "y[n] ~ Multinomial(theta)\n", {"N": 2, "K": 3, "y": [[1, 2, 3], [0, 0, 4]]}, {"theta": (3,)}),
    ("beta_binomial", "data N: int\ndata T: int[N]\ndata y: int[N]\na ~ Gamma(2, 1)\nb ~ Gamma(2, 1)\n"
     "y[n] ~ BetaBinomial(T[n], a, b)\n", {"N": 3, "T": [5, 6, 7], "y": [1, 6, 0]}, {"a": (), "b": ()}),
    ("zero_inflated", "data N: int\ndata y: int[N]\ngate ~ Beta(1, 1)\nlam ~ Gamma(2, 1)\nphi ~ Gamma(2, 1)\n"
     "y[n] ~ ZeroInflatedPoisson(gate, lam)\ntarget += zero_inflated_negative_binomial2_lpmf(y | lam, phi, gate)\n",
     {"N": 4, "y": [0, 0, 2, 5]}, {"gate": (), "lam": (), "phi": ()}),
    ("weibull", "data N: int\ndata y: vector<lower=0>[N]\nalpha ~ Gamma(2, 1)\nsigma ~ Gamma(2, 1)\n"
     "y[n] ~ Weibull(alpha, sigma)\n", {"N": 3, "y": [0.5, 1.2, 2.2]}, {"alpha": (), "sigma": ()}),
    ("von_mises", "data N: int\ndata y: vector[N]\nmu ~ VonMises(0, 0.1)\nkappa ~ Gamma(2, 1)\n"
     "y[n] ~ VonMises(mu, kappa)\n", {"N": 3, "y": [0.5, 1.2, -2.2]}, {"mu": (), "kappa": ()}),
    ("lkj", "data N: int\ndata K: int\ndata y: matrix[N, K]\nparam Omega: corr_matrix[K]\n"
     "param L: cholesky_factor_corr[K]\nparam tau: vector<lower=0>[K]\nOmega ~ LKJCorr(2)\nL ~ LKJCholesky(2)\n"
     "tau[k] ~ HalfNormal(1)\n"
     "y[n] ~ MultivariateNormal(rep_vector(0, K), quad_form_diag(Omega, tau))\n"
     "target += multi_normal_cholesky_lpdf(y[n] | rep_vector(0, K), diag_pre_multiply(tau, L))\n",
     {"N": 2, "K": 3, "y": Y_VEC}, {"Omega": (3, 3), "L": (3, 3), "tau": (3,)}),
    ("multi_student_t", "data N: int\ndata y: matrix[N, 3]\nparam mu: vector[3]\nmu[k] ~ Normal(0, 1)\n"
     "nu ~ Gamma(2, 0.1)\n"
     "param Sigma: cov_matrix[3]\nSigma ~ InverseWishart(5, diag_matrix(rep_vector(1, 3)))\n"
     "y[n] ~ MultivariateStudentT(nu, mu, Sigma)\n",
     {"N": 2, "y": Y_VEC}, {"mu": (3,), "nu": (), "Sigma": (3, 3)}),
    ("wishart", "data S: matrix[2, 2]\nW ~ Wishart(4, S)\ndata y: matrix[3, 2]\n"
     "y[n] ~ MultivariateNormal(rep_vector(0, 2), precision_matrix=W)\n",
     {"S": np.eye(2), "y": Y_VEC[:, :2].tolist() + [[0.0, 1.0]]}, {"W": (2, 2)}),
    ("discrete_uniform", "data N: int\ndata y: int[N]\nmu ~ Normal(0, 1)\ny[n] ~ DiscreteUniform(1, 6)\n",
     {"N": 3, "y": [1, 6, 3]}, {"mu": ()}),
]


@pytest.mark.parametrize("name, src, data, shapes", E2E, ids=[c[0] for c in E2E])
def test_end_to_end(name, src, data, shapes, x64):
    """A small model of each family compiles, traces with NUTS's kind of initial values, and has a
    finite log density there."""
    from numpyro.infer.util import log_density as ld

    model = pplang.compile(src)
    kw = model.prepare_data(data)
    tr = _trace(model, kw)
    latent = {k: np.shape(s["value"]) for k, s in tr.items()
              if s["type"] == "sample" and not s["is_observed"] and not k.startswith("_pp")}
    assert latent == shapes
    values = {k: tr[k]["value"] for k in latent}
    assert np.isfinite(float(ld(model.numpyro_model, (), kw, values)[0]))


@pytest.mark.slow
def test_ordered_logistic_nuts_runs():
    """A tiny NUTS run through the 1-based wrapper: the cutpoints order the categories as Stan's."""
    model = pplang.compile(E2E[2][1])
    post = model.sample(E2E[2][2], chains=1, warmup=200, samples=200, seed=1)
    c = np.asarray(post.samples["c"])
    assert c.shape[-1] == 3 and np.all(np.diff(c, axis=-1) > 0)
