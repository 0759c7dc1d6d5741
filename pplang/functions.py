"""The function table: one row per function usable in expressions.

``kind`` says how the result's shape follows from the arguments:
- "elementwise": same shape as the (broadcast) arguments;
- "reduce": reduces the value dimensions of its single argument to a scalar (plates are kept);
- "vector": maps a vector to a vector of the same size (along the last axis);
- "dot": two vectors of the same size -> a scalar;
- "same": the result has the value dimensions of the first argument (matrix functions);
- "gram": a vector of size n -> an n x n matrix (covariance kernels);
- "fill": ``rep_vector(x, n)`` -> a vector whose size is the (data) expression ``n``;
- "stack_cols": vectors (or scalars) of size n -> an n x (number of arguments) matrix;
- "signature": the shapes are given by ``signature`` (see :class:`Signature`), e.g.
  ``"[n,n], [n,m] -> [m,m]"`` for ``quad_form``;
- "density": a log density function of the registry (``categorical_lpmf``): argument k has
  ``ranks[k]`` event dimensions (the value's, then each parameter's); the rest broadcast.
A name may have several rows (overloads): ``resolve`` picks the one for the number of arguments
(and, for "signature" rows, their ranks): ``log_sum_exp(v)`` reduces, ``log_sum_exp(a, b)`` is
element-wise.
Non-elementwise templates get the arguments unaligned; ``{all}`` is every argument, comma-joined,
``{rest}`` every argument after the first.
``template`` is the JAX code with ``{0}``, ``{1}`` for the lowered arguments and ``{axes}`` for
the reduced axes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ir
from .distributions import REGISTRY, snake


@dataclass(frozen=True)
class Signature:
    """The shapes of a "signature" function: per argument its dimensions (``[n,m]``; ``[]`` a
    scalar; ``[m*n]`` a size that must equal that product) or ``#m``, an integer data argument that
    is a size; the result's dimensions may add or multiply sizes (``[n+m]``) or use literals."""

    text: str
    args: tuple[tuple[str, ...] | str, ...] = field(init=False)
    result: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        left, right = self.text.split("->")
        args = tuple(a if a.startswith("#") else tuple(d.strip() for d in a[1:-1].split(",") if d.strip())
                     for a in re.findall(r"\[[^\]]*\]|#\w+", left))
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "result", tuple(d.strip() for d in right.strip()[1:-1].split(",") if d.strip()))

    def describe(self) -> str:
        """``(matrix[n, n], vector[n]) -> vector[n]``, for messages."""
        def shape(dims) -> str:
            return {0: "real", 1: "vector", 2: "matrix"}[len(dims)] + (f"[{', '.join(dims)}]" if dims else "")

        args = [f"int {a[1:]}" if isinstance(a, str) else shape(a) for a in self.args]
        return f"({', '.join(args)}) -> {shape(self.result)}"

    def matches(self, ranks: list[int]) -> bool:
        return len(ranks) == len(self.args) and all(
            r == (0 if isinstance(a, str) else len(a)) for a, r in zip(self.args, ranks))

    def result_dims(self, dims: list[tuple[ir.Expr, ...]], values: list[ir.Expr], equal) -> tuple[ir.Expr, ...]:
        """The result's dimensions given each argument's ``dims`` and expression (``values``, for
        size arguments); ``equal(a, b)`` requires two sizes to be equal."""
        sizes: dict[str, ir.Expr] = {a[1:]: v for a, v in zip(self.args, values) if isinstance(a, str)}
        later = []
        for a, d in zip(self.args, dims):
            for spec, size in zip(() if isinstance(a, str) else a, d):
                if spec.isidentifier() and spec not in sizes:
                    sizes[spec] = size
                else:
                    later.append((spec, size))
        for spec, size in later:
            equal(_size_expr(spec, sizes), size)
        return tuple(_size_expr(r, sizes) for r in self.result)


def _size_expr(spec: str, sizes: dict[str, ir.Expr]) -> ir.Expr:
    for op in "+*":
        if op in spec:
            a, b = spec.split(op, 1)
            return ir.BinOp(op, _size_expr(a, sizes), _size_expr(b, sizes))
    return ir.Num(float(spec), True) if spec.isdigit() else sizes[spec]


