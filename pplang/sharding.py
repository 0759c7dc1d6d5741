"""Data-parallel sharding: the observation rows of the likelihood split across devices.

``pplang run --shard-data`` (``Model.sample(shard_data=True, devices=N)``) splits the rows of the
data plate over which the observed ``~`` statements run (``y[n] ~ BernoulliLogit(a[g[n]] + X[n] @
beta)`` over n in 1:N) across devices, with XLA's SPMD partitioner doing the work: every data array
whose leading dimension is the row size is placed with ``NamedSharding(mesh, P("rows"))``, every
other argument (group-level data, the PRNG key) replicated, and the whole NUTS run is one
``jax.jit`` program of those arrays (:mod:`pplang.reuse`). Parameters are computed inside the
program and stay replicated; each device evaluates the likelihood of its rows and XLA inserts the
reductions across devices.

Rows are padded to a multiple of the device count by repeating the last row (so every padded index
is a valid index and every padded observation lies in its support), and the padded rows are masked
out of the log density: every sample site inside the row plate gets ``dist.mask`` of ``row < N``
(:class:`RowMask`). A padded row changes nothing (the tests compare the log densities).

What can be sharded is decided from the checked model (:func:`plan`): the row size is the size of
an observed statement's plate; every use of row-shaped data or of a quantity defined per row must
be indexed by that plate's index (``X[n]``, not ``X`` or ``mean(y)``) inside a statement over the
row plate that is an observation or a definition; no latent, ``target +=``, loop or missing data
may involve the rows; and the row size may be used only as a size. Otherwise ``--shard-data``
warns (``warning[shard-unsupported]``, saying which statement) and the run is not sharded.
Generated quantities, log-likelihood and posterior predictive are computed after sampling from the
unpadded data, so they have N rows; reported definitions per row are sliced back to N rows
(:func:`unpad`).

After compiling, :func:`verify` reads the compiled executable's input shardings (the shard shape of
each row array) and its optimised HLO (the cross-device reductions), so the run reports what was
really split (``sharded y, X, g over 4 devices (250,000 rows each, 1 padded)``) or warns when XLA
did not partition the program. With ``--coordinator`` several processes run one program
(``jax.distributed``); each reads the same data file and supplies its own devices' shards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import ir
from .diagnostics import Diagnostic
from .spec import Definition, Factor, FlatParam, InitElement, Loop, Role, Site, Spec

AXIS = "rows"
CPU_HINT = ("on CPU, make more devices visible with XLA_FLAGS=--xla_force_host_platform_device_count=N "
            "(set before pplang starts)")


# ----------------------------------------------------------------------------- what is split


@dataclass(frozen=True)
class Rows:
    """The row plate of a model and how it is split: ``size`` the row size symbol (``N``),
    ``rows`` its value, ``arrays`` the data and derived data whose leading dimension it is,
    ``outputs`` reported quantities with a row dimension (name -> axis after chain and draw) that
    are sliced back, ``plates`` the plate names over the rows, ``devices`` how many devices."""

    size: str
    rows: int
    arrays: tuple[str, ...]
    outputs: tuple[tuple[str, int], ...]
    plates: tuple[str, ...]
    devices: int

    @property
    def padded_rows(self) -> int:
        return -(-self.rows // self.devices) * self.devices

    @property
    def padding(self) -> int:
        return self.padded_rows - self.rows

    @property
    def per_device(self) -> int:
        return self.padded_rows // self.devices

    @property
    def key(self) -> tuple:
        """What the compiled program depends on beyond the model and shapes (a cache-key part)."""
        return ("sharded", self.size, self.rows, self.arrays, self.plates, self.devices)


def _is_size(e: ir.Expr, size: str) -> bool:
    return isinstance(e, ir.Name) and e.id == size


def _exprs(item) -> list[ir.Expr]:
    """The IR expressions a model item reads."""
    match item:
        case Site():
            out = [te.node for _, te in item.args] + [te.node for te in item.element]
            if item.truncation is not None:
                out += [t.node for t in item.truncation if t is not None]
            return out
        case Definition() | Factor() | InitElement():
            return [item.value.node]
        case Loop():
            return [b.value.node for b in item.body] + [item.lo, item.hi]
        case FlatParam():
            return []
    return []


def _bad_use(expr: ir.Expr, row_names: set[str], index: str | None) -> str | None:
    """The first use in ``expr`` of a row quantity not indexed by the row index ``index`` (its
    name), or of a row quantity in a statement with no row plate (``index`` None)."""
    def visit(e) -> str | None:
        if isinstance(e, ir.Index) and e.base.id in row_names:
            first = e.indices[0] if e.indices else None
            if index is None or not (isinstance(first, ir.Name) and first.id == index):
                return e.base.id
            return next((b for i in e.indices for b in [visit(i)] if b), None)
        if isinstance(e, ir.Name):
            return e.id if e.id in row_names else None
        for f in getattr(e, "__dataclass_fields__", {}).values():
            if not f.compare:
                continue
            v = getattr(e, f.name)
            for child in (v if isinstance(v, tuple) else (v,)):
                if isinstance(child, tuple):  # kwargs: (name, expr)
                    child = child[-1]
                if hasattr(child, "__dataclass_fields__"):
                    found = visit(child)
                    if found:
                        return found
        return None

    return visit(expr)


def _why_not(spec: Spec, size: str) -> tuple[str, ir.Span | None] | None:
    """Why the rows of size ``size`` cannot be sharded (a reason and the statement), or None."""
    if spec.missing:
        return "the data has missing entries (imputed or masked)", None
    if spec.enumerated:
        return "the model sums out discrete latents by enumeration", None
    if spec.chains:
        return "the model sums out a hidden Markov chain (a recursion over the rows)", None
    rowish = lambda t: bool(t.shape) and _is_size(t.shape[0], size)  # noqa: E731
    for sym in spec.symbols.values():
        if sym.role is Role.LATENT and any(_is_size(d, size) for d in sym.type.shape):
            return f'the parameter "{sym.name}" has one element per row', sym.span
    for sym in spec.symbols.values():  # rows are split along the first axis only
        if sym.role in (Role.DATA, Role.DERIVED) and any(_is_size(d, size) for d in sym.type.shape[1:]):
            return f'the data "{sym.name}" has the row count "{size}" in a dimension other than the first', sym.span
    row_names = {s.name for s in spec.symbols.values() if s.role in (Role.DATA, Role.DERIVED) and rowish(s.type)}
    for item in spec.items:
        plate = next((p for p in getattr(item, "plates", ()) if _is_size(p.size, size)), None)
        if isinstance(item, Definition) and (plate is not None or rowish(item.type)):
            row_names.add(item.name)
    for item in spec.items:
        exprs = _exprs(item)
        plate = next((p for p in getattr(item, "plates", ()) if _is_size(p.size, size)), None)
        if any(isinstance(n, ir.Name) and n.id == size for e in exprs for n in ir.walk(e)):
            return f'the row count "{size}" is used as a value', item.span
        bad = next((b for e in exprs for b in [_bad_use(e, row_names, plate.index if plate else None)] if b), None)
        involved = plate is not None or bad is not None or (isinstance(item, Site) and item.name in row_names)
        if not involved:
            continue
        if isinstance(item, Site) and not item.observed:
            return f'the latent "{item.name}" is drawn per row', item.span
        if isinstance(item, (Factor, Loop, InitElement)):
            what = "a `target +=` statement" if isinstance(item, Factor) else "a `for` loop"
            return f"{what} reads the rows", item.span
        if isinstance(item, Site) and plate is None:
            return f'the observed "{item.name}" is not in a plate over the rows', item.span
        if bad is not None:
            return f'"{bad}" is used here without the row index first (as in {bad}[n])', item.span
    return None


def plan(spec: Spec, kwargs: dict, devices: int) -> Rows | tuple[str, ir.Span | None]:
    """How the rows of this model and data are split over ``devices``, or why they cannot be
    (a reason and the statement, for a warning). The row size is the size of an observed
    statement's plate; with several, the largest that can be sharded."""
    sizes: list[str] = []
    for site in spec.sites():
        if site.observed:
            sizes += [p.size.id for p in site.plates if isinstance(p.size, ir.Name) and p.size.id not in sizes]
    sizes = [s for s in sizes if isinstance(kwargs.get(s), (int, np.integer))]
    if not sizes:
        return "no observed statement runs over a plate of data rows", None
    sizes.sort(key=lambda s: -int(kwargs[s]))
    reasons = []
    for size in sizes:
        why = _why_not(spec, size)
        if why is not None:
            reasons.append(why)
            continue
        arrays = tuple(s.name for s in spec.symbols.values() if s.role in (Role.DATA, Role.DERIVED)
                       and s.type.shape and _is_size(s.type.shape[0], size) and s.name in kwargs
                       and kwargs[s.name] is not None)
        outputs = tuple((name, 2 + sym.type.shape.index(next(d for d in sym.type.shape if _is_size(d, size))))
                        for name, sym in spec.symbols.items() if sym.role is Role.DETERMINISTIC
                        and any(_is_size(d, size) for d in sym.type.shape))
        plates = tuple(sorted({p.name for item in spec.items for p in getattr(item, "plates", ())
                               if _is_size(p.size, size)}))
        return Rows(size, int(kwargs[size]), arrays, outputs, plates, devices)
    return reasons[0]


