"""Sampler settings: the one place that holds ``pplang run``'s defaults.

The command line (``cli``), the Python API (``Model.sample``), the ejected program (``eject``) and
the record stored with a fit (``results.run_attrs``) all read :data:`DEFAULTS`, so they cannot
drift apart. :meth:`SamplerSettings.check` refuses impossible values before anything is compiled
or sampled. Nothing here imports JAX.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

from .diagnostics import Diagnostic, PplangError
from .guards import count_problem, seed_problem, whole_problem

CHAIN_METHODS = ("vectorized", "parallel", "sequential")
# NumPyro counts a trajectory's 2^D - 1 steps in 32-bit integers and keeps D checkpoints per draw
MAX_TREE_DEPTH = 30


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """How NUTS is run. ``chains``, ``warmup`` and ``samples`` per chain (``samples`` iterations
    are run; every ``thin``-th is kept, so ``samples // thin`` draws per chain), ``seed`` (the key
    is ``jax.random.PRNGKey(seed)``), ``chain_method`` (NumPyro's), ``float64`` (double precision),
    and NUTS's ``target_accept`` (Stan's adapt_delta), ``max_tree_depth`` (max_treedepth) and
    ``dense_mass`` (Stan's dense_e metric)."""

    chains: int = 8
    warmup: int = 1000
    samples: int = 5000
    seed: int = 0
    chain_method: str = "vectorized"
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    thin: int = 1
    float64: bool = False

    def problems(self) -> list[str]:
        """What is wrong with these settings, as command-line flags name them (empty: nothing)."""
        out = []

        def whole(name: str, value, least: int) -> None:
            out.append(count_problem("--" + name.replace("_", "-"), value, least))

        whole("chains", self.chains, 1)
        whole("warmup", self.warmup, 0)
        whole("samples", self.samples, 1)
        out.append(seed_problem("--seed", self.seed))
        out.append(whole_problem("--max-tree-depth", self.max_tree_depth, 1, MAX_TREE_DEPTH))
        whole("thin", self.thin, 1)
        out = [p for p in out if p]
        ta = self.target_accept
        if isinstance(ta, bool) or not isinstance(ta, numbers.Real) or not 0 < ta < 1:
            out.append(f"--target-accept must be strictly between 0 and 1 (Stan's adapt_delta, e.g. 0.95), "
                       f"got {self.target_accept!r}")
        if self.chain_method not in CHAIN_METHODS:
            out.append(f"--chain-method must be one of {', '.join(CHAIN_METHODS)}, got {self.chain_method!r}")
        if not out and self.thin > self.samples:
            out.append(f"--thin {self.thin} keeps no draws of --samples {self.samples}: "
                       "thin must not exceed samples")
        return out

    def check(self) -> SamplerSettings:
        """``self``, or a :class:`PplangError` (code ``bad-setting``) listing every problem."""
        problems = self.problems()
        if problems:
            raise PplangError([Diagnostic("bad-setting", p) for p in problems])
        return self

    @property
    def draws(self) -> int:
        """Draws kept per chain."""
        return self.samples // self.thin

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULTS = SamplerSettings()
SETTING_NAMES = tuple(f.name for f in fields(SamplerSettings))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a run's work goes (not how NUTS runs: the draws do not depend on it, beyond the order
    of floating-point sums). ``shard_data`` splits the observation rows across devices
    (:mod:`pplang.sharding`), over ``devices`` of them (all visible when None; giving it implies
    ``shard_data``); ``coordinator`` (HOST:PORT), ``num_processes`` and ``process_id`` run one
    model across processes with ``jax.distributed`` (also implying ``shard_data``)."""

    shard_data: bool = False
    devices: int | None = None
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def sharded(self) -> bool:
        return bool(self.shard_data or self.devices is not None or self.coordinator)

    def problems(self) -> list[str]:
        out = []
        if self.devices is not None:
            out.append(whole_problem("--devices", self.devices, 1, 1 << 16))
        if self.coordinator is None:
            if self.num_processes is not None or self.process_id is not None:
                flag = "--num-processes" if self.num_processes is not None else "--process-id"
                out.append(f"{flag} needs --coordinator HOST:PORT (the address of process 0)")
            return [p for p in out if p]
        host, _, port = self.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            out.append(f"--coordinator must be HOST:PORT with a port in 1..65535, got {self.coordinator!r}")
        if self.num_processes is None or self.process_id is None:
            out.append("--coordinator needs --num-processes P and --process-id I (0 for the coordinator)")
        else:
            out.append(whole_problem("--num-processes", self.num_processes, 1, 1 << 16))
            out.append(whole_problem("--process-id", self.process_id, 0, max(self.num_processes - 1, 0)))
        return [p for p in out if p]

    def check(self, init: Any = None, chain_method: str = "vectorized") -> Placement:
        """``self``, or ``bad-setting`` for every problem; sharding needs the compiled whole run
        (:mod:`pplang.reuse`), which takes neither initial values nor ``parallel`` chains."""
        problems = self.problems()
        if self.sharded and (init is not None or chain_method == "parallel"):
            what = "--init" if init is not None else "--chain-method parallel"
            problems.append(f"--shard-data cannot be combined with {what}: shard with vectorized (the default) "
                            "or sequential chains and random initial values")
        if problems:
            raise PplangError([Diagnostic("bad-setting", p, help="see `pplang run --help`, \"sharding\"")
                               for p in problems])
        return self