@dataclass(frozen=True)
class FuncInfo:
    """A function row: ``name``, ``arity`` (min, max), ``kind``, ``template``, ``result_int``
    (the result is an integer when the arguments are), a one-line ``summary``; ``signature`` the
    shapes of a "signature" row; ``ranks`` the event ranks of a "density" row's arguments; ``hint``
    what to write instead when the call fits no row; ``batched`` false when the template cannot
    take arguments that vary along plates."""

    name: str
    arity: tuple[int, int]
    kind: str
    template: str
    summary: str = ""
    result_int: bool = False
    signature: Signature | None = None
    ranks: tuple[int, ...] = ()
    hint: str = ""
    batched: bool = True


def _ew(name: str, template: str, summary: str = "", arity: tuple[int, int] = (1, 1), hint: str = "") -> FuncInfo:
    return FuncInfo(name, arity, "elementwise", template, summary, hint=hint)


def _sig(name: str, signature: str, template: str, summary: str = "", hint: str = "",
         batched: bool = True) -> FuncInfo:
    sig = Signature(signature)
    return FuncInfo(name, (len(sig.args), len(sig.args)), "signature", template, summary, signature=sig, hint=hint,
                    batched=batched)


_T = "jnp.swapaxes({0}, -1, -2)"  # the transpose of the first argument
_LOG_MIX_HINT = ("log_mix(theta, lp1, lp2) mixes two components; for K components write "
                 "log_sum_exp(log(theta) + lp), with lp the vector of the components' log densities")
_REP_MATRIX_HINT = ("write rep_matrix(x, m, n) for an m x n matrix of x, or rep_matrix(v, n) for n copies "
                    "of the vector v as columns")
_TO_MATRIX_HINT = ("write to_matrix(v, m, n) to fill an m x n matrix from a vector column by column; "
                   "to reshape a matrix M write to_matrix(to_vector(M), m, n)")
