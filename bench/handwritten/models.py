"""Hand-written NumPyro models for bench/run.py: what an expert writes for each case."""

import numpyro
import numpyro.distributions as dist
from numpyro.handlers import reparam
from numpyro.infer.reparam import LocScaleReparam


def eight_schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


eight_schools_noncentered = reparam(eight_schools, config={"theta": LocScaleReparam(0)})


def _hier_logistic(N, J, K, X, g, y=None):
    mu_a = numpyro.sample("mu_a", dist.Normal(0, 2.5))
    sigma_a = numpyro.sample("sigma_a", dist.HalfNormal(1))
    with numpyro.plate("J", J):
        a = numpyro.sample("a", dist.Normal(mu_a, sigma_a))
    with numpyro.plate("K", K):
        beta = numpyro.sample("beta", dist.Normal(0, 1))
    with numpyro.plate("N", N):
        numpyro.sample("y", dist.BernoulliLogits(a[g - 1] + X @ beta), obs=y)


hier_logistic = reparam(_hier_logistic, config={"a": LocScaleReparam(0)})
