"""The distribution registry: one row per distribution.

Checks, lowering, the log density functions (``normal_lpdf``, ...), error suggestions and the docs
all read this table, so adding a distribution is one row (plus a test case). Parameter names are
NumPyro's; their order is Stan's where Stan has the distribution (``Weibull(concentration, scale)``
as Stan's ``weibull(alpha, sigma)``, ``Binomial(total_count, probs)``), and the row says when that
differs from NumPyro's positional order (``positional=False``: arguments are then rendered by
keyword). ``required`` says how many leading parameters must be given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Supports, as names: "real", "positive", "unit_interval", "interval" (from the low/high arguments),
# "nonnegative_integer", "boolean", "integer_interval", "simplex", "real_vector",
# "positive_definite", "corr_cholesky", "corr_matrix", "lower_cholesky", "categorical" (1..K),
# "multinomial" (count vectors), "circular".
# Parameters that must be positive wherever they appear (NumPyro's names).
POSITIVE_PARAMS = {"scale", "rate", "concentration", "concentration0", "concentration1", "df"}

# Parameters that hold a matrix per event (one rank more than the event).
MATRIX_PARAMS = {"covariance_matrix", "precision_matrix", "scale_tril"}

DISCRETE_SUPPORTS = {"nonnegative_integer", "boolean", "integer_interval", "categorical", "multinomial"}

# Stan numbers categories 1..K, NumPyro 0..K-1. A row with ``offset=1`` is rendered inside this
# wrapper (sites, draws and its log density function alike), so no code path can score y instead of
# y - 1. The generated module defines it (``HELPERS``) only when it uses it.
ONE_BASED = "_pp_OneBased"
HELPERS = {ONE_BASED: '''
class _pp_OneBased(dist.Distribution):
    """Stan's 1-based categories: NumPyro's 0-based discrete distribution ``base`` shifted by one."""

    pytree_data_fields = ("base",)

    def __init__(self, base):
        self.base = base
        super().__init__(base.batch_shape, base.event_shape)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(self.base.support.lower_bound + 1, self.base.support.upper_bound + 1)

    def sample(self, key, sample_shape=()):
        return self.base.sample(key, sample_shape) + 1

    def log_prob(self, value):
        return self.base.log_prob(value - 1)

    def enumerate_support(self, expand=True):
        return self.base.enumerate_support(expand) + 1
'''.strip("\n")}

# Hidden Markov chains (pplang.hmm): the forward algorithm in log space and the emission rows.
HELPERS["_pp_hmm_forward"] = '''
def _pp_hmm_forward(log_init, log_trans, emission):
    """log p(observations) of a hidden Markov chain, the states summed out by the forward algorithm
    (log space, one lax.scan): log_init[k] = log p(z[1] = k), log_trans[t, j, k] = log p(z[t + 2] = k |
    z[t + 1] = j), emission[t, k] = log p(observations at t + 1 | z[t + 1] = k)."""
    def step(alpha, inputs):
        trans, e = inputs
        return jax.nn.logsumexp(alpha[:, None] + trans, axis=0) + e, None

    alpha, _ = jax.lax.scan(step, log_init + emission[0], (log_trans, emission[1:]))
    return jax.nn.logsumexp(alpha)
'''.strip("\n")
HELPERS["_pp_MarkovChain"] = '''
class _pp_MarkovChain(dist.Distribution):
    """The states z[1..T] of a hidden Markov chain, counted from 0: z[1] ~ exp(log_init), z[t] ~
    exp(log_trans[t - 2, z[t - 1]]), drawn forward by one lax.scan (the model's simulation mode)."""

    pytree_data_fields = ("log_init", "log_trans")
    support = constraints.nonnegative_integer

    def __init__(self, log_init, log_trans):
        self.log_init, self.log_trans = log_init, log_trans
        super().__init__((), (jnp.shape(log_trans)[0] + 1,))

    def _draw(self, key):
        first_key, rest_key = jax.random.split(key)
        first = jax.random.categorical(first_key, self.log_init)

        def step(prev, inputs):
            trans, k = inputs
            z = jax.random.categorical(k, trans[prev])
            return z, z

        keys = jax.random.split(rest_key, jnp.shape(self.log_trans)[0])
        _, rest = jax.lax.scan(step, first, (self.log_trans, keys))
        return jnp.concatenate([first[None], rest])

    def sample(self, key, sample_shape=()):
        n = 1
        for s in sample_shape:
            n *= s
        draws = jax.vmap(self._draw)(jax.random.split(key, n))
        return jnp.reshape(draws, tuple(sample_shape) + self.event_shape)

    def log_prob(self, value):
        steps = jnp.arange(jnp.shape(self.log_trans)[0])
        return self.log_init[value[..., 0]] + jnp.sum(self.log_trans[steps, value[..., :-1], value[..., 1:]], axis=-1)
'''.strip("\n")
HELPERS["_pp_hmm_rows"] = '''
def _pp_hmm_rows(lp, shape, axis):
    """One statement's log densities at each state (first axis of ``shape``), summed over its plates
    but the chain's (``axis``; None: all of them): one row per element of that plate, one column per state."""
    lp = jnp.broadcast_to(lp, shape)
    other = tuple(k for k in range(1, len(shape)) if axis is None or k != axis + 1)
    return jnp.sum(lp, axis=other).T
'''.strip("\n")

# An ordered / positive_ordered parameter under one scalar prior for all its elements (Method.SORTED).
HELPERS["_pp_Sorted"] = '''
class _pp_Sorted(dist.Distribution):
    """Ordered vectors (the last dimension of ``shape``; any others are independent rows) whose
    elements share the scalar prior ``base``: the order statistics of K draws from it, density
    K! prod base(x_k) on ``support``. Drawn by sorting K draws. log_prob is Stan's, the sum of the
    elements' log densities: the constant log K! is left out, as Stan's ``mu ~ normal(0, 5)`` does."""

    arg_constraints = {}
    support = constraints.dependent
    pytree_data_fields = ("base", "support")

    def __init__(self, base, support, shape):
        self.base = base
        self.support = constraints.independent(support, len(shape) - support.event_dim)
        super().__init__((), tuple(shape))

    def sample(self, key, sample_shape=()):
        return jnp.sort(self.base.sample(key, tuple(sample_shape) + self.event_shape), axis=-1)

    def log_prob(self, value):
        return jnp.sum(self.base.log_prob(value), axis=tuple(range(-len(self.event_shape), 0)))
'''.strip("\n")


@dataclass(frozen=True)
class DistInfo:
    """A registry row: pplang ``name``; NumPyro class ``numpyro``; ``params`` in positional order;
    ``required`` leading params that must be given; ``support``; ``event_rank`` (0 for scalar
    distributions, 1 for vector-valued, 2 for matrix-valued); ``locscale`` when LocScaleReparam
    applies (with ``shape_params`` copied unchanged); ``truncatable`` when NumPyro's
    TruncatedDistribution accepts it; ``event_from`` the parameter whose trailing dims give the
    event shape; ``half`` the row of the same family folded at 0 (used for a zero-centred prior on
    a <lower=0> parameter: the same density); ``positional`` false when ``params`` is not the
    NumPyro class's own positional order (arguments are then rendered by keyword); ``transforms``
    (param, NumPyro param, template) where pplang's parameter is a function of NumPyro's (Stan's
    ``poisson_log`` takes the log rate: NumPyro's Poisson gets ``rate=exp(log_rate)``);
    ``stan`` Stan's name for it ("" when Stan has none); ``offset`` added to NumPyro's outcomes
    (1: Stan's categories 1..K); ``ranks`` (param, rank) the dimensions of one event's value of a
    parameter, where not the default (``event_rank``, one more for ``MATRIX_PARAMS``) — such a
    parameter must have at least that many; ``size_param`` a parameter that is the value's size
    (LKJ's dimension: taken from the left side's declared type when omitted, checked against it
    when given); ``value_defaults`` (param, template of the value) computed from the value when
    omitted, for an observed site or the log density function (Multinomial's total count: the sum
    of the counts); ``template`` the whole NumPyro expression with ``{param}`` placeholders, when
    it is not ``dist.<numpyro>(...)`` (OrderedProbit: a Categorical with Phi-difference probs)."""

    name: str
    numpyro: str
    params: tuple[str, ...]
    support: str
    required: int | None = None
    event_rank: int = 0
    locscale: bool = False
    shape_params: tuple[str, ...] = ()
    truncatable: bool = False
    event_from: str | None = None
    summary: str = ""
    half: str | None = None
    positional: bool = True
    transforms: tuple[tuple[str, str, str], ...] = ()
    stan: str | None = None
    offset: int = 0
    ranks: tuple[tuple[str, int], ...] = ()
    size_param: str | None = None
    value_defaults: tuple[tuple[str, str], ...] = ()
    template: str = ""

    @property
    def transform_map(self) -> dict[str, tuple[str, str]]:
        """pplang parameter -> (NumPyro parameter, JAX template of the value)."""
        return {p: (n, t) for p, n, t in self.transforms}

    def numpyro_name(self, param: str) -> str:
        """The NumPyro constructor's name for a pplang parameter."""
        return self.transform_map.get(param, (param, ""))[0]

    @property
    def numpyro_params(self) -> tuple[str, ...]:
        """The NumPyro constructor's parameters, in ``params`` order."""
        return tuple(self.numpyro_name(p) for p in self.params)

    @property
    def n_required(self) -> int:
        return len(self.params) if self.required is None else self.required

    @property
    def discrete(self) -> bool:
        return self.support in DISCRETE_SUPPORTS

    @property
    def stan_name(self) -> str:
        """Stan's name ("" when Stan has no such distribution)."""
        return snake(self.name) if self.stan is None else self.stan

    def param_rank(self, param: str) -> int:
        """How many trailing dimensions of ``param`` belong to one event."""
        return dict(self.ranks).get(param, self.event_rank + (1 if param in MATRIX_PARAMS else 0))

    def constructor(self, args: dict[str, str], value: str | None = None) -> str:
        """The NumPyro expression of this row given the lowered arguments by pplang parameter name
        (``value``, the lowered outcome, fills ``value_defaults``). Sites, generated draws and the
        log density functions are all rendered here."""
        args = dict(args)
        if value is not None:
            args.update({p: t.format(value) for p, t in self.value_defaults if p not in args})
        if self.template:
            code = self.template.format(**args)
        else:
            rendered = {self.numpyro_name(p): self.transform_map.get(p, (p, "{}"))[1].format(args[p])
                        for p in self.params if p in args}
            names = list(rendered)
            if self.positional and names == list(self.numpyro_params[: len(names)]):
                parts = list(rendered.values())
            else:
                parts = [f"{n}={v}" for n, v in rendered.items()]
            code = f"dist.{self.numpyro}({', '.join(parts)})"
        if self.offset:
            assert self.offset == 1, "only Stan's 1-based categories are rendered"
            code = f"{ONE_BASED}({code})"
        return code


def snake(name: str) -> str:
    """``NegativeBinomial2`` -> ``negative_binomial2``, ``LKJCorr`` -> ``lkj_corr``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


# Stan's ordered_probit: P(y = k) = Phi(c[k] - eta) - Phi(c[k - 1] - eta), with c[0] = -inf, c[K] = inf
_ORDERED_PROBIT = ("dist.CategoricalProbs(jnp.diff(jax.scipy.special.ndtr("
                   "{cutpoints} - jnp.expand_dims({predictor}, -1)), axis=-1, prepend=0.0, append=1.0))")

_ROWS = [
    DistInfo("Normal", "Normal", ("loc", "scale"), "real", locscale=True, truncatable=True, half="HalfNormal",
             summary="normal with mean loc and standard deviation scale"),
    DistInfo("HalfNormal", "HalfNormal", ("scale",), "positive", stan="", summary="|Normal(0, scale)|"),
    DistInfo("Cauchy", "Cauchy", ("loc", "scale"), "real", locscale=True, truncatable=True, half="HalfCauchy"),
    DistInfo("HalfCauchy", "HalfCauchy", ("scale",), "positive", stan=""),
    DistInfo("StudentT", "StudentT", ("df", "loc", "scale"), "real", required=1, locscale=True,
             shape_params=("df",), truncatable=True, summary="Student-t(df, loc, scale)"),
    DistInfo("Laplace", "Laplace", ("loc", "scale"), "real", locscale=True, truncatable=True,
             stan="double_exponential"),
    DistInfo("Logistic", "Logistic", ("loc", "scale"), "real", locscale=True, truncatable=True),
    DistInfo("Exponential", "Exponential", ("rate",), "positive"),
    DistInfo("Gamma", "Gamma", ("concentration", "rate"), "positive", summary="shape, rate"),
    DistInfo("InverseGamma", "InverseGamma", ("concentration", "rate"), "positive", stan="inv_gamma",
             summary="shape, scale (NumPyro calls the scale 'rate')"),
    DistInfo("Beta", "Beta", ("concentration1", "concentration0"), "unit_interval"),
    DistInfo("LogNormal", "LogNormal", ("loc", "scale"), "positive", stan="lognormal"),
    DistInfo("Uniform", "Uniform", ("low", "high"), "interval"),
    DistInfo("Weibull", "Weibull", ("concentration", "scale"), "positive", positional=False,
             summary="shape concentration, scale (Stan's order; NumPyro's class takes scale first)"),
    DistInfo("VonMises", "VonMises", ("loc", "concentration"), "circular",
             summary="circular, on [-pi, pi), with mean loc and concentration"),
    DistInfo("Bernoulli", "BernoulliProbs", ("probs",), "boolean"),
    DistInfo("BernoulliLogit", "BernoulliLogits", ("logits",), "boolean"),
    DistInfo("Binomial", "BinomialProbs", ("total_count", "probs"), "integer_interval", positional=False,
             summary="Binomial(n, p) as Stan: NumPyro's own order is (probs, total_count)"),
    DistInfo("BinomialLogit", "BinomialLogits", ("total_count", "logits"), "integer_interval", positional=False,
             summary="BinomialLogit(n, alpha) as Stan: NumPyro's own order is (logits, total_count)"),
    DistInfo("BetaBinomial", "BetaBinomial", ("total_count", "concentration1", "concentration0"),
             "integer_interval", positional=False, summary="Binomial(total_count, p) with p ~ Beta"),
    DistInfo("Poisson", "Poisson", ("rate",), "nonnegative_integer"),
    DistInfo("PoissonLog", "Poisson", ("log_rate",), "nonnegative_integer",
             transforms=(("log_rate", "rate", "jnp.exp({})"),), summary="Poisson with log rate log_rate"),
    DistInfo("NegativeBinomial2", "NegativeBinomial2", ("mean", "concentration"),
             "nonnegative_integer", stan="neg_binomial_2"),
    DistInfo("ZeroInflatedPoisson", "ZeroInflatedPoisson", ("gate", "rate"), "nonnegative_integer", stan="",
             summary="0 with probability gate, else Poisson(rate)"),
    DistInfo("ZeroInflatedNegativeBinomial2", "ZeroInflatedNegativeBinomial2", ("mean", "concentration", "gate"),
             "nonnegative_integer", stan="", positional=False,
             summary="0 with probability gate, else NegativeBinomial2(mean, concentration)"),
    DistInfo("DiscreteUniform", "DiscreteUniform", ("low", "high"), "integer_interval", stan="discrete_range",
             summary="each integer low..high (both included) equally likely"),
    DistInfo("Categorical", "CategoricalProbs", ("probs",), "categorical", offset=1, ranks=(("probs", 1),),
             summary="outcome k in 1..K with probability probs[k]"),
    DistInfo("CategoricalLogit", "CategoricalLogits", ("logits",), "categorical", offset=1,
             ranks=(("logits", 1),), summary="outcome k in 1..K with probability softmax(logits)[k]"),
    DistInfo("OrderedLogistic", "OrderedLogistic", ("predictor", "cutpoints"), "categorical", offset=1,
             ranks=(("predictor", 0), ("cutpoints", 1)),
             summary="outcome k in 1..K (K - 1 ordered cutpoints), logistic link"),
    DistInfo("OrderedProbit", "CategoricalProbs", ("predictor", "cutpoints"), "categorical", offset=1,
             ranks=(("predictor", 0), ("cutpoints", 1)), template=_ORDERED_PROBIT,
             summary="outcome k in 1..K (K - 1 ordered cutpoints), probit link"),
    DistInfo("Multinomial", "MultinomialProbs", ("probs", "total_count"), "multinomial", required=1,
             event_rank=1, event_from="probs", ranks=(("probs", 1), ("total_count", 0)),
             value_defaults=(("total_count", "jnp.sum({}, axis=-1)"),),
             summary="counts of K categories; total_count defaults to the observed counts' sum"),
    DistInfo("MultinomialLogit", "MultinomialLogits", ("logits", "total_count"), "multinomial", required=1,
             event_rank=1, event_from="logits", ranks=(("logits", 1), ("total_count", 0)),
             value_defaults=(("total_count", "jnp.sum({}, axis=-1)"),),
             summary="Multinomial with probabilities softmax(logits)"),
    DistInfo("MultivariateNormal", "MultivariateNormal",
             ("loc", "covariance_matrix", "precision_matrix", "scale_tril"), "real_vector",
             required=1, event_rank=1, event_from="loc", stan="multi_normal"),
    DistInfo("MultivariateNormalCholesky", "MultivariateNormal", ("loc", "scale_tril"),
             "real_vector", event_rank=1, event_from="loc", positional=False, stan="multi_normal_cholesky",
             summary="MultivariateNormal given the lower Cholesky factor of the covariance"),
    DistInfo("MultivariateStudentT", "MultivariateStudentT", ("df", "loc", "scale_matrix"), "real_vector",
             event_rank=1, event_from="loc", ranks=(("df", 0), ("loc", 1), ("scale_matrix", 2)),
             transforms=(("scale_matrix", "scale_tril", "jnp.linalg.cholesky({})"),), stan="multi_student_t",
             summary="multivariate Student-t with scale matrix scale_matrix"),
    DistInfo("MultivariateStudentTCholesky", "MultivariateStudentT", ("df", "loc", "scale_tril"), "real_vector",
             event_rank=1, event_from="loc", ranks=(("df", 0), ("loc", 1), ("scale_tril", 2)),
             stan="multi_student_t_cholesky",
             summary="multivariate Student-t given the lower Cholesky factor of the scale matrix"),
    DistInfo("Dirichlet", "Dirichlet", ("concentration",), "simplex", event_rank=1,
             event_from="concentration"),
    DistInfo("LKJCholesky", "LKJCholesky", ("concentration", "dimension"), "corr_cholesky",
             required=1, event_rank=2, positional=False, stan="lkj_corr_cholesky",
             ranks=(("concentration", 0), ("dimension", 0)), size_param="dimension",
             value_defaults=(("dimension", "jnp.shape({})[-1]"),),
             summary="Cholesky factor of an LKJ correlation matrix; dimension from the declared type"),
    DistInfo("LKJCorr", "LKJ", ("concentration", "dimension"), "corr_matrix", required=1, event_rank=2,
             positional=False, stan="lkj_corr", ranks=(("concentration", 0), ("dimension", 0)),
             size_param="dimension", value_defaults=(("dimension", "jnp.shape({})[-1]"),),
             summary="LKJ prior on a correlation matrix; dimension from the declared type"),
    DistInfo("Wishart", "Wishart", ("concentration", "scale_matrix"), "positive_definite", event_rank=2,
             event_from="scale_matrix", ranks=(("concentration", 0), ("scale_matrix", 2)),
             summary="Wishart(degrees of freedom, scale matrix)"),
    DistInfo("InverseWishart", "InverseWishart", ("concentration", "scale_matrix"), "positive_definite",
             event_rank=2, event_from="scale_matrix", ranks=(("concentration", 0), ("scale_matrix", 2)),
             stan="inv_wishart", summary="inverse Wishart(degrees of freedom, scale matrix)"),
]

REGISTRY: dict[str, DistInfo] = {row.name: row for row in _ROWS}
STAN_NAMES: dict[str, str] = {row.stan_name: row.name for row in _ROWS if row.stan_name}


# Stan distributions that are a special case of a row: the statement to write instead
STAN_ALIASES = {"std_normal": "`Normal(0, 1)`", "normal_id_glm": "`Normal(alpha + X @ beta, sigma)`",
                "bernoulli_logit_glm": "`BernoulliLogit(alpha + X @ beta)`",
                "poisson_log_glm": "`PoissonLog(alpha + X @ beta)`"}


def suggest_distribution(name: str) -> str | None:
    """The hint for an unknown distribution: the row for a Stan name (``categorical``,
    ``neg_binomial_2``), else the closest row name."""
    import difflib

    if name in STAN_ALIASES:
        return f'Stan\'s "{name}" is written {STAN_ALIASES[name]} here'
    if name in STAN_NAMES:
        return f'Stan\'s "{name}" is "{STAN_NAMES[name]}" here (distributions are capitalised)'
    match = difflib.get_close_matches(name, sorted(REGISTRY), n=1)
    return f'did you mean "{match[0]}"?' if match else None