_APPEND_ROW_HINT = "append_row takes two vectors (or a scalar and a vector), or two matrices with the same columns"


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
    _ew("log_sum_exp", "jnp.logaddexp({0}, {1})", "log(exp(a) + exp(b)), element-wise", arity=(2, 2)),
    _ew("log_mix", "jnp.logaddexp(jnp.log({0}) + {1}, jnp.log1p(-({0})) + {2})",
        "log_mix(theta, lp1, lp2) = log(theta exp(lp1) + (1 - theta) exp(lp2))", arity=(3, 3), hint=_LOG_MIX_HINT),
    _ew("lmultiply", "jax.scipy.special.xlogy({0}, {1})", "a * log(b), 0 when a = b = 0", arity=(2, 2)),
    _ew("binary_log_loss", "(-jax.scipy.special.xlogy({0}, {1}) - jax.scipy.special.xlog1py(1 - ({0}), -({1})))",
        "-log(y_hat) if y = 1, -log(1 - y_hat) if y = 0", arity=(2, 2)),
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
    _sig("rep_matrix", "[], #m, #n -> [m,n]",
         "jnp.broadcast_to(jnp.asarray({0}, dtype=float)[..., None, None], jnp.shape({0}) + ({1}, {2}))",
         "rep_matrix(x, m, n): an m x n matrix of copies of x", _REP_MATRIX_HINT),
    _sig("rep_matrix", "[m], #n -> [m,n]",
         "jnp.broadcast_to(jnp.asarray({0}, dtype=float)[..., None], jnp.shape({0}) + ({1},))",
         "rep_matrix(v, n): the matrix whose n columns are the vector v", _REP_MATRIX_HINT),
    _sig("identity_matrix", "#n -> [n,n]", "jnp.eye({0})", "identity_matrix(n): the n x n identity matrix"),
    _sig("diag_matrix", "[n] -> [n,n]", "(jnp.expand_dims({0}, -1) * jnp.eye(jnp.shape({0})[-1]))",
         "the diagonal matrix with diagonal v"),
    _sig("diag_pre_multiply", "[n], [n,m] -> [n,m]", "(jnp.expand_dims({0}, -1) * {1})", "diag_matrix(v) @ M"),
    _sig("diag_post_multiply", "[n,m], [m] -> [n,m]", "({0} * jnp.expand_dims({1}, -2))", "M @ diag_matrix(v)"),
    _sig("to_vector", "[m,n] -> [m*n]", f"jnp.reshape({_T}, jnp.shape({{0}})[:-2] + (-1,))",
         "the matrix's elements column by column (column-major, as Stan)"),
    _sig("to_vector", "[n] -> [n]", "jnp.asarray({0}, dtype=float)", "a vector (or integer array) as a vector"),
    _sig("to_matrix", "[m*n], #m, #n -> [m,n]",
         "jnp.swapaxes(jnp.reshape({0}, jnp.shape({0})[:-1] + ({2}, {1})), -1, -2)",
         "to_matrix(v, m, n): the m x n matrix filled column by column from v (as Stan)", _TO_MATRIX_HINT),
    _sig("to_matrix", "[m,n] -> [m,n]", "jnp.asarray({0}, dtype=float)", "a matrix as a matrix", _TO_MATRIX_HINT),
    _sig("append_row", "[n], [m] -> [n+m]", "jnp.concatenate([{0}, {1}], axis=-1)",
         "the vector a followed by b", _APPEND_ROW_HINT, batched=False),
    _sig("append_row", "[], [m] -> [1+m]", "jnp.concatenate([jnp.atleast_1d({0}), {1}], axis=-1)",
         "the scalar a followed by the vector b", _APPEND_ROW_HINT, batched=False),
    _sig("append_row", "[n], [] -> [n+1]", "jnp.concatenate([{0}, jnp.atleast_1d({1})], axis=-1)",
         "the vector a followed by the scalar b", _APPEND_ROW_HINT, batched=False),
    _sig("append_row", "[n,k], [m,k] -> [n+m,k]", "jnp.concatenate([{0}, {1}], axis=-2)",
         "the rows of A followed by the rows of B", _APPEND_ROW_HINT, batched=False),
    _sig("quad_form", "[n,n], [n,m] -> [m,m]", "(jnp.swapaxes({1}, -1, -2) @ {0} @ {1})", "B' A B"),
    _sig("quad_form", "[n,n], [n] -> []", "jnp.einsum('...i,...ij,...j->...', {1}, {0}, {1})", "v' A v"),
    _sig("quad_form_diag", "[n,n], [n] -> [n,n]", "({0} * jnp.expand_dims({1}, -1) * jnp.expand_dims({1}, -2))",
         "diag_matrix(v) @ M @ diag_matrix(v)"),
    _sig("rows_dot_product", "[n,m], [n,m] -> [n]", "jnp.sum({0} * {1}, axis=-1)",
         "the dot product of each row of A with the same row of B"),
    _sig("rows_dot_product", "[n], [n] -> [n]", "({0} * {1})", "element-wise product (each row is one element)"),
    _sig("columns_dot_product", "[n,m], [n,m] -> [m]", "jnp.sum({0} * {1}, axis=-2)",
         "the dot product of each column of A with the same column of B"),
    _sig("col_means", "[n,m] -> [m]", "jnp.mean({0}, axis=-2)", "the mean of each column (not in Stan)"),
    _sig("row_means", "[n,m] -> [n]", "jnp.mean({0}, axis=-1)", "the mean of each row (not in Stan)"),
    _sig("multiply_lower_tri_self_transpose", "[n,m] -> [n,n]",
         "(jnp.tril({0}) @ jnp.swapaxes(jnp.tril({0}), -1, -2))", "L L' for the lower triangle L of the argument"),
    _sig("tcrossprod", "[n,m] -> [n,n]", f"({{0}} @ {_T})", "A A'"),
    _sig("crossprod", "[n,m] -> [m,m]", f"({_T} @ {{0}})", "A' A"),
    _sig("determinant", "[n,n] -> []", "jnp.linalg.det({0})"),
    _sig("log_determinant", "[n,n] -> []", "jnp.linalg.slogdet({0})[1]", "log |det A|"),
    _sig("inverse", "[n,n] -> [n,n]", "jnp.linalg.inv({0})"),
    _sig("trace", "[n,n] -> []", "jnp.trace({0}, axis1=-2, axis2=-1)", "the sum of the diagonal"),
    _sig("mdivide_left_tri_low", "[n,n], [n] -> [n]", "jnp.linalg.solve(jnp.tril({0}), {1}[..., None])[..., 0]",
         "L \\ b: the solution x of tril(L) x = b"),
    _sig("mdivide_left_tri_low", "[n,n], [n,m] -> [n,m]", "jnp.linalg.solve(jnp.tril({0}), {1})",
         "L \\ B: the solution X of tril(L) X = B"),
    FuncInfo("gp_exp_quad_cov", (3, 3), "gram",
             "(jnp.square({1}) * jnp.exp(-0.5 * jnp.square(jnp.expand_dims({0}, -1) - jnp.expand_dims({0}, -2))"
             " / jnp.square({2})))",
             "gp_exp_quad_cov(x, alpha, rho): alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)), as Stan's"),
]


