#!/usr/bin/env bash
# Publishes the bundles of two finished search runs into models/, measures them through the TypeScript runtime
# (instanas eval on the 10,000 Fashion-MNIST test images, batch 1, one intra-op thread) and writes their model cards.
# Usage: bash scripts/publish-models.sh <instanas run dir> <baseline run dir>
set -euo pipefail
cd "$(dirname "$0")/.."
inst_run=${1:?instanas run folder (holding bundle/ and log.jsonl)}
base_run=${2:?baseline run folder}
npm run --silent build

publish() { # run-dir model-name
  rm -rf "models/$2"
  mkdir -p models
  cp -r "$1/bundle" "models/$2"
  cp "$1/log.jsonl" "models/$2/training-log.jsonl"
  [ -f "$1/training.png" ] && cp "$1/training.png" "models/$2/training.png"
  # The parity report is kept beside the bundle whatever it says; the model card quotes it.
  node bin/instanas.js verify --model "models/$2" > "models/$2/verify.txt" 2>&1 || true
}
publish "$base_run" fashion-mnist-mobilenetv2
publish "$inst_run" fashion-mnist

for m in fashion-mnist-mobilenetv2 fashion-mnist; do
  node bin/instanas.js eval --model "models/$m" --data fashion-mnist:test --threads 1 --json "models/$m/eval.json" > /dev/null
done
cd search
/usr/bin/python3 -m instanas_search card --bundle ../models/fashion-mnist-mobilenetv2 --eval ../models/fashion-mnist-mobilenetv2/eval.json \
  --run "$base_run" --eval-command "npx instanas eval --model models/fashion-mnist-mobilenetv2 --data fashion-mnist:test --threads 1 --json models/fashion-mnist-mobilenetv2/eval.json"
/usr/bin/python3 -m instanas_search card --bundle ../models/fashion-mnist --eval ../models/fashion-mnist/eval.json --run "$inst_run" \
  --baseline-eval ../models/fashion-mnist-mobilenetv2/eval.json \
  --eval-command "npx instanas eval --model models/fashion-mnist --data fashion-mnist:test --threads 1 --json models/fashion-mnist/eval.json"
