"""`pplang check` time against the number of statements (issue 14: linear growth, 5,000 statements
in under 2 s). The generated model has N undeclared indexed latents whose range is inferred from a
data vector (the case that used to grow quadratically): `z{i}[n] ~ Normal(x[n], 1)`.

    python bench/check_time.py [--sizes 500 1000 2000 5000] [--reps 3]

Reports, per size, the median over reps of the process CPU time of parse + check (what `pplang
check` does) and of parse + check + lower (`pplang.compile`), in a warm process, and seconds per
1,000 statements (constant if linear); then the wall time of the `pplang check` command itself at
the largest size (process start included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def source(n: int) -> str:
    return "data N: int\ndata x: real[N]\n" + "".join(f"z{i}[n] ~ Normal(x[n], 1)\n" for i in range(n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    from pplang import checks, syntax
    from pplang.compiler import compile as compile_model

    print("| statements | parse + check (s CPU) | per 1,000 | parse + check + lower (s CPU) | per 1,000 |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        src = source(n)
        check_t, compile_t = [], []
        for _ in range(args.reps):
            t = time.process_time()
            checks.check(syntax.parse(src))
            check_t.append(time.process_time() - t)
            t = time.process_time()
            compile_model(src)
            compile_t.append(time.process_time() - t)
        c, k = statistics.median(check_t), statistics.median(compile_t)
        print(f"| {n:,} | {c:.3f} | {c / n * 1000:.3f} | {k:.3f} | {k / n * 1000:.3f} |")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.ppl"
        path.write_text(source(max(args.sizes)))
        walls = []
        for _ in range(args.reps):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pplang.cli", "check", str(path)], check=True, cwd=ROOT,
                           stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t)
        print(f"\n`pplang check` of {max(args.sizes):,} statements, process wall: median {statistics.median(walls):.2f} s "
              f"(runs {', '.join(f'{w:.2f}' for w in walls)})")


if __name__ == "__main__":
    main()