def for_run(spec: Spec, kwargs: dict, devices: int | None) -> tuple[Rows | None, list[Diagnostic]]:
    """The rows to split over ``devices`` (all visible when None; more than visible is a
    ``bad-setting`` error), or None and the warning saying why nothing can be split."""
    found = plan(spec, kwargs, len(mesh(devices).devices.flat))
    return (None, [unsupported(*found)]) if isinstance(found, tuple) else (found, [])


def unsupported(reason: str, span: ir.Span | None) -> Diagnostic:
    return Diagnostic("shard-unsupported", f"--shard-data: not sharding this run: {reason}",
                      span if span is not None else ir.NO_SPAN,
                      "the run goes on unsharded on one device; sharding splits the rows of observed statements "
                      "whose every row quantity is indexed by the row index (see README, \"Sharding data across "
                      "devices\")", severity="warning")


def padded(kwargs: dict, rows: Rows) -> dict:
    """The model's keyword arguments with the row arrays padded to ``rows.padded_rows`` by
    repeating the last row, and the row size set to the padded count."""
    out = dict(kwargs)
    if rows.padding:
        for name in rows.arrays:
            arr = np.asarray(kwargs[name])
            out[name] = np.concatenate([arr, np.repeat(arr[-1:], rows.padding, axis=0)], axis=0)
    out[rows.size] = rows.padded_rows
    return out


