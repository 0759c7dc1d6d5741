"""Eight Schools as an expert writes it in NumPyro (the seed's es_0 under LocScaleReparam), run at
the seed's settings and summarised: the baseline that `pplang run examples/eight_schools.ppl`
is measured against. Usage: python bench/handwritten/eight_schools.py [--centered] [--json] [--cache DIR]
(--cache: JAX's persistent compilation cache in DIR, every program kept, as an expert would set it)"""

import json
import sys
from pathlib import Path

import jax
import numpy as np
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import eight_schools as es_0  # noqa: E402
from models import eight_schools_noncentered as es_noncentered  # noqa: E402

J = 8
y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

if "--cache" in sys.argv:
    jax.config.update("jax_compilation_cache_dir", sys.argv[sys.argv.index("--cache") + 1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

model = es_0 if "--centered" in sys.argv else es_noncentered
mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=5000, num_chains=8, chain_method="vectorized",
            progress_bar=False)
mcmc.run(jax.random.PRNGKey(0), J=J, sigma=sigma, y=y)
stats = summary(mcmc.get_samples(group_by_chain=True), prob=0.9)
divergences = int(np.sum(mcmc.get_extra_fields()["diverging"]))
if "--json" in sys.argv:
    print(json.dumps({k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}))
else:
    mcmc.print_summary()
print("divergences", divergences)
