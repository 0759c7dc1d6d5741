"""The distribution registry: one row per distribution.

Checks, lowering, error suggestions and ``pplang explain distributions`` all read this table, so
adding a distribution is one row (plus a test case). Parameter names are NumPyro's, in NumPyro's
positional order; ``required`` says how many of them must be given.
"""

from __future__ import annotations

from dataclasses import dataclass

# Supports, as names: "real", "positive", "unit_interval", "interval" (from the low/high arguments),
# "nonnegative_integer", "boolean", "integer_interval", "simplex", "real_vector",
# "positive_definite", "corr_cholesky", "lower_cholesky", "categorical".
# Parameters that must be positive wherever they appear (NumPyro's names).
POSITIVE_PARAMS = {"scale", "rate", "concentration", "concentration0", "concentration1", "df"}

# Parameters that hold a matrix per event (one rank more than the event).
MATRIX_PARAMS = {"covariance_matrix", "precision_matrix", "scale_tril"}

DISCRETE_SUPPORTS = {"nonnegative_integer", "boolean", "integer_interval", "categorical"}


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
    ``poisson_log`` takes the log rate: NumPyro's Poisson gets ``rate=exp(log_rate)``)."""

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


_ROWS = [
    DistInfo("Normal", "Normal", ("loc", "scale"), "real", locscale=True, truncatable=True, half="HalfNormal",
             summary="normal with mean loc and standard deviation scale"),
    DistInfo("HalfNormal", "HalfNormal", ("scale",), "positive", summary="|Normal(0, scale)|"),
    DistInfo("Cauchy", "Cauchy", ("loc", "scale"), "real", locscale=True, truncatable=True, half="HalfCauchy"),
    DistInfo("HalfCauchy", "HalfCauchy", ("scale",), "positive"),
    DistInfo("StudentT", "StudentT", ("df", "loc", "scale"), "real", required=1, locscale=True,
             shape_params=("df",), truncatable=True, summary="Student-t(df, loc, scale)"),
    DistInfo("Laplace", "Laplace", ("loc", "scale"), "real", locscale=True, truncatable=True),
    DistInfo("Logistic", "Logistic", ("loc", "scale"), "real", locscale=True, truncatable=True),
    DistInfo("Exponential", "Exponential", ("rate",), "positive"),
    DistInfo("Gamma", "Gamma", ("concentration", "rate"), "positive", summary="shape, rate"),
    DistInfo("InverseGamma", "InverseGamma", ("concentration", "rate"), "positive",
             summary="shape, scale (NumPyro calls the scale 'rate')"),
    DistInfo("Beta", "Beta", ("concentration1", "concentration0"), "unit_interval"),
    DistInfo("LogNormal", "LogNormal", ("loc", "scale"), "positive"),
    DistInfo("Uniform", "Uniform", ("low", "high"), "interval"),
    DistInfo("Bernoulli", "BernoulliProbs", ("probs",), "boolean"),
    DistInfo("BernoulliLogit", "BernoulliLogits", ("logits",), "boolean"),
    DistInfo("Binomial", "BinomialProbs", ("total_count", "probs"), "integer_interval", positional=False,
             summary="Binomial(n, p) as Stan: NumPyro's own order is (probs, total_count)"),
    DistInfo("BinomialLogit", "BinomialLogits", ("total_count", "logits"), "integer_interval", positional=False,
             summary="BinomialLogit(n, alpha) as Stan: NumPyro's own order is (logits, total_count)"),
    DistInfo("Poisson", "Poisson", ("rate",), "nonnegative_integer"),
    DistInfo("PoissonLog", "Poisson", ("log_rate",), "nonnegative_integer",
             transforms=(("log_rate", "rate", "jnp.exp({})"),), summary="Poisson with log rate log_rate"),
    DistInfo("NegativeBinomial2", "NegativeBinomial2", ("mean", "concentration"),
             "nonnegative_integer"),
    DistInfo("MultivariateNormal", "MultivariateNormal",
             ("loc", "covariance_matrix", "precision_matrix", "scale_tril"), "real_vector",
             required=1, event_rank=1, event_from="loc"),
    DistInfo("MultivariateNormalCholesky", "MultivariateNormal", ("loc", "scale_tril"),
             "real_vector", event_rank=1, event_from="loc", positional=False,
             summary="MultivariateNormal given the lower Cholesky factor of the covariance"),
    DistInfo("Dirichlet", "Dirichlet", ("concentration",), "simplex", event_rank=1,
             event_from="concentration"),
    DistInfo("LKJCholesky", "LKJCholesky", ("dimension", "concentration"), "corr_cholesky",
             required=1, event_rank=2),
]

REGISTRY: dict[str, DistInfo] = {row.name: row for row in _ROWS}
