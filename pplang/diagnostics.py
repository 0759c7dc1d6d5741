"""Diagnostics: a catalogue of problem codes and the one renderer that prints them.

Every problem pplang reports is a :class:`Diagnostic` carrying a catalogued ``code``, a message, a
source span and an optional ``help`` line. Stages raise :class:`PplangError` holding one or more
diagnostics; the CLI renders them in the full form (rustc-like) or the concise one-line form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir import NO_SPAN, Span

# code -> (one-line summary, longer explanation)
CATALOGUE: dict[str, tuple[str, str]] = {
    "syntax-error": (
        "the text is not valid pplang syntax",
        "The parser met a token it did not expect. The message says what it expected instead. "
        "Statements end at the end of a line; inside parentheses or brackets a statement may "
        "span several lines.",
    ),
    "unknown-name": (
        "a name is used that is not declared or defined",
        "Every name must be declared (`data y: real[J]`, `param beta: vector[K]`) or defined by a "
        "sampling statement (`mu ~ Normal(0, 1)`) or a definition (`theta = ...`) before it is used.",
    ),
    "unknown-distribution": (
        "a sampling statement names a distribution pplang does not know",
        "The right side of `~` must be a distribution from the registry (`pplang explain "
        "distributions` lists them). Names are case-sensitive: `Normal`, not `normal`.",
    ),
    "unknown-function": (
        "an expression calls a function pplang does not know",
        "Functions come from pplang's function table (exp, log, sqrt, inv_logit, ...).",
    ),
    "bad-arguments": (
        "a distribution or function got the wrong number or names of arguments",
        "Arguments are positional in the order of the parameter names, or given by keyword using "
        "NumPyro's parameter names (`Normal(loc=0, scale=1)`).",
    ),
    "unbound-index": (
        "an index variable has no known range",
        "An index on the left side of a statement (`theta[n] ~ ...`) ranges over the size of the "
        "variable it indexes. pplang takes that size from the variable's declaration, or from a "
        "declared array indexed by the same index elsewhere in the statement or the model. Declare "
        "the variable (`param theta: real[J]`) to fix the range.",
    ),
    "shape-mismatch": (
        "sizes of arrays disagree",
        "Element-wise operations and plates need arrays of the same declared size.",
    ),
    "duplicate-definition": (
        "a name is declared, sampled or defined twice",
        "Each quantity gets one declaration and at most one distribution or definition.",
    ),
    "reparam-on-observed": (
        "a parameterisation annotation is used on an observed statement",
        "`noncentered` changes how a latent variable is sampled; observed data is not sampled, so "
        "the annotation has no meaning there. Remove it.",
    ),
    "reparam-unsupported": (
        "the distribution cannot be non-centred",
        "`noncentered`, `partial(c)` and `auto` apply to location-scale families with real "
        "support (Normal, StudentT, Cauchy, Laplace, Logistic). `auto` also needs something to "
        "choose: the statement's location or scale must depend on another parameter (as in "
        "`theta[n] ~ Normal(mu, tau)`); otherwise centred and non-centred are the same model.",
    ),
    "auto-reparam": (
        "a note about the parameterisation `auto` chose",
        "`auto` (an annotation, `pplang run --reparam auto`, `Model.sample(..., reparam=\"auto\")`) "
        "chooses, per site and per group, between centred, non-centred and partial centring from "
        "the data before sampling: a short mean-field fit gives each group's information and the "
        "group scale, the formula lambda = tau^2 / (tau^2 + s^2) proposes a centring per group, and "
        "the candidates (all centred, all non-centred, per group) are compared by their ELBO. The "
        "choice is cached by model and data. This note says when there was nothing to choose or "
        "the measurement failed (the site is then sampled centred).",
    ),
    "invalid-lhs": (
        "the left side of a statement is not something that can be sampled or defined",
        "The left side is a name, optionally indexed by index variables (`theta[n]`).",
    ),
    "invalid-type": (
        "a declaration's type is not valid for its role",
        "Data may be int or real (arrays of them, vectors, matrices); parameters are real-valued.",
    ),
    "number-out-of-range": (
        "a number in the model is too large to be represented",
        "Reals must be finite in double precision (within +-1.8e308) and integers exact (within "
        "+-2^53); `1e999` would silently become infinity. The same holds for data: an `int` field "
        "must fit a 64-bit integer (a 32-bit one in a single-precision run), never wrapping around "
        "to a negative number; a whole number above 2^53 given for a `real` field is rounded, with a "
        "warning.",
    ),
    "index-out-of-range": (
        "an index lies outside the dimension it indexes",
        "Indices are 1-based: an index into a dimension of size G must lie in 1..G. Integer data used "
        "as an index (`a[group[i]]`) is checked against the data before sampling; 0-based codes "
        "(0..G-1) must be shifted by one (`group + 1` in the data, or `a[group[i] + 1]`).",
    ),
    "unused-elements": (
        "some elements of a parameter are never used by the model",
        "A parameter whose size was inferred from an index (`a[i] ~ ...` with i over N) but that "
        "is only read through another index (`a[group[i]]`, codes 1..G) has elements that no "
        "likelihood touches: they are sampled from the prior alone. Declare it with the size of "
        "the index it is read with (`param a: real[G]`).",
    ),
    "jacobian": (
        "a distribution is given to a non-linear function of parameters",
        "`x ~ D` where x is defined from parameters (`x = exp(a)`) adds D's log density at x to the "
        "target. That makes x follow D only if the log absolute Jacobian of the transform is added "
        "too (`target += a` for x = exp(a)). A quantity that reads data, like a residual "
        "`err[t] = y[t] - mu`, is a likelihood term and needs no Jacobian, so pplang does not warn there.",
    ),
    "missing-data": (
        "the data file lacks a declared field",
        "Every `data` declaration needs a value in the data file.",
    ),
    "data-type": (
        "a data value has the wrong type",
        "An `int` declaration needs whole numbers; a `real` declaration needs numbers.",
    ),
    "data-shape": (
        "a data value has the wrong shape or length",
        "The value must have the sizes written in the declaration (`real[J]` needs J numbers).",
    ),
    "data-constraint": (
        "a data value breaks its declared bounds",
        "Values must satisfy the declaration's `<lower=..., upper=...>` bounds.",
    ),
    "data-not-finite": (
        "a data value is NaN or infinite",
        "Data must be finite numbers.",
    ),
    "data-file": (
        "the data file cannot be read",
        "Data files are JSON objects mapping each declared name to a number or nested lists.",
    ),
    "no-data-file": (
        "the model declares data but no data file was found",
        "Pass `--data FILE`, or put a JSON file with the model's name next to it "
        "(`model.ppl` -> `model.json`).",
    ),
    "file-not-found": ("the model file cannot be read", "Check the path."),
    "generated-in-model": (
        "a model statement uses a generated quantity",
        "`generated` statements are computed once per posterior draw, after sampling, from the "
        "model's data, parameters and deterministic quantities (Stan's generated quantities). They "
        "are not part of the model's density, so the model cannot read them: the dependence goes "
        "one way. To use the value in the model, define it without `generated`.",
    ),
    "recursive-function": (
        "a user-defined function calls itself, or a function defined after it",
        "A function (`def f(x) = ...`) is expanded at each call, so it may call only the functions "
        "defined above it: no recursion, direct or through another function. Move the callee's `def` "
        "above its caller; write a recursion over time as a `for` loop in the model.",
    ),
    "unsupported": (
        "a construct is valid syntax but not supported yet",
        "The message names the construct. Please report the model that needs it.",
    ),
    "initial-point": (
        "the sampler cannot start: the log density is not finite at the initial point",
        "NUTS starts from random values of the parameters (uniform in (-2, 2) on the unconstrained "
        "scale) or from `--init`, and needs a finite log density and gradient there. The message names "
        "the first statement whose log density is not finite at such a point, with the values involved: "
        "typically a scale of 0 or one so small that its square overflows (1e-30 in 32-bit floats), "
        "`target += log(x)` of a negative x, or data outside the distribution's support. Fix the "
        "statement or the data, give starting values with `--init`, or compute in 64-bit floats "
        "(`--float64`) when a number is at the edge of 32-bit range.",
    ),
    "data-precision": (
        "a data value cannot be represented in 32-bit precision",
        "`pplang run` computes in 32-bit floats unless `--float64` is given. Their range is about "
        "1.4e-45 to 3.4e38: a real data value beyond it becomes infinite, a nonzero one below it becomes "
        "0 (a scale of 0, a log of 0), and an int beyond 2^31 wraps around. The value is refused before "
        "sampling; run with `--float64` (`Model.sample(..., float64=True)`) or rescale the data.",
    ),
    "size-too-large": (
        "a size is too large to allocate",
        "Sizes are computed from the data before anything runs. One array (a data item, a parameter, "
        "an index set) holds at most 2^31 - 1 elements, the most JAX can index; a larger size, or an "
        "integer power too large to compute (`N ^ N ^ N`), is refused at its size expression or "
        "declaration. Check the data's sizes and the size expression.",
    ),
    "cache": (
        "the compilation cache cannot be used, or was repaired",
        "pplang keeps compiled samplers in JAX's persistent compilation cache ($PPLANG_CACHE_DIR, else "
        "$XDG_CACHE_HOME/pplang/jax, else ~/.cache/pplang/jax). It holds native code that is loaded and "
        "run, so a path that is a file, a directory owned by another user or one that others can write "
        "to is not used: the run goes on uncached. Entries JAX cannot read are removed after the run "
        "that met them, so the next run stores them afresh. The cache is capped at "
        "$PPLANG_CACHE_MAX_SIZE (default 1G; least recently used entries go first). `pplang cache info` "
        "shows it and `pplang cache clear` empties it; `--no-cache` runs without it.",
    ),
    "runtime-error": (
        "evaluating the model failed",
        "An error occurred while running the compiled model; the message names the statement.",
    ),
    "divergent-transitions": (
        "some NUTS transitions diverged",
        "A divergence means the numerical integrator met curvature it could not follow; the draws "
        "near that region are missing, so estimates may be biased. The usual cures are a "
        "non-centred parameterisation (`noncentered`) or a higher target acceptance rate "
        "(`pplang run --target-accept 0.95`, `Model.sample(..., target_accept=0.95)`; Stan's adapt_delta), "
        "which takes smaller steps.",
    ),
    "funnel-reparam": (
        "a centred hierarchical statement forms a funnel with its scale",
        "`theta[n] ~ Normal(mu, tau)` with a latent `tau` makes the posterior a funnel: when tau "
        "is small, theta is squeezed and the sampler diverges. Adding `noncentered` samples "
        "standardised theta instead (theta = mu + tau * z), which removes the funnel.",
    ),
    "high-rhat": (
        "R-hat above 1.01: the chains have not converged to the same distribution",
        "Rank-normalised split R-hat compares chains; values above 1.01 mean the chains disagree.",
    ),
    "non-finite-summary": (
        "a quantity's draws are too large or undefined to summarise: the chains have not converged",
        "The mean, sd, R-hat or effective sample size of the quantity is infinite or NaN: its draws run "
        "off toward infinity (1e27 and beyond) instead of settling on a distribution. The usual cause is "
        "an improper posterior: a parameter with no prior (flat over its support) that the data do not "
        "pin down, so no distribution exists to sample. Give it a proper prior; otherwise rescale the "
        "data or run with `--float64` if its values overflow 32-bit floats.",
    ),
    "nan-draws": (
        "a quantity is NaN in some or all draws",
        "A deterministic or generated quantity evaluated to NaN: its expression applies a function "
        "outside its domain (the log or sqrt of a negative number, 0 / 0, inf - inf) at the sampled "
        "values. The warning names the statement that computes it; its summary shows `-`.",
    ),
    "low-ess": (
        "few effective draws for some quantities",
        "Bulk ESS measures the information about the centre of a distribution, tail ESS about its "
        "5% and 95% quantiles; below 100 per chain the estimates are too noisy to trust.",
    ),
    "max-treedepth": (
        "transitions hit the maximum tree depth",
        "NUTS stopped doubling its trajectory at the depth limit. This costs time and suggests "
        "strong correlations or badly scaled parameters.",
    ),
    "low-ebfmi": (
        "low energy Bayesian fraction of missing information",
        "E-BFMI below 0.3 means the momentum resampling barely changes the energy level, so the "
        "sampler explores the tails slowly (heavy tails or funnels).",
    ),
    "negative-scale": (
        "a scale (or rate, shape, df) argument can be negative",
        "The argument's declared support includes negative values; the density is undefined there "
        "and sampling fails or silently rejects. Declare it with <lower=0> or give it a positive "
        "distribution (HalfNormal, Exponential, ...).",
    ),
    "uniform-bounds": (
        "a Uniform prior's bounds differ from the parameter's declared bounds",
        "With `param p: real<lower=a, upper=b>` and `p ~ Uniform(c, d)`, the sampler explores "
        "(a, b) but the prior is zero outside (c, d). Make the two agree.",
    ),
    "prior-support": (
        "a prior is zero on part of the parameter's declared support",
        "With `param x: real` and `x ~ Exponential(1)` the sampler explores the whole real line but "
        "the prior is zero below 0: every proposal there is rejected and counted as a divergence. "
        "Declare the parameter with the prior's support (`real<lower=0>`, `positive_ordered`).",
    ),
    "unused-data": (
        "a data item is declared but never used",
        "Declared data that no statement uses is probably a typo or left over; remove it.",
    ),
    "improper-prior": (
        "a parameter has no prior: its density is flat over its support",
        "A declared parameter without a sampling statement gets an improper flat prior over its "
        "declared support (as in Stan). The posterior may still be proper; if not, sampling fails "
        "to converge. Add a prior unless the flat one is intended.",
    ),
    "reserved-name": (
        "a name is reserved",
        "Language keywords and names the generated code relies on cannot be used as model names.",
    ),
    "fit-file": (
        "a saved fit cannot be read",
        "`pplang predict --fit` and `pplang plot` read the ArviZ netCDF file (`.nc`) written by "
        "`pplang run --output FILE.nc`. Check the path; CSV files cannot be read back.",
    ),
    "fit-mismatch": (
        "a saved fit does not match the model or the new data",
        "Prediction reuses the fitted draws of every latent variable, so the model must be the one "
        "that was fitted and the sizes that shape its latents must not change (a hierarchical "
        "model's group count, say); only the sizes of observations and covariates may.",
    ),
    "output-format": (
        "an output file has a suffix pplang cannot write",
        "`--output` takes `FILE.nc` (ArviZ InferenceData, netCDF) or `FILE.csv` (one column per "
        "quantity); plots take `.png`, `.svg` or `.pdf`; graphs `.dot`, `.png`, `.svg` or `.pdf`.",
    ),
    "output-path": (
        "an output file cannot be written where it was asked for",
        "`-o`/`--output` must name a file (not a directory) in a directory that exists and is "
        "writable. pplang checks this before compiling or sampling, so a finished run is never "
        "lost to a mistyped path: create the directory first (`mkdir -p results`).",
    ),
    "plot-error": (
        "the requested plot cannot be drawn from this file",
        "A `ppc` plot needs the posterior_predictive group (`pplang run --predict --output FILE.nc`); "
        "`--vars` must name variables of the posterior.",
    ),
    "graphviz-missing": (
        "drawing a graph as an image needs Graphviz's `dot`",
        "`pplang graph` always writes DOT text (`-o model.dot` or standard output). PNG, SVG and PDF "
        "are drawn by Graphviz's `dot` program: install Graphviz (`apt-get install graphviz`).",
    ),
    "bad-setting": (
        "a sampler setting is out of range",
        "`--chains`, `--samples`, `--thin` and `--max-tree-depth` must be at least 1, `--warmup` at "
        "least 0, `--thin` at most `--samples`, and `--target-accept` (NUTS's target acceptance "
        "probability, Stan's adapt_delta) strictly between 0 and 1. Counts are at most 2^31-1, "
        "`--max-tree-depth` at most 30, and seeds fit a 64-bit integer (what jax.random.PRNGKey "
        "takes). A malformed or unknown flag of any command is this error too. The same rules hold "
        "for `Model.sample(...)`. Nothing is compiled or sampled until the settings are valid.",
    ),
    "shard-unsupported": (
        "--shard-data cannot split this model's rows",
        "`--shard-data` splits the rows of the data plate that observed statements run over (`y[n] ~ "
        "...` for n in 1:N) across devices. It needs every use of row-shaped data, or of a quantity "
        "defined per row, to be indexed by the row index (`X[n]`, not `X` or `mean(y)`) inside an "
        "observed statement or a definition over the rows; no parameter, `target +=`, `for` loop or "
        "missing data over the rows; and the row count used only as a size. Otherwise the run goes "
        "on unsharded, on one device, with this warning naming the statement.",
    ),
    "distributed-start": (
        "the processes of a multi-process run could not connect",
        "`--coordinator HOST:PORT --num-processes P --process-id I` starts `jax.distributed`: process 0 "
        "listens at HOST:PORT and the others connect to it, within five minutes. Every process must be "
        "given the same coordinator address and process count and its own id in 0..P-1; the port must "
        "be free on process 0's host and reachable from every other.",
    ),
    "bad-init": (
        "an initial value cannot be used",
        "`--init` takes a JSON object (a file, or inline: `--init '{\"mu\": 0, \"tau\": 1}'`) mapping "
        "latent parameters to starting values on their natural (constrained) scale; every chain "
        "starts there, and parameters left out start at random as usual. A value must have the "
        "parameter's shape (or be one number, used for every element) and lie in its support. A "
        "non-centred latent is sampled as its standardised version: give `theta_decentered`.",
    ),
    "unknown-var": (
        "`--vars` names a quantity the model does not report",
        "`--vars` chooses the rows of the summary: a latent, deterministic or generated quantity "
        "(`theta`, all its elements) or one element (`theta[3]`, 1-based).",
    ),
    # the approximate methods (pplang optimize, laplace, variational, pathfinder): pplang/approx_diagnostics.py
    "approximation-unreliable": (
        "an approximate method's answer is unreliable for this posterior (Pareto k-hat > 0.7)",
        "`pplang laplace`, `variational` and `pathfinder` replace the posterior by a simpler "
        "distribution q (a normal on the unconstrained scale); `pplang optimize` by one point. pplang "
        "checks that replacement: it draws from q (for a point estimate, a normal with the posterior's "
        "curvature at the point) and looks at the importance ratios p(theta, y) / q(theta). The shape k "
        "of their right tail (Pareto smoothed importance sampling, Vehtari et al. 2024) says how badly "
        "q misses mass the posterior has: below 0.5 q covers it; 0.5 to 0.7 is doubtful; above 0.7 the "
        "posterior has regions or tails that q hardly ever visits, and the means, sds and intervals of "
        "q can be far off (hierarchical models such as eight schools, whose scale parameter has a long "
        "tail toward 0, are the usual case). Sample the posterior with NUTS instead: `pplang run MODEL`.",
    ),
    "approximation-biased": (
        "an approximate method's mean (or point estimate) is away from the posterior mean",
        "Where the Pareto k-hat says the importance weights can be trusted (k <= 0.7), the draws of the "
        "approximation, weighted by posterior / approximation (Pareto-smoothed), estimate the posterior's "
        "mean and sd of every quantity. When the approximation's own mean (or a point estimate: a mode) is "
        "more than 0.2 of those sds away, the approximation has the right region but the wrong shape: a "
        "skewed posterior (scales, rates), or a mode that is not the mean. The message names the quantity "
        "furthest off. Sample the posterior with `pplang run MODEL`.",
    ),
    "approximation-doubtful": (
        "an approximate method's answer is doubtful for this posterior (0.5 < Pareto k-hat <= 0.7)",
        "The importance ratios between the posterior and the approximation have a heavy right tail: "
        "the approximation covers the bulk but not all of the tails. Means are often usable; sds and "
        "intervals may be too narrow. Compare with `pplang run MODEL` before relying on them "
        "(`pplang explain approximation-unreliable` describes the check).",
    ),
    "optimizer-not-converged": (
        "the optimiser stopped before meeting its convergence tests",
        "L-BFGS stops when the gradient, the change in the log density or the change in the "
        "parameters falls below Stan's tolerances; Adam when the gradient's largest element falls "
        "below 1e-3. Stopping at the iteration limit, or where the log density stopped being finite, "
        "means the point may not be the mode: raise `--iter`, try `--restarts 4`, or look for a "
        "density that keeps rising toward a bound (`mode-at-boundary`).",
    ),
    "mode-at-boundary": (
        "the mode sits at a parameter's bound",
        "The density keeps increasing toward a constraint's bound, as for the scale of a "
        "hierarchical model (eight schools' tau -> 0): the maximum is on the edge, not inside, and a "
        "point there says little about the posterior, whose mass lies away from it. The mode on the "
        "unconstrained scale (`pplang optimize --jacobian`, `pplang laplace`) includes the log "
        "Jacobian, which pushes it away from the bound; `pplang run` samples the whole posterior.",
    ),
    "hessian-not-positive-definite": (
        "the Hessian at the mode is not positive definite",
        "At a strict maximum the Hessian of the negative log density is positive definite, and its "
        "inverse is the covariance of the Laplace (normal) approximation. A zero or negative "
        "eigenvalue means a flat or saddle direction (a boundary mode, a non-identified parameter): "
        "there is no normal approximation centred there. pplang still draws, with the eigenvalues' "
        "absolute values, so that the Pareto k-hat can judge the result; do not rely on it.",
    ),
    "elbo-not-converged": (
        "variational inference stopped while the ELBO was still improving",
        "pplang compares the mean ELBO over the last 10% of the SVI steps with the 10% before; a "
        "change larger than twice its Monte Carlo noise (and than 0.1% of the ELBO) means the fit "
        "had not settled. Raise `--iter` or lower `--learning-rate`.",
    ),
    "restarts-disagree": (
        "optimisation from different starting points found different optima",
        "With `--restarts K` the optimiser starts from K random points and reports the best. When "
        "runs that converged reach different log densities, the posterior has several modes (or "
        "ridges), and one mode summarises it badly: sample it with `pplang run`.",
    ),
    "enumeration": (
        "a discrete latent variable is used in a way enumeration cannot sum out",
        "A discrete latent with finitely many values (Bernoulli, Categorical, DiscreteUniform, Binomial "
        "with a data count) is summed out exactly: every statement that reads it is evaluated at all of its "
        "values at once (NumPyro's parallel enumeration). So `z[n]` may be read element by element, inside "
        "statements over the same index set n, by sampling statements and definitions; not inside a `for` "
        "loop, in `target +=`, by a non-centred site, or by a constant index (`z[1]`). Its bounds (and a "
        "Binomial's count) must be known before sampling. Discrete latents with infinitely many values "
        "(Poisson, NegativeBinomial) cannot be enumerated: marginalise them by hand over a truncated range.",
    ),
    "hidden-markov": (
        "a hidden Markov chain is used in a way the forward algorithm cannot sum out",
        "A chain written `z[1] ~ Categorical(rho)` and, in `for t in 2:T`, `z[t] ~ Categorical(Gamma[z[t - 1]])` "
        "is summed out exactly by the forward algorithm, with the observations that read `z[t]` (`y[t] ~ "
        "Normal(mu[z[t]], sigma)`, or one element `z[1]`). Its step may read only the element before it, "
        "`z[t - 1]`; the chain may be read only by observations (not by a parameter's prior, a definition, "
        "`target +=` or a generated quantity), and one statement may read only one chain.",
    ),
    "enumeration-size": (
        "enumerating discrete latents would build very large tensors",
        "A statement that reads several enumerated latents is evaluated at every combination of their "
        "values, for every element of its plates: the tensor has the product of those sizes. Large ones "
        "make sampling slow or run out of memory. Reduce the number of values, or marginalise by hand.",
    ),
    "missing-value": (
        "a data value is missing (null) where pplang cannot impute it",
        "JSON `null` marks a missing value. Missing entries of data that the model gives a distribution "
        "(`x[i] ~ Normal(mu_x, sigma_x)`) are imputed: each becomes a parameter (reported as `x[4]`), or, "
        "when nothing else reads the data, is left out of the likelihood and drawn from its posterior "
        "predictive. A covariate without a distribution, a size, an index or data used by derived data "
        "cannot be imputed: give it a distribution, or drop the rows. NaN is not a missing value marker: "
        "write null.",
    ),
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem: catalogued ``code``, ``message``, ``span`` in ``file``, optional ``help``,
    and ``severity`` ("error" or "warning")."""

    code: str
    message: str
    span: Span = NO_SPAN
    help: str | None = None
    severity: str = "error"
    file: str | None = None

    def __post_init__(self) -> None:
        assert self.code in CATALOGUE, f"uncatalogued diagnostic code {self.code!r}"


