"""pplang: a small probabilistic-programming language compiled to NumPyro.

    import pplang
    model = pplang.load("examples/eight_schools.ppl")
    posterior = model.sample("examples/eight_schools.json", chains=4, samples=1000)
    print(posterior.summary()["parameters"]["tau"])
"""

from __future__ import annotations

__version__ = "0.1.0"

from .compiler import compile, load  # noqa: E402
from .diagnostics import Diagnostic, PplangError  # noqa: E402
from .runtime import Model, Posterior  # noqa: E402
from .results import Fit, load_fit  # noqa: E402

__all__ = ["compile", "load", "load_fit", "Fit", "Model", "Posterior", "PplangError", "Diagnostic", "__version__"]
