"""Runtime: the compiled model (executing the generated module), NUTS/MCMC and predictive draws.
Data validation lives in :mod:`pplang.data`, the draws and their summary in :mod:`pplang.posterior`
(both re-exported here).

JAX and NumPyro are imported only here, and only when a model is actually run, so ``pplang
check`` and ``pplang compile`` stay fast.
"""

from __future__ import annotations

import re
import time
import traceback
from pathlib import Path

import numpy as np

from . import ir
from .spec import Method, Role, Spec
from .diagnostics import Diagnostic, InternalError, PplangError, exception_text
from .lower_numpyro import Lowered
from .data import _fmt_index, const_eval, prepare_data, read_data_file, run_int_range  # noqa: F401 - re-exported
from .posterior import (Posterior, _flatten_chains, check_vars, flat_names, format_summary,  # noqa: F401
                        precision, select_rows)
from . import reuse
from .settings import CHAIN_METHODS, DEFAULTS, Placement, SamplerSettings  # noqa: F401 - CHAIN_METHODS re-exported

DECENTERED = "_decentered"  # NumPyro's auxiliary site of a LocScaleReparam: theta -> theta_decentered
# NUTS statistics kept per draw (ArviZ's sample_stats); collecting them does not change the draws
EXTRA_FIELDS = ("diverging", "num_steps", "energy", "potential_energy", "accept_prob", "adapt_state.step_size")


def _flat_prior_site(exc: BaseException) -> str | None:
    """The name of the site whose flat prior raised ``exc``: NumPyro's ImproperUniform (a
    ``param`` without a ``~`` statement) has a density but no sampler, so drawing from the prior
    raises a bare NotImplementedError. None when ``exc`` is something else."""
    if not isinstance(exc, NotImplementedError):
        return None
    from numpyro.distributions import ImproperUniform

    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    if not frames or not isinstance(frames[-1].f_locals.get("self"), ImproperUniform):
        return None
    for frame in reversed(frames):  # numpyro.sample(name, fn): the innermost call that drew it
        if (frame.f_globals.get("__name__") == "numpyro.primitives" and frame.f_code.co_name == "sample"
                and isinstance(frame.f_locals.get("fn"), ImproperUniform)):
            return str(frame.f_locals.get("name"))
    return None


def _start(model, mcmc, kwargs: dict, init_values: dict | None, seed: int) -> None:
    """``mcmc.run``; NumPyro's failure to find a finite initial point becomes a located
    ``initial-point`` error (:mod:`pplang.initcheck`)."""
    import jax

    from .initcheck import explain_failed_start, is_failed_start

    try:
        mcmc.run(jax.random.PRNGKey(seed), extra_fields=EXTRA_FIELDS, **kwargs)
    except RuntimeError as exc:
        if not is_failed_start(exc):
            raise
        raise explain_failed_start(model, kwargs, init_values, seed) from None


def _without(spec: Spec, names: set[str]) -> Spec:
    """A view of ``spec`` whose data declarations exclude ``names`` (for prior predictive)."""
    import copy

    view = copy.copy(spec)
    view.symbols = {k: v for k, v in spec.symbols.items() if k not in names}
    return view


