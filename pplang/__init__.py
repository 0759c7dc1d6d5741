"""pplang: a small probabilistic-programming language compiled to NumPyro.

    import pplang
    model = pplang.load("examples/eight_schools.ppl")
    posterior = model.sample("examples/eight_schools.json", chains=4, samples=1000)
    print(posterior.summary()["parameters"]["tau"])
"""

from __future__ import annotations

__version__ = "0.1.0"

import warnings  # noqa: E402

# ArviZ prints a FutureWarning about its own refactor once a day on import: a library's notice, not
# something about the user's model or results (pplang pins arviz<0.24 in pyproject.toml)
warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)

from .compiler import compile, load  # noqa: E402
from .diagnostics import Diagnostic, PplangError  # noqa: E402
from .runtime import Model, Posterior  # noqa: E402
from .results import Fit, load_fit  # noqa: E402

__all__ = ["compile", "load", "load_fit", "Fit", "Model", "Posterior", "PplangError", "Diagnostic", "__version__"]
