#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian/Ubuntu machine for instanas: system packages, npm packages, build.
# Usage: bash scripts/setup.sh [--runtime-only]
#   --runtime-only: what serving needs (Node packages, the build); skips Python/torch, Chromium, Prometheus.
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_only=0
[ "${1:-}" = "--runtime-only" ] && runtime_only=1

need_apt=()
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if [ "$runtime_only" = 0 ]; then
  # Python side: Debian's torch 1.13 (CPU) belongs to /usr/bin/python3; onnx for the exporter's checker.
  for p in python3-torch python3-numpy python3-tqdm python3-onnx python3-jsonschema python3-pytest python3-matplotlib \
           dataset-fashion-mnist chromium prometheus; do
    have_deb "$p" || need_apt+=("$p")
  done
else
  have_deb dataset-fashion-mnist || need_apt+=(dataset-fashion-mnist)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: missing Debian packages ${need_apt[*]} and no apt-get on this machine; install them by other means" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null; then
    echo "setup: apt-get could not install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

if ! command -v node >/dev/null; then
  echo "setup: node (>= 20.9) is required; install Node.js 20 or newer" >&2
  exit 1
fi
grep -q '^onnxruntime-node-install=skip' .npmrc || { echo "setup: .npmrc must set onnxruntime-node-install=skip" >&2; exit 1; }
# npm ci runs our `prepare` script (tsc) after installing from the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run --silent build
fi
if [ -f web/build.mjs ]; then npm run --silent build:web; fi
