"""The function table: one row per function usable in expressions.

``kind`` says how the result's shape follows from the arguments:
- "elementwise": same shape as the (broadcast) arguments;
- "reduce": reduces the value dimensions of its single argument to a scalar (plates are kept);
- "vector": maps a vector to a vector of the same size (along the last axis);
- "dot": two vectors of the same size -> a scalar;
- "same": the result has the value dimensions of the first argument (matrix functions);
- "gram": a vector of size n -> an n x n matrix (covariance kernels);
- "fill": ``rep_vector(x, n)`` -> a vector whose size is the (data) expression ``n``;
- "stack_cols": vectors (or scalars) of size n -> an n x (number of arguments) matrix.
Non-elementwise templates get the arguments unaligned; ``{all}`` is every argument, comma-joined,
``{rest}`` every argument after the first.
``template`` is the JAX code with ``{0}``, ``{1}`` for the lowered arguments and ``{axes}`` for
the reduced axes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .distributions import REGISTRY


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
    FuncInfo("reverse", (1, 1), "vector", "jnp.flip({0}, axis=-1)", "the vector in reverse order"),
    FuncInfo("dot_product", (2, 2), "dot", "jnp.sum({0} * {1}, axis=-1)", "sum of element-wise products"),
    _ew("pi", "jnp.pi", "the constant pi", arity=(0, 0)),
    _ew("e", "jnp.e", "the constant e", arity=(0, 0)),
    FuncInfo("rep_vector", (2, 2), "fill", "jnp.full(({1},), {0}, dtype=float)",
             "rep_vector(x, n): a vector of n copies of x"),
    FuncInfo("cbind", (1, 64), "stack_cols", "jnp.stack(jnp.broadcast_arrays({all}), axis=-1)",
             "cbind(a, b, ...): a matrix whose columns are the vectors (scalars are repeated)"),
    FuncInfo("append_col", (2, 2), "stack_cols", "jnp.stack(jnp.broadcast_arrays({all}), axis=-1)",
             "append_col(a, b): the two-column matrix [a, b]"),
    FuncInfo("cholesky_decompose", (1, 1), "same", "jnp.linalg.cholesky({0})",
             "lower Cholesky factor L of a symmetric positive-definite matrix (L L' = A)"),
    FuncInfo("add_diag", (2, 2), "same", "({0} + jnp.asarray({1})[..., None] * jnp.eye(jnp.shape({0})[-1]))",
             "add_diag(A, d): A with d (scalar or vector) added to its diagonal"),
    FuncInfo("gp_exp_quad_cov", (3, 3), "gram",
             "(jnp.square({1}) * jnp.exp(-0.5 * jnp.square(jnp.expand_dims({0}, -1) - jnp.expand_dims({0}, -2))"
             " / jnp.square({2})))",
             "gp_exp_quad_cov(x, alpha, rho): alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)), as Stan's"),
]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# normal_lpdf(x, loc, scale), poisson_lpmf(k, rate), ...: one row per scalar distribution of the
# registry; ``normal_lpdf(x | loc, scale)`` is the same call written Stan's way.
for _d in REGISTRY.values():
    if _d.event_rank == 0:
        _kind = "lpmf" if _d.discrete else "lpdf"
        if _d.transforms:  # arguments rendered through the row's transforms, by NumPyro's names
            _args = ", ".join(f"{_d.numpyro_name(p)}=" + _d.transform_map.get(p, (p, "{}"))[1].format(f"{{{k + 1}}}")
                              for k, p in enumerate(_d.params))
            _ROWS.append(FuncInfo(f"{_snake(_d.name)}_{_kind}", (1 + len(_d.params), 1 + len(_d.params)),
                                  "elementwise", f"dist.{_d.numpyro}({_args}).log_prob({{0}})",
                                  f"log density of {_d.name} at the first argument"))
            continue
        _ROWS.append(FuncInfo(f"{_snake(_d.name)}_{_kind}", (1 + _d.n_required, 1 + len(_d.params)),
                              "elementwise", f"dist.{_d.numpyro}({{rest}}).log_prob({{0}})",
                              f"log density of {_d.name} at the first argument"))

FUNCTIONS: dict[str, FuncInfo] = {row.name: row for row in _ROWS}
