"""JAX compilation: the persistent compilation cache, and a clock for time spent compiling.

The cache lets a second ``pplang run`` of an unchanged model (same data shapes and settings) load
the compiled sampler from disk instead of recompiling it. It lives in ``$PPLANG_CACHE_DIR``, else
``$XDG_CACHE_HOME/pplang/jax``, else ``~/.cache/pplang/jax``.

The cache holds native code that JAX loads and runs, so pplang uses a directory only when it is a
directory owned by the current user that no one else can write to; otherwise the run goes on
uncached with one warning. Its size is capped (``$PPLANG_CACHE_MAX_SIZE``, default 1G; ``500M``,
``2G`` or a number of bytes): the least recently used entries are removed at the start of a run
when the cache is above the cap. An entry JAX cannot read (a truncated or corrupt file) is removed
after the run that met it, so the next run compiles and stores it afresh; JAX's own warnings about
it are not shown. ``pplang cache info`` and ``pplang cache clear`` show and empty the cache.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import warnings
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


DEFAULT_MAX_SIZE = 1 << 30  # 1 GiB
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_notes: list[str] = []  # what pplang has to say about the cache this run (taken by take_notes)


def take_notes() -> list[str]:
    """The warnings about the cache since the last call (an unusable directory, repaired entries)."""
    out = list(dict.fromkeys(_notes))
    _notes.clear()
    return out


def cache_warnings() -> list:
    """:func:`take_notes` as ``cache`` warnings, for the run's other warnings."""
    from .diagnostics import Diagnostic

    return [Diagnostic("cache", note, severity="warning", help="`pplang explain cache`") for note in take_notes()]


def max_size() -> int:
    """The cap on the cache's size in bytes: ``$PPLANG_CACHE_MAX_SIZE`` (``1G``, ``500M``, ``4096``),
    else :data:`DEFAULT_MAX_SIZE`."""
    text = os.environ.get("PPLANG_CACHE_MAX_SIZE", "").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", text.upper())
    if not text:
        return DEFAULT_MAX_SIZE
    if not m:
        _notes.append(f"PPLANG_CACHE_MAX_SIZE={text!r} is not a size (write 1G, 500M or a number of bytes); "
                      f"using the default, {DEFAULT_MAX_SIZE >> 30}G")
        return DEFAULT_MAX_SIZE
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def cache_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot hold the cache (creating it when it does not exist), or None."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = directory.stat()
    except FileExistsError:
        return f"the cache path {directory} is a file, not a directory"
    except OSError as exc:
        return f"the cache directory {directory} cannot be created: {exc.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"the cache path {directory} is a file, not a directory"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"the cache directory {directory} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"the cache directory {directory} can be written by other users (chmod go-w {directory})"
    return None


def entries(directory: Path) -> list[Path]:
    """JAX's cache entries in ``directory`` (``<module>-<hash>-cache`` files)."""
    try:
        return [p for p in directory.glob("*-cache") if p.is_file()]
    except OSError:
        return []


def _programs_dir(directory: Path) -> Path:
    """Where :mod:`pplang.reuse` keeps exported sampling programs for the cache ``directory``."""
    from .reuse import programs_dir

    return programs_dir() if directory == cache_dir() else directory / "programs"


def programs(directory: Path) -> list[Path]:
    """The exported sampling programs (``programs/*.jaxexport``) that belong to the cache ``directory``."""
    try:
        return [p for p in _programs_dir(directory).glob("*.jaxexport") if p.is_file()]
    except OSError:
        return []


def _remove(entry: Path) -> None:
    for path in (entry, entry.with_name(entry.name.removesuffix("-cache") + "-atime")):
        try:
            path.unlink()
        except OSError:
            pass


def prune(directory: Path, cap: int) -> int:
    """Remove the least recently used entries until the cache holds at most ``cap`` bytes; returns
    how many were removed."""
    sized = []
    for entry in entries(directory) + programs(directory):
        try:
            info = entry.stat()
        except OSError:
            continue
        sized.append((max(info.st_atime, info.st_mtime), info.st_size, entry))
    total, removed = sum(size for _, size, _ in sized), 0
    for _, size, entry in sorted(sized, key=lambda t: t[0]):
        if total <= cap:
            break
        _remove(entry)
        total, removed = total - size, removed + 1
    return removed


