#!/usr/bin/env bash
# The GPU measurements of bench/README.md in one pass (issues 11 and 15), written for a lent GPU
# machine with JAX installed; every stage has its own time limit and writes its rows to $OUT as it goes.
#   OUT=/some/dir bash bench/device_session.sh
set -u
OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
python3 -c "import jax, numpyro; print('jax', jax.__version__, 'numpyro', numpyro.__version__, jax.devices())" | tee -a "$OUT/device.txt"

# 1. ESS per second against vectorised chain count, eight schools (issue 15, item 4)
timeout 150 python3 bench/chains.py --chains 8 64 256 1024 4096 --json "$OUT/chains.json" 2>&1 | tee "$OUT/chains.txt"

# 2. auto on hier_logistic at N = 100,000 (issue 11): centred and auto, 3 seeds, 4 x (1000 + 2000)
for seed in 0 1 2; do
  for variant in centred auto; do
    PPLANG_CACHE_DIR=/tmp/c-$variant-$seed timeout 90 python3 bench/auto_worker.py hier_logistic $variant $seed \
      2>>"$OUT/auto.err" | tee -a "$OUT/auto.jsonl"
  done
done

# 3. one gradient step at N = 1,000,000 on the GPU (issue 15: the large-data case), centred
timeout 120 python3 bench/big_data.py --n 1000000 --centred --warmup 50 --samples 50 --json "$OUT/big_data.jsonl" 2>&1 | tail -3

# 4. hier_logistic non-centred (issue 11): one seed, shorter run (its trees are deep)
PPLANG_CACHE_DIR=/tmp/c-nc timeout ${NC_LIMIT:-150} python3 bench/auto_worker.py hier_logistic noncentred 0 \
  --settings ${NC_SETTINGS:-4,500,500} 2>>"$OUT/auto.err" | tee -a "$OUT/auto.jsonl"
echo done
