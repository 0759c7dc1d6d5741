"""Data-parallel sharding (pplang/sharding.py): the observation rows split across devices.

Every test runs pplang in a fresh subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count``
set before JAX is imported (4 CPU devices, or 2 per process for the two-process run), so the
device count of this process is never touched. The model is tests/sharding/rows.ppl: a logistic
regression with group intercepts, a reported quantity per row (``eta``) and a generated one
(``log_lik``), on simulated data."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, record_output
from pplang.posterior import format_summary

MODEL = ROOT / "tests" / "sharding" / "rows.ppl"


def write_data(path: Path, n: int, j: int = 5, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(1, j + 1, size=n)
    a = rng.normal(0, 1, size=j)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a[g - 1] + 0.7 * x)))).astype(int)
    path.write_text(json.dumps({"N": n, "J": j, "x": x.tolist(), "g": g.tolist(), "y": y.tolist()}))
    return path


def env(tmp_path: Path, devices: int = 4) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", PPLANG_CACHE_DIR=str(tmp_path / "cache"),
                XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def pplang(tmp_path: Path, *argv: str, devices: int = 4, timeout: int = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "pplang.cli", *argv], capture_output=True, text=True,
                       env=env(tmp_path, devices), timeout=timeout, cwd=tmp_path)
    record_output(r.stderr)
    return r


def python(tmp_path: Path, script: str, devices: int = 4) -> dict:
    """Run ``script`` in a fresh interpreter; its last line of output is a JSON object."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                       env=env(tmp_path, devices), timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


SHORT = ["--chains", "2", "--warmup", "20", "--samples", "20", "--no-progress"]


