"""NUTS runs compiled once per model, data shapes and settings, and reused within a process.

``numpyro.infer.MCMC.run`` re-traces and re-compiles its sampling loop on every call (a new jitted
loop body each time), so a second ``Model.sample`` on the same model costs as much as the first and
every call leaves its compiled programs behind. Here one whole run (initialisation, warm-up and
sampling of every chain) is a single ``jax.jit`` function of the PRNG key and the data arrays; it
is kept in a small process-wide table keyed by the generated model source, the scalar data (sizes
are Python values the model needs at trace time), the shapes and dtypes of the array data, the
sampler settings and the precision. A repeated call with new data of the same shapes, or a new seed,
runs the compiled program directly.

The run is NumPyro's own ``MCMC(NUTS(...)).run`` traced inside that function, so the draws are the
ones NumPyro's algorithm produces. Where this does not apply, :meth:`pplang.Model.sample` keeps the
plain ``MCMC.run``: a progress bar (a host callback per iteration), ``parallel`` chains (``pmap``),
initial values given by the user, and a model whose code needs concrete data values while it is
traced (found at the first call and remembered).

With ``cache`` (``Model.sample``'s default, ``pplang run`` without ``--no-cache``) the traced and
lowered program is also kept on disk (``jax.export``, in ``programs/`` beside JAX's compilation
cache): a later process with the same model, shapes, settings and versions loads it instead of
tracing NumPyro's sampler, and JAX's persistent cache supplies the compiled code. Cold and warm
runs call the same exported program, so their draws are identical. An entry that fails to load is
deleted and the program traced again.

Inside ``jit`` NumPyro cannot raise its "Cannot find valid initial parameters" error. A chain whose
potential energy is never finite, or whose every transition diverged, did not really start; the run
is then repeated with the plain ``MCMC.run``, which reports the failure as a cold run does (or, if
it starts, gives its own draws).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

# compiled runs kept per process: each holds its executable (memory, and ~700 memory mappings)
MAX_KEPT = 8
_kept: "OrderedDict[tuple, Callable]" = OrderedDict()
_not_reusable: set[str] = set()  # generated sources whose tracing needs concrete data
_reports: dict[tuple, Any] = {}  # sharded programs: what the compiled executable splits (pplang.sharding.verify)


@dataclass
class Draws:
    """The outcome of one NUTS run with ``numpyro.infer.MCMC``'s accessors: ``get_samples`` and
    ``get_extra_fields`` (``group_by_chain`` as NumPyro's), ``sampler`` (the NUTS kernel and its
    settings), ``num_chains``, ``num_samples`` and ``thinning``. A snapshot: later runs of the same
    compiled sampler never change it."""

    samples: dict[str, Any]  # name -> (chains, draws, ...)
    extra: dict[str, Any]  # NUTS statistic -> (chains, draws)
    sampler: Any
    num_chains: int
    num_samples: int
    thinning: int = 1
    reused: bool = field(default=False)  # True when no tracing or compiling happened for this run
    sharding: Any = field(default=None)  # a sharded run: pplang.sharding.Report

    def __post_init__(self):  # host arrays: later reshapes compile nothing, the device keeps nothing
        self.samples = {k: np.asarray(v) for k, v in self.samples.items()}
        self.extra = {k: np.asarray(v) for k, v in self.extra.items()}

    @staticmethod
    def _flat(grouped: dict[str, Any]) -> dict[str, Any]:
        return {k: v.reshape((-1, *v.shape[2:])) for k, v in grouped.items()}

    def get_samples(self, group_by_chain: bool = False) -> dict[str, Any]:
        return dict(self.samples) if group_by_chain else self._flat(self.samples)

    def get_extra_fields(self, group_by_chain: bool = False) -> dict[str, Any]:
        return dict(self.extra) if group_by_chain else self._flat(self.extra)

    @classmethod
    def of(cls, mcmc) -> "Draws":
        """A snapshot of a finished ``numpyro.infer.MCMC``."""
        return cls(mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True),
                   mcmc.sampler, mcmc.num_chains, mcmc.num_samples, mcmc.thinning)


def _tracing_errors() -> tuple[type[Exception], ...]:
    """JAX's errors for code that needs concrete values where it is given traced ones."""
    import jax

    e = jax.errors
    return (e.ConcretizationTypeError, e.TracerArrayConversionError, e.TracerIntegerConversionError,
            e.NonConcreteBooleanIndexError)


def _static(value: Any) -> bool:
    """Scalars are passed by value (sizes are used as Python ints while tracing); arrays are arguments."""
    return np.ndim(value) == 0


def _signature(value: Any) -> tuple:
    if _static(value):
        return ("value", type(value).__name__, np.asarray(value).item())
    return ("array", tuple(np.shape(value)), str(value.dtype))


def _every_chain_started(extra: dict) -> bool:
    """False when some chain's potential energy is never finite, or its every transition diverged
    (an infinite gradient at the start): NumPyro would have refused to start it."""
    energy, diverging = np.asarray(extra["potential_energy"]), np.asarray(extra["diverging"])
    if energy.size and not np.all(np.any(np.isfinite(energy), axis=1)):
        return False
    return not (diverging.size and np.any(np.all(diverging, axis=1)))


