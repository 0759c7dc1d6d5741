"""A seeded generator of random, well-typed pplang programs, for property tests.

``generate(seed)`` returns a :class:`Program`: the ``.ppl`` source, matching random ``data``, a
point value (in its support) for every latent site (``params``, constrained values; plus
``NAME_decentered`` for ``noncentered`` statements), the static type of every NumPyro site the
program must produce (``sites``: latent / observed / deterministic, with its shape) and the values of
the deterministic ones, and the log joint density computed INDEPENDENTLY of pplang: every model
quantity is evaluated element by element with NumPy (explicit loops over plate indices, no
vectorised lowering), and every ``~`` statement and ``target +=`` is scored with ``scipy.stats``.

Semantics the reference follows (README.md, docs/language.md): indices are 1-based; an indexed left
side is a plate over the declared size (or the size of a declared array indexed by the same index);
a Normal / Cauchy / StudentT / Laplace / Logistic prior on a bounded parameter is truncated to the
declared bounds (renormalised: the half distribution on ``<lower=0>`` with location 0); other priors
are only put where the support is the declared one (Exponential on ``<lower=0>``, Beta on
``<lower=0, upper=1>``, Uniform with the declared bounds, Dirichlet on a simplex, LKJCholesky on a
``cholesky_factor_corr``) or add their log density as written (Normal on ``ordered``, Exponential
on ``positive_ordered``, as Stan); a parameter without a prior is flat and adds 0; ``noncentered`` samples
``NAME_decentered = (NAME - loc) / scale`` under the standard distribution, whose density is the
prior's times ``scale``; ``local`` values and ``generated`` statements produce no site.

The generator is deterministic: the same seed gives the same program, data and values (it uses
only ``random.Random(seed)``). Debug with ``python tests/progen.py --seed S --show N``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy import special, stats

# --------------------------------------------------------------------------------------------
# reference distributions (scipy.stats), NumPyro's parameterisations (pplang's registry)

_LOCSCALE = {  # truncatable location-scale families: frozen scipy distribution from pplang args
    "Normal": lambda loc, scale: stats.norm(loc, scale),
    "Cauchy": lambda loc, scale: stats.cauchy(loc, scale),
    "StudentT": lambda df, loc=0.0, scale=1.0: stats.t(df, loc, scale),
    "Laplace": lambda loc, scale: stats.laplace(loc, scale),
    "Logistic": lambda loc, scale: stats.logistic(loc, scale),
}


def _lkj_cholesky_logpdf(L: np.ndarray, eta: float) -> float:
    """LKJ density of a correlation matrix's Cholesky factor (Lewandowski, Kurowicka & Joe 2009;
    Stan's lkj_corr_cholesky with its normalising constant)."""
    K = L.shape[0]
    k = np.arange(2, K + 1)
    unnorm = np.sum((K - k + 2 * eta - 2) * np.log(np.diag(L)[1:]))
    logc = sum((2 * eta - 2 + K - i) * (K - i) * math.log(2)
               + (K - i) * special.betaln(eta + (K - i - 1) / 2, eta + (K - i - 1) / 2) for i in range(1, K))
    return float(unnorm - logc)


SCALAR_LOGPDF: dict[str, Callable[..., Any]] = {
    "Normal": lambda x, m, s: stats.norm.logpdf(x, m, s),
    "Cauchy": lambda x, m, s: stats.cauchy.logpdf(x, m, s),
    "StudentT": lambda x, df, m=0.0, s=1.0: stats.t.logpdf(x, df, m, s),
    "Laplace": lambda x, m, s: stats.laplace.logpdf(x, m, s),
    "Logistic": lambda x, m, s: stats.logistic.logpdf(x, m, s),
    "HalfNormal": lambda x, s: stats.halfnorm.logpdf(x, scale=s),
    "HalfCauchy": lambda x, s: stats.halfcauchy.logpdf(x, scale=s),
    "Exponential": lambda x, r: stats.expon.logpdf(x, scale=1 / np.asarray(r, float)),
    "Gamma": lambda x, a, r: stats.gamma.logpdf(x, a, scale=1 / np.asarray(r, float)),
    "InverseGamma": lambda x, a, b: stats.invgamma.logpdf(x, a, scale=b),
    "Beta": lambda x, a, b: stats.beta.logpdf(x, a, b),
    "LogNormal": lambda x, m, s: stats.lognorm.logpdf(x, s, scale=np.exp(m)),
    "Uniform": lambda x, lo, hi: stats.uniform.logpdf(x, lo, np.asarray(hi, float) - lo),
    "Bernoulli": lambda x, p: stats.bernoulli.logpmf(x, p),
    "BernoulliLogit": lambda x, l: stats.bernoulli.logpmf(x, special.expit(l)),
    "Binomial": lambda x, n, p: stats.binom.logpmf(x, n, p),
    "BinomialLogit": lambda x, n, l: stats.binom.logpmf(x, n, special.expit(l)),
    "Poisson": lambda x, r: stats.poisson.logpmf(x, r),
    "PoissonLog": lambda x, lr: stats.poisson.logpmf(x, np.exp(lr)),
    "NegativeBinomial2": lambda x, mu, phi: stats.nbinom.logpmf(x, phi, np.asarray(phi, float)
                                                                 / (phi + np.asarray(mu, float))),
}
EVENT_RANK = {"MultivariateNormal": 1, "MultivariateNormalCholesky": 1, "Dirichlet": 1, "LKJCholesky": 2}


def event_logpdf(dist: str, x: np.ndarray, args: list) -> float:
    if dist == "MultivariateNormal":
        return float(stats.multivariate_normal.logpdf(x, np.broadcast_to(args[0], x.shape), args[1]))
    if dist == "MultivariateNormalCholesky":
        L = np.asarray(args[1])
        return float(stats.multivariate_normal.logpdf(x, np.broadcast_to(args[0], x.shape), L @ L.T))
    if dist == "Dirichlet":
        return float(stats.dirichlet.logpdf(x, np.broadcast_to(args[0], x.shape)))
    if dist == "LKJCholesky":
        return _lkj_cholesky_logpdf(np.asarray(x), float(args[0]))
    raise KeyError(dist)


def _log_mass(frozen, lo, hi):
    """log P(lo < X < hi) under a frozen scipy distribution (lo / hi may be None)."""
    if hi is None:
        return frozen.logsf(lo)
    if lo is None:
        return frozen.logcdf(hi)
    return np.log(frozen.cdf(hi) - frozen.cdf(lo))


# --------------------------------------------------------------------------------------------
# the generated program's building blocks


@dataclass(frozen=True)
class Size:
    """A dimension: ``src`` is its pplang text (a data name like ``N`` or a literal like ``2``),
    ``value`` its value, ``letter`` the plate index that ranges over it everywhere in the program
    (one letter per size, so that index-range inference can never pick another size)."""

    src: str
    value: int
    letter: str


@dataclass
class Var:
    """A named quantity of the program and what the reference knows about it."""

    name: str
    role: str  # data, derived, param, latent, det, local
    dims: tuple[Size, ...]
    base: str = "real"  # real | int
    pos: bool = False  # every element > 0
    unit: bool = False  # every element in (0, 1)
    upper: Size | None = None  # int data: an index into a dimension of this size
    usable: bool = True  # may appear on right sides
    decl: str = ""  # the declared type, for parameters and data ("positive_ordered[K]")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(d.value for d in self.dims)


class Ex:
    """A typed expression: its pplang ``src``, ``ev(vals, env)`` the reference value (``env`` maps
    plate / loop indices to 1-based ints), its value ``shape`` (a tuple of :class:`Size`, after the
    statement's plates), and facts used to keep generated arguments in their supports."""

    __slots__ = ("src", "ev", "shape", "pos", "unit", "isint", "anchors", "tags", "prec")

    def __init__(self, src, ev, shape=(), *, pos=False, unit=False, isint=False, anchors=frozenset(), tags=frozenset(),
                 prec=9):
        self.src, self.ev, self.shape, self.prec = src, ev, tuple(shape), prec
        self.pos, self.unit, self.isint = pos, unit, isint
        self.anchors, self.tags = frozenset(anchors), frozenset(tags)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e6 else repr(round(float(v), 6))


def num(v: float) -> Ex:
    """A numeric literal, written as users write them (``Normal(0, 5)``, ``0.5 * x``, ``-1``)."""
    return Ex(_fmt(v), lambda vals, env, v=float(v): v, pos=v > 0, unit=0 < v < 1, prec=9 if v >= 0 else 3)


def inum(v: int) -> Ex:
    """An integer literal used as an index."""
    return Ex(_fmt(v), lambda vals, env, v=int(v): v, pos=v > 0, isint=True)


def idx_var(letter: str) -> Ex:
    return Ex(letter, lambda vals, env: env[letter], isint=True)


def ix(var: Var, idx: list[Ex]) -> Ex:
    """``var[i, j]``: indices are integer expressions (plate letters, literals, gathers)."""
    anchors = frozenset().union(*(i.anchors for i in idx))
    tags = frozenset().union(*(i.tags for i in idx))
    if var.role in ("data", "derived"):
        anchors |= {i.src for i in idx if i.src.isalpha() and len(i.src) == 1}
        if var.base == "int" and any(i.src.isalpha() and len(i.src) == 1 for i in idx):
            tags |= {"index-data"}
    if any(not (i.src.isalpha() and len(i.src) == 1) and not i.src.isdigit() and "[" in i.src for i in idx):
        tags |= {"gather"} | ({"nested-gather"} if any(i.src.count("[") >= 2 for i in idx) else set())
    name = var.name

    def ev(vals, env):
        return np.asarray(vals[name])[tuple(int(i.ev(vals, env)) - 1 for i in idx)]

    return Ex(f"{name}[{', '.join(i.src for i in idx)}]", ev, var.dims[len(idx):], pos=var.pos, unit=var.unit,
              isint=var.base == "int", anchors=anchors, tags=tags)


