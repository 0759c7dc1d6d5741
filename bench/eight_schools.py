"""Benchmark: `pplang run examples/eight_schools.ppl` end to end (process start to printed
summary) against a hand-written NumPyro script doing the same run, side by side, alternating,
several repetitions; also the time pplang spends parsing + checking + compiling the model.

Usage: python bench/eight_schools.py [--reps 5] [--centered]
Both run warm: the hand-written script with JAX's persistent compilation cache on (its own
directory), pplang with its default cache (one untimed run of each first fills them). Prints the
median wall time of each and the ratio pplang / hand-written.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def compile_ms(model: Path, reps: int = 20) -> float:
    code = ("import time, pplang; src=open(%r).read(); pplang.compile(src); ts=[]\n"
            "for _ in range(%d):\n t=time.perf_counter(); pplang.compile(src); ts.append(time.perf_counter()-t)\n"
            "import statistics; print(statistics.median(ts)*1000)") % (str(model), reps)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--centered", action="store_true")
    args = ap.parse_args()
    model = ROOT / "examples" / ("eight_schools_centered.ppl" if args.centered else "eight_schools.ppl")
    pplang_cmd = [sys.executable, "-m", "pplang.cli", "run", str(model), "--no-progress"]
    import tempfile

    hand_cache = tempfile.mkdtemp(prefix="pplang-bench-jax-")
    hand_cmd = [sys.executable, str(ROOT / "bench" / "handwritten" / "eight_schools.py"), "--cache", hand_cache]
    if args.centered:
        hand_cmd.append("--centered")
    ours, theirs = [], []
    timed(hand_cmd), timed(pplang_cmd)  # warm both caches
    for _ in range(args.reps):
        theirs.append(timed(hand_cmd))
        ours.append(timed(pplang_cmd))
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(f"model: {model.relative_to(ROOT)} (8 chains vectorized, 1000 warmup, 5000 samples)")
    print(f"pplang run, end to end:      median {mo:6.2f} s  runs {', '.join(f'{x:.2f}' for x in ours)}")
    print(f"hand-written NumPyro script: median {mt:6.2f} s  runs {', '.join(f'{x:.2f}' for x in theirs)}")
    print(f"ratio pplang / hand-written: {mo / mt:.3f}")
    print(f"parse + check + compile (warm process, median of 20): {compile_ms(model):.2f} ms")


if __name__ == "__main__":
    main()
