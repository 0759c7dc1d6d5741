"""Why NUTS could not start: the statement whose log density is not finite at an initial point.

NumPyro's NUTS draws initial values (uniformly in (-2, 2) on the unconstrained scale, or the
``--init`` values) and gives up with a bare ``RuntimeError("Cannot find valid initial parameters")``
when the log density or its gradient is never finite. pplang then evaluates each statement's
contribution to the log density at one such initial point (a trace of the model with
``numpyro.handlers``) and names the first statement whose contribution is not finite, with the
values involved: ``initial-point`` at that statement's line.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .diagnostics import Diagnostic, PplangError
from .spec import Factor, Site

FAILED_START = "Cannot find valid initial parameters"


def is_failed_start(exc: BaseException) -> bool:
    """Whether ``exc`` is NumPyro's failure to find a valid initial point."""
    return isinstance(exc, RuntimeError) and FAILED_START in str(exc)


def _number(x) -> str:
    x = float(x)
    return f"{x:.6g}" if np.isfinite(x) or np.isnan(x) else ("inf" if x > 0 else "-inf")


def _statement(model, site: str):
    """The spec item (a :class:`Site` or :class:`Factor`) that produced NumPyro site ``site``."""
    name = model.auxiliary_sites.get(site, site)
    if name.startswith("_pp_target_"):
        line = int(name.rsplit("_", 1)[1])
        return next((f for f in model.spec.items if isinstance(f, Factor) and f.span.line == line), None)
    if name.startswith("_pp_prior_"):
        name = name[len("_pp_prior_"):]
    sites = [s for s in model.spec.items if isinstance(s, Site) and s.name == name]
    if sites:
        return sites[0]
    symbol = model.spec.symbols.get(name.split("[", 1)[0])
    return symbol


def _values_at(site: dict, lp: np.ndarray) -> tuple[str, str]:
    """(what was evaluated, its log density) at the first element whose log density is not finite."""
    bad = np.argwhere(~np.isfinite(lp))
    idx = tuple(bad[0]) if bad.size and lp.ndim else ()
    fn = site["fn"]
    where = "".join(f"[{i + 1}]" for i in idx) if idx else ""
    value = np.asarray(site["value"])
    if type(fn).__name__ == "Unit":  # numpyro.factor: `target += ...`
        return "the value added to target is " + _number(np.asarray(fn.log_factor)[idx] if lp.ndim else np.sum(fn.log_factor)), ""
    args = []
    for k in fn.arg_constraints:
        arg = np.asarray(getattr(fn, k, np.nan))
        try:
            arg = np.broadcast_to(arg, fn.batch_shape)[idx] if idx else arg
        except ValueError:
            pass
        args.append(f"{k}={_number(arg) if arg.size == 1 else np.array2string(arg, precision=4, threshold=6)}")
    try:
        value = np.broadcast_to(value, lp.shape + value.shape[lp.ndim:])[idx] if idx else value
    except ValueError:
        pass
    shown = _number(value) if value.size == 1 else np.array2string(value, precision=4, threshold=6)
    return (f"{type(fn).__name__}({', '.join(args)}) at {site['name'].split('_decentered')[0]}{where} = {shown}",
            _number(lp[idx] if lp.ndim else lp))


def explain_failed_start(model, kwargs: dict, init_values: dict | None, seed: int) -> PplangError:
    """An ``initial-point`` error at the first statement whose log density is not finite at one of
    NUTS's initial points (or a general one when every statement is finite there)."""
    import jax
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_uniform, init_to_value

    strategy = init_to_value(values=init_values) if init_values else init_to_uniform
    traced = handlers.substitute(handlers.seed(model.numpyro_model, jax.random.PRNGKey(seed)), substitute_fn=strategy)
    try:
        trace = handlers.trace(traced).get_trace(**kwargs)
    except Exception:  # noqa: BLE001 - the model cannot even be traced: say what is known
        trace = {}
    for name, site in trace.items():
        if site["type"] != "sample" or name == "_pp_max_plate_nesting":
            continue
        try:
            lp = np.asarray(site["fn"].log_prob(site["value"]))
        except Exception:  # noqa: BLE001 - a density that cannot be evaluated is not the one to blame
            continue
        if np.all(np.isfinite(lp)):
            continue
        stmt = _statement(model, name)
        span = getattr(stmt, "span", ir.NO_SPAN)
        what, density = _values_at(site, lp)
        text = f"{what}" + (f" has log density {density}" if density else "")
        return PplangError([Diagnostic(
            "initial-point", f"the log density of this statement is not finite at the initial point: {text}", span,
            "NUTS needs a finite log density where it starts: check the statement's arguments and the data it reads "
            "(a scale of 0 or one too small for the precision, a log of a negative number, a value outside the "
            "support); give starting values with --init, or run with --float64 if a number is too large or too "
            "small for 32-bit floats")], source=model.source, file=model.path)
    steep = _non_finite_gradient(model, kwargs, trace, seed)
    if steep is not None:
        site, wrt = steep
        stmt = _statement(model, site)
        return PplangError([Diagnostic(
            "initial-point", f"the gradient of this statement's log density is not finite at the initial point "
            f"(with respect to {wrt})", getattr(stmt, "span", ir.NO_SPAN),
            "NUTS follows the gradient: a function whose slope is infinite where it is evaluated (sqrt or a "
            "fractional power at 0, abs at a kink) stops it. Rewrite the expression, or give starting values "
            "with --init")], source=model.source, file=model.path)
    return PplangError([Diagnostic(
        "initial-point", "NUTS found no initial point where the log density and its gradient are finite",
        help="every statement's log density is finite at the point pplang checked, so its gradient is not (a "
        "sqrt or a power at 0, say), or the density is finite only in a small region: give starting values with "
        "--init, or run with --float64")], source=model.source, file=model.path)


def _non_finite_gradient(model, kwargs: dict, trace: dict, seed: int) -> tuple[str, str] | None:
    """(site, latent value) of the first statement whose log density has a non-finite gradient with
    respect to a latent value, at the traced initial point; None when every gradient is finite."""
    import jax
    import jax.numpy as jnp
    from numpyro import handlers

    latent = {k: s["value"] for k, s in trace.items()
              if s["type"] == "sample" and not s.get("is_observed") and k != "_pp_max_plate_nesting"}
    if not latent:
        return None

    def site_lp(values, name):
        model_fn = handlers.substitute(handlers.seed(model.numpyro_model, jax.random.PRNGKey(seed)), data=values)
        site = handlers.trace(model_fn).get_trace(**kwargs)[name]
        return jnp.sum(site["fn"].log_prob(site["value"]))

    for name, site in trace.items():
        if site["type"] != "sample" or name == "_pp_max_plate_nesting":
            continue
        try:
            grads = jax.grad(site_lp)(latent, name)
        except Exception:  # noqa: BLE001 - a site that cannot be differentiated is not the one to blame
            continue
        for wrt, g in grads.items():
            if not np.all(np.isfinite(np.asarray(g))):
                value = np.asarray(latent[wrt])
                shown = _number(value) if value.size == 1 else np.array2string(value, precision=4, threshold=6)
                return name, f"{model.auxiliary_sites.get(wrt, wrt)} = {shown}"
    return None
