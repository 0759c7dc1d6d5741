"""The ODE solvers: one row per function, with Stan's names, solved by diffrax.

``ode_rk45(f, y0, t0, ts, ...)`` is the solution of dy/dt = f(t, y, ...) with y(t0) = y0 at the
times ``ts``: an array [N, size of y0] (N = length of ts). ``f`` is a user-defined function
(``def f(t, y, theta) = ...``) called with the time, the state and the arguments after ``ts``.
The ``_tol`` variants take Stan's relative tolerance, absolute tolerance and maximum number of
steps after ``ts``; the others use Stan's defaults (1e-6, 1e-6, 1e6). Stan bounds the steps
between two output times; pplang gives diffrax ``max_num_steps * N`` steps for the whole solve.

Checks (``pplang.checks.functions``) and lowering read this table. The generated module imports
diffrax only when the model calls one of these, and defines :data:`HELPER` (``_pp_ode``): one
``diffrax.diffeqsolve`` with a PID step-size controller and diffrax's default adjoint
(``RecursiveCheckpointAdjoint``: reverse-mode gradients for NUTS). A failed solve (too many
steps, a step size driven to zero) returns NaN instead of raising, so the log density is not
finite and NUTS rejects the proposal, as Stan does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Solver:
    """A row: the function's ``name``; ``solver`` the diffrax solver (JAX source, a constant);
    ``tol`` whether rtol, atol and max_num_steps follow ``ts``; ``stiff``; ``summary``."""

    name: str
    solver: str
    tol: bool
    stiff: bool
    summary: str


# Stan's defaults for the variants without tolerances.
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-6
DEFAULT_MAX_NUM_STEPS = 1_000_000

_RK45 = "diffrax.Dopri5()"
_BDF = "diffrax.Kvaerno5()"

SOLVERS: dict[str, Solver] = {row.name: row for row in [
    Solver("ode_rk45", _RK45, False, False,
           "non-stiff ODE: Dormand-Prince Runge-Kutta 4(5) (diffrax Dopri5), rtol 1e-6, atol 1e-6"),
    Solver("ode_rk45_tol", _RK45, True, False,
           "ode_rk45 with rtol, atol and max_num_steps given after ts"),
    Solver("ode_bdf", _BDF, False, True,
           "stiff ODE: implicit ESDIRK 5(4) (diffrax Kvaerno5; Stan's BDF is CVODES), rtol 1e-6, atol 1e-6"),
    Solver("ode_bdf_tol", _BDF, True, True,
           "ode_bdf with rtol, atol and max_num_steps given after ts"),
]}

TOL_ARGS = ("relative tolerance", "absolute tolerance", "max_num_steps")

# Stan's other ODE functions: what to write instead.
UNSUPPORTED: dict[str, str] = {
    **{f"integrate_ode_{k}": f"integrate_ode_{k} is Stan's old interface (f takes t, y, theta, x_r, x_i); "
                             f"write ode_{'rk45' if k != 'bdf' else 'bdf'}_tol(f, y0, t0, ts, rtol, atol, "
                             "max_num_steps, theta, ...) with `def f(t, y, theta) = ...`, which takes its "
                             "arguments directly"
       for k in ("rk45", "bdf", "adams")},
    **{f"ode_{k}{tol}": f"ode_{k}{tol} is not available: use ode_rk45{tol} (non-stiff) or ode_bdf{tol} (stiff)"
       for k in ("adams", "ckrk") for tol in ("", "_tol")},
    "ode_adjoint_tol_ctl": "ode_adjoint_tol_ctl is not available: use ode_bdf_tol (gradients come from diffrax's "
                           "reverse-mode adjoint)",
    "algebra_solver": "algebraic solvers are not available",
    "integrate_1d": "one-dimensional integration is not available",
}

HELPER = '''\
_pp_ode_terms = {}


def _pp_ode(solver, f, y0, t0, ts, rtol, atol, max_num_steps, *args):
    """The solution of dy/dt = f(t, y, *args), y(t0) = y0, at the times ts: shape (len(ts), len(y0)).
    At most max_num_steps * len(ts) steps; a failed solve gives NaN, so NUTS rejects the proposal.
    One ODETerm per f: diffeqsolve is compiled once per f and shapes, not at every call."""
    ts = jnp.asarray(ts, dtype=jnp.result_type(float))
    if f not in _pp_ode_terms:
        _pp_ode_terms[f] = diffrax.ODETerm(lambda t, y, a: f(t, y, *a))
    solution = diffrax.diffeqsolve(
        _pp_ode_terms[f], solver, t0=jnp.asarray(t0, dtype=ts.dtype), t1=ts[-1],
        dt0=None, y0=jnp.asarray(y0, dtype=ts.dtype), args=args, saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=min(int(max_num_steps) * ts.shape[0], 2 ** 31 - 1), throw=False)
    return jnp.where(solution.result == diffrax.RESULTS.successful, solution.ys, jnp.nan)'''
