#!/usr/bin/env bash
# The main job on a fresh machine: set up what serving needs, then serve every bundle under models/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --runtime-only
exec node bin/instanas.js serve "$@"
