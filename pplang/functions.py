"""The function table: one row per function usable in expressions.

``kind`` says how the result's shape follows from the arguments:
- "elementwise": same shape as the (broadcast) arguments;
- "reduce": reduces the value dimensions of its single argument to a scalar (plates are kept);
- "vector": maps a vector to a vector of the same size (along the last axis).
``template`` is the JAX code with ``{0}``, ``{1}`` for the lowered arguments and ``{axes}`` for
the reduced axes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FuncInfo:
    """A function row: ``name``, ``arity`` (min, max), ``kind``, ``template``, ``result_int``
    (the result is an integer when the arguments are), and a one-line ``summary``."""

    name: str
    arity: tuple[int, int]
    kind: str
    template: str
    summary: str = ""
    result_int: bool = False


def _ew(name: str, template: str, summary: str = "", arity: tuple[int, int] = (1, 1)) -> FuncInfo:
    return FuncInfo(name, arity, "elementwise", template, summary)


_ROWS = [
    _ew("exp", "jnp.exp({0})"),
    _ew("log", "jnp.log({0})"),
    _ew("log1p", "jnp.log1p({0})"),
    _ew("expm1", "jnp.expm1({0})"),
    _ew("log2", "jnp.log2({0})"),
    _ew("log10", "jnp.log10({0})"),
    _ew("sqrt", "jnp.sqrt({0})"),
    _ew("square", "jnp.square({0})"),
    _ew("abs", "jnp.abs({0})"),
    _ew("fabs", "jnp.abs({0})"),
    _ew("sin", "jnp.sin({0})"),
    _ew("cos", "jnp.cos({0})"),
    _ew("tan", "jnp.tan({0})"),
    _ew("tanh", "jnp.tanh({0})"),
    _ew("floor", "jnp.floor({0})"),
    _ew("ceil", "jnp.ceil({0})"),
    _ew("inv", "(1.0 / {0})"),
    _ew("inv_logit", "jax.nn.sigmoid({0})", "logistic sigmoid 1 / (1 + exp(-x))"),
    _ew("logit", "jax.scipy.special.logit({0})"),
    _ew("log_inv_logit", "jax.nn.log_sigmoid({0})"),
    _ew("log1m_inv_logit", "jax.nn.log_sigmoid(-({0}))"),
    _ew("log1m", "jnp.log1p(-({0}))"),
    _ew("Phi", "jax.scipy.special.ndtr({0})", "standard normal CDF"),
    _ew("lgamma", "jax.scipy.special.gammaln({0})"),
    _ew("pow", "jnp.power({0}, {1})", arity=(2, 2)),
    _ew("fmin", "jnp.minimum({0}, {1})", arity=(2, 2)),
    _ew("fmax", "jnp.maximum({0}, {1})", arity=(2, 2)),
    _ew("log_sum_exp2", "jnp.logaddexp({0}, {1})", arity=(2, 2)),
    FuncInfo("sum", (1, 1), "reduce", "jnp.sum({0}, axis={axes})", result_int=True),
    FuncInfo("prod", (1, 1), "reduce", "jnp.prod({0}, axis={axes})", result_int=True),
    FuncInfo("mean", (1, 1), "reduce", "jnp.mean({0}, axis={axes})"),
    FuncInfo("sd", (1, 1), "reduce", "jnp.std({0}, axis={axes}, ddof=1)",
             "sample standard deviation (N - 1 denominator, as Stan)"),
    FuncInfo("variance", (1, 1), "reduce", "jnp.var({0}, axis={axes}, ddof=1)"),
    FuncInfo("max", (1, 1), "reduce", "jnp.max({0}, axis={axes})", result_int=True),
    FuncInfo("min", (1, 1), "reduce", "jnp.min({0}, axis={axes})", result_int=True),
    FuncInfo("log_sum_exp", (1, 1), "reduce", "jax.scipy.special.logsumexp({0}, axis={axes})"),
    FuncInfo("softmax", (1, 1), "vector", "jax.nn.softmax({0}, axis=-1)"),
    FuncInfo("log_softmax", (1, 1), "vector", "jax.nn.log_softmax({0}, axis=-1)"),
    FuncInfo("cumulative_sum", (1, 1), "vector", "jnp.cumsum({0}, axis=-1)"),
]

FUNCTIONS: dict[str, FuncInfo] = {row.name: row for row in _ROWS}