def masked(numpyro_model, rows: Rows):
    """``numpyro_model`` with every sample site inside a row plate masked to the real rows."""
    from numpyro.primitives import Messenger

    class RowMask(Messenger):
        """Masks the padded rows (``row >= N``) out of the log density of each site in a row plate."""

        def process_message(self, msg):
            if msg["type"] != "sample":
                return
            frame = next((f for f in msg["cond_indep_stack"] if f.name in rows.plates), None)
            if frame is None or rows.padding == 0:
                return
            import jax.numpy as jnp

            keep = (jnp.arange(rows.padded_rows) < rows.rows).reshape((-1,) + (1,) * (-frame.dim - 1))
            msg["fn"] = msg["fn"].mask(keep)

    return RowMask(numpyro_model)


def unpad(samples: dict, rows: Rows) -> dict:
    """Draws (chain, draw, ...) with the reported per-row quantities cut back to ``rows.rows``."""
    out = dict(samples)
    for name, axis in rows.outputs:
        if name in out and np.ndim(out[name]) > axis and np.shape(out[name])[axis] == rows.padded_rows:
            out[name] = np.take(np.asarray(out[name]), np.arange(rows.rows), axis=axis)
    return out


# ----------------------------------------------------------------------------- devices and placement


def mesh(devices: int | None):
    """A one-axis mesh ``rows`` over the first ``devices`` devices (all when None), in JAX's
    automatic axis mode (the explicit mode, ``make_mesh``'s default, breaks NUTS)."""
    import jax

    from .diagnostics import PplangError

    visible = jax.devices()
    n = len(visible) if devices is None else devices
    if n > len(visible):
        raise PplangError([Diagnostic("bad-setting", f"--devices {n}: only {len(visible)} "
                                      f"{visible[0].platform.upper()} device{'s' if len(visible) > 1 else ''} "
                                      "visible", help=CPU_HINT if visible[0].platform == "cpu" else
                                      "choose at most the number of visible devices")])
    return jax.make_mesh((n,), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=visible[:n])


def place(arrays: dict, rows: Rows, the_mesh) -> dict:
    """Global arrays: row arrays split along their first axis, the rest replicated. Each process
    supplies the shards of its own devices from its (full) copy of the data."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    def put(name, value):
        value = np.asarray(value)
        spec = PartitionSpec(AXIS) if name in rows.arrays else PartitionSpec()
        return jax.make_array_from_callback(value.shape, NamedSharding(the_mesh, spec), lambda idx: value[idx])

    return {k: put(k, v) for k, v in arrays.items()}


def replicated(value, the_mesh):
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, NamedSharding(the_mesh, PartitionSpec()), lambda idx: value[idx])


def jitted(fn, the_mesh):
    """``jax.jit`` of a whole run whose outputs (draws, statistics) are replicated, so every
    process can read them."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    return jax.jit(fn, out_shardings=NamedSharding(the_mesh, PartitionSpec()))


# ----------------------------------------------------------------------------- what XLA did


