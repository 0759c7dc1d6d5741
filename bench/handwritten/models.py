"""Hand-written NumPyro models for bench/run.py: what an expert writes for each case."""

import jax
import jax.numpy as jnp
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


def garch(T, y, sigma1):
    mu = numpyro.sample("mu", dist.ImproperUniform(dist.constraints.real, (), ()))
    alpha0 = numpyro.sample("alpha0", dist.ImproperUniform(dist.constraints.positive, (), ()))
    alpha1 = numpyro.sample("alpha1", dist.ImproperUniform(dist.constraints.unit_interval, (), ()))
    beta1 = numpyro.sample("beta1", dist.ImproperUniform(dist.constraints.interval(0, 1 - alpha1), (), ()))

    def step(sigma_prev, y_prev):
        sigma_t = jnp.sqrt(alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * sigma_prev ** 2)
        return sigma_t, sigma_t

    _, rest = jax.lax.scan(step, jnp.asarray(sigma1, dtype=jnp.result_type(float)), y[:-1])
    sigma = jnp.concatenate([jnp.asarray([sigma1], dtype=rest.dtype), rest])
    with numpyro.plate("T", T):
        numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


def gp_regression(N, x, y=None):
    rho = numpyro.sample("rho", dist.InverseGamma(5, 5))
    alpha = numpyro.sample("alpha", dist.HalfNormal(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1))
    d2 = (x[:, None] - x[None, :]) ** 2
    K = alpha ** 2 * jnp.exp(-0.5 * d2 / rho ** 2) + sigma ** 2 * jnp.eye(N)
    numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(N), scale_tril=jnp.linalg.cholesky(K)), obs=y)
