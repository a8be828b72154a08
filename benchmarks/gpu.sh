#!/usr/bin/env bash
# The GPU check: one command for a lent GPU machine that measures every GPU claim in under 8 minutes.
#
#   bash benchmarks/gpu.sh                 # on the GPU machine (the device tool's run; README "GPU")
#   bash benchmarks/gpu.sh --dry-run       # every step on the CPU, offline models, tiny sizes (the suite runs it)
#   bash benchmarks/gpu.sh --fetch-wheels  # here: fill benchmarks/carry/ (ignored) with what that machine lacks
#
# Steps (benchmarks/gpu/steps.py, one process each, each in its own time budget; one that fails or
# is killed is recorded and the next one runs): 1 environment, matmul peaks, copy bandwidth;
# 2 MiniLM and distilbert-base, plain vs runner over dtypes and batch sizes 1-256, OOM back-off on
# purpose; 3 generation, plain vs runner vs continuous; 4 the manager's per-GPU byte bound;
# 5 the ZeroGPU run path. What this build lacks is reported as "not available", not skipped.
# Uses the machine's own Python and torch ($PYTHON, else python3; .venv/bin/python for a dry run
# where it exists), plus the carried wheels that Python lacks (installed into a temporary folder).
# Writes at most 5 files under $OUT (default bench-out/gpu-<time>): summary.md, results.json,
# encoders.csv, generation.csv, gpu.log; prints the summary table last. Exits 1 if a step failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode=gpu
case "${1:-}" in
  "") ;;
  --dry-run) mode=dry ;;
  --fetch-wheels) mode=fetch ;;
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: bash benchmarks/gpu.sh [--dry-run | --fetch-wheels]" >&2; exit 2 ;;
esac
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ "$mode" != gpu ] && [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# A dry run measures nothing: one thread, so that on a shared machine it neither competes with nor
# waits on other work (threads spinning for a busy core made it 2.5x slower).
[ "$mode" = dry ] && export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
if [ "$mode" = fetch ]; then
  exec "$py" benchmarks/gpu/carry.py fetch
fi

start=$(date +%s)
out="${OUT:-bench-out/gpu-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
log="$out/gpu.log"
: >"$log"
work="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
dry=(); [ "$mode" = dry ] && dry=(--dry-run)

say() { echo "$@" | tee -a "$log"; }
say "GPU check ($mode) with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])' 2>&1), output in $out"
timeout -k 5 30 "$py" benchmarks/gpu/carry.py install --work "$work" 2>>"$log" | tee -a "$log"
export PYTHONPATH="$work/site:$PYTHONPATH"

# Every step, each in its own process and time budget; their output goes to the log, one line per
# step to the terminal (file descriptor 3). The budgets add up to 7 min 10 s; the hard stop below
# is only for a runner that itself hangs.
timeout -k 5 450 "$py" benchmarks/gpu/steps.py all --work "$work" "${dry[@]}" </dev/null 3>&1 >>"$log" 2>&1 \
  || say "steps: the runner exited with $?"

"$py" benchmarks/gpu/summary.py --work "$work" --out "$out" --wall $(( $(date +%s) - start )) "${dry[@]}" 2>>"$log" \
  | tee -a "$log"
exit "${PIPESTATUS[0]}"
