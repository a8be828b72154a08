#!/usr/bin/env bash
# sentence-transformers' ONNX Runtime int8 and OpenVINO int8 on the texts of the MiniLM int8 benchmark
# (the natural workload, N texts, seed 0), compared with the workbench's own float32 embeddings of
# them. Like scripts/parity-goldens.sh it uses a throw-away venv with its own transformers: the
# workbench's venv is never changed. Needs the package registry once; no Hugging Face Hub.
#   bash benchmarks/onnx-openvino.sh [OUT_DIR]     # venv in /tmp/venv-st (ST_VENV=... to move it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
VENV=${ST_VENV:-/tmp/venv-st}
N=${N:-512}
OUT=${1:-benchmarks/results/$(date +%F)/minilm-st-int8}
[ -x "$PY" ] || { echo "no $PY: run bash scripts/setup.sh first (or set PY)" >&2; exit 1; }
if ! "$VENV/bin/python" -c "import sentence_transformers, optimum.onnxruntime, optimum.intel, nncf" 2>/dev/null; then
    torch_version=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "torch==$torch_version" sentence-transformers "optimum-onnx[onnxruntime]" \
        "optimum-intel[openvino]"
fi
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
# the texts and the workbench's float32 embeddings of them (its runner, mean-pooled), and the model folder
"$PY" - "$work" "$N" <<'PYEOF'
import json, sys
import numpy as np
from workbench.manager import PipelineManager
from workbench.offline import minilm_path
from workbench.runner import run_batch
from workbench.workloads import make_workload
work, n = sys.argv[1], int(sys.argv[2])
w = make_workload("natural", "feature-extraction", n=n, seed=0)
pipe = PipelineManager().get("feature-extraction", "offline:feature-extraction", dtype="float32")
ref = np.stack(run_batch(pipe, w.items, batch_size=32, pooling="mean", **w.params).results)
json.dump(w.items, open(f"{work}/texts.json", "w"))
np.save(f"{work}/reference.npy", ref)
open(f"{work}/model_path", "w").write(minilm_path())
PYEOF
"$VENV/bin/python" benchmarks/st_int8.py "$work/texts.json" "$work/reference.npy" "$(cat "$work/model_path")" \
    "$OUT/st-int8.json" "${@:2}"
echo "wrote $OUT/st-int8.json"