def ref(var: Var) -> Ex:
    name = var.name
    return Ex(name, lambda vals, env: vals[name], var.dims, pos=var.pos, unit=var.unit, isint=var.base == "int")


def _bshape(a: Ex, b: Ex) -> tuple:
    return a.shape or b.shape


_BINOPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}
# The grammar's precedence levels: parentheses are written only where the parse needs them, and
# the right operand of a left-associative operator is parenthesised at equal precedence, so the
# parse tree is exactly the generator's expression tree.
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "^": 4}


def _paren(e: Ex, ok: bool) -> str:
    return e.src if ok else f"({e.src})"


def binop(op: str, a: Ex, b: Ex) -> Ex:
    p = _PREC[op]
    right_ok = not b.src.startswith("-")  # x - (-1), not x - -1
    src = (f"{_paren(a, a.prec > p)} {op} {_paren(b, b.prec >= p and right_ok)}" if op == "^"
           else f"{_paren(a, a.prec >= p)} {op} {_paren(b, b.prec > p and right_ok)}")
    if op == "@":
        shape = a.shape[:-1] + b.shape[1:]
        return Ex(src, lambda vals, env: np.matmul(a.ev(vals, env), b.ev(vals, env)), shape,
                  anchors=a.anchors | b.anchors, tags=a.tags | b.tags | {"matmul"}, prec=p)
    f = _BINOPS[op]
    pos = (op in "+*/" and a.pos and b.pos) or (op == "^" and a.pos)
    return Ex(src, lambda vals, env: f(a.ev(vals, env), b.ev(vals, env)), _bshape(a, b), prec=p,
              pos=pos, unit=op == "*" and a.unit and b.unit, anchors=a.anchors | b.anchors, tags=a.tags | b.tags)


def transpose(var: Var) -> Ex:
    name = var.name
    return Ex(f"{name}'", lambda vals, env: np.asarray(vals[name]).T, var.dims[::-1], tags={"transpose"}, prec=8)


def neg(a: Ex) -> Ex:
    return Ex(f"-{_paren(a, a.prec > 3)}", lambda vals, env: -a.ev(vals, env), a.shape, anchors=a.anchors,
              tags=a.tags, prec=3)


def cond(test: Ex, a: Ex, b: Ex) -> Ex:
    return Ex(f"{test.src} ? {_paren(a, a.prec >= 1)} : {_paren(b, b.prec >= 1)}",
              lambda vals, env: np.where(test.ev(vals, env), a.ev(vals, env), b.ev(vals, env)),
              a.shape or b.shape, pos=a.pos and b.pos, anchors=test.anchors | a.anchors | b.anchors,
              tags=test.tags | a.tags | b.tags | {"ternary"}, prec=0)


def gt(a: Ex, b: Ex) -> Ex:
    return Ex(f"{_paren(a, a.prec >= 1)} > {_paren(b, b.prec >= 1)}",
              lambda vals, env: np.greater(a.ev(vals, env), b.ev(vals, env)), _bshape(a, b),
              anchors=a.anchors | b.anchors, tags=a.tags | b.tags, prec=0.5)


_ELEMENTWISE = {"exp": np.exp, "log": np.log, "inv_logit": special.expit, "square": np.square, "sqrt": np.sqrt,
                "tanh": np.tanh, "log1p": np.log1p, "fabs": np.abs}
_VECTOR = {"softmax": lambda v: special.softmax(v, axis=-1), "log_softmax": lambda v: special.log_softmax(v, axis=-1),
           "cumulative_sum": lambda v: np.cumsum(v, axis=-1), "reverse": lambda v: np.flip(v, axis=-1)}
_REDUCE = {"sum": np.sum, "mean": np.mean, "log_sum_exp": special.logsumexp, "max": np.max,
           "sd": lambda v: np.std(v, ddof=1)}


def call(fname: str, *args: Ex) -> Ex:
    anchors = frozenset().union(*(a.anchors for a in args))
    tags = frozenset().union(*(a.tags for a in args)) | {f"fn:{fname}"}
    src = f"{fname}({', '.join(a.src for a in args)})"
    if fname in _ELEMENTWISE:
        f = _ELEMENTWISE[fname]
        a = args[0]
        return Ex(src, lambda vals, env: f(a.ev(vals, env)), a.shape, pos=fname in ("exp", "sqrt") or
                  (fname == "square" and a.pos), unit=fname == "inv_logit", anchors=anchors, tags=tags)
    if fname in _VECTOR:
        f = _VECTOR[fname]
        a = args[0]
        return Ex(src, lambda vals, env: f(np.asarray(a.ev(vals, env), float)), a.shape,
                  pos=fname == "softmax" or (fname in ("cumulative_sum", "reverse") and a.pos), anchors=anchors,
                  tags=tags)
    if fname in _REDUCE:
        f = _REDUCE[fname]
        a = args[0]
        return Ex(src, lambda vals, env: f(np.asarray(a.ev(vals, env), float).reshape(-1)), (),
                  pos=fname in ("sum", "mean", "max") and a.pos, anchors=anchors, tags=tags)
    if fname == "dot_product":
        a, b = args
        return Ex(src, lambda vals, env: float(np.dot(a.ev(vals, env), b.ev(vals, env))), (), anchors=anchors,
                  tags=tags | {"matmul"})
    if fname == "rep_vector":
        a, n = args
        return Ex(src, lambda vals, env: np.full(int(n.ev(vals, env)), float(a.ev(vals, env))), (), pos=a.pos,
                  anchors=anchors, tags=tags)
    raise KeyError(fname)


def rep_vector(a: Ex, size: Size) -> Ex:
    e = call("rep_vector", a, Ex(size.src, lambda vals, env, v=size.value: v, isint=True))
    e.shape = (size,)
    return e


def lpdf(dist: str, x: Ex, *args: Ex) -> Ex:
    """``normal_lpdf(x | m, s)``: element-wise log density (pplang's ``<snake>_lpdf``)."""
    fname = {"Normal": "normal_lpdf", "Cauchy": "cauchy_lpdf", "StudentT": "student_t_lpdf",
             "Exponential": "exponential_lpdf", "Gamma": "gamma_lpdf", "Poisson": "poisson_lpmf",
             "Logistic": "logistic_lpdf", "LogNormal": "log_normal_lpdf"}[dist]
    f = SCALAR_LOGPDF[dist]
    shape = x.shape or next((a.shape for a in args if a.shape), ())
    return Ex(f"{fname}({x.src} | {', '.join(a.src for a in args)})",
              lambda vals, env: f(x.ev(vals, env), *(a.ev(vals, env) for a in args)), shape,
              anchors=x.anchors.union(*(a.anchors for a in args)),
              tags=x.tags.union(*(a.tags for a in args)) | {"lpdf-function"})


