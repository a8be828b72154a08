#!/usr/bin/env bash
# Measure the benchmarks recorded in benchmarks/README.md on this machine (about 40 minutes on
# 2 CPU cores); results go to benchmarks/results/<name>/ (bench.csv, bench.json, bench.png).
# Run it on a quiet machine: other work on the cores makes the timings noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
bench() { .venv/bin/python -m workbench bench --workload natural --n 512 --batch-sizes 1,8,32,64 --quiet "$@"; }

# all-MiniLM-L6-v2 (the real packaged model): float32 and bfloat16
bench --task feature-extraction --dtype float32,bfloat16 --repeats 3 --out benchmarks/results/minilm
# the same with torch's own linear kernels: how much of the gain is batching alone
bench --task feature-extraction --dtype float32 --repeats 3 --kernels torch --out benchmarks/results/minilm-torch-kernels
# a distilbert-base-size text classifier (random weights, DistilBertConfig() defaults)
bench --task text-classification --model random:distilbert-base --dtype float32 --repeats 2 \
  --out benchmarks/results/distilbert-base
# on a machine with a CUDA GPU: the same model on the GPU
if .venv/bin/python -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  bench --task feature-extraction --device cuda --dtype float32,float16,bfloat16 --repeats 3 \
    --batch-sizes 1,8,32,64,128 --out benchmarks/results/minilm-cuda
fi