def test_the_compiled_program_is_partitioned(tmp_path):
    """The compiled executable takes each row array as 4 shards of 500 rows (its input shardings)
    and reduces across devices; the run says so in --json and in its table."""
    data = write_data(tmp_path / "d.json", 2000)
    r = pplang(tmp_path, "run", str(MODEL), "--data", str(data), "--shard-data", "--json", *SHORT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    sh = out["sharding"]
    assert sh["partitioned"] is True and sh["devices"] == 4 and sh["processes"] == 1
    assert (sh["rows"], sh["rows_per_device"], sh["padded_rows"]) == (2000, 500, 0)
    assert sh["arrays"] == {"x": {"shape": [2000], "shard_shape": [500]},
                            "g": {"shape": [2000], "shard_shape": [500]},
                            "y": {"shape": [2000], "shard_shape": [500]}}
    assert sh["cross_device_ops"] > 0  # the likelihood's sum over rows crosses devices
    assert sh["summary"] == "sharded x, g, y over 4 devices (500 rows each, 0 padded)"
    assert "Sharding: sharded x, g, y over 4 devices (500 rows each, 0 padded)" in format_summary(out)
    assert "eta[2000]" in out["parameters"] and "eta[2001]" not in out["parameters"]
    assert "shard-unsupported" not in r.stderr


def test_19999_rows_on_4_devices_match_the_unsharded_run_in_float64(tmp_path):
    """19,999 rows on 4 devices: one padded row, masked out. The log density with the padded row
    equals the unpadded one (and differs without the mask, so the mask is what makes it equal).
    The draws equal the unsharded run's up to rounding: in float64 the sums over rows are only
    added in another order (per device, then across devices), a difference of ~1e-16 relative that
    NUTS's trajectories amplify slowly (measured: 0 after 2 iterations, 3e-15 after 10, 3e-9 after
    40); after 2 x 20 iterations we allow 1e-6. Per-row outputs (the reported eta, the generated
    log_lik, the log-likelihood, the replicated data) have 19,999 rows. A second call runs the kept
    compiled program (pplang/reuse.py) and gives the same draws."""
    data = write_data(tmp_path / "d.json", 19_999)
    out = python(tmp_path, f"""
        import json, numpy as np, jax, pplang
        from numpyro.infer.util import log_density
        from pplang import sharding
        m = pplang.load({str(MODEL)!r})
        kw = dict(chains=2, warmup=10, samples=10, seed=5, float64=True)
        plain = m.sample({str(data)!r}, **kw)
        split = m.sample({str(data)!r}, devices=4, **kw)
        again = m.sample({str(data)!r}, devices=4, **kw)  # the kept compiled program, run again
        jax.config.update("jax_enable_x64", True)
        data = m.prepare_data({str(data)!r})
        rows = sharding.plan(m.spec, data, 4)
        params = {{"a": np.linspace(-1, 1, 5), "b": 0.4}}
        ld = lambda model, d: float(log_density(model, (), d, params)[0])
        print(json.dumps({{
            "diff": max(float(np.max(np.abs(plain.samples[k] - split.samples[k]))) for k in plain.samples),
            "same_sites": sorted(plain.samples) == sorted(split.samples),
            "eta": list(split.samples["eta"].shape),
            "log_lik": list(split.generated()["log_lik"].shape),
            "log_lik_diff": float(np.max(np.abs(plain.generated()["log_lik"] - split.generated()["log_lik"]))),
            "pointwise": list(split.log_likelihood()["y"].shape),
            "predictive": list(split.predictive()["y"].shape),
            "sharding": split.sharding,
            "reused": [split.timing["reused"], again.timing["reused"], again.sharding == split.sharding],
            "again_diff": max(float(np.max(np.abs(again.samples[k] - split.samples[k]))) for k in split.samples),
            "padded": list(np.shape(sharding.padded(data, rows)["g"])),
            "ld_plain": ld(m.numpyro_model, data),
            "ld_masked": ld(sharding.masked(m.numpyro_model, rows), sharding.padded(data, rows)),
            "ld_unmasked": ld(m.numpyro_model, sharding.padded(data, rows)),
        }}))
        """)
    sh = out["sharding"]
    assert sh["partitioned"] and (sh["rows"], sh["rows_per_device"], sh["padded_rows"]) == (19_999, 5000, 1)
    assert out["padded"] == [20_000]
    assert out["reused"] == [False, True, True] and out["again_diff"] == 0  # reuse layer: same program, same draws
    assert out["ld_masked"] == pytest.approx(out["ld_plain"], rel=1e-12, abs=1e-9)
    assert abs(out["ld_unmasked"] - out["ld_plain"]) > 1e-3
    assert out["same_sites"] and out["diff"] < 1e-6, out["diff"]
    assert out["eta"] == [20, 19_999] and out["log_lik"] == [20, 19_999] and out["log_lik_diff"] < 1e-6
    assert out["pointwise"] == [2, 10, 19_999] and out["predictive"] == [20, 19_999]


def test_sequential_chains_and_written_per_row_outputs_have_n_rows(tmp_path):
    """Sequential chains shard too; 1,001 rows on 4 devices (3 padded): the reported eta, the
    generated log_lik and the replicated y written to a .csv have 1,001 columns each."""
    data = write_data(tmp_path / "d.json", 1001)
    r = pplang(tmp_path, "run", str(MODEL), "--data", str(data), "--shard-data", "--chain-method", "sequential",
               "--predict", "-o", "fit.csv", "--vars", "b", *SHORT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Sharding: sharded x, g, y over 4 devices (251 rows each, 3 padded)" in r.stdout
    header = (tmp_path / "fit.csv").read_text().splitlines()[0].split(",")
    for name in ("eta", "log_lik", "y_rep"):
        cols = [c for c in header if c.startswith(name + "[")]
        assert len(cols) == 1001 and cols[-1] == f"{name}[1001]", (name, cols[-3:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # ~28 s on 2 cores: two interpreters, each compiling the program
def test_two_processes_over_localhost_give_the_one_process_result(tmp_path):
    """Two processes of 2 CPU devices each (jax.distributed, gloo) run one program over 4 devices:
    the same result as one process with 4 devices, up to the order of the cross-device sums (float64;
    measured equal to 1e-14). Only process 0 prints; the other prints nothing at all."""
    data = write_data(tmp_path / "d.json", 1999)
    argv = ["run", str(MODEL), "--data", str(data), "--json", "--float64", *SHORT]
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "pplang.cli", *argv, "--coordinator", f"127.0.0.1:{port}",
                               "--num-processes", "2", "--process-id", str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env(tmp_path, 2), cwd=tmp_path)
             for i in (0, 1)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert outs[1] == ("", ""), "process 1 must print nothing"
    two = json.loads(outs[0][0])
    assert two["sharding"]["processes"] == 2 and two["sharding"]["devices"] == 4 and two["sharding"]["partitioned"]
    assert "in 2 processes" in two["sharding"]["summary"]
    r = pplang(tmp_path, *argv, "--devices", "4")
    assert r.returncode == 0, r.stderr[-2000:]
    one = json.loads(r.stdout)
    assert one["parameters"].keys() == two["parameters"].keys()
    for name, row in one["parameters"].items():
        assert two["parameters"][name]["mean"] == pytest.approx(row["mean"], rel=1e-9, abs=1e-9), name


def test_a_process_that_cannot_join_is_told_plainly(tmp_path):
    """Process 0 must listen at --coordinator; a port already taken is a plain error (JAX's
    coordinator service would crash the process), exit 1."""
    data = write_data(tmp_path / "d.json", 10)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = pplang(tmp_path, "run", str(MODEL), "--data", str(data), "--coordinator", f"127.0.0.1:{port}",
                   "--num-processes", "2", "--process-id", "0", *SHORT, devices=2)
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"error[distributed-start]: --coordinator 127.0.0.1:{port}: port {port} is already in use" in r.stderr
    assert "help: choose a free port" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("flags, message, hint", [
    (["--devices", "0"], "error[bad-setting]: --devices must be at least 1, got 0", "help:"),
    (["--devices", "99"], "error[bad-setting]: --devices 99: only 4 CPU devices visible",
     "XLA_FLAGS=--xla_force_host_platform_device_count=N"),
    (["--num-processes", "2"], "error[bad-setting]: --num-processes needs --coordinator HOST:PORT", "help:"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
     "error[bad-setting]: --coordinator must be HOST:PORT", "help:"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"],
     "error[bad-setting]: --process-id must be at most 1, got 2", "help:"),
    (["--shard-data", "--chain-method", "parallel"],
     "error[bad-setting]: --shard-data cannot be combined with --chain-method parallel", "help:"),
])
def test_bad_flags_are_refused_before_sampling(tmp_path, flags, message, hint):
    data = write_data(tmp_path / "d.json", 10)
    r = pplang(tmp_path, "run", str(MODEL), "--data", str(data), *flags, *SHORT)
    assert r.returncode == 1, r.stderr[-2000:]
    assert message in r.stderr and hint in r.stderr
    assert f"--> {MODEL}" in r.stderr  # reported against the model, as every bad setting is
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr and r.stdout == ""


def test_a_model_without_a_row_plate_runs_unsharded_with_a_located_warning(tmp_path):
    """Eight schools: its only plate also holds the latent theta, so nothing can be split; the run
    goes on unsharded and says why, at theta's statement."""
    r = pplang(tmp_path, "run", str(ROOT / "examples" / "eight_schools.ppl"), "--shard-data", "--json",
               "--format", "concise", *SHORT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'eight_schools.ppl:9:1: warning: --shard-data: not sharding this run: the parameter "theta" has one ' \
           "element per row  [shard-unsupported]" in r.stderr
    out = json.loads(r.stdout)
    assert out["sharding"]["partitioned"] is False


# ----------------------------------------------------------------------------- what can be split (no JAX)

HEAD = "data N: int<lower=1>\ndata x: real[N]\ndata y: real[N]\n"


@pytest.mark.parametrize("body, reason, line", [
    ("b ~ Normal(0, 1)\ny[n] ~ Normal(b * x[n], 1)\n", None, None),
    ("b ~ Normal(0, 1)\nmu[n] = b * x[n]\ny[n] ~ Normal(mu[n], 1)\n", None, None),
    ("b ~ Normal(0, 1)\ny[n] ~ Normal(b * x[n], sd(x))\n", '"x" is used here without the row index first', 5),
    ("b ~ Normal(0, 1)\ny[n] ~ Normal(b * x[n] / N, 1)\n", 'the row count "N" is used as a value', 5),
    ("b ~ Normal(0, 1)\ny[n] ~ Normal(b * x[n], 1)\ntarget += normal_lpdf(x[n] | b, 1)\n",
     "a `target +=` statement reads the rows", 6),
    ("b ~ Normal(0, 1)\ntarget += normal_lpdf(y[n] | b * x[n], 1)\n", "no observed statement runs over a plate", None),
    ("z[n] ~ Normal(0, 1)\ny[n] ~ Normal(z[n] * x[n], 1)\n", 'the parameter "z" has one element per row', 4),
    ("b ~ Normal(0, 1)\ns = sum(y)\ny[n] ~ Normal(b * x[n], 1)\n", '"y" is used here without the row index first', 5),
    ("data Z: matrix[2, N]\nb ~ Normal(0, 1)\ny[n] ~ Normal(b * Z[1, n], 1)\n",
     'the data "Z" has the row count "N" in a dimension other than the first', 4),
])
def test_what_can_be_split_is_decided_from_the_checked_model(body, reason, line):
    """pplang.sharding.plan reads the typed model: a statement that reads the rows other than row by
    row (a reduction over them, the row count as a number, a factor, a parameter per row) keeps the
    run unsharded, and the warning points at it."""
    import pplang
    from pplang import sharding

    model = pplang.compile(HEAD + body, "m.ppl")
    kwargs = {"N": 10, "x": np.zeros(10), "y": np.zeros(10)}
    found = sharding.plan(model.spec, kwargs, 4)
    if reason is None:
        assert isinstance(found, sharding.Rows)
        assert (found.size, found.rows, found.arrays, found.plates) == ("N", 10, ("x", "y"), ("N",))
        assert (found.padded_rows, found.padding, found.per_device) == (12, 2, 3)
        assert found.outputs == ((("mu", 2),) if "mu[n]" in body else ())
    else:
        assert isinstance(found, tuple) and reason in found[0], found
        assert (found[1].line if found[1] is not None else None) == line
