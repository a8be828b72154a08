#!/usr/bin/env bash
# Measure the benchmarks recorded in benchmarks/README.md on this machine (about an hour on
# 2 CPU cores). Results go to DIR/<name>/ (bench.csv, bench.json, bench.md, bench.png); DIR is the
# first argument, benchmarks/results/<today> by default.
# Run it on a quiet machine: other work on the cores makes the timings noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
out="${1:-benchmarks/results/$(date +%F)}"
bench() { .venv/bin/python -m workbench bench --workload natural --n 512 --batch-sizes 1,8,32,64 --quiet "$@"; }

# all-MiniLM-L6-v2 (the real packaged model): float32 and bfloat16
bench --task feature-extraction --dtype float32,bfloat16 --repeats 3 --out "$out"/minilm
# the same with torch's own linear kernels: how much of the gain is batching alone
bench --task feature-extraction --dtype float32 --repeats 3 --kernels torch --out "$out"/minilm-torch-kernels
# a distilbert-base-size text classifier (random weights, DistilBertConfig() defaults)
bench --task text-classification --model random:distilbert-base --dtype float32 --repeats 2 \
  --out "$out"/distilbert-base
# int8 (torchao, workbench/quantize.py): MiniLM's runner in float32, bfloat16 and int8; distilbert-base in int8
bench --task feature-extraction --dtype float32,bfloat16,int8 --runners runner --repeats 2 --out "$out"/minilm-int8
bench --task text-classification --model random:distilbert-base --dtype float32,int8 --runners runner --repeats 2 \
  --out "$out"/distilbert-base-int8
# sentence-transformers' ONNX Runtime int8 and OpenVINO int8 on the same texts, in a throw-away venv
bash benchmarks/onnx-openvino.sh "$out"/minilm-st-int8
# text generation (issue 22): SmolLM2-135M-size Llama (random weights), 64 prompts of natural lengths,
# max_new_tokens long-tailed with mean 64 (EOS ignored): plain pipeline batching, the workbench runner
# and transformers' continuous batching; output tokens/s, TTFT/ITL/E2E p50/p95
.venv/bin/python -m workbench bench --task text-generation --model random:smollm2-135m --workload natural --n 64 \
  --max-new-tokens 64 --batch-sizes 16,32 --repeats 1 --quiet --out "$out"/smollm2-generation
# on a machine with a CUDA GPU: the same model on the GPU
if .venv/bin/python -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  bench --task feature-extraction --device cuda --dtype float32,float16,bfloat16,int8,int4 --repeats 3 \
    --batch-sizes 1,8,32,64,128 --out "$out"/minilm-cuda
fi