class Model:
    """A compiled pplang model. ``python_source`` is the generated NumPyro program; the
    ``numpyro_model`` and ``reparam_config`` attributes execute it (importing JAX) on first use."""

    def __init__(self, source: str, path: str, program: ir.Program, spec: Spec, lowered: Lowered):
        self.source = source
        self.path = path
        self.program = program
        self.spec = spec
        self.checked = spec  # the checked model (older name)
        self.python_source = lowered.source
        self._origins = lowered.origins
        self._namespace: dict | None = None
        self.data_warnings: list[Diagnostic] = []
        self.reparam_notes: list[Diagnostic] = []  # what `auto` has to say (set by resolve)

    @property
    def warnings(self) -> list[Diagnostic]:
        return self.spec.warnings

    def _module(self) -> dict:
        if self._namespace is None:
            namespace: dict = {"__name__": "pplang_generated"}
            try:
                code = compile(self.python_source, self._code_filename, "exec")
            except (SyntaxError, RecursionError, MemoryError) as exc:
                # only nesting beyond Python's own parser limits gets here (e.g. 200 parentheses)
                lineno = getattr(exc, "lineno", None) or 0
                line = self._origins[lineno - 1] if 0 < lineno <= len(self._origins) else 0
                text = self.source.splitlines()[line - 1] if line else ""
                raise PplangError([Diagnostic("syntax-error", "this expression is nested too deeply for Python",
                                              ir.Span(line, 1, line, len(text) + 1),
                                              "split it into several definitions with `local name = ...`")],
                                  source=self.source, file=self.path) from None
            exec(code, namespace)  # the source is generated from the IR: no user text is executed
            self._namespace = namespace
        return self._namespace

    @property
    def _code_filename(self) -> str:
        return f"<pplang:{self.path}>"

    @property
    def numpyro_model(self):
        return self._module()["model"]

    @property
    def reparam_config(self) -> dict:
        return self._module()["reparam_config"]

    @property
    def _as_written(self):
        """The NumPyro model without its reparameterisation: ``theta`` is a sample site again, not
        a deterministic function of ``theta_decentered``. The two define the same distribution;
        runs on posterior draws (replicated data, prediction, log-likelihood, generated
        quantities) use this one, so they need the draws of the model's own quantities only."""
        from numpyro.handlers import reparam

        model = self.numpyro_model
        while isinstance(model, reparam):
            model = model.fn
        return model

    @property
    def auxiliary_sites(self) -> dict[str, str]:
        """NumPyro's sample sites that are no quantity of the model -> the quantity they serve:
        ``{"theta_decentered": "theta"}`` for each reparameterised ``theta`` (LocScaleReparam).
        NumPyro's own draws (:attr:`Posterior.samples`) keep them; no summary, file, plot or message
        shows them."""
        return {f"{name}{DECENTERED}": name for name in self.reparam_config}

    def public(self, arrays: dict) -> dict[str, np.ndarray]:
        """``arrays`` without NumPyro's auxiliary sites and pplang's internal ``_pp*`` sites."""
        hidden = self.auxiliary_sites
        return {k: np.asarray(v) for k, v in arrays.items() if k not in hidden and not k.startswith("_pp")}

    @property
    def reported(self) -> list[str]:
        """Quantities shown in summaries: parameters, latents and deterministics, in model order."""
        return self.spec.reported

    @property
    def generated_names(self) -> list[str]:
        """The generated quantities (``generated`` statements), in model order."""
        return [s.name for s in self.spec.of_role(Role.GENERATED)]

    def prepare_data(self, data: dict | str | Path | None = None, data_file: str | None = None) -> dict:
        """Validate data (a dict or a JSON path) and add the derived data: the model's kwargs."""
        if isinstance(data, (str, Path)):
            data_file = str(data)
            data = read_data_file(data)
        try:
            values, self.data_warnings = prepare_data(self.spec, data or {}, data_file, run_int_range())
        except PplangError as exc:
            exc.source, exc.file = exc.source or self.source, exc.file or self.path
            raise
        derived = self._run_located(lambda: self._module()["transform_data"](**values))
        if self.spec.enum_uses:
            from .discrete import enumeration_warnings

            self.data_warnings += enumeration_warnings(self.spec, lambda e: const_eval(e, values))
        return {**values, **derived}

    def _run_located(self, fn):
        """Run ``fn``; an exception raised in generated code is reported at the .ppl line that
        produced that code. One that cannot be explained so is a bug: :class:`InternalError`. A model
        that solves an ODE runs with NumPyro's argument validation off: a failed solve is NaN, which
        must reject a proposal or an initial point (as in Stan), not raise."""
        try:
            if self.spec.solvers:
                import numpyro

                with numpyro.validation_enabled(False):
                    return fn()
            return fn()
        except PplangError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a located diagnostic, else an internal error
            line = self._model_line(exc)
            diag = self._explain(exc, line)
            if diag is None:
                where = f" while running {self.path}:{line}" if line else ""
                raise InternalError(f"{exception_text(exc)}{where}") from exc
            raise PplangError([diag], source=self.source, file=self.path) from None

    def _model_line(self, exc: BaseException) -> int:
        """The .ppl line of the innermost generated-code frame in ``exc``'s traceback, or 0."""
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == self._code_filename and frame.lineno and frame.lineno <= len(self._origins):
                line = self._origins[frame.lineno - 1] or line
        return line

    def _explain(self, exc: Exception, line: int) -> Diagnostic | None:
        """A diagnostic at ``line`` that says what went wrong, or None when pplang cannot say."""
        if not line:
            return None
        text = self.source.splitlines()[line - 1]
        span = ir.Span(line, 1, line, len(text) + 1)
        flat = _flat_prior_site(exc)
        if flat is not None:
            at = re.search(rf"\b{re.escape(flat)}\b", text)  # the name, as the improper-prior warning marks it
            span = ir.Span(line, at.start() + 1, line, at.end() + 1) if at else span
            prior = next((s for s in self.spec.sites() if s.name == flat and s.method is Method.FLAT), None)
            if prior is not None:  # a prior whose support is not the declared one: a density, not a sampler
                c = prior.type.constraint
                return Diagnostic("improper-prior", f'the prior of "{flat}" is only a density over its declared support '
                                  f"({c}): pplang cannot draw from it",
                                  prior.span, "priors that can be drawn: a distribution whose support is the "
                                  "declared one, with constant bounds (on an ordered or positive_ordered vector: "
                                  "one prior for every element, e.g. `mu ~ Normal(0, 5)`); sampling the posterior "
                                  "(`pplang run` without --prior) works as written")
            return Diagnostic("improper-prior", f'parameter "{flat}" has no prior (its density is flat over its '
                              "support), so it cannot be drawn from the prior", span,
                              f"add a prior to draw from, e.g. `{flat} ~ Normal(0, 10)`; sampling the posterior "
                              "(`pplang run` without --prior) works with the flat prior")
        msg = str(exc).strip()
        if not msg or msg == type(exc).__name__:  # a bare `assert` or `raise NotImplementedError` in a library
            return None
        return Diagnostic("runtime-error", f"{type(exc).__name__}: {msg.splitlines()[0]}", span)

    @property
    def observed(self) -> list[str]:
        """Names of the observed quantities (data on the left of ``~``), in model order."""
        return self.spec.observed

    def predictive_data(self, data: dict | str | Path | None, data_file: str | None = None) -> dict:
        """The model's kwargs for drawing the observed quantities: observed fields are dropped
        from ``data`` (they may be absent) and passed as None; sizes and covariates are checked."""
        observed = set(self.observed)
        if isinstance(data, (str, Path)):
            data_file, data = str(data), read_data_file(data)
        data = {k: v for k, v in (data or {}).items() if k not in observed}
        try:
            values, self.data_warnings = prepare_data(_without(self.spec, observed), data, data_file,
                                                     run_int_range())
        except PplangError as exc:
            exc.source, exc.file = exc.source or self.source, exc.file or self.path
            raise
        # transform_data takes the declared data only: an observed derived quantity (`data z = log(y)`
        # then `z ~ ...`) is computed there and replaced by None like the others
        declared = {s.name for s in self.spec.of_role(Role.DATA)}
        missing = {k: None for k in observed if k in declared}
        derived = self._run_located(lambda: self._module()["transform_data"](**values, **missing))
        return {**values, **derived, **{k: None for k in observed}}

    def prior_predictive(self, data: dict | str | Path | None = None, *, samples: int = 1000, seed: int = 0,
                         float64: bool = False, data_file: str | None = None) -> dict[str, np.ndarray]:
        """Draw every latent, deterministic and observed quantity from the prior: observed data is
        dropped (only sizes and covariates are used), as ``Predictive(model, num_samples)``."""
        from .guards import count_problem, refuse, seed_problem

        refuse([count_problem("samples", samples), seed_problem("seed", seed)])
        import jax
        from numpyro.infer import Predictive

        self._refuse_partial_observations("draw from the prior")
        self._refuse_chains("draw from the prior")
        with precision(float64):
            kwargs = self.predictive_data(data, data_file)
            draws = self._run_located(lambda: Predictive(self.numpyro_model, num_samples=samples)(
                jax.random.PRNGKey(seed), **kwargs, **self._simulate))
        shift = self._offsets(kwargs)  # NumPyro's outcomes -> the model's values (1-based categories)
        return {k: v + shift.get(k, 0) for k, v in self.public(draws).items()}

    @property
    def _simulate(self) -> dict:
        """The model's keyword argument that simulates its hidden Markov chains (their states a
        sample site, their observations ordinary observed sites): for drawing or scoring the
        observations given the states. Empty without chains."""
        from .lower_numpyro import SIMULATE_FLAG

        return {SIMULATE_FLAG: True} if self.spec.chains else {}

    def latent_shapes(self, kwargs: dict, *, as_written: bool = False, states: bool = False) -> dict[str, tuple[int, ...]]:
        """The shape of every latent sample site given the model's kwargs: one trace at NUTS's kind
        of initial values. The sites NUTS samples (``theta_decentered`` for a non-centred
        ``theta``), or with ``as_written`` those of the model as written (``theta``); with
        ``states`` also the states of its hidden Markov chains (the model simulating them)."""
        import jax
        from numpyro import handlers
        from numpyro.infer.initialization import init_to_uniform

        # values in each site's support, as NUTS's initialisation draws them: works for flat priors
        model = handlers.substitute(handlers.seed(self._as_written if as_written else self.numpyro_model,
                                                  jax.random.PRNGKey(0)), substitute_fn=init_to_uniform)
        extra = self._simulate if states else {}
        tr = self._run_located(lambda: handlers.trace(model).get_trace(**kwargs, **extra))
        return {k: tuple(np.shape(s["value"])) for k, s in tr.items()
                if s["type"] == "sample" and not s.get("is_observed") and not k.startswith("_pp")
                and k not in self.observed}

    def _latents(self, samples: dict[str, np.ndarray], kwargs: dict, states: bool = False) -> dict[str, np.ndarray]:
        """The draws of the latent sample sites only (deterministic quantities are recomputed),
        checked against the shapes the model has with ``kwargs``; ``samples`` has two leading
        (chain, draw) axes. With ``states`` also the hidden Markov chains' state draws (FFBS), for
        the model simulating its chains."""
        aux = self.auxiliary_sites
        errors: dict[str, Diagnostic] = {}
        out = {}
        shift = self._offsets(kwargs)
        for site, shape in self.latent_shapes(kwargs, as_written=True, states=states).items():
            name = aux.get(site, site)  # messages name the model's quantity, never NumPyro's site
            if site in shift and site in samples:  # the model's values -> NumPyro's outcomes (from 0)
                samples = {**samples, site: np.asarray(samples[site]) - shift[site]}
            if site not in samples:
                errors.setdefault(name, Diagnostic("fit-mismatch", f'the fit has no draws of "{name}"',
                                                   help="was the fit made with this model?"))
                continue
            have = tuple(np.shape(samples[site])[2:])
            if have != shape:
                errors.setdefault(name, Diagnostic(
                    "fit-mismatch", f'"{name}" has shape {have} in the fit but {shape} with the new data',
                    help="prediction reuses the fitted parameters, so the sizes that shape them must not "
                         "change; only the sizes of observations and covariates may"))
                continue
            out[site] = samples[site]
        if errors:
            raise PplangError(list(errors.values()), source=self.source, file=self.path)
        return out

    def _offsets(self, kwargs: dict) -> dict:
        """Sites whose model value is NumPyro's outcome plus an offset (Stan's 1-based categories,
        an enumerated DiscreteUniform's low): name -> offset, to turn draws of the NumPyro site
        into the model's values (and back, for posterior draws substituted into the model)."""
        from .spec import Site

        sites = [s for s in (*self.spec.items, *self.spec.generated) if isinstance(s, Site) and s.offset is not None]
        sites += [c for c in self.spec.chains if c.offset is not None]  # a hidden Markov chain's states
        return {s.name: const_eval(s.offset, kwargs) for s in sites}

    def _check_replicable(self) -> None:
        """Replicated data cannot be drawn when an observed quantity is also read on a right side
        (``sigma[t] = ... y[t - 1]``): the model would need its observed values there; nor from a
        model without parameters (there are no posterior draws to replicate from)."""
        from .checks import names_in

        if not self.spec.of_role(Role.LATENT) and not self.spec.missing:
            raise PplangError([Diagnostic(
                "unsupported", "cannot draw replicated data: the model has no parameters, so there are no "
                "posterior draws", help="`pplang prior` draws the observed quantities of a model without parameters")],
                source=self.source, file=self.path)
        self._refuse_chains("draw replicated data")
        observed = set(self.observed)

        def rhs(stmt):
            match stmt:
                case ir.Sample(dist=d):
                    return [*d.args, *(v for _, v in d.kwargs)]
                case ir.Define(value=v) | ir.Target(value=v):
                    return [v]
                case ir.For(body=body):
                    return [e for b in body for e in rhs(b)]
            return []

        for stmt in self.program.statements:
            used = set().union(*(names_in(e) for e in rhs(stmt))) & observed
            if used:
                name = sorted(used)[0]
                raise PplangError([Diagnostic(
                    "unsupported", f'cannot draw replicated data: observed "{name}" is also used on the right side here',
                    stmt.span, "posterior predictive and prediction draw every observed quantity afresh, so it "
                    "cannot also serve as a covariate; the log-likelihood is still available")],
                    source=self.source, file=self.path)
        self._refuse_partial_observations("draw replicated data")

    def _refuse_chains(self, what: str, drawing: bool = True) -> None:
        """Simulating a hidden Markov chain makes each of its observations a sample site named after
        the observed quantity: not possible when several statements observe parts of the same data
        (``y[1]`` before the loop, ``y[t]`` in it), nor, for drawing, when one observes only part of it."""
        emitted = [e.site for chain in self.spec.chains for e in chain.emissions]
        names = [s.name for s in emitted] + [s.name for s in self.spec.sites() if s.observed]
        for chain in self.spec.chains:
            for e in chain.emissions:
                site = e.site
                if names.count(site.name) > 1:
                    raise PplangError([Diagnostic(
                        "unsupported", f'cannot {what}: "{site.name}" is observed with the hidden Markov chain '
                        f'"{chain.name}" by several statements', site.span,
                        f"observe {site.name} with one statement (`{site.name}[t] ~ ...` for every t); the "
                        "states' posterior is reported after `pplang run` all the same")],
                        source=self.source, file=self.path)
                if drawing and site.value is not None:
                    raise PplangError([Diagnostic(
                        "unsupported", f'cannot {what}: only part of observed "{site.name}" has a distribution '
                        "here", site.span, f"the other elements of {site.name} have none to draw from; observe "
                        f"every element with the chain (`{site.name}[t] ~ ...` for t in 1:T)")],
                        source=self.source, file=self.path)

    def _refuse_partial_observations(self, what: str) -> None:
        """Drawing an observed quantity afresh needs it observed whole: a statement about part of it
        (``y[2:T] ~ ...``, or ``y[t] ~ ...`` in ``for t in 2:T``) says nothing about its other elements."""
        from .spec import Site

        part = next((s for s in self.spec.items if isinstance(s, Site) and s.observed and s.value is not None), None)
        if part is not None:
            raise PplangError([Diagnostic(
                "unsupported", f'cannot {what}: only part of observed "{part.name}" has a distribution here',
                part.span, f"the other elements of {part.name} have none to draw from; to draw this part, observe "
                f"it as derived data: `data {part.name}_part = {part.name}[lo:hi]` then `{part.name}_part ~ ...`; "
                "the log-likelihood of the part is available")], source=self.source, file=self.path)

    def replicate(self, samples: dict[str, np.ndarray], data: dict, *, seed: int = 0) -> dict[str, np.ndarray]:
        """Posterior predictive: draw each observed quantity once per posterior draw (``samples``
        with (chain, draw) axes; ``data`` the model's kwargs). Returns name -> (chain, draw, ...)."""
        import jax
        from numpyro.infer import Predictive

        self._check_replicable()
        kwargs = {**data, **{k: None for k in self.observed}}
        latents = self._latents(samples, kwargs, states=True)
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=self.observed)
        draws = self._run_located(lambda: pred(key, **kwargs, **self._simulate))
        shift = self._offsets(kwargs)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in self.observed if k in draws}

    def generate(self, samples: dict[str, np.ndarray], data: dict, *, seed: int = 0) -> dict[str, np.ndarray]:
        """The generated quantities for each posterior draw (``samples`` with (chain, draw) axes;
        ``data`` the model's kwargs, observed values included): the model run by ``Predictive``
        with ``_pp_generate=True`` on the latent draws, key ``fold_in(PRNGKey(seed), 2)``.
        Returns name -> (chain, draw, ...); empty when the model has none."""
        names = self.generated_names
        if not names:
            return {}
        import jax
        from numpyro.infer import Predictive

        from .lower_numpyro import GENERATE_FLAG

        latents = self._latents(samples, data)
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=names)
        draws = self._run_located(lambda: pred(key, **data, **{GENERATE_FLAG: True}))
        shift = self._offsets(data)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in names if k in draws}

    def log_likelihood(self, samples: dict[str, np.ndarray], data: dict) -> dict[str, np.ndarray]:
        """log p(y_i | draw) of every observation (``numpyro.infer.log_likelihood``): name ->
        array (chain, draw, *obs shape)."""
        from numpyro.infer import log_likelihood

        self._refuse_chains("compute the log-likelihood", drawing=False)
        latents = self._latents(samples, data, states=True)
        ll = self._run_located(lambda: log_likelihood(self._as_written, latents, batch_ndims=2, **data,
                                                      **self._simulate))
        return {k: np.asarray(v) for k, v in ll.items() if not k.startswith("_pp")}

    def predict(self, samples: dict[str, np.ndarray], data: dict | str | Path, *, seed: int = 0,
                data_file: str | None = None) -> dict[str, np.ndarray]:
        """Predict on new data without refitting: for each posterior draw (``samples`` with
        (chain, draw) axes), draw the observed quantities and recompute the deterministic ones
        with the new covariates and sizes. Observed fields may be absent from ``data``; latent
        shapes must not change. Returns name -> (chain, draw, ...)."""
        import jax
        from numpyro.infer import Predictive

        self._check_replicable()
        kwargs = self.predictive_data(data, data_file)
        latents = self._latents(samples, kwargs, states=True)
        sites = self.observed + [s.name for s in self.spec.of_role(Role.DETERMINISTIC)]
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
        pred = Predictive(self._as_written, posterior_samples=latents, batch_ndims=2, return_sites=sites)
        draws = self._run_located(lambda: pred(key, **kwargs, **self._simulate))
        shift = self._offsets(kwargs)
        return {k: np.asarray(draws[k]) + shift.get(k, 0) for k in sites if k in draws}

    @property
    def has_auto(self) -> bool:
        """Whether some statement's parameterisation is still to be chosen (``auto``)."""
        return any(isinstance(s.reparam, ir.Auto) for s in self.spec.sites())

    def resolve(self, data: dict | str | Path | None = None, *, reparam: str | None = None, cache: bool = True,
                data_file: str | None = None, prepared: bool = False) -> Model:
        """This model with every ``auto`` parameterisation chosen for ``data`` (a dict, a JSON path,
        or with ``prepared`` the model's keyword arguments from :meth:`prepare_data`); with
        ``reparam="auto"``, every eligible statement without a parameterisation written is chosen
        for too. The choice is cached by model and data (``cache=False``: neither read nor
        written). ``resolved.spec.auto`` holds what was chosen; ``resolved.python_source`` samples
        it; the notes (``resolved.reparam_notes``) say when there was nothing to choose."""
        if reparam not in (None, "auto"):
            raise PplangError([Diagnostic("bad-setting", f'reparam must be "auto" or None, got {reparam!r}')])
        if reparam is None and not self.has_auto:
            return self
        from .autoreparam import resolve

        kwargs = data if prepared else self.prepare_data(data, data_file)
        t0 = time.perf_counter()
        out, notes = self._run_located(lambda: resolve(self, kwargs, reparam=reparam, cache=cache))
        if out is self:  # nothing to choose: the same model, with the notes saying so
            import copy

            out = copy.copy(self)
        out.reparam_notes = notes
        out.reparam_s = time.perf_counter() - t0
        out.data_warnings = self.data_warnings
        return out

    def with_choice(self, chosen: dict) -> Model:
        """This model with the parameterisations ``chosen`` applied: site name -> {"centered":
        [...], "shape": [...]}, as a fit records what ``auto`` chose (:func:`pplang.results.reparam_used`)."""
        from .autoreparam import from_record
        from .lower_numpyro import lower

        rec = {k: {"kind": v.get("auto", "per-group"), **v} for k, v in chosen.items()}
        spec = from_record(self.spec, rec)
        out = Model(self.source, self.path, self.program, spec, lower(spec, Path(self.path).name))
        out.data_warnings = self.data_warnings
        return out

    def sample(self, data: dict | str | Path | None = None, *, chains: int = DEFAULTS.chains,
               warmup: int = DEFAULTS.warmup, samples: int = DEFAULTS.samples, seed: int = DEFAULTS.seed,
               chain_method: str = DEFAULTS.chain_method, progress_bar: bool = False,
               float64: bool = DEFAULTS.float64, data_file: str | None = None,
               target_accept: float = DEFAULTS.target_accept, dense_mass: bool = DEFAULTS.dense_mass,
               max_tree_depth: int = DEFAULTS.max_tree_depth, thin: int = DEFAULTS.thin,
               init: dict | str | Path | None = None, cache: bool = True, reparam: str | None = None,
               shard_data: bool = False, devices: int | None = None) -> Posterior:
        """Run NUTS: ``MCMC(NUTS(model), ...).run(jax.random.PRNGKey(seed), **data)``, with the
        defaults of :data:`pplang.settings.DEFAULTS` (``pplang run``'s). ``target_accept``,
        ``dense_mass`` and ``max_tree_depth`` are NUTS's settings (Stan's adapt_delta, dense_e
        metric and max_treedepth); ``thin`` keeps every thin-th of the ``samples`` draws per chain.
        ``init`` (a dict, a JSON file or inline JSON) gives starting values of latent parameters on
        their natural scale, used by every chain (NumPyro's ``init_to_value``). Settings and
        initial values are checked before sampling (:class:`PplangError`). ``cache`` keeps compiled
        samplers in JAX's persistent compilation cache (see :mod:`pplang.jitcache`) and ``auto``
        choices in pplang's. ``reparam="auto"`` lets pplang choose the parameterisation of every
        eligible statement without one written (``pplang run --reparam auto``); statements
        annotated ``auto`` are always chosen for. The run then samples ``posterior.model``, the
        resolved model (:meth:`resolve`), and ``posterior.timing["reparam_s"]`` is the time the
        choice took (about 0 when cached). ``shard_data`` splits the observation rows across all
        visible devices, ``devices`` across that many (it implies ``shard_data``); see
        :mod:`pplang.sharding` (``posterior.sharding`` says what was split)."""
        from .missing import for_data

        imputed = for_data(self, data)  # nulls in the data: the model compiled for its missing entries
        if imputed is not self:
            return imputed.sample(data, chains=chains, warmup=warmup, samples=samples, seed=seed,
                                  chain_method=chain_method, progress_bar=progress_bar, float64=float64,
                                  data_file=data_file, target_accept=target_accept, dense_mass=dense_mass,
                                  max_tree_depth=max_tree_depth, thin=thin, init=init, cache=cache,
                                  reparam=reparam, shard_data=shard_data, devices=devices)
        settings = SamplerSettings(chains=chains, warmup=warmup, samples=samples, seed=seed,
                                   chain_method=chain_method, target_accept=target_accept,
                                   max_tree_depth=max_tree_depth, dense_mass=dense_mass, thin=thin,
                                   float64=float64).check()
        if reparam not in (None, "auto"):
            raise PplangError([Diagnostic("bad-setting", f'reparam must be "auto" or None, got {reparam!r}')])
        placement = Placement(shard_data=shard_data, devices=devices).check(init, chain_method)
        timing: dict[str, float] = {}
        t0 = time.perf_counter()
        import jax
        from numpyro.infer import MCMC, NUTS, init_to_value

        from .inits import check_init, read_init
        from .jitcache import JitClock, enable_persistent_cache

        cache = cache and enable_persistent_cache() is not None  # an unsafe directory: uncached, with a warning
        timing["import_s"] = time.perf_counter() - t0
        with precision(float64):
            kwargs = self.prepare_data(data, data_file)
            if not float64:  # data that 32-bit floats cannot hold: say so before NumPyro rounds it
                from .datacheck import check_float32_range

                errors = check_float32_range(self.spec, kwargs)
                if errors:
                    raise PplangError(errors, source=self.source, file=self.path)
            model = self
            if reparam is not None or self.has_auto:  # `auto`: choose (in the run's precision), then sample that
                model = self.resolve(kwargs, reparam=reparam, cache=cache, prepared=True)
                timing["reparam_s"] = getattr(model, "reparam_s", 0.0)
            if isinstance(init, (str, Path)):
                init = read_init(str(init))
            init_values = check_init(model, init, kwargs) if init else None
            strategy = {"init_strategy": init_to_value(values=init_values)} if init_values else {}
            kernel_options = dict(target_accept_prob=target_accept, dense_mass=dense_mass,
                                  max_tree_depth=max_tree_depth, **strategy)
            mcmc_options = dict(num_warmup=warmup, num_samples=samples, num_chains=chains, thinning=thin,
                                chain_method=chain_method)
            shard = None
            if placement.sharded:  # what to split (None: nothing, with a warning saying why)
                from .sharding import for_run

                shard, note = for_run(model.spec, kwargs, placement.devices)
                model.data_warnings, progress_bar = [*model.data_warnings, *note], progress_bar and shard is None
            t1 = time.perf_counter()
            with JitClock() as clock:
                draws = None
                if reuse.reusable(model.python_source, progress_bar, chain_method, init_values):
                    draws = model._run_located(lambda: reuse.run(
                        model.python_source, model.numpyro_model, kernel_options, mcmc_options, kwargs, seed,
                        EXTRA_FIELDS, cache=cache, shard=shard))
                if draws is None:  # NumPyro's own loop (progress bar, pmap, init values, or a failed start)
                    mcmc = MCMC(NUTS(model.numpyro_model, **kernel_options), progress_bar=progress_bar,
                                **mcmc_options)
                    model._run_located(lambda: _start(model, mcmc, kwargs, init_values, seed))
                    draws = reuse.Draws.of(mcmc)
                jax.block_until_ready(draws.samples)
        run_s = time.perf_counter() - t1
        from .jitcache import cache_warnings

        model.data_warnings = [*model.data_warnings, *cache_warnings()]
        timing["jit_s"] = clock.compile_s
        timing["sample_s"] = run_s - clock.compile_s
        timing["cache_hits"], timing["cache_misses"] = clock.cache_hits, clock.cache_misses
        data_file = data_file or (str(data) if isinstance(data, (str, Path)) else None)
        timing["reused"] = draws.reused
        post = Posterior(draws, model.reported, chains, samples, warmup, seed, chain_method, timing,
                         model=model, data=kwargs, data_file=data_file, settings=settings,
                         init=dict(init) if init else None)
        if placement.sharded:
            from .sharding import outcome

            post.sharding, note = outcome(draws.sharding, shard)
            model.data_warnings = [*model.data_warnings, *note]
        if model.spec.enumerated or model.spec.chains:  # the discrete latents NUTS did not see
            from .discrete import discrete_posterior

            t2 = time.perf_counter()
            grouped = {k: np.asarray(v) for k, v in draws.get_samples(group_by_chain=True).items()}
            with precision(float64):
                post.discrete = model._run_located(lambda: discrete_posterior(model, grouped, kwargs, seed))
            timing["discrete_s"] = time.perf_counter() - t2
        return post

    # approximate inference: the same model and data, other methods (pplang/inference.py)
    def optimize(self, data: dict | str | Path | None = None, **options):
        """The posterior mode (MAP), the mode in the unconstrained space (``jacobian=True``) or the
        maximum likelihood estimate (``mle=True``): :func:`pplang.inference.optimize`."""
        from .inference import optimize

        return optimize(self, data, **options)

    def laplace(self, data: dict | str | Path | None = None, **options):
        """Draws from the normal approximation at the unconstrained mode: :func:`pplang.inference.laplace`."""
        from .inference import laplace

        return laplace(self, data, **options)

    def variational(self, data: dict | str | Path | None = None, **options):
        """Mean-field or full-rank variational inference (SVI): :func:`pplang.inference.variational`."""
        from .inference import variational

        return variational(self, data, **options)

    def pathfinder(self, data: dict | str | Path | None = None, **options):
        """Multi-path Pathfinder (BlackJAX): :func:`pplang.inference.pathfinder`."""
        from .inference import pathfinder

        return pathfinder(self, data, **options)