def reusable(source: str, progress_bar: bool, chain_method: str, init_values: dict | None) -> bool:
    return (not progress_bar and chain_method in ("vectorized", "sequential") and not init_values
            and source not in _not_reusable)


def run(source: str, numpyro_model: Callable, kernel_options: dict, mcmc_options: dict, kwargs: dict,
        seed: int, extra_fields: tuple[str, ...], cache: bool = False, shard=None) -> Draws | None:
    """One NUTS run through the kept compiled sampler (compiled and kept at the first call). Returns
    None when the run must be repeated with the plain ``MCMC.run``: some chain never found a valid
    starting point, or the model's code needs concrete data while it is traced. With ``shard`` (a
    :class:`pplang.sharding.Rows`) the rows are padded, masked and split across devices
    (:mod:`pplang.sharding`); such a program is kept in the process only, never exported."""
    import jax
    from numpyro.infer import MCMC, NUTS

    from . import sharding

    if shard is not None:
        kwargs = sharding.padded(kwargs, shard)
    static = {k: v for k, v in kwargs.items() if _static(v)}
    arrays = {k: v for k, v in kwargs.items() if not _static(v)}
    key = (source, tuple(sorted(kernel_options.items())), tuple(sorted(mcmc_options.items())), extra_fields,
           tuple(sorted((k, _signature(v)) for k, v in kwargs.items())), bool(jax.config.jax_enable_x64),
           shard.key if shard is not None else None)
    fn = _kept.get(key)
    reused = fn is not None
    rng_key = jax.random.PRNGKey(seed)
    if shard is not None:
        mesh = sharding.mesh(shard.devices)
        arrays, rng_key = sharding.place(arrays, shard, mesh), sharding.replicated(rng_key, mesh)
    if fn is None:
        model = partial(numpyro_model if shard is None else sharding.masked(numpyro_model, shard), **static)

        def one_run(rng_key, data):
            mcmc = MCMC(NUTS(model, **kernel_options), progress_bar=False, **mcmc_options)
            mcmc.run(rng_key, extra_fields=extra_fields, **data)
            return mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True)

        fn = jax.jit(one_run) if shard is None else sharding.jitted(one_run, mesh)
    try:
        if not reused and shard is not None:  # compiled here, so its shardings can be read
            fn = fn.lower(rng_key, arrays).compile()
            _reports[key] = sharding.verify(fn, arrays, shard)
        elif not reused and cache:
            fn = _stored(key, fn, rng_key, arrays)
        samples, extra = fn(rng_key, arrays)
    except _tracing_errors():
        _not_reusable.add(source)
        return None
    _kept[key] = fn
    _kept.move_to_end(key)
    while len(_kept) > MAX_KEPT:
        _reports.pop(_kept.popitem(last=False)[0], None)
    if not _every_chain_started(extra):
        return None  # the plain run reports why
    record = NUTS(numpyro_model, **kernel_options)  # the kernel's settings, for the record
    draws = Draws(samples, extra, record, mcmc_options["num_chains"], mcmc_options["num_samples"],
                  mcmc_options.get("thinning", 1), reused=reused)
    if shard is not None:
        draws.samples = sharding.unpad(draws.samples, shard)
        draws.sharding = _reports.get(key)
    return draws


def programs_dir():
    """Where exported sampling programs are kept: ``$PPLANG_CACHE_DIR/programs``, else beside JAX's
    compilation cache (``~/.cache/pplang/programs``)."""
    from pathlib import Path

    from .jitcache import cache_dir

    if os.environ.get("PPLANG_CACHE_DIR"):
        return Path(os.environ["PPLANG_CACHE_DIR"]) / "programs"
    return cache_dir().parent / "programs"


def _stored(key: tuple, fn: Callable, rng_key, arrays: dict) -> Callable:
    """``fn`` as an exported program: loaded from disk when this key was exported before, else
    traced, exported and written (atomically). Either way the program is called through
    ``Exported.call``, so a first and a later process run the same computation."""
    import jax
    from jax import export

    import numpyro

    from . import __version__

    versions = (jax.__version__, numpyro.__version__, __version__, jax.default_backend())
    digest = hashlib.sha256(repr((key, versions)).encode()).hexdigest()[:32]
    path = programs_dir() / f"{digest}.jaxexport"
    exported = None
    try:
        blob = path.read_bytes()
    except OSError:
        blob = None
    if blob is not None:
        try:
            exported = export.deserialize(bytearray(blob))
        except Exception:  # noqa: BLE001 - a damaged or foreign entry: drop it and trace again
            path.unlink(missing_ok=True)
    if exported is None:
        try:
            exported = export.export(fn)(rng_key, arrays)
            blob = exported.serialize()
        except _tracing_errors():
            raise
        except Exception:  # noqa: BLE001 - e.g. host callbacks (diffrax's checks) cannot be serialised
            return fn  # kept in the process only
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
                tmp.write(blob)
            os.replace(tmp.name, path)
        except OSError:  # an unwritable cache costs the next process a trace, nothing more
            pass
    return jax.jit(exported.call)


def forget() -> None:
    """Drop every kept compiled sampler (their programs are released with JAX's caches)."""
    _kept.clear()
    _not_reusable.clear()
    _reports.clear()
