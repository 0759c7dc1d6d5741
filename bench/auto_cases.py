"""Cases for bench/auto_reparam.py: a model whose hierarchical statement is written three ways
(centred, non-centred, and centred with `--reparam auto`) and its data."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass
class AutoCase:
    name: str
    model: Path           # the model as shipped; its hierarchical statement is rewritten per variant
    statement: str        # the statement, without annotation
    data: Callable[[], dict]
    settings: tuple[int, int, int] = (4, 1000, 2000)  # chains, warmup, samples
    notes: str = ""

    def source(self, variant: str) -> str:
        """centred / auto: the statement as written without annotation; noncentred: annotated."""
        text = self.model.read_text()
        pattern = re.escape(self.statement) + r"[ \t]*(noncentered|centered|auto)?[ \t]*(?=\n|#)"
        word = " noncentered" if variant == "noncentred" else ""
        out, n = re.subn(pattern, self.statement + word, text)
        assert n == 1, f"{self.statement!r} not found once in {self.model}"
        return out


def _json(name: str) -> Callable[[], dict]:
    return lambda: json.loads((EXAMPLES / name).read_text())


@lru_cache(maxsize=None)
def hier_logistic_data(n: int = 100_000, j: int = 20, k: int = 5, seed: int = 20261125) -> dict:
    """The hierarchical logistic regression of bench/cases.py, with J groups (the issue's J = 20:
    N / J = 5,000 observations per group, so every group is well informed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    g = rng.integers(1, j + 1, size=n)
    a = rng.normal(-0.5, 0.8, size=j)
    beta = rng.normal(0, 0.5, size=k)
    p = 1 / (1 + np.exp(-(a[g - 1] + X @ beta)))
    y = (rng.random(n) < p).astype(int)
    return {"N": n, "J": j, "K": k, "X": X.tolist(), "g": g.tolist(), "y": y.tolist()}


SCHOOLS = EXAMPLES / "eight_schools.ppl"
CASES = {c.name: c for c in [
    AutoCase("eight_schools", SCHOOLS, "theta[n] ~ Normal(mu, tau)", _json("eight_schools.json"),
             notes="the vague original: non-centred is right"),
    AutoCase("eight_schools_precise", SCHOOLS, "theta[n] ~ Normal(mu, tau)", _json("eight_schools_precise.json"),
             notes="every sigma / 10: centred is right"),
    AutoCase("sixteen_schools", SCHOOLS, "theta[n] ~ Normal(mu, tau)", _json("sixteen_schools.json"),
             notes="8 vague + 8 precise schools: neither is right"),
    AutoCase("hier_logistic", ROOT / "bench" / "models" / "hier_logistic.ppl", "a[j] ~ Normal(mu_a, sigma_a)",
             hier_logistic_data, notes="N = 100,000, J = 20, K = 5"),
    AutoCase("hier_logistic_J1000", ROOT / "bench" / "models" / "hier_logistic.ppl", "a[j] ~ Normal(mu_a, sigma_a)",
             lambda: hier_logistic_data(j=1000),
             notes="N = 100,000, J = 1,000, K = 5: bench/cases.py's data (100 rows per group)"),
]}