def _density_rows(d) -> list[FuncInfo]:
    """``<name>_lpdf`` (``_lpmf`` for discrete rows), under Stan's name too where it differs: one
    row per number of parameters given, each rendered by the row's own constructor (so transforms,
    keyword order and Stan's 1-based categories are those of ``y ~ Dist(...)``)."""
    kind = "lpmf" if d.discrete else "lpdf"
    names = list(dict.fromkeys([f"{snake(d.name)}_{kind}"] + ([f"{d.stan_name}_{kind}"] if d.stan_name else [])))
    ranks = (d.event_rank,) + tuple(d.param_rank(p) for p in d.params)
    scalar = not any(ranks)
    rows = []
    for n in range(d.n_required, len(d.params) + 1):
        ctor = d.constructor({p: f"{{{k + 1}}}" for k, p in enumerate(d.params[:n])}, value="{0}")
        for name in names:
            rows.append(FuncInfo(name, (1 + n, 1 + n), "elementwise" if scalar else "density",
                                 f"{ctor}.log_prob({{0}})", f"log density of {d.name} at the first argument",
                                 ranks=() if scalar else ranks[: 1 + n]))
    return rows


# normal_lpdf(x, loc, scale), poisson_lpmf(k, rate), categorical_lpmf(y, theta), ...: every row of the
# registry; ``normal_lpdf(x | loc, scale)`` is the same call written Stan's way.
for _d in REGISTRY.values():
    _ROWS += _density_rows(_d)

OVERLOADS: dict[str, tuple[FuncInfo, ...]] = {}
for _row in _ROWS:
    OVERLOADS[_row.name] = OVERLOADS.get(_row.name, ()) + (_row,)
# name -> its first row (every row of a name shares its kind of use; ``resolve`` picks the overload)
FUNCTIONS: dict[str, FuncInfo] = {name: rows[0] for name, rows in OVERLOADS.items()}


def arities(name: str) -> list[tuple[int, int]]:
    """The numbers of arguments the rows of ``name`` take, as merged (min, max) ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(r.arity for r in OVERLOADS[name]):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def resolve(name: str, ranks: list[int]) -> FuncInfo | None:
    """The row of ``name`` for arguments of these ranks: the first whose arity fits and, for a
    "signature" row, whose shapes fit; None when only signature rows fit the arity and none the
    shapes."""
    fits = [r for r in OVERLOADS[name] if r.arity[0] <= len(ranks) <= r.arity[1]]
    for r in fits:
        if r.signature is None or r.signature.matches(ranks):
            return r
    return None


def forms(name: str) -> str:
    """The shapes the signature rows of ``name`` accept, for messages."""
    return " or ".join(r.signature.describe() for r in OVERLOADS[name] if r.signature)


def unknown_hint(name: str) -> str | None:
    """What to write instead of an unknown function: Stan's random-number and CDF functions have
    other forms here."""
    from .distributions import STAN_NAMES

    base, _, suffix = name.rpartition("_")
    if suffix == "rng" and base in STAN_NAMES:
        return f"draws are sampling statements here: `generated y ~ {STAN_NAMES[base]}(...)`"
    if suffix in ("cdf", "lcdf", "lccdf") and base in STAN_NAMES:
        return (f"cumulative distribution functions are not supported yet; to truncate write "
                f"`{STAN_NAMES[base]}(...) T[lo, hi]`")
    if suffix in ("lpdf", "lpmf", "log") and base in STAN_NAMES:
        row = REGISTRY[STAN_NAMES[base]]
        right = f"{base}_{'lpmf' if row.discrete else 'lpdf'}"
        if right in OVERLOADS:
            return f'did you mean "{right}"?'
    return None