# --------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A NumPyro site the program must produce: ``kind`` latent / observed / deterministic, its
    ``shape`` (the static type), and ``origin``, what kind of statement defines it (for reports)."""

    kind: str
    shape: tuple[int, ...]
    origin: str = ""


@dataclass
class Term:
    """One statement's contribution to the log joint: ``src`` (the statement), ``line`` (in the
    source), ``lp`` (the reference value), ``sites`` (the NumPyro sites that score it: the sampled
    name, its ``_decentered`` site, pplang's ``_pp_prior_NAME`` / ``_pp_target_LINE`` factors) and
    ``kind``, a coarse description used to group failures."""

    src: str
    lp: float
    line: int
    sites: tuple[str, ...]
    kind: str


@dataclass
class Program:
    """A generated program: ``source``, ``data`` (for ``Model.prepare_data``), ``params`` (a
    constrained value for every latent site), the expected ``sites``, the reference values of the
    ``deterministic`` sites, the reference ``log_joint`` and its ``terms`` (one per ``~`` statement
    and ``target +=``), and the ``features`` it exercises (coverage tags)."""

    seed: int
    source: str
    data: dict[str, Any]
    params: dict[str, np.ndarray]
    sites: dict[str, Site]
    deterministic: dict[str, np.ndarray]
    log_joint: float
    terms: list[Term]
    features: set[str]

    def show(self) -> str:
        def js(v):
            return np.asarray(v).tolist()

        lines = [f"# seed {self.seed}", self.source.rstrip(), "", "# data",
                 json.dumps({k: js(v) for k, v in self.data.items()})]
        lines += ["", "# latent values (constrained)"] + [f"{k} = {js(np.round(v, 6))}" for k, v in self.params.items()]
        lines += ["", "# expected sites"] + [f"{k}: {s.kind} {s.shape}" for k, s in self.sites.items()]
        lines += ["", "# reference log density, per statement"] + [f"{t.lp: .10f}  line {t.line}: {t.src}"
                                                                      for t in self.terms]
        lines += [f"{self.log_joint: .10f}  = log joint", "", f"# features: {', '.join(sorted(self.features))}"]
        return "\n".join(lines)


class _Builder:
    SIZE_LETTERS = {"N": "n", "J": "j", "G": "g", "R": "r", "K": "k", "P": "p", "D": "d", "T": "t"}
    # One value per size name, distinct wherever two sizes can share an array (X[N, P], M[J|G, K|D],
    # z[J|G, D], W[J, K], ytk[T, K], group: N -> G, region: G -> R), so that a transposed or
    # mis-broadcast dimension is always a shape error; fixed values also keep JAX's cache of
    # compiled eager operations warm across programs (the test's run time is mostly compilation).
    # Literal sizes (vector[2], matrix[J, 3]) are drawn per program.
    SIZE_VALUES = {"N": 6, "T": 4, "J": 4, "G": 5, "R": 2, "K": 3, "P": 3, "D": 2}
    LITERAL_LETTERS = {2: "q", 3: "u", 4: "v"}

    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.sizes: dict[str, Size] = {}
        self.vars: dict[str, Var] = {}
        self.vals: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.params: dict[str, np.ndarray] = {}
        self.sites: dict[str, Site] = {}
        self.deterministic: dict[str, np.ndarray] = {}
        self.decls: list[str] = []
        self.body: list[str] = []
        self.terms: list[tuple[int, str, float, tuple[str, ...], str]] = []  # body index, src, lp, sites, kind
        self.features: set[str] = set()
        self.anchored: set[str] = set()
        self.needs_anchor: dict[str, tuple[Size, Var]] = {}
        self.counter = itertools.count(1)

    # ---------------------------------------------------------------- small helpers
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def fresh(self, prefix: str) -> str:
        if prefix not in self.vars:
            return prefix
        while True:
            name = f"{prefix}{next(self.counter)}"
            if name not in self.vars:
                return name

    def size(self, name: str) -> Size:
        if name not in self.sizes:
            s = Size(name, self.SIZE_VALUES[name], self.SIZE_LETTERS[name])
            self.sizes[name] = s
            lower = 2 if name == "T" else 1
            self.declare_data(Var(name, "data", (), base="int", pos=True, usable=False), f"int<lower={lower}>", s.value)
        return self.sizes[name]

    def literal_size(self, value: int) -> Size:
        return Size(str(value), value, self.LITERAL_LETTERS[value])

    def declare_data(self, var: Var, type_src: str, value, observed=False) -> Var:
        self.vars[var.name] = var
        if var.base == "int":
            value = np.asarray(value, dtype=np.int64) if np.ndim(value) else int(value)
        else:
            value = np.round(np.asarray(value, dtype=float), 4) if np.ndim(value) else round(float(value), 4)
        self.vals[var.name] = value
        self.data[var.name] = value
        self.decls.append(f"data {var.name}: {type_src}")
        var.decl = type_src
        if observed:
            self.sites[var.name] = Site("observed", var.shape, f"data {type_src}")
        return var

    def type_src(self, base: str, dims: tuple[Size, ...], bounds: str = "") -> str:
        b = f"<{bounds}>" if bounds else ""
        return f"{base}{b}[{', '.join(d.src for d in dims)}]" if dims else f"{base}{b}"

    def emit(self, src: str, *exprs: Ex, lp: float | None = None, sites: tuple[str, ...] = (), kind: str = "") -> None:
        self.body.append(src)
        for e in exprs:
            self.anchored |= e.anchors
            self.features |= e.tags
        if lp is not None:
            self.terms.append((len(self.body) - 1, src, float(lp), sites, kind))

    def envs(self, plates: list[Size]):
        for combo in itertools.product(*(range(1, s.value + 1) for s in plates)):
            yield dict(zip((s.letter for s in plates), combo))

    def lhs(self, name: str, plates: list[Size]) -> str:
        return f"{name}[{', '.join(s.letter for s in plates)}]" if plates else name

    def need_anchor(self, plates: list[Size], exprs: list[Ex], var: Var) -> None:
        """An undeclared left side indexed by ``plates``: pplang finds each index's range from a
        declared array the same index indexes (in this statement, else anywhere)."""
        local = frozenset().union(*(e.anchors for e in exprs))
        for s in plates:
            if s.letter not in local and s.letter not in self.needs_anchor:
                self.needs_anchor[s.letter] = (s, var)

    # ---------------------------------------------------------------- values in supports
    def real_value(self, shape, sd=1.0):
        return np.array([self.rng.gauss(0, sd) for _ in range(int(np.prod(shape)))]).reshape(shape)

    def pos_value(self, shape):
        return np.exp(self.real_value(shape, 0.4))

    def simplex_value(self, k):
        g = np.array([self.rng.gammavariate(3.0, 1.0) for _ in range(k)])
        return g / g.sum()

    def ordered_value(self, k, positive=False):
        steps = np.exp(self.real_value((k,), 0.3)) * 0.8
        start = math.exp(self.rng.gauss(-0.5, 0.3)) if positive else self.rng.gauss(-1, 0.5)
        return start + np.concatenate([[0.0], np.cumsum(steps[1:])])

    def corr_cholesky_value(self, k):
        a = self.real_value((k, k))
        s = a @ a.T + k * np.eye(k)
        d = np.sqrt(np.diag(s))
        return np.linalg.cholesky(s / np.outer(d, d))

    # ---------------------------------------------------------------- expressions
    def index_exprs(self, size: Size, ctx: list[Size], literal=True) -> list[Ex]:
        """Integer expressions that index a dimension of ``size`` inside plates ``ctx``."""
        out = []
        for s in ctx:
            if s.src == size.src:
                out.append(idx_var(s.letter))
        for iv in self.vars.values():
            if iv.base == "int" and iv.upper is not None and iv.upper.src == size.src and len(iv.dims) == 1:
                for inner in self.index_exprs(iv.dims[0], ctx, literal=False):
                    out.append(ix(iv, [inner]))
        if literal and (not out or self.chance(0.3)):
            out.append(inum(self.pick(range(1, size.value + 1))))
        return out

    def vector_terms(self, size: Size, ctx: list[Size], depth: int = 1) -> list[Ex]:
        """Expressions whose value is a vector of ``size`` (per element of the plates ``ctx``)."""
        out = []
        for v in list(self.vars.values()):
            if not v.usable or v.base != "real":
                continue
            if len(v.dims) == 1 and v.dims[0].src == size.src:
                out.append(ref(v))
            if len(v.dims) == 2 and v.dims[1].src == size.src:
                for row in self.index_exprs(v.dims[0], ctx):
                    out.append(ix(v, [row]))
            if depth and len(v.dims) == 2 and v.dims[0].src == size.src:
                inner = self.vector_terms(v.dims[1], ctx, depth - 1)
                if inner:
                    out.append(binop("@", ref(v), self.pick(inner)))
        return out

    def scalar_terms(self, ctx: list[Size], loop: Var | None = None) -> list[Ex]:
        out: list[Ex] = []
        for v in list(self.vars.values()):
            if not v.usable or v.base != "real" or v is loop:
                continue
            if not v.dims:
                out.append(ref(v))
            elif len(v.dims) == 1:
                out += [ix(v, [i]) for i in self.index_exprs(v.dims[0], ctx)]
            elif len(v.dims) == 2:
                rows = self.index_exprs(v.dims[0], ctx)
                cols = self.index_exprs(v.dims[1], ctx)
                out += [ix(v, [r, c]) for r, c in itertools.product(rows, cols)][:3]
                vecs = [t for t in self.vector_terms(v.dims[1], [], depth=0) if t.src != v.name]
                for r in rows[:2]:
                    if vecs:
                        u = self.pick(vecs)
                        row = ix(v, [r])
                        form = self.rng.randrange(3)
                        out.append(binop("@", row, u) if form == 0 else call("dot_product", row, u) if form == 1
                                   else call("sum", binop("*", row, u)))
        return out

    def vec_expr(self, size: Size, ctx: list[Size]) -> Ex | None:
        """A vector of ``size`` (per element of the plates ``ctx``), through vector functions."""
        terms = self.vector_terms(size, ctx)
        if not terms:
            return None
        e = self.pick(terms)
        r = self.rng.random()
        if r < 0.2:
            e = call("cumulative_sum", binop("*", num(0.3), e))
        elif r < 0.35:
            e = call("reverse", e)
        elif r < 0.5:
            e = call("softmax", e)
        elif r < 0.6:
            e = call("log_softmax", e)
        elif r < 0.75:
            e = binop("*", self.coef(), e)
        if self.chance(0.4):
            scalars = [t for t in self.scalar_terms(ctx) if not t.shape]
            if scalars:
                e = binop(self.pick("+-"), e, self.pick(scalars))
        self.features.add("vector-expression")
        return e

    def coef(self) -> Ex:
        return num(self.pick([0.5, 1.5, 0.25, 2, 0.8, 1.2, 0.3, 0.7]))

    def loc_expr(self, ctx: list[Size], *, small=False, loop: Var | None = None, max_terms=3) -> Ex:
        """A real-valued (per plate element) expression of moderate size."""
        terms = self.scalar_terms(ctx, loop)
        if not terms:
            return num(self.pick([0, 1, -1, 0.5]))
        # prefer terms that vary along the plates, then anything
        k = self.rng.randint(1, max_terms)
        chosen = [self.pick(terms) for _ in range(k)]
        e = chosen[0]
        if self.chance(0.4):
            e = binop("*", self.coef(), e)
        for t in chosen[1:]:
            r = self.rng.random()
            if r < 0.15 and not small:
                t = binop("*", t, self.pick(terms))
            elif r < 0.25:
                t = call(self.pick(["tanh", "inv_logit"]), t)
            elif r < 0.35 and t.shape == ():
                t = cond(gt(t, num(0)), self.coef(), neg(self.coef()))
            elif r < 0.6:
                t = binop("*", self.coef(), t)
            e = binop(self.pick("+-"), e, t)
        if self.chance(0.3):
            e = binop("+", num(self.pick([0.5, -1, 1, 2])), e)
        if small:
            e = binop("*", num(0.3), e)
        return e

    def scale_expr(self, ctx: list[Size]) -> Ex:
        terms = [t for t in self.scalar_terms(ctx) if t.pos]
        r = self.rng.random()
        if terms and r < 0.55:
            t = self.pick(terms)
            if self.chance(0.3):
                t = binop(self.pick("+*"), t, num(self.pick([0.5, 1.5])))
            return t
        if r < 0.75:
            return call("exp", self.loc_expr(ctx, small=True, max_terms=2))
        return num(self.pick([0.5, 1, 1.5, 2, 3]))

    # ---------------------------------------------------------------- statements
    def sample(self, var: Var, plates: list[Size], dist: str, args: list[Ex], *, observed=False,
               bounds: tuple | None = None, trunc: tuple | None = None, annotation: str = "",
               declared: bool = True) -> None:
        """``var[plates] ~ dist(args)``: score it (the value is ``self.vals[var.name]``)."""
        value = np.asarray(self.vals[var.name], float)
        rank = EVENT_RANK.get(dist, 0)
        total = 0.0
        decentered = np.zeros_like(value) if annotation == "noncentered" else None
        for env in self.envs(plates):
            at = tuple(env[s.letter] - 1 for s in plates)
            x = value[at]
            a = [np.asarray(e.ev(self.vals, env), float) for e in args]
            if rank:
                assert x.ndim == rank, (dist, x.shape)  # the generator writes event statements per event
                total += event_logpdf(dist, x, a)
                continue
            lp = np.broadcast_to(SCALAR_LOGPDF[dist](x, *a), x.shape)
            lo, hi = bounds if bounds else (None, None)
            if trunc is not None:
                lo, hi = (None if t is None else float(t.ev(self.vals, env)) for t in trunc)
            if (lo is not None or hi is not None) and dist in _LOCSCALE:
                lp = lp - np.broadcast_to(_log_mass(_LOCSCALE[dist](*a), lo, hi), x.shape)
            if decentered is not None:
                loc, scale = (a[0], a[1]) if dist != "StudentT" else (a[1], a[2])
                decentered[at] = (x - loc) / scale
                lp = lp + np.broadcast_to(np.log(scale), x.shape)
            total += float(np.sum(lp))
        argsrc = ", ".join(e.src for e in args)
        src = f"{self.lhs(var.name, plates)} ~ {dist}({argsrc})"
        if trunc is not None:
            src += f" T[{'' if trunc[0] is None else trunc[0].src}, {'' if trunc[1] is None else trunc[1].src}]"
            self.features.add("truncation")
        if annotation:
            src += f" {annotation}"
            self.features.add(annotation)
        if decentered is not None:
            self.params[f"{var.name}_decentered"] = decentered
        if not observed:
            var.usable = True
        self.features.add(f"dist:{dist}")
        what = ("observed " if observed else "prior ") + dist + (" T[]" if trunc else "") + " on " + (
            var.decl if var.decl else "an undeclared latent" if var.role == "latent" else var.role) + (
            " element-wise" if plates else " whole") + (f" {annotation}" if annotation else "")
        if not observed:
            kind = "deterministic" if annotation == "noncentered" else "latent"
            self.sites[var.name] = Site(kind, var.shape, what)
            if decentered is None:
                self.params[var.name] = value
            self.features.add("prior:elementwise" if plates else "prior:whole")
            if not declared:
                self.features.add("undeclared-latent" + ("-indexed" if plates else ""))
                self.need_anchor(plates, args, var)
        self.emit(src, *args, *(t for t in (trunc or ()) if t is not None), lp=total,
                  sites=(var.name, f"{var.name}_decentered", f"_pp_prior_{var.name}"), kind=what)

    def define(self, name: str, plates: list[Size], value: Ex, *, local=False) -> Var:
        """``[local] name[plates] = value``."""
        dims = tuple(plates) + tuple(value.shape)
        var = Var(name, "local" if local else "det", dims, pos=value.pos, unit=value.unit)
        out = np.zeros(var.shape)
        for env in self.envs(plates):
            at = tuple(env[s.letter] - 1 for s in plates)
            out[at] = value.ev(self.vals, env)
        self.vars[name] = var
        self.vals[name] = out
        if not local:
            self.sites[name] = Site("deterministic", var.shape, "definition " + _shape_of_expr(value, plates))
            self.deterministic[name] = out
        self.features.add("local" if local else "define")
        self.need_anchor(plates, [value], var)
        self.emit(f"{'local ' if local else ''}{self.lhs(name, plates)} = {value.src}", value)
        return var

    def target(self, e: Ex) -> None:
        lp = float(np.sum(e.ev(self.vals, {})))
        self.features.add("target")
        self.emit(f"target += {e.src}", e, lp=lp, sites=("_pp_target_",), kind="target += " + e.src.split("(")[0])

    def latent(self, name: str, dims: tuple[Size, ...], value, **kw) -> Var:
        """An undeclared latent (defined by its ``~`` statement, which must follow)."""
        var = Var(name, "latent", dims, usable=False, **kw)
        self.vars[name] = var
        self.vals[name] = value
        return var

    def param(self, name: str, base: str, dims: tuple[Size, ...], bounds: str = "", value=None, **kw) -> Var:
        """``param name: type``; usable on right sides once its prior (or flat()) is written."""
        type_dims = dims[:1] if base in ("cholesky_factor_corr", "cov_matrix", "corr_matrix") else dims
        type_src = self.type_src(base, type_dims, bounds)
        var = Var(name, "param", dims, usable=False, decl=type_src, **kw)
        if value is not None:
            self.vals[name] = value
        self.vars[name] = var
        self.body.append(f"param {name}: {type_src}")
        self.features.add(f"type:{base}")
        if bounds:
            self.features.add(f"bounds:{bounds}" if bounds in ("lower=0",) else "bounds:interval"
                              if "upper" in bounds and "lower" in bounds else "bounds:other")
        return var

    def flat(self, var: Var) -> None:
        self.sites[var.name] = Site("latent", var.shape, f"flat {var.decl}")
        self.params[var.name] = np.asarray(self.vals[var.name], float)
        self.features.add("flat-prior")
        var.usable = True

    # ---------------------------------------------------------------- motifs
    def m_scalar(self) -> None:
        """A real location: declared with a prior, flat, or undeclared."""
        name = self.fresh(self.pick(["mu", "alpha", "loc", "b0"]))
        r = self.rng.random()
        dist = self.pick(["Normal", "Normal", "Cauchy", "StudentT", "Laplace", "Logistic"])
        args = [num(self.pick([0, 1, -1, 0.5])), num(self.pick([1, 2, 2.5, 5]))]
        if dist == "StudentT":
            args = [num(self.pick([3, 4, 7]))] + args
        if r < 0.15:
            var = self.param(name, "real", ())
            self.vals[name] = self.rng.gauss(0, 1)
            self.flat(var)
        elif r < 0.6:
            var = self.param(name, "real", ())
            self.vals[name] = self.rng.gauss(0, 1)
            self.sample(var, [], dist, args)
        else:
            var = self.latent(name, (), self.rng.gauss(0, 1))
            self.sample(var, [], dist, args, declared=False)

    def m_positive(self) -> None:
        """A positive scale: real<lower=0> with a half / truncated / positive prior, or undeclared."""
        name = self.fresh(self.pick(["sigma", "tau", "sc", "phi"]))
        r = self.rng.random()
        value = float(self.pos_value(()))
        if r < 0.65:
            var = self.param(name, "real", (), "lower=0", pos=True)
            self.vals[name] = value
            choice = self.rng.randrange(12)
            priors = [("Normal", [num(0), num(self.pick([1, 2, 5]))]),
                      ("Cauchy", [num(0), num(self.pick([1, 2.5, 5]))]),
                      ("Normal", [num(self.pick([1, -0.5, 0.5])), num(self.pick([1, 2]))]),
                      ("StudentT", [num(3), num(0), num(2)]), ("Logistic", [num(0), num(1)]),
                      ("Exponential", [num(self.pick([1, 0.5, 2]))]), ("Gamma", [num(2), num(self.pick([1, 2]))]),
                      ("LogNormal", [num(0), num(1)]), ("HalfNormal", [num(self.pick([1, 2]))]),
                      ("HalfCauchy", [num(2.5)]), ("InverseGamma", [num(3), num(2)])]
            if choice == len(priors):
                self.flat(var)
            else:
                dist, args = priors[choice]
                self.sample(var, [], dist, args, bounds=(0.0, None))
        elif r < 0.75:
            lo = self.pick([1, 0.5])
            var = self.param(name, "real", (), f"lower={_fmt(lo)}", pos=True)
            self.vals[name] = lo + value
            self.sample(var, [], self.pick(["Normal", "Cauchy"]), [num(self.pick([1, 2])), num(1)],
                        bounds=(float(lo), None))
        else:
            var = self.latent(name, (), value, pos=True)
            dist, args = self.pick([("HalfNormal", [num(1)]), ("Exponential", [num(1)]), ("Gamma", [num(2), num(2)]),
                                    ("LogNormal", [num(0), num(0.5)]), ("HalfCauchy", [num(2)]),
                                    ("InverseGamma", [num(3), num(2)])])
            self.sample(var, [], dist, args, declared=False)

    def m_bounded(self) -> None:
        """real<lower=a, upper=b> (or <upper=b>) with a truncated / matching prior or flat."""
        name = self.fresh(self.pick(["rho", "pr", "kappa", "lam"]))
        lo, hi = self.pick([(0, 1), (-1, 1), (2, 5), (0, 10), (-3, 0.5)])
        one_sided = self.chance(0.15)
        if one_sided:
            var = self.param(name, "real", (), f"upper={_fmt(hi)}")
            self.vals[name] = hi - float(self.pos_value(()))
            self.sample(var, [], "Normal", [num(0), num(2)], bounds=(None, float(hi)))
            return
        if self.chance(0.2):  # bounds given as data
            lo_v = self.declare_data(Var(self.fresh("lo"), "data", (), usable=False), "real", lo)
            hi_v = self.declare_data(Var(self.fresh("hi"), "data", (), usable=False), "real", hi)
            var = self.param(name, "real", (), f"lower={lo_v.name}, upper={hi_v.name}", pos=lo >= 0)
            self.features.add("bounds:data")
            self.vals[name] = lo + (hi - lo) * self.rng.uniform(0.1, 0.9)
            if self.chance(0.3):
                self.flat(var)
            else:
                self.sample(var, [], self.pick(["Normal", "Cauchy"]), [num((lo + hi) / 2), num(2)],
                            bounds=(float(lo), float(hi)))
            return
        var = self.param(name, "real", (), f"lower={_fmt(lo)}, upper={_fmt(hi)}", unit=(lo, hi) == (0, 1),
                         pos=lo >= 0)
        self.vals[name] = lo + (hi - lo) * self.rng.uniform(0.1, 0.9)
        if (lo, hi) == (0, 1) and self.chance(0.3):  # a second one bounded by the first (flat, as in garch)
            var2 = self.param(self.fresh("rest"), "real", (), f"lower=0, upper=1 - {name}", pos=True, unit=True)
            self.vals[var2.name] = (1 - self.vals[name]) * self.rng.uniform(0.1, 0.9)
            self.features.add("bounds:parameter")
            self.flat(var)
            self.flat(var2)
            return
        r = self.rng.randrange(5)
        if r == 0:
            self.flat(var)
        elif r == 1:
            self.sample(var, [], "Uniform", [num(lo), num(hi)])
        elif r == 2 and (lo, hi) == (0, 1):
            self.sample(var, [], "Beta", [num(2), num(self.pick([2, 3]))])
        else:
            dist = self.pick(["Normal", "Normal", "Cauchy", "Logistic", "Laplace"])
            self.sample(var, [], dist, [num((lo + hi) / 2), num(self.pick([1, 2]))], bounds=(float(lo), float(hi)))

    def m_hier(self, size: Size | None = None) -> Var:
        """theta[j] ~ Normal(loc, scale): element-wise (or whole-vector) prior over a group size."""
        size = size or self.size(self.pick(["J", "G", "K"]))
        name = self.fresh(self.pick(["theta", "ag", "uu", "eta"]))
        ctx = [size]
        r = self.rng.random()
        dist = self.pick(["Normal", "Normal", "Normal", "Cauchy", "StudentT", "Logistic"])
        if r < 0.2 and not any(v.pos for v in self.vars.values() if v.usable and not v.dims):
            self.m_positive()
        loc = self.loc_expr(ctx, max_terms=2)
        scale = self.scale_expr(ctx)
        args = [loc, scale] if dist != "StudentT" else [num(4), loc, scale]
        value = self.real_value((size.value,), 1.2)
        kind = self.rng.randrange(6)
        annotation = "noncentered" if self.chance(0.25) else ""
        if kind <= 2:  # declared, element-wise
            base = self.pick(["vector", "real"])
            var = self.param(name, base, (size,))
            self.vals[name] = value
            self.sample(var, [size], dist, args, annotation=annotation)
        elif kind == 3:  # declared, whole-vector prior; the location may be a vector of the same size
            var = self.param(name, "vector", (size,))
            self.vals[name] = value
            vecs = self.vector_terms(size, [], depth=0)
            if not vecs and self.chance(0.5):
                vecs = [ref(self.covariate(size))]
            loc = self.pick(vecs) if vecs and self.chance(0.6) else self.loc_expr([], max_terms=2)
            if loc.shape:
                self.features.add("prior:whole-vector-location")
            args = [loc, self.scale_expr([])] if dist != "StudentT" else [num(4), loc, self.scale_expr([])]
            self.sample(var, [], dist, args, annotation=annotation)
        else:  # undeclared: its size comes from indexing
            var = self.latent(name, (size,), value)
            if kind == 5 and not any(size.letter in a.anchors for a in args):
                cov = self.covariate(size)
                args[-2] = binop("+", args[-2], binop("*", self.coef(), ix(cov, [idx_var(size.letter)])))
            self.sample(var, [size], dist, args, annotation=annotation, declared=False)
        return var

    def covariate(self, size: Size, name: str = "x", positive=False) -> Var:
        """A data vector over ``size`` (real[S] or vector[S])."""
        for v in self.vars.values():
            if v.role == "data" and v.dims == (size,) and v.base == "real" and v.usable and v.pos == positive \
                    and self.chance(0.6):
                return v
        vname = self.fresh(name + size.src.lower())
        base = self.pick(["real", "vector"])
        if positive:
            var = Var(vname, "data", (size,), pos=True)
            return self.declare_data(var, self.type_src(base, (size,), "lower=0"), self.pos_value((size.value,)))
        var = Var(vname, "data", (size,))
        return self.declare_data(var, self.type_src(base, (size,)), self.real_value((size.value,)))

    def m_positive_vector(self) -> None:
        """vector<lower=0>[J] / real<lower=0>[J] scales (half priors element-wise or whole), or
        interval-bounded vectors and arrays with element-wise truncated priors."""
        size = self.size(self.pick(["J", "K"]))
        base = self.pick(["vector", "real"])
        if self.chance(0.35):
            lo, hi = self.pick([(0, 1), (-1, 1), (-2, 3)])
            var = self.param(self.fresh("pv"), base, (size,), f"lower={_fmt(lo)}, upper={_fmt(hi)}", pos=lo >= 0,
                             unit=(lo, hi) == (0, 1))
            self.vals[var.name] = lo + (hi - lo) * np.array([self.rng.uniform(0.1, 0.9) for _ in range(size.value)])
            r = self.rng.randrange(4)
            if r == 0 and (lo, hi) == (0, 1):
                self.sample(var, [size], "Beta", [num(2), num(2)])
            elif r == 1:
                self.sample(var, [], "Uniform", [num(lo), num(hi)])
            elif r == 2:
                self.flat(var)
            else:
                self.sample(var, [size], self.pick(["Normal", "Logistic"]), [self.loc_expr([size], small=True),
                                                                             num(self.pick([1, 2]))],
                            bounds=(float(lo), float(hi)))
            return
        name = self.fresh("sd")
        var = self.param(name, base, (size,), "lower=0", pos=True)
        self.vals[name] = self.pos_value((size.value,))
        r = self.rng.randrange(4)
        if r == 0:
            self.sample(var, [size], "Normal", [num(0), num(self.pick([1, 2]))], bounds=(0.0, None))
        elif r == 1:
            self.sample(var, [], self.pick(["Exponential", "HalfCauchy"]), [num(1)])
        elif r == 2:
            self.sample(var, [size], "Cauchy", [num(0), self.scale_expr([size])], bounds=(0.0, None))
        else:
            self.sample(var, [], "Gamma", [num(2), num(2)])

    def m_groups(self) -> None:
        """Integer index data with nested indexing: a[group[i]], b[region[group[i]]]."""
        N = self.size("N")
        G = self.size("G")
        gname = self.fresh("group")
        gvar = Var(gname, "data", (N,), base="int", upper=G, usable=False)
        self.declare_data(gvar, f"int<lower=1, upper=G>[N]", [self.rng.randint(1, G.value) for _ in range(N.value)])
        self.features.add("index-data")
        if self.chance(0.6) and "R" not in self.sizes:
            R = self.size("R")
            rvar = Var(self.fresh("region"), "data", (G,), base="int", upper=R, usable=False)
            self.declare_data(rvar, "int<lower=1, upper=R>[G]", [self.rng.randint(1, R.value) for _ in range(G.value)])
            self.m_hier(R)  # b[r]: its values reach N through b[region[group[n]]]
        self.m_hier(G)

    def m_regression(self) -> None:
        """X[n] @ beta / dot_product(X[n], beta) with data X: matrix[N, P] and a vector beta."""
        N = self.size("N")
        P = self.size("P") if self.chance(0.7) else self.literal_size(self.pick([2, 3]))
        X = Var(self.fresh("X"), "data", (N, P))
        self.declare_data(X, f"matrix[N, {P.src}]", self.real_value((N.value, P.value)))
        name = self.fresh("beta")
        value = self.real_value((P.value,), 0.8)
        r = self.rng.randrange(5)
        if r == 0:
            var = self.param(name, "vector", (P,))
            self.vals[name] = value
            self.sample(var, [], "Normal", [num(0), num(self.pick([1, 2, 5]))])
        elif r == 1:
            var = self.param(name, "vector", (P,))
            self.vals[name] = value
            self.sample(var, [P], "Normal", [num(0), self.scale_expr([P])])
        elif r == 2:
            var = self.param(name, "vector", (P,))
            self.vals[name] = value
            self.flat(var)
        else:
            var = self.latent(name, (P,), value)
            self.sample(var, [P], "Normal", [num(0), num(self.pick([1, 2]))], declared=False)
        if self.chance(0.5):  # a linear predictor as a definition
            n = idx_var(N.letter)
            form = self.rng.randrange(4)
            if form == 0:
                e = binop("@", ref(X), ref(var))
                self.define(self.fresh("lin"), [], e, local=self.chance(0.4))
            else:
                row = ix(X, [n])
                e = binop("@", row, ref(var)) if form == 1 else call("dot_product", row, ref(var)) if form == 2 \
                    else call("dot_product", ref(var), row)
                if self.chance(0.5):
                    e = binop("+", self.loc_expr([N], max_terms=1), e)
                self.define(self.fresh("lin"), [N], e, local=self.chance(0.4))

    def m_simplex(self) -> None:
        K = self.size("K")
        name = self.fresh("w")
        value = self.simplex_value(K.value)
        r = self.rng.randrange(5)
        alpha = None
        if r in (0, 1, 3):
            if self.chance(0.6):
                av = Var(self.fresh("alpha_w"), "data", (K,), pos=True, usable=False)
                self.declare_data(av, "vector<lower=0>[K]", 0.5 + self.pos_value((K.value,)))
                alpha = ref(av)
            else:
                alpha = rep_vector(num(self.pick([1, 2, 3])), K)
        if r == 3:  # undeclared
            var = self.latent(name, (K,), value, pos=True, unit=True)
            self.sample(var, [], "Dirichlet", [alpha], declared=False)
        else:
            var = self.param(name, "simplex", (K,), pos=True, unit=True)
            self.vals[name] = value
            if alpha is None:
                self.flat(var)
            else:
                self.sample(var, [], "Dirichlet", [alpha])
        if self.chance(0.3):  # a Dirichlet per group: undeclared rows of simplexes
            J = self.size("J")
            W = self.latent(self.fresh("W"), (J, K), np.stack([self.simplex_value(K.value) for _ in range(J.value)]),
                            pos=True, unit=True)
            conc = alpha if alpha is not None else rep_vector(num(2), K)
            if self.chance(0.5):
                conc = binop("*", conc, self.scale_expr([J]))
            self.sample(W, [J], "Dirichlet", [conc], declared=False)

    def m_ordered(self) -> None:
        K = self.size("K")
        positive = self.chance(0.5)
        base = "positive_ordered" if positive else "ordered"
        name = self.fresh("cut" if not positive else "lam")
        var = self.param(name, base, (K,), pos=positive)
        self.vals[name] = self.ordered_value(K.value, positive)
        r = self.rng.choices(range(4), [0.15, 0.4, 0.25, 0.2])[0]
        if r == 0:
            self.flat(var)
        elif r == 1:  # whole-vector prior
            if positive:
                dist, args = self.pick([("Exponential", [num(1)]), ("Exponential", [num(1)]),
                                        ("Gamma", [num(2), num(1)]), ("LogNormal", [num(0), num(1)])])
            else:
                dist, args = "Normal", [num(0), num(5)]
            self.sample(var, [], dist, args)
        elif r == 2:  # element-wise prior
            self.sample(var, [K], "Exponential" if positive else "Normal", [num(1)] if positive else [num(0), num(5)])
        else:  # a prior through target +=
            first = ix(var, [inum(1)])
            self.flat(var)
            self.target(binop("+", lpdf("Normal", first, num(1 if positive else -1), num(1)),
                              lpdf("Normal", ix(var, [inum(K.value)]), num(3), num(1))))

    def m_lkj(self) -> None:
        """cholesky_factor_corr with an LKJ prior; L @ z[j] per group; MVN observations."""
        D = self.size("D") if self.chance(0.5) else self.literal_size(self.pick([2, 3]))
        L = self.param(self.fresh("L"), "cholesky_factor_corr", (D, D))
        self.vals[L.name] = self.corr_cholesky_value(D.value)
        if self.chance(0.8):
            # Stan's order: LKJCholesky(eta), the dimension from L's declared type
            self.sample(L, [], "LKJCholesky", [num(self.pick([1, 2, 4, 1.5]))])
            self.features.add("lkj")
        else:
            self.flat(L)
        r = self.rng.randrange(3)
        if r <= 1:
            J = self.size(self.pick(["J", "G"]))
            z = self.param(self.fresh("z"), "matrix", (J, D))
            self.vals[z.name] = self.real_value((J.value, D.value))
            form = self.rng.randrange(3)
            if form == 0:
                self.sample(z, [], "Normal", [num(0), num(1)])
            elif form == 1:
                self.sample(z, [J, D], "Normal", [num(0), num(1)])
            else:
                self.sample(z, [J], "Normal", [num(0), num(1)])
            form = self.rng.randrange(3)
            if form == 0:
                e = binop("@", ref(L), ix(z, [idx_var(J.letter)]))
                if self.chance(0.3):
                    e = binop("*", self.scale_expr([]), e)
                b = self.define(self.fresh("bz"), [J], e, local=self.chance(0.3))
            elif form == 1:
                b = self.define(self.fresh("bz"), [], binop("@", ref(z), transpose(L)),
                                local=self.chance(0.3))
                self.features.add("transpose")
            else:
                b = self.define(self.fresh("bz"), [J, D], ix(z, [idx_var(J.letter), idx_var(D.letter)]))
            Y = Var(self.fresh("Y"), "data", (J, D), usable=False)
            self.declare_data(Y, f"matrix[{J.src}, {D.src}]", self.real_value((J.value, D.value), 1.5), observed=True)
            if self.chance(0.3):  # row by row: the rows are vectors
                self.sample(Y, [J], "Normal", [ix(b, [idx_var(J.letter)]), self.scale_expr([J])], observed=True)
                self.features.add("observe:rows")
            else:
                self.sample(Y, [J, D], "Normal", [ix(b, [idx_var(J.letter), idx_var(D.letter)]), self.scale_expr([])],
                            observed=True)
        else:
            N = self.size("N")
            Y = Var(self.fresh("Yd"), "data", (N, D), usable=False)
            self.declare_data(Y, f"matrix[N, {D.src}]", self.real_value((N.value, D.value), 1.5), observed=True)
            mvec = self.param(self.fresh("mv"), "vector", (D,))
            self.vals[mvec.name] = self.real_value((D.value,))
            self.sample(mvec, [], "Normal", [num(0), num(2)])
            if self.chance(0.4):
                self.sample(Y, [N], "MultivariateNormalCholesky", [ref(mvec), ref(L)], observed=True)
            elif self.chance(0.3):
                S = self.param(self.fresh("Sigma"), "cov_matrix", (D, D))
                a = self.real_value((D.value, D.value))
                self.vals[S.name] = a @ a.T + D.value * np.eye(D.value)
                self.flat(S)
                self.sample(Y, [N], "MultivariateNormal", [ref(mvec), ref(S)], observed=True)
            else:
                cov = self.define(self.fresh("Sig"), [], binop("@", ref(L), transpose(L)),
                                  local=True)
                self.sample(Y, [N], "MultivariateNormal", [ref(mvec), ref(cov)], observed=True)
            self.features.add("mvn")

    def m_matrix(self) -> None:
        """A matrix parameter (or undeclared matrix latent) with whole / row / element priors."""
        A = self.size(self.pick(["J", "G"]))
        B = self.size(self.pick(["K", "D"])) if self.chance(0.7) else self.literal_size(2)
        name = self.fresh("M")
        value = self.real_value((A.value, B.value))
        form = self.rng.randrange(5)
        if form == 4:
            var = self.latent(name, (A, B), value)
            loc = self.loc_expr([A, B], max_terms=1) if self.chance(0.5) else num(0)
            self.sample(var, [A, B], "Normal", [loc, self.scale_expr([A, B])], declared=False,
                        annotation="noncentered" if self.chance(0.3) else "")
            return
        var = self.param(name, "matrix", (A, B))
        self.vals[name] = value
        if form == 0:
            self.sample(var, [], "Normal", [num(0), num(1)])
        elif form == 1:
            self.sample(var, [A], "Normal", [num(0), self.scale_expr([A])])
        elif form == 2:
            self.sample(var, [A, B], "Normal", [self.loc_expr([A, B], max_terms=1), num(1)])
        else:
            self.flat(var)
        if self.chance(0.5):  # the transpose, written with plates in the other order
            e = ix(var, [idx_var(A.letter), idx_var(B.letter)])
            if self.chance(0.5):
                e = binop("+", e, self.loc_expr([B, A], max_terms=1))
            self.define(self.fresh("Mt"), [B, A], e, local=self.chance(0.3))
            self.features.add("plate-transpose")

    def m_loop(self) -> None:
        """A recursion: x[1] = ...; for t in 2:T { x[t] = a * x[t - 1] + ... }; observed after."""
        T = self.size("T")
        y = Var(self.fresh("yt"), "data", (T,), usable=False)
        self.declare_data(y, self.type_src(self.pick(["real", "vector"]), (T,)), self.real_value((T.value,)))
        phi = self.param(self.fresh("ar"), "real", (), "lower=-1, upper=1")
        self.vals[phi.name] = self.rng.uniform(-0.9, 0.9)
        self.sample(phi, [], "Normal", [num(0), num(1)], bounds=(-1.0, 1.0))
        t = idx_var("t")
        tm1 = binop("-", t, num(1))
        form = self.rng.randrange(4)
        name = self.fresh("level")
        local = self.chance(0.3)
        if form == 3:  # a vector state with a plate index k over K
            K = self.size("K")
            m = self.param(self.fresh("mk"), "vector", (K,))
            self.vals[m.name] = self.real_value((K.value,))
            self.sample(m, [], "Normal", [num(0), num(1)])
            state = Var(name, "local" if local else "det", (T, K))
            k = idx_var(K.letter)
            init = ix(m, [k])
            out = np.zeros((T.value, K.value))
            for env in self.envs([K]):
                out[0, env[K.letter] - 1] = init.ev(self.vals, env)
            self.vals[name] = out
            self.body.append(f"{'local ' if local else ''}{name}[1, {K.letter}] = {init.src}")
            prev = Ex(f"{name}[t - 1, {K.letter}]", lambda vals, env: vals[name][env["t"] - 2, env[K.letter] - 1])
            step = binop("+", binop("*", ref(phi), prev), binop("*", num(0.5), ix(m, [k])))
            if self.chance(0.5):
                step = binop("+", step, binop("*", num(0.3), Ex(f"{y.name}[t - 1]",
                                                                   lambda vals, env: vals[y.name][env["t"] - 2])))
            for tt in range(2, T.value + 1):
                for env in self.envs([K]):
                    env["t"] = tt
                    out[tt - 1, env[K.letter] - 1] = step.ev(self.vals, env)
            self.body.append(f"for t in 2:T {{\n  {name}[t, {K.letter}] = {step.src}\n}}")
            self.vars[name] = state
            if not local:
                self.sites[name] = Site("deterministic", state.shape, "for loop with a plate index")
                self.deterministic[name] = out
            Y = Var(self.fresh("ytk"), "data", (T, K), usable=False)
            self.declare_data(Y, f"matrix[T, K]", self.real_value((T.value, K.value)), observed=True)
            self.sample(Y, [T, K], "Normal", [ix(state, [idx_var("t"), k]), self.scale_expr([])], observed=True)
            self.features |= {"for-loop", "for-loop-plate"}
            return
        m0 = self.param(self.fresh("m0"), "real", ())
        self.vals[m0.name] = self.rng.gauss(0, 1)
        self.sample(m0, [], "Normal", [num(0), num(2)])
        state = Var(name, "local" if local else "det", (T,))
        out = np.zeros(T.value)
        init = ref(m0) if self.chance(0.5) else binop("+", ref(m0), binop("*", num(0.5), ix(y, [inum(1)])))
        if form == 2:  # a volatility: positive from the start
            init = call("exp", binop("*", num(0.3), ref(m0)))
        out[0] = init.ev(self.vals, {})
        self.vals[name] = out
        self.body.append(f"{'local ' if local else ''}{name}[1] = {init.src}")
        prev = Ex(f"{name}[t - 1]", lambda vals, env: vals[name][env["t"] - 2])
        ylag = Ex(f"{y.name}[t - 1]", lambda vals, env: vals[y.name][env["t"] - 2])
        if form == 0:
            step = binop("+", binop("*", ref(phi), prev), binop("*", num(0.5), ylag))
        elif form == 1:
            step = binop("+", ref(m0), binop("*", ref(phi), binop("-", ylag, prev)))
        else:
            step = call("sqrt", binop("+", num(0.5), binop("+", binop("*", num(0.3), call("square", ylag)),
                                                          binop("*", num(0.4), call("square", prev)))))
        for tt in range(2, T.value + 1):
            out[tt - 1] = step.ev(self.vals, {"t": tt})
        lines = [f"  {name}[t] = {step.src}"]
        if self.chance(0.4):  # a second quantity in the body, reading the first at t
            name2 = self.fresh("acc")
            out2 = np.zeros(T.value)
            out2[0] = 0.0
            self.vals[name2] = out2
            self.body.append(f"{name2}[1] = 0")
            cur = Ex(f"{name}[t]", lambda vals, env: vals[name][env["t"] - 1])
            prev2 = Ex(f"{name2}[t - 1]", lambda vals, env: vals[name2][env["t"] - 2])
            step2 = binop("+", binop("*", num(0.5), prev2), cur)
            for tt in range(2, T.value + 1):
                out2[tt - 1] = step2.ev(self.vals, {"t": tt})
            lines.append(f"  {name2}[t] = {step2.src}")
            v2 = Var(name2, "det", (T,))
            self.vars[name2] = v2
            self.sites[name2] = Site("deterministic", (T.value,), "for loop (second quantity)")
            self.deterministic[name2] = out2
        self.body.append("for t in 2:T {\n" + "\n".join(lines) + "\n}")
        self.vars[name] = state
        if not local:
            self.sites[name] = Site("deterministic", state.shape, "for loop")
            self.deterministic[name] = out
        self.features.add("for-loop")
        self.features.add("local" if local else "define")
        y.usable = False
        self.sites[y.name] = Site("observed", y.shape, "data " + y.decl)
        if form == 2:
            self.sample(y, [T], "Normal", [num(0), ix(state, [idx_var("t")])], observed=True)
        else:
            self.sample(y, [T], "Normal", [ix(state, [idx_var("t")]), self.scale_expr([])], observed=True)

    def m_lag(self) -> None:
        """AR(1) without a loop: range indexes in derived data, y[2:T] on y[1:(T - 1)]."""
        T = self.size("T")
        y = Var(self.fresh("ys"), "data", (T,), usable=False)
        self.declare_data(y, self.type_src("real", (T,)), self.real_value((T.value,)))
        S = Size("T - 1", T.value - 1, "s")
        nxt = Var(self.fresh("ynext"), "derived", (S,), usable=False)
        prv = Var(self.fresh("yprev"), "derived", (S,))
        for v, sl in ((nxt, slice(1, None)), (prv, slice(0, -1))):
            self.vars[v.name] = v
            self.vals[v.name] = np.asarray(self.vals[y.name])[sl]
        self.decls.append(f"data {nxt.name} = {y.name}[2:T]")
        self.decls.append(f"data {prv.name} = {y.name}[1:(T - 1)]")
        self.features |= {"derived-data", "range-index"}
        self.sites[nxt.name] = Site("observed", nxt.shape, "derived data (range index)")
        s = idx_var("s")
        loc = binop("*", self.pick([t for t in self.scalar_terms([]) if not t.shape] or [num(0.5)]), ix(prv, [s]))
        self.sample(nxt, [S], "Normal", [loc, self.scale_expr([])], observed=True)

    # ---------------------------------------------------------------- consumers
    def observe(self) -> None:
        """y[n] ~ Dist(...) over N with a random linear predictor (or a whole-vector statement)."""
        N = self.size("N")
        ctx = [N]
        n = idx_var(N.letter)
        families = {"Normal": 6, "StudentT": 1, "Cauchy": 1, "Laplace": 1, "Logistic": 1, "LogNormal": 1,
                    "Poisson": 1.5, "PoissonLog": 0.5, "Bernoulli": 1, "BernoulliLogit": 1, "BinomialLogit": 0.5,
                    "Binomial": 0.5, "NegativeBinomial2": 1, "Gamma": 1, "Exponential": 1, "TruncNormal": 1,
                    "Derived": 1, "Whole": 2.5}
        fam = self.rng.choices(list(families), list(families.values()))[0]
        name = self.fresh("y")
        shape = (N.value,)
        if fam in ("Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Whole"):
            y = Var(name, "data", (N,), usable=False)
            base = "vector" if fam == "Whole" else self.pick(["real", "vector"])
            self.declare_data(y, self.type_src(base, (N,)), self.real_value(shape, 2), observed=True)
            if fam == "Whole":
                v = self.vec_expr(N, [])
                if v is not None:
                    loc = binop("+", v, self.pick([t for t in self.scalar_terms([]) if not t.shape] or [num(1)]))
                else:
                    loc = num(0.5)
                self.sample(y, [], "Normal", [loc, self.scale_expr([])], observed=True)
                self.features.add("observe:whole")
                return
            loc = self.loc_expr(ctx)
            scale = self.scale_expr(ctx)
            args = [loc, scale] if fam != "StudentT" else [num(self.pick([3, 5])), loc, scale]
            self.sample(y, [N], fam, args, observed=True)
            return
        if fam in ("LogNormal", "Gamma", "Exponential", "TruncNormal", "Derived"):
            y = Var(name, "data", (N,), pos=True, usable=False)
            self.declare_data(y, self.type_src("real", (N,), "lower=0"), self.pos_value(shape) * 1.5,
                              observed=fam != "Derived")
            if fam == "LogNormal":
                self.sample(y, [N], "LogNormal", [self.loc_expr(ctx, small=True), self.scale_expr(ctx)], observed=True)
            elif fam == "Gamma":
                shp = self.scale_expr(ctx)
                self.sample(y, [N], "Gamma", [shp, binop("/", shp, call("exp", self.loc_expr(ctx, small=True)))],
                            observed=True)
            elif fam == "Exponential":
                self.sample(y, [N], "Exponential", [call("exp", self.loc_expr(ctx, small=True))], observed=True)
            elif fam == "TruncNormal":
                hi = num(10) if self.chance(0.5) else None
                scale = binop("+", num(1), self.scale_expr(ctx))
                self.sample(y, [N], "Normal", [self.loc_expr(ctx, small=True), scale], observed=True,
                            trunc=(num(0), hi))
            else:  # derived data observed
                self.vars[name].usable = False
                dname = self.fresh("log_" + name)
                dv = Var(dname, "derived", (N,), usable=False)
                self.vars[dname] = dv
                self.vals[dname] = np.log(self.vals[name])
                self.decls.append(f"data {dname} = log({name})")
                self.sites[dname] = Site("observed", dv.shape, "derived data")
                self.features.add("derived-data")
                self.sample(dv, [N], "Normal", [self.loc_expr(ctx), self.scale_expr(ctx)], observed=True)
            return
        # discrete observations
        y = Var(name, "data", (N,), base="int", usable=False)
        if fam in ("Poisson", "PoissonLog", "NegativeBinomial2"):
            self.declare_data(y, "int<lower=0>[N]", [self.rng.randint(0, 6) for _ in range(N.value)], observed=True)
            eta = self.loc_expr(ctx, small=True)
            if fam == "Poisson":
                self.sample(y, [N], "Poisson", [call("exp", eta)], observed=True)
            elif fam == "PoissonLog":
                self.sample(y, [N], "PoissonLog", [eta], observed=True)
            else:
                self.sample(y, [N], "NegativeBinomial2", [call("exp", eta), self.scale_expr(ctx)], observed=True)
        elif fam in ("Bernoulli", "BernoulliLogit"):
            self.declare_data(y, "int<lower=0, upper=1>[N]", [self.rng.randint(0, 1) for _ in range(N.value)],
                              observed=True)
            eta = self.loc_expr(ctx, small=True)
            if fam == "Bernoulli":
                units = [t for t in self.scalar_terms(ctx) if t.unit]
                p = self.pick(units) if units and self.chance(0.3) else call("inv_logit", eta)
                self.sample(y, [N], "Bernoulli", [p], observed=True)
            else:
                self.sample(y, [N], "BernoulliLogit", [eta], observed=True)
        else:
            trials = Var(self.fresh("trials"), "data", (N,), base="int", usable=False)
            tv = [self.rng.randint(1, 8) for _ in range(N.value)]
            self.declare_data(trials, "int<lower=0>[N]", tv)
            self.declare_data(y, "int<lower=0>[N]", [self.rng.randint(0, k) for k in tv], observed=True)
            eta = self.loc_expr(ctx, small=True)
            tn = ix(trials, [n])
            if fam == "BinomialLogit":
                self.sample(y, [N], "BinomialLogit", [tn, eta], observed=True)
            else:
                self.sample(y, [N], "Binomial", [tn, call("inv_logit", eta)], observed=True)

    def observe2(self) -> None:
        """An observed matrix over two plates, Y[n, k] ~ Normal(...), whose location may gather
        (M[group[n], k]) and combine quantities that vary along either plate."""
        A = self.size(self.pick(["N", "N", "J", "T"]))
        B = self.size(self.pick(["K", "D"]))
        Y = Var(self.fresh("Y2"), "data", (A, B), usable=False)
        self.declare_data(Y, f"matrix[{A.src}, {B.src}]", self.real_value((A.value, B.value), 1.5), observed=True)
        self.sample(Y, [A, B], "Normal", [self.loc_expr([A, B]), self.scale_expr([A, B])], observed=True)
        self.features.add("observe:two-plates")

    def c_define2(self) -> None:
        """A definition over two plates."""
        sizes = [s for s in self.sizes.values() if s.src in ("N", "J", "G", "K", "D", "P")]
        if len(sizes) < 2:
            return self.c_define()
        pairs = [(a, b) for a in sizes for b in sizes if a.value != b.value]  # a swapped axis must show
        if not pairs:
            return self.c_define()
        A, B = self.pick(pairs)
        self.define(self.fresh("ew"), [A, B], self.loc_expr([A, B]), local=self.chance(0.4))
        self.features.add("define:two-plates")

    def c_define(self) -> None:
        """A deterministic quantity (reported or local) used by a later observation."""
        r = self.rng.random()
        if r < 0.3:  # a whole vector, or a vector per plate element, through vector functions
            sizes = [s for s in self.sizes.values() if s.src in ("J", "G", "K", "N", "P", "D")]
            for size in self.rng.sample(sizes, len(sizes)):
                outer = [s for s in self.sizes.values() if s.src in ("J", "G") and s != size]
                ctx = [self.pick(outer)] if outer and self.chance(0.4) else []
                e = self.vec_expr(size, ctx)
                if e is not None:
                    self.define(self.fresh("vv"), ctx, e, local=self.chance(0.4))
                    return
        if r < 0.5 and "N" in self.sizes:
            N = self.sizes["N"]
            self.define(self.fresh("eta"), [N], self.loc_expr([N]), local=self.chance(0.4))
        elif r < 0.75:
            self.define(self.fresh("dd"), [], self.loc_expr([]), local=self.chance(0.4))
        else:
            sizes = [s for s in self.sizes.values() if s.letter not in ("t",)] or [self.size("J")]
            S = self.pick(sizes)
            self.define(self.fresh("ev"), [S], self.loc_expr([S]), local=self.chance(0.4))

    def c_target(self) -> None:
        terms = [t for t in self.scalar_terms([]) if not t.shape]
        vecs = [ref(v) for v in self.vars.values() if v.usable and v.base == "real" and len(v.dims) == 1
                and v.role in ("param", "latent", "det", "local")]
        r = self.rng.randrange(6)
        if r >= 4 and "N" in self.sizes and "K" in self.sizes:
            self.c_mixture()
        elif r == 0 and terms:
            self.target(lpdf("Normal", self.pick(terms), num(0), num(self.pick([1, 3]))))
        elif r == 1 and vecs:
            v = self.pick(vecs)
            self.target(lpdf("Normal", v, num(0), num(2)))
        elif r == 2 and terms:
            t = self.pick(terms)
            self.target(binop("*", num(-0.5), call("square", binop("/", t, num(2)))))
        elif r == 3 and vecs:
            v = self.pick(vecs)
            self.target(call(self.pick(["sum", "log_sum_exp"]), binop("*", num(-0.1), call("square", v))))
        else:
            self.target(lpdf("StudentT", self.pick(terms) if terms else num(0.5), num(3), num(0), num(1)))

    def c_mixture(self) -> None:
        """A finite mixture marginalised with log_sum_exp over a simplex's log weights."""
        N, K = self.sizes["N"], self.sizes["K"]
        ws = [v for v in self.vars.values() if v.unit and v.dims == (K,) and v.pos]
        if not ws:
            self.m_simplex()
            ws = [v for v in self.vars.values() if v.unit and v.dims == (K,) and v.pos]
        w = self.pick(ws)
        locs = [v for v in self.vars.values() if v.usable and v.base == "real" and v.dims == (K,) and v is not w]
        if not locs:
            self.m_ordered() if self.chance(0.5) else self.m_hier(K)
            locs = [v for v in self.vars.values() if v.usable and v.base == "real" and v.dims == (K,) and v is not w]
        mloc = self.pick(locs)
        y = Var(self.fresh("ymix"), "data", (N,), usable=False)
        self.declare_data(y, self.type_src("real", (N,)), self.real_value((N.value,), 2))
        n = idx_var(N.letter)
        comp = binop("+", call("log", ref(w)), lpdf("Normal", ix(y, [n]), ref(mloc), self.scale_expr([])))
        lp = self.define(self.fresh("lp"), [N], call("log_sum_exp", comp), local=self.chance(0.5))
        self.target(call("sum", ref(lp)))
        self.features.add("mixture")

    def c_generated(self) -> None:
        if "N" in self.sizes and self.sizes["N"].letter in self.anchored and self.chance(0.5):
            N = self.sizes["N"]
            self.body.append(f"generated {self.fresh('y_rep')}[{N.letter}] ~ Normal({self.loc_expr([N]).src}, 1)")
        else:
            self.body.append(f"generated {self.fresh('gq')} = {self.loc_expr([]).src}")
        self.features.add("generated")

    def anchor(self) -> None:
        """Undeclared left sides whose index occurs nowhere on a declared array: add a measurement of
        them, ``z[j] ~ Normal(theta[j], se[j])`` with data se (as Eight Schools fixes n's range)."""
        for letter, (size, var) in list(self.needs_anchor.items()):
            if letter in self.anchored:
                continue
            z = Var(self.fresh("z" + size.src.lower()), "data", (size,), usable=False)
            self.declare_data(z, self.type_src("real", (size,)), self.real_value((size.value,)), observed=True)
            se = self.covariate(size, "se", positive=True)
            i = idx_var(letter)
            at = [i] + [inum(1)] * (len(var.dims) - 1) if var.dims and var.dims[0].src == size.src else None
            if at is None:
                loc = ix(var, [inum(1)] * (len(var.dims) - 1) + [i]) if var.dims and var.dims[-1].src == size.src \
                    else ref(var) if not var.dims else num(0)
            else:
                loc = ix(var, at)
            self.sample(z, [size], "Normal", [loc, ix(se, [i])], observed=True)
            self.features.add("anchor-elsewhere")

    # ---------------------------------------------------------------- the whole program
    def build(self) -> Program:
        motifs = [self.m_scalar, self.m_positive, self.m_bounded, self.m_hier, self.m_positive_vector,
                  self.m_groups, self.m_regression, self.m_simplex, self.m_ordered, self.m_lkj, self.m_matrix,
                  self.m_loop, self.m_lag]
        weights = [3, 4, 2, 3, 1, 3, 3, 2, 2, 2, 1, 0.6, 0.6]  # loops are rarer: each compiles a lax.scan
        self.m_positive()
        for _ in range(self.rng.randint(1, 3)):
            self.rng.choices(motifs, weights)[0]()
        consumers = [self.observe, self.observe, self.observe, self.observe2, self.c_define, self.c_define,
                     self.c_define2, self.c_target]
        for _ in range(self.rng.randint(1, 2)):
            self.pick(consumers)()
        if self.chance(0.5) or "N" not in self.sizes:
            self.observe()
        self.anchor()
        if self.chance(0.15):
            self.c_generated()
        source = "\n".join(self.decls + self.body) + "\n"
        starts, line = [], len(self.decls) + 1
        for stmt in self.body:
            starts.append(line)
            line += stmt.count("\n") + 1
        terms = []
        for i, src, lp, sites, kind in self.terms:
            sites = tuple(f"_pp_target_{starts[i]}" if x == "_pp_target_" else x for x in sites)
            terms.append(Term(src, lp, starts[i], sites, kind))
        params = {k: np.asarray(v, float) for k, v in self.params.items()}
        data = {k: v for k, v in self.data.items()}
        return Program(self.seed, source, data, params, dict(self.sites), dict(self.deterministic),
                       float(sum(t.lp for t in terms)), terms, set(self.features))


def _shape_of_expr(value: Ex, plates: list[Size]) -> str:
    """A coarse description of a definition, for grouping failures."""
    parts = [f"over {len(plates)} plate(s)" if plates else "whole"]
    if "matmul" in value.tags:
        parts.append("with @ / dot_product")
    if "gather" in value.tags:
        parts.append("with gathers")
    return " ".join(parts)


def generate(seed: int) -> Program:
    """The program of ``seed`` (deterministic)."""
    return _Builder(seed).build()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Print generated pplang programs with their data and reference values.")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first program")
    ap.add_argument("--show", type=int, default=1, help="how many consecutive seeds to print")
    args = ap.parse_args(argv)
    for s in range(args.seed, args.seed + args.show):
        print(generate(s).show())
        print()


if __name__ == "__main__":
    main()
