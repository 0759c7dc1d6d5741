"""The approximate methods against posteriordb's reference posteriors, beside NUTS.

    python bench/approx.py                          # eight schools + every examples/posteriordb model
    python bench/approx.py eight_schools kidiq-kidscore_momiq      # selected ones
    python bench/approx.py --json results.json ...  # also keep the rows

Each model runs in its own process (float64, seed 0, every method at its defaults): `optimize`
(MAP), `laplace`, `variational` (meanfield and fullrank) and `pathfinder`, then NUTS as the
conformance suite runs it (4 chains x 1000 warm-up + 1000 draws, pplang.conformance.SETTINGS).
Columns: `worst |err|` is the largest |mean - ref_mean| / ref_sd over the reference's quantities
(for a point estimate, the estimate stands for the mean) and which quantity; `sd ratio` is the
sd / ref_sd furthest from 1; `k-hat` is the Pareto k-hat the method reports; `warned` lists the
warnings it gave; `wall s` is the method's wall time in a process where JAX is already imported
(so it includes its JIT compilation). `eight_schools` is examples/eight_schools.ppl against the
non-centred reference.

The claim checked: zero silent failures -- every result whose mean is off by more than 0.3
reference sd for some quantity carries a warning. A row that breaks it is marked SILENT.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OFF = 0.3  # reference sds: a mean further off than this must carry a warning
METHODS = [("optimize", "optimize", {}), ("laplace", "laplace", {}), ("vi-meanfield", "variational", {}),
           ("vi-fullrank", "variational", {"family": "fullrank"}), ("pathfinder", "pathfinder", {})]
SHORT = {"approximation-unreliable": "k>0.7", "approximation-doubtful": "k>0.5", "mode-at-boundary": "boundary",
         "hessian-not-positive-definite": "hessian", "optimizer-not-converged": "not-conv",
         "elbo-not-converged": "elbo", "restarts-disagree": "restarts"}


def cases() -> list[str]:
    from pplang import conformance

    return ["eight_schools", *conformance.posteriors()]


def paths(name: str) -> tuple[Path, Path, str]:
    from pplang import conformance

    if name == "eight_schools":
        return ROOT / "examples" / "eight_schools.ppl", ROOT / "examples" / "eight_schools.json", \
            "eight_schools-eight_schools_noncentered"
    return conformance.EXAMPLES / f"{name}.ppl", conformance.REFERENCES / name / "data.json", name


def compare(draws: dict, reference: dict, point: bool) -> dict:
    """Worst mean error (in reference sds) and the sd ratio furthest from 1, over the reference's
    quantities; ``draws`` maps names to (draws, ...) arrays."""
    import numpy as np

    from pplang.runtime import flat_names

    flat = {}
    for name, arr in draws.items():
        arr = np.asarray(arr, dtype=float)
        for label, idx in flat_names(name, arr.shape[1:]):
            flat[label] = arr[(slice(None),) + idx]
    worst, worst_name, ratio, ratio_name, missing = 0.0, None, None, None, []
    for name, ref in reference.items():
        if name not in flat:
            missing.append(name)
            continue
        x = flat[name]
        err = abs(float(x.mean()) - ref["mean"]) / ref["sd"] if ref["sd"] > 0 else 0.0
        if not math.isfinite(err) or err > worst:
            worst, worst_name = (err if math.isfinite(err) else math.inf), name
        if not point and ref["sd"] > 0:
            r = float(x.std(ddof=1)) / ref["sd"]
            if ratio is None or not math.isfinite(r) or abs(math.log(max(r, 1e-300))) > abs(math.log(max(ratio, 1e-300))):
                ratio, ratio_name = r, name
    return {"worst": worst, "worst_name": worst_name, "sd_ratio": ratio, "sd_ratio_name": ratio_name,
            "missing": missing}


def worker(name: str, nuts: bool) -> list[dict]:
    import jax  # noqa: F401 - imported before any timing, as the other heavy imports
    import numpyro  # noqa: F401
    import arviz  # noqa: F401
    import blackjax  # noqa: F401

    from pplang import conformance, inference, load
    from pplang.diagnostics import PplangError

    model_path, data, ref_name = paths(name)
    reference = conformance.load_reference(ref_name)["parameters"]
    model = load(model_path)
    rows = []
    for label, method, options in METHODS:
        t0 = time.perf_counter()
        try:
            r = inference.fit(model, method, str(data), **options)
            samples = r.samples
        except PplangError as exc:
            rows.append({"model": name, "method": label, "error": str(exc).splitlines()[0]})
            continue
        except Exception as exc:  # noqa: BLE001 - a bench records failures and goes on
            rows.append({"model": name, "method": label, "error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        wall = time.perf_counter() - t0
        row = {"model": name, "method": label, "wall_s": wall, "pareto_k": r.diagnostics.get("pareto_k"),
               "warnings": [w.code for w in r.warnings], **compare(samples, reference, r.is_point)}
        rows.append(row)
    if nuts:
        t0 = time.perf_counter()
        post = model.sample(str(data), chains=4, warmup=1000, samples=1000, seed=0, float64=True,
                            chain_method="sequential", **conformance.SETTINGS.get(ref_name, {}))
        wall = time.perf_counter() - t0
        rows.append({"model": name, "method": "nuts", "wall_s": wall, "pareto_k": None,
                     "warnings": [] if post.num_divergences == 0 else ["divergences"],
                     **compare({k: v for k, v in post.samples.items() if k in post.reported}, reference, False)})
    return rows


def fmt(x, spec: str) -> str:
    return "-" if x is None else ("inf" if isinstance(x, float) and math.isinf(x) else format(x, spec))


def table(rows: list[dict]) -> str:
    head = (f"{'model':<40} {'method':<13} {'worst |err|':>22} {'sd ratio':>18} {'k-hat':>7} {'wall s':>7}  "
            f"{'warned':<26} claim")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:<40} {r['method']:<13} error: {r['error']}")
            continue
        worst = f"{fmt(r['worst'], '.2f')} ({r['worst_name']})"
        ratio = f"{fmt(r['sd_ratio'], '.2f')} ({r['sd_ratio_name']})" if r["sd_ratio"] is not None else "-"
        warned = ",".join(SHORT.get(w, w) for w in r["warnings"]) or "no"
        off = r["worst"] > OFF
        claim = "" if r["method"] == "nuts" else ("SILENT" if off and not r["warnings"] else
                                                  ("ok (warned)" if off else "ok"))
        lines.append(f"{r['model']:<40} {r['method']:<13} {worst:>22} {ratio:>18} {fmt(r['pareto_k'], '.2f'):>7} "
                     f"{r['wall_s']:>7.1f}  {warned:<26} {claim}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="eight_schools and/or posteriordb folder names (default: all)")
    ap.add_argument("--no-nuts", action="store_true", help="skip the NUTS runs")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per model (default 1800)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, not args.no_nuts)))
        return 0
    rows: list[dict] = []
    for name in args.models or cases():
        cmd = [sys.executable, __file__, "--worker", name] + (["--no-nuts"] if args.no_nuts else [])
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
            out = proc.stdout.strip().splitlines()
            new = json.loads(out[-1]) if proc.returncode == 0 and out else [
                {"model": name, "method": "all", "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}]
        except subprocess.TimeoutExpired:
            new = [{"model": name, "method": "all", "error": f"timed out after {args.timeout:.0f} s"}]
        rows += new
        print(table(new).split("\n", 2)[-1], flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    print()
    print(table(rows))
    scored = [r for r in rows if "error" not in r and r["method"] != "nuts"]
    silent = [r for r in scored if r["worst"] > OFF and not r["warnings"]]
    print(f"\n{len(scored)} approximate results, {sum(r['worst'] > OFF for r in scored)} off by more than {OFF} "
          f"reference sd, {len(silent)} of them silent")
    return 1 if silent else 0


if __name__ == "__main__":
    sys.exit(main())
