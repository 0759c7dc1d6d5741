"""The compilation cache (pplang.jitcache) under bad conditions: corrupt entries are repaired without
JAX's warnings, an unsafe directory is not used, the size is capped, and `pplang cache` shows and
empties it."""

import os
import time

import pytest

from conftest import ROOT
from pplang import jitcache
from test_numeric_faults import pplang

MODEL = "mu ~ Normal(0, 1)\n"
SHORT = ("--chains", 1, "--warmup", 20, "--samples", 20, "--format", "concise")


def _run(tmp_path, cache, *extra):
    path = tmp_path / "m.ppl"
    path.write_text(MODEL)
    return pplang("run", path, *SHORT, *extra, env={"PPLANG_CACHE_DIR": str(cache)})


def test_unreadable_entries_are_removed_once_and_jax_warnings_are_not_shown(tmp_path):
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache).returncode == 0
    stored = jitcache.entries(cache)
    assert stored
    for entry in stored:  # truncated files, as a full disk or a killed process leaves them
        entry.write_bytes(entry.read_bytes()[:50])
    r = _run(tmp_path, cache)
    assert r.returncode == 0, r.stderr
    assert "Error reading persistent compilation cache" not in r.stderr and "UserWarning" not in r.stderr
    (note,) = [line for line in r.stderr.splitlines() if "[cache]" in line]
    assert f"{len(stored)} unreadable entries of the compilation cache ({cache}) were removed" in note
    r = _run(tmp_path, cache)  # repaired: the next run is clean and reads the cache again
    assert r.returncode == 0 and "[cache]" not in r.stderr, r.stderr
    assert all(jitcache._readable(e) for e in jitcache.entries(cache))


def test_an_unsafe_cache_path_is_not_used(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    r = _run(tmp_path, afile)
    assert r.returncode == 0, r.stderr
    assert f"warning: the cache path {afile} is a file, not a directory: running without the compilation cache" \
        in r.stderr and "internal error" not in r.stderr
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert "can be written by other users" in jitcache.cache_problem(shared)
    shared.chmod(0o755)
    assert jitcache.cache_problem(shared) is None
    monkeypatch.setattr(os, "getuid", lambda: os.stat(shared).st_uid + 1)
    assert "belongs to another user" in jitcache.cache_problem(shared)
    fresh = tmp_path / "new" / "cache"
    monkeypatch.undo()
    assert jitcache.cache_problem(fresh) is None and fresh.stat().st_mode & 0o077 == 0


def _fake_entries(directory, sizes):
    directory.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for k, size in enumerate(sizes):  # entry 0 is the least recently used
        entry = directory / f"jit_f{k}-{k:064x}-cache"
        entry.write_bytes(b"x" * size)
        os.utime(entry, (now - 1000 + k, now - 1000 + k))


def test_the_cache_is_capped_least_recently_used_first(tmp_path, monkeypatch):
    _fake_entries(tmp_path, [400, 300, 200, 100])
    assert jitcache.prune(tmp_path, 350) == 2
    assert sorted(p.name.split("-")[0] for p in jitcache.entries(tmp_path)) == ["jit_f2", "jit_f3"]
    monkeypatch.delenv("PPLANG_CACHE_MAX_SIZE", raising=False)
    assert jitcache.max_size() == 1 << 30
    for text, size in (("500M", 500 << 20), ("2G", 2 << 30), ("4096", 4096), ("1.5g", 3 << 29)):
        monkeypatch.setenv("PPLANG_CACHE_MAX_SIZE", text)
        assert jitcache.max_size() == size
    monkeypatch.setenv("PPLANG_CACHE_MAX_SIZE", "lots")
    jitcache.take_notes()
    assert jitcache.max_size() == 1 << 30 and "is not a size" in jitcache.take_notes()[0]


def test_cache_info_and_clear(tmp_path):
    cache = tmp_path / "cache"
    _fake_entries(cache, [1 << 20, 1 << 20])
    (cache / "notes.txt").write_text("the user's own file")
    env = {"PPLANG_CACHE_DIR": str(cache), "PPLANG_CACHE_MAX_SIZE": "100M"}
    r = pplang("cache", "info", env=env)
    assert r.returncode == 0, r.stderr
    assert f"path:     {cache}" in r.stdout and "entries:  2 compiled programs" in r.stdout
    assert "size:     2.0 MiB" in r.stdout and "max size: 100.0 MiB" in r.stdout
    r = pplang("cache", "clear", env=env)
    assert r.returncode == 0 and "removed 2 cache entries" in r.stdout, r.stderr
    assert jitcache.entries(cache) == [] and (cache / "notes.txt").exists()
