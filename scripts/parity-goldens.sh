#!/usr/bin/env bash
# Regenerate tests/goldens/parity-4.57.json: transformers 4.57.6's own question-answering,
# summarization, translation, text2text-generation, image-to-text and visual-question-answering
# pipelines, run on our offline model folders (built by this project's .venv) for the cases in
# tests/parity_cases.py. tests/test_parity.py compares our adapters with the file; it needs no 4.57.
#
# Run after changing an offline builder of those tasks, or the cases. Needs the package registry
# once (the throw-away venv: torch as pinned here, transformers==4.57.6); no Hugging Face Hub.
#   bash scripts/parity-goldens.sh            # venv in /tmp/venv457 (PARITY_VENV=... to move it)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
VENV=${PARITY_VENV:-/tmp/venv457}
OUT=tests/goldens/parity-4.57.json
[ -x "$PY" ] || { echo "no $PY: run bash scripts/setup.sh first" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import sys, transformers; sys.exit(transformers.__version__ != '4.57.6')" 2>/dev/null; then
    torch_version=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "torch==$torch_version" "transformers==4.57.6" pillow numpy
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
WORKBENCH_OFFLINE_DIR="$work/offline" "$PY" -m tests.parity_cases "$work"
mkdir -p "$(dirname "$OUT")"
"$VENV/bin/python" scripts/parity_457.py "$work/cases.json" "$OUT"
echo "wrote $OUT"
