"""Hand-written NumPyro models, as an expert writes them (the seed tutorial's es_0, es_1, es_2),
with the observed site named as in the .ppl files."""

import numpyro
import numpyro.distributions as dist
from numpyro.handlers import reparam
from numpyro.infer.reparam import LocScaleReparam


def es_0(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def es_1(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta_0 = numpyro.sample("theta_0", dist.Normal(0, 1))
        theta = numpyro.deterministic("theta", mu + theta_0 * tau)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


es_2 = reparam(es_0, config={"theta": LocScaleReparam(0)})
