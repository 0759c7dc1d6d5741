"""Run the posteriordb conformance models and print a table.

    python bench/conformance.py                 # every examples/posteriordb/*.ppl
    python bench/conformance.py garch-garch11   # selected posteriors
    python bench/conformance.py --draws 4000 --seed 1 kilpisjarvi_mod-kilpisjarvi   (a rerun, README rule 4)

Columns: posterior, number of reference parameters, parameters passing the criterion of
../shared/conformance/README.md (pplang.conformance), worst |z|, divergences, wall time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pplang import conformance  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("posteriors", nargs="*", help="folder names (default: all with a model)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("-v", "--verbose", action="store_true", help="list the failing parameters")
    args = ap.parse_args(argv)
    results = []
    for name in args.posteriors or conformance.posteriors():
        r = conformance.run(name, seed=args.seed, chains=args.chains, warmup=args.warmup, samples=args.draws)
        results.append(r)
        print(conformance.table([r]).splitlines()[-1], flush=True)
        if args.verbose:
            for line in r.failures()[:10]:
                print("    " + line)
    print()
    print(conformance.table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
