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
