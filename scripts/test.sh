#!/usr/bin/env bash
# Every test of the project, on a fresh machine too: set-up, then the TypeScript suite (vitest) and the
# Python suite (pytest on Debian's torch). Ends with one line: "total: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "test: set-up failed (see above)"; echo "total: 0 passed, 1 failed"; exit 1; }
mkdir -p artifacts

PY=/usr/bin/python3
$PY -c "import torch, onnx, jsonschema, pytest, tqdm" 2>/dev/null || {
  echo "test: $PY lacks torch/onnx/jsonschema/pytest/tqdm even after set-up"; echo "total: 0 passed, 1 failed"; exit 1; }
[ -x /usr/bin/chromium ] || { echo "test: /usr/bin/chromium missing after set-up"; echo "total: 0 passed, 1 failed"; exit 1; }

npx vitest run --reporter=default --reporter=json --outputFile=artifacts/vitest.json
ts_rc=$?
(cd search && $PY -m pytest -q -p no:cacheprovider --junitxml=../artifacts/pytest.xml)
py_rc=$?

node scripts/summary.mjs artifacts/vitest.json artifacts/pytest.xml
sum_rc=$?
[ $ts_rc = 0 ] && [ $py_rc = 0 ] && [ $sum_rc = 0 ]
