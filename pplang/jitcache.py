"""JAX compilation: the persistent compilation cache, and a clock for time spent compiling.

The cache lets a second ``pplang run`` of an unchanged model (same data shapes and settings) load
the compiled sampler from disk instead of recompiling it. It lives in ``$PPLANG_CACHE_DIR``, else
``$XDG_CACHE_HOME/pplang/jax``, else ``~/.cache/pplang/jax``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_lock = threading.Lock()
_totals = {"compile_s": 0.0, "cache_hits": 0, "cache_misses": 0}
_registered = False


def cache_dir() -> Path:
    if os.environ.get("PPLANG_CACHE_DIR"):
        return Path(os.environ["PPLANG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pplang" / "jax"


def enable_persistent_cache(directory: Path | None = None) -> Path:
    """Turn on JAX's persistent compilation cache (every compiled program is kept)."""
    import jax

    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def _count_memory_maps() -> int | None:
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(1 for _ in maps)
    except OSError:  # not Linux
        return None


def _memory_map_limit() -> int | None:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None


def release_compiled_programs_if_needed(fraction: float = 0.5) -> bool:
    """Drop JAX's in-process caches of compiled programs when the process nears the kernel's limit on
    memory mappings (``vm.max_map_count``, 65,530 by default on Linux).

    Every XLA:CPU executable maps its code into memory, and JAX keeps each program it compiled for the
    life of the process. A new sampler is compiled for each fit (about 720 mappings for eight
    schools), so a process that fits many models or data sets (a test suite, a simulation study)
    reaches the limit after a hundred or so fits; LLVM then fails to map the next program and the
    process dies with a segmentation fault. Clearing the caches when more than ``fraction`` of the
    limit is used keeps the count bounded; the only cost is that programs used again are
    recompiled (or loaded from the persistent cache). Returns whether the caches were cleared."""
    count, limit = _count_memory_maps(), _memory_map_limit()
    if count is None or limit is None or count < fraction * limit:
        return False
    import gc

    import jax

    jax.clear_caches()
    gc.collect()
    return True


def _on_duration(event: str, duration: float, **_kw) -> None:
    if event in _EVENTS:
        with _lock:
            _totals["compile_s"] += duration


def _on_event(event: str, **_kw) -> None:
    key = {"/jax/compilation_cache/cache_hits": "cache_hits",
           "/jax/compilation_cache/cache_misses": "cache_misses"}.get(event)
    if key:
        with _lock:
            _totals[key] += 1


class JitClock:
    """Context manager: ``compile_s`` is the time JAX spent tracing, lowering and compiling inside
    the block (including loading from the persistent cache); ``cache_hits``/``cache_misses`` count
    persistent-cache look-ups."""

    def __enter__(self) -> "JitClock":
        global _registered
        import jax.monitoring

        release_compiled_programs_if_needed()  # before compiling: never run out of memory mappings
        if not _registered:
            jax.monitoring.register_event_duration_secs_listener(_on_duration)
            jax.monitoring.register_event_listener(_on_event)
            _registered = True
        self._start = dict(_totals)
        return self

    def __exit__(self, *exc) -> None:
        self.compile_s = _totals["compile_s"] - self._start["compile_s"]
        self.cache_hits = _totals["cache_hits"] - self._start["cache_hits"]
        self.cache_misses = _totals["cache_misses"] - self._start["cache_misses"]