@dataclass
class PplangError(Exception):
    """Raised by any stage with the diagnostics it found. ``source``/``file`` let the renderer
    show the offending line; the driver fills them in when the stage did not know them."""

    diagnostics: list[Diagnostic]
    source: str | None = None
    file: str | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return render_all(self.diagnostics, self.source, self.file, concise=True)


class InternalError(Exception):
    """An exception pplang cannot explain at a model statement: a bug in pplang. The message says
    what was raised and where; ``__cause__`` is the original exception (``--debug`` prints it)."""


def exception_text(exc: BaseException) -> str:
    """``TypeError: the first line of its message``; the class name alone when it has none."""
    msg = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {msg[0]}" if msg and msg[0] != type(exc).__name__ else "")


def error(code: str, message: str, span: Span = NO_SPAN, help: str | None = None) -> PplangError:
    """Shorthand for an error with a single diagnostic."""
    return PplangError([Diagnostic(code, message, span, help)])


SHOWN = 100  # at most this many characters of a source line are shown


def printable(text: str) -> str:
    """``text`` with every character that is not printable (a newline, an ANSI escape, a
    bidirectional override) written as its Python escape, so that a name or value from a user's
    file cannot forge an ``error[...]`` line or recolour the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render(diag: Diagnostic, source: str | None, file: str | None, concise: bool = False) -> str:
    """Render one diagnostic in the full (default) or concise form. The message, help and path
    are escaped (:func:`printable`): they hold names and values from the user's files."""
    path = printable(diag.file or file or "<string>")
    span = diag.span
    where = f"{path}:{span.line}:{span.column}" if span.line else path
    if concise:
        return f"{where}: {diag.severity}: {printable(diag.message)}  [{diag.code}]"
    out = [f"{diag.severity}[{diag.code}]: {printable(diag.message)}", f"  --> {where}"]
    lines = source.splitlines() if source is not None else []
    if span.line and 0 < span.line <= len(lines):
        text = lines[span.line - 1].expandtabs(1)
        gutter = " " * len(str(span.line))
        if span.end_line == span.line and span.end_column > span.column:
            width = span.end_column - span.column
        else:
            width = max(1, len(text.rstrip()) - span.column + 1)
        column = span.column
        if len(text) > SHOWN:  # a long line (minified JSON): the part around the column
            start = max(0, column - 1 - SHOWN // 3)
            text = ("..." if start else "") + text[start:start + SHOWN] + "..."
            column = column - start + (3 if start else 0)
            width = min(width, SHOWN - (column - 1))
        out += [
            f"{gutter} |",
            f"{span.line} | {printable(text)}",
            f"{gutter} | {' ' * (column - 1)}{'^' * max(1, width)}",
        ]
    if diag.help:
        out.append(f"help: {printable(diag.help)}")
    return "\n".join(out)


def render_all(diags: list[Diagnostic], source: str | None, file: str | None, concise: bool = False) -> str:
    sep = "\n" if concise else "\n\n"
    return sep.join(render(d, source, file, concise) for d in diags)


def explain(code: str) -> str:
    """The catalogue entry for ``code`` as printed by ``pplang explain``."""
    summary, details = CATALOGUE[code]
    return f"{code}: {summary}\n\n{details}"