def enable_persistent_cache(directory: Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache (every compiled program is kept) in ``directory``,
    after trimming it to :func:`max_size`. Returns the directory, or None when it cannot be used
    safely (the run then goes on uncached; :func:`take_notes` says why)."""
    import jax

    directory = directory or cache_dir()
    problem = cache_problem(directory)
    if problem:
        _notes.append(f"{problem}: running without the compilation cache")
        return None
    prune(directory, max_size())
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


_UNREADABLE = re.compile(r"Error reading persistent compilation cache entry for '([^']+)'")


def _readable(entry: Path) -> bool:
    """Whether JAX can decompress and unpack ``entry`` (loading the code itself is JAX's to try)."""
    from jax._src import compilation_cache

    try:
        data = compilation_cache.decompress_executable(entry.read_bytes())
        compilation_cache.extract_executable_and_time(data)
        return True
    except Exception:  # noqa: BLE001 - any failure means JAX cannot use it either
        return False


def repair(directory: Path, modules: set[str]) -> int:
    """Remove the entries of ``modules`` (programs JAX failed to read from the cache): those that
    cannot be decompressed, or every entry of a module when all of them can (then loading the code
    failed). JAX never overwrites an entry, so without this every later run would fail on it again.
    Returns how many were removed."""
    removed = 0
    for module in modules:
        mine = [p for p in entries(directory) if p.name.rsplit("-", 2)[0] == module]
        broken = [p for p in mine if not _readable(p)] or mine
        for entry in broken:
            _remove(entry)
        removed += len(broken)
    return removed


def cache_info(directory: Path | None = None) -> dict:
    """The cache's path, number of entries, size in bytes and cap (``pplang cache info``)."""
    directory = directory or cache_dir()
    files = entries(directory)
    exported = programs(directory)
    reparam = _reparam_dir(directory)
    choices = list(reparam.glob("*.json")) if reparam.is_dir() else []
    size = sum(p.stat().st_size for p in files + exported + choices if p.exists())
    return {"path": str(directory), "entries": len(files), "programs": len(exported), "auto_choices": len(choices),
            "size": size,
            "max_size": max_size(), "problem": cache_problem(directory) if directory.exists() else None}


def _reparam_dir(directory: Path) -> Path:
    from .autoreparam import cache_dir as reparam_dir

    return reparam_dir() if directory == cache_dir() else directory / "reparam"


def clear_cache(directory: Path | None = None) -> int:
    """Remove every entry of the cache and every cached ``auto`` choice (nothing else: the directory
    may hold other files); returns how many entries were removed."""
    directory = directory or cache_dir()
    files = entries(directory)
    for entry in files:
        _remove(entry)
    reparam = _reparam_dir(directory)
    choices = list(reparam.glob("*.json")) if reparam.is_dir() else []
    exported = programs(directory)
    for path in choices + exported:
        path.unlink(missing_ok=True)
    return len(files) + len(choices) + len(exported)


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
        self._catch = warnings.catch_warnings(record=True)
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc) -> None:
        self._catch.__exit__(*exc)
        failed, shown = set(), set()
        for w in self._caught:  # JAX warns once per unreadable entry, every run: collect, repair, say so once
            m = _UNREADABLE.search(str(w.message))
            if m:
                failed.add(m.group(1))
            elif (where := (str(w.message), w.category, w.filename, w.lineno)) not in shown:  # the others, once each
                shown.add(where)
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
        if failed:
            import jax

            where = jax.config.jax_compilation_cache_dir
            removed = repair(Path(where), failed) if where else 0
            _notes.append(f"{removed} unreadable entries of the compilation cache ({where}) were removed; the "
                          "programs were compiled afresh and will be stored again")
        self.compile_s = _totals["compile_s"] - self._start["compile_s"]
        self.cache_hits = _totals["cache_hits"] - self._start["cache_hits"]
        self.cache_misses = _totals["cache_misses"] - self._start["cache_misses"]