@dataclass
class Report:
    """What the compiled program splits: ``arrays`` name -> (global shape, per-device shard
    shape), ``devices``, ``rows`` and ``padding``; ``partitioned`` is True when every row array
    is split into ``devices`` shards and the optimised program reduces across devices."""

    arrays: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    devices: int = 1
    rows: int = 0
    per_device: int = 0
    padding: int = 0
    collectives: int = 0
    processes: int = 1
    partitioned: bool = False

    def line(self) -> str:
        names = ", ".join(self.arrays)
        procs = f" in {self.processes} processes" if self.processes > 1 else ""
        if self.devices == 1:
            return f"not split: one device holds {names} ({self.rows:,} rows)"
        if not self.partitioned:
            return f"not sharded: XLA did not split {names} over {self.devices} devices"
        return (f"sharded {names} over {self.devices} devices{procs} ({self.per_device:,} rows each, "
                f"{self.padding:,} padded)")

    def record(self) -> dict[str, Any]:
        return {"devices": self.devices, "processes": self.processes, "rows": self.rows,
                "rows_per_device": self.per_device, "padded_rows": self.padding, "partitioned": self.partitioned,
                "cross_device_ops": self.collectives,
                "arrays": {k: {"shape": list(g), "shard_shape": list(s)} for k, (g, s) in self.arrays.items()}}


def verify(compiled, arrays: dict, rows: Rows) -> Report:
    """Read the compiled executable: the shard shape of each row array and the number of
    cross-device reductions in its optimised HLO."""
    import jax

    in_shardings = compiled.input_shardings[0][1]  # (args, kwargs) -> args[1] is the data dict
    report = Report(devices=rows.devices, rows=rows.rows, per_device=rows.per_device, padding=rows.padding,
                    processes=jax.process_count())
    split = True
    for name in rows.arrays:
        shape = tuple(np.shape(arrays[name]))
        shard = tuple(in_shardings[name].shard_shape(shape))
        report.arrays[name] = (shape, shard)
        split = split and shard[:1] == (rows.per_device,) and (rows.devices == 1 or shard != shape)
    try:
        text = compiled.as_text()
    except Exception:  # noqa: BLE001 - no text: the shardings alone decide
        text = ""
    report.collectives = sum(text.count(op) for op in (" all-reduce(", " all-reduce-start(", " reduce-scatter("))
    report.partitioned = split and rows.devices > 1 and (report.collectives > 0 or not text)
    return report


# ----------------------------------------------------------------------------- several processes


def start_processes(coordinator: str, num_processes: int, process_id: int) -> None:
    """``jax.distributed.initialize`` for one of ``num_processes`` processes. The CPU backend's
    cross-process collectives go through gloo (without it a CPU program spanning processes cannot
    reduce across them); the setting touches nothing else, so it is made on every platform."""
    import jax

    from .diagnostics import PplangError, exception_text

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    port = int(coordinator.rpartition(":")[2])
    if process_id == 0 and not _port_free(port):  # JAX's coordinator service crashes (SIGSEGV) on a taken port
        raise PplangError([Diagnostic("distributed-start", f"--coordinator {coordinator}: port {port} is already in "
                                      "use on this host, so process 0 cannot listen there",
                                      help="choose a free port (the same --coordinator for every process)")])
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except Exception as exc:  # noqa: BLE001 - no coordinator, a port in use, a timeout: said plainly
        raise PplangError([Diagnostic("distributed-start", f"--coordinator {coordinator}: process {process_id} of "
                                      f"{num_processes} could not join: {exception_text(exc).splitlines()[0]}",
                                      help="start every process with the same --coordinator and --num-processes "
                                           "and its own --process-id (0 listens at HOST:PORT); the port must be free "
                                           "on process 0's host and reachable from the others")]) from None


def outcome(report: Report | None, rows: Rows | None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """What a run asked to shard records (``posterior.sharding``, ``--json``'s ``"sharding"``)
    and the warning when nothing was split."""
    if rows is None:
        return {"partitioned": False, "summary": "not sharded (see warning[shard-unsupported])"}, []
    if report is None:  # the run was repeated with NumPyro's own loop (a chain that did not start)
        summary = "not sharded: a chain did not start, and the run was repeated unsharded with NumPyro's own loop"
        return {"partitioned": False, "summary": summary}, [Diagnostic("shard-unsupported", f"--shard-data: {summary}",
                                                                       severity="warning")]
    record = {**report.record(), "summary": report.line()}
    if report.partitioned:
        return record, []
    hint = CPU_HINT if report.devices == 1 else ("the draws are right, but each device may hold or compute every "
                                                 "row; check the devices (JAX_PLATFORMS, XLA_FLAGS)")
    return record, [Diagnostic("shard-unsupported", f"--shard-data: {report.line()}", help=hint, severity="warning")]


class quiet_stdout:
    """File descriptor 1 sent to /dev/null while the block runs (gloo, the CPU collectives of
    ``jax.distributed``, prints its connections there), so process 0's output stays its results."""

    def __enter__(self):
        import sys

        sys.stdout.flush()
        self.saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        return self

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        return False


def _port_free(port: int) -> bool:
    """Whether this host can listen on ``port`` on every address (as the coordinator service does)."""
    import socket

    try:
        if socket.has_dualstack_ipv6():
            with socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True):
                return True
        with socket.create_server(("", port)):
            return True
    except OSError:
        return False
