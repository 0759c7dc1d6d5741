"""`auto` against both fixed parameterisations: each case's hierarchical statement written centred,
non-centred, and centred with `--reparam auto` (bench/auto_cases.py), every run in a fresh process
(bench/auto_worker.py), one at a time.

Usage: python bench/auto_reparam.py [--cases eight_schools sixteen_schools ...] [--seeds 0 1 2]
           [--variants centred noncentred auto] [--settings 4,1000,2000] [--warm] [--log FILE.jsonl]
       python bench/auto_reparam.py --from-log FILE.jsonl [...]   (the table of logged runs)

Each run starts with an empty cache directory (PPLANG_CACHE_DIR: no compiled code, no cached
choice): "cold". With --warm each run is repeated at once with the same directory: the JAX
compilation cache is warm for every variant and auto's choice comes from its cache. Prints, per
case and variant, medians over the seeds of: min bulk ESS (over every reported scalar) per 1,000
leapfrog steps while sampling, per wall second (process start to summary, the choice included),
wall seconds cold and warm, divergences, auto's seconds and choice; then auto's ratios to the best
fixed variant.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from auto_cases import CASES  # noqa: E402

VARIANTS = ("centred", "noncentred", "auto")


def run(case: str, variant: str, seed: int, cache: str, settings: str | None) -> dict:
    cmd = [sys.executable, str(HERE / "auto_worker.py"), case, variant, str(seed)]
    cmd += ["--settings", settings] if settings else []
    env = dict(os.environ, PPLANG_CACHE_DIR=cache, PYTHONPATH=str(HERE.parent))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{case}/{variant}/{seed} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def table(rows: list[dict], warm: list[dict]) -> str:
    out = []
    head = (f"{'case':<22}{'variant':<12}{'ESS/1k steps':>13}{'ESS/s':>9}{'wall s':>8}{'warm s':>8}"
            f"{'div':>5}{'choice s':>9}  chosen")
    out += [head, "-" * (len(head) + 12)]
    for case in dict.fromkeys(r["case"] for r in rows):
        cells = {}
        for v in VARIANTS:
            rs = [r for r in rows if r["case"] == case and r["variant"] == v]
            ws = [r for r in warm if r["case"] == case and r["variant"] == v]
            if not rs:
                continue
            cells[v] = (med(rs, "ess_per_1000_steps"), med(rs, "ess_per_s"), med(rs, "wall_s"),
                        med(ws, "wall_s") if ws else None)
            chosen = "; ".join(sorted({r["chosen"] for r in rs if r["chosen"]}))
            warm_s = f"{cells[v][3]:>8.1f}" if ws else f"{'-':>8}"
            out.append(f"{case:<22}{v:<12}{cells[v][0]:>13.1f}{cells[v][1]:>9.1f}{cells[v][2]:>8.1f}{warm_s}"
                       f"{int(med(rs, 'divergences')):>5}{med(rs, 'reparam_s'):>9.2f}  {chosen}")
        fixed = [v for v in ("centred", "noncentred") if v in cells]
        if "auto" in cells and fixed:
            a = cells["auto"]
            best = {k: max(cells[v][k] for v in fixed) for k in (0, 1)}
            fastest = min(cells[v][2] for v in fixed)
            line = (f"{'':<22}{'auto/best':<12}{a[0] / best[0]:>13.2f}{a[1] / best[1]:>9.2f}"
                    f"{a[2] / fastest:>8.2f}")
            warm_fixed = [cells[v][3] for v in fixed if cells[v][3] is not None]
            if a[3] is not None and warm_fixed:  # against the fastest fixed variant run warm
                line += f"{a[3] / min(warm_fixed):>8.2f}"
            out.append(line)
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--settings", help="chains,warmup,samples (default: each case's, 4,1000,2000)")
    ap.add_argument("--warm", action="store_true", help="repeat each run with its caches warm")
    ap.add_argument("--log", help="append every run's JSON line here")
    ap.add_argument("--from-log", nargs="*", metavar="FILE",
                    help="run nothing: print the table of the runs logged in these files (--log)")
    args = ap.parse_args()
    rows, warm = [], []
    if args.from_log:
        for path in args.from_log:
            for line in Path(path).read_text().splitlines():
                r = json.loads(line)
                if r["case"] in args.cases and r["seed"] in args.seeds and r["variant"] in args.variants:
                    (rows if r["phase"] == "cold" else warm).append(r)
        print(table(rows, warm))
        return
    for case in args.cases:
        for seed in args.seeds:
            for variant in args.variants:
                with tempfile.TemporaryDirectory() as cache:
                    for phase in ("cold", "warm") if args.warm else ("cold",):
                        r = run(case, variant, seed, cache, args.settings)
                        r["phase"] = phase
                        (rows if phase == "cold" else warm).append(r)
                        print(json.dumps(r), file=sys.stderr, flush=True)
                        if args.log:
                            with open(args.log, "a") as f:
                                f.write(json.dumps(r) + "\n")
    print(table(rows, warm))
    print(f"\nmedians of seeds {args.seeds}; settings "
          f"{args.settings or 'chains,warmup,samples = ' + ','.join(map(str, CASES[args.cases[0]].settings))}")


if __name__ == "__main__":
    main()
