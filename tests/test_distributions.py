"""The distribution registry agrees with NumPyro: one test per row (pplang/distributions.py)."""

import inspect

import numpy as np
import numpyro.distributions as nd
import pytest
from numpyro.distributions import constraints

from pplang.distributions import REGISTRY

# the registry's support names -> the NumPyro constraint, given the arguments (dependent supports)
SUPPORTS = {
    "real": lambda a: constraints.real,
    "positive": lambda a: constraints.positive,
    "unit_interval": lambda a: constraints.unit_interval,
    "interval": lambda a: constraints.interval(a["low"], a["high"]),
    "nonnegative_integer": lambda a: constraints.nonnegative_integer,
    "boolean": lambda a: constraints.boolean,
    "integer_interval": lambda a: constraints.integer_interval(a.get("low", 0), a.get("high", a.get("total_count"))),
    # NumPyro's 0-based categories; the row's offset makes them Stan's 1..K
    "categorical": lambda a: constraints.integer_interval(0, _categories(a) - 1),
    "multinomial": lambda a: constraints.multinomial(a["total_count"]),
    "circular": lambda a: constraints.circular,
    "corr_matrix": lambda a: constraints.corr_matrix,
    "simplex": lambda a: constraints.simplex,
    "real_vector": lambda a: constraints.real_vector,
    "positive_definite": lambda a: constraints.positive_definite,
    "corr_cholesky": lambda a: constraints.corr_cholesky,
    "lower_cholesky": lambda a: constraints.lower_cholesky,
}

# a valid value for each parameter name (vector / matrix parameters in dimension 2)
VALUES = {
    "loc": 0.5, "scale": 2.0, "df": 3.0, "rate": 1.5, "concentration": 2.0, "concentration1": 2.0,
    "concentration0": 3.0, "low": -1.0, "high": 2.0, "probs": 0.3, "logits": -0.2, "total_count": 7,
    "log_rate": 0.1, "mean": 4.0, "dimension": 2, "covariance_matrix": np.eye(2), "precision_matrix": np.eye(2),
    "scale_tril": np.eye(2), "gate": 0.3, "predictor": 0.5, "scale_matrix": np.eye(2),
    "cutpoints": np.array([-1.0, 1.0]),
}
VECTOR = {("MultivariateNormal", "loc"): np.zeros(2), ("MultivariateNormalCholesky", "loc"): np.zeros(2),
          ("Dirichlet", "concentration"): np.ones(2), ("Categorical", "probs"): np.array([0.3, 0.7]),
          ("CategoricalLogit", "logits"): np.array([0.1, -0.2]),
          ("Multinomial", "probs"): np.array([0.3, 0.7]), ("MultinomialLogit", "logits"): np.array([0.1, -0.2])}

# found by these tests: NumPyro's BinomialProbs/BinomialLogits take (probs|logits, total_count) positionally
# and have the support integer_interval(0, total_count); the rows render Stan's Binomial(n, p) by keyword
WRONG: dict[str, str] = {}


def _categories(a) -> int:
    """K for a categorical row's arguments: the length of probs / logits, or one more than the cutpoints."""
    return len(a["cutpoints"]) + 1 if "cutpoints" in a else len(a.get("probs", a.get("logits")))


def _rows(wrong):
    return [pytest.param(row, id=name, marks=pytest.mark.xfail(strict=True, reason=wrong[name]))
            if name in wrong else pytest.param(row, id=name) for name, row in REGISTRY.items()]


def _same(a, b) -> bool:
    return type(a) is type(b) and all(np.array_equal(np.asarray(x), np.asarray(y))
                                      for x, y in zip(vars(a).values(), vars(b).values()))


@pytest.mark.parametrize("row", _rows(WRONG))
def test_registry_row_matches_numpyro(row):
    """The class exists, takes each parameter by name (NumPyro's name where the row transforms
    it: PoissonLog's log_rate reaches Poisson as rate), and has the support the row says."""
    if row.template:
        pytest.skip("built by its template (OrderedProbit: a Categorical of Phi differences), tested by value")
    cls = getattr(nd, row.numpyro, None)
    assert cls is not None, f"numpyro.distributions has no {row.numpyro}"
    params = inspect.signature(cls).parameters
    for name in row.numpyro_params:
        assert name in params and params[name].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                         inspect.Parameter.KEYWORD_ONLY), name
    given = row.numpyro_params[: row.n_required] + ((row.size_param,) if row.size_param else ())
    given += tuple(p for p, _ in row.value_defaults if p not in given)  # filled from the value by pplang
    args = {p: VECTOR.get((row.name, p), VALUES[p]) for p in given}
    if row.name.startswith("MultivariateNormal"):
        args["scale_tril"] = VALUES["scale_tril"]
    support = cls(**args).support
    assert _same(support, SUPPORTS[row.support](args)), f"NumPyro's support is {support}, the row says {row.support}"


@pytest.mark.parametrize("row", _rows(WRONG))
def test_positional_rows_follow_numpyros_order(row):
    """A row whose arguments are rendered positionally lists the class's own leading parameters."""
    if not row.positional or row.template:
        pytest.skip("rendered by keyword, or by its template")
    params = list(inspect.signature(getattr(nd, row.numpyro)).parameters)
    assert params[: len(row.params)] == list(row.numpyro_params)


def test_binomial_density_is_the_binomial_pmf():
    """What the Binomial row's positional order does to a model: `k ~ Binomial(10, 0.3)`."""
    from numpyro.infer.util import log_density
    from scipy.stats import binom

    import pplang

    model = pplang.compile("data k: int<lower=0>\nk ~ Binomial(10, 0.3)\n")
    logp, _ = log_density(model.numpyro_model, (), model.prepare_data({"k": 3}), {})
    assert float(logp) == pytest.approx(binom.logpmf(3, 10, 0.3), rel=1e-5)
