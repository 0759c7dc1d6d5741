"""Regenerate docs/funnel.png: tau against theta[1] for the centred Eight Schools model beside
the non-centred one, divergent transitions in red (the funnel NUTS cannot enter).

Usage: python docs/make_funnel.py [--chains 4] [--warmup 1000] [--samples 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pplang
from pplang.plots import funnel

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "funnel.png"))
    args = p.parse_args()
    data = ROOT / "examples" / "eight_schools.json"
    fits = {}
    for label, name in [("centered", "eight_schools_centered"), ("noncentered", "eight_schools")]:
        model = pplang.load(ROOT / "examples" / f"{name}.ppl")
        post = model.sample(data, chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed)
        fits[label] = post.to_arviz(predictive=False)
        print(f"{name}: {post.num_divergences} divergences")
    print(f"Wrote {funnel(fits, args.output)}")


if __name__ == "__main__":
    main()
