#!/usr/bin/env bash
# Every benchmark of docs/PERFORMANCE.md, one after another, on the shipped bundles. Run it on a quiet
# machine (nothing else using the cores): the figures are medians and interleaved A/B ratios, but two
# cores shared with a training are still noise. Output: one log per benchmark under $OUT (default
# bench/results/<UTC date-time>), plus the machine's load before and after.
#   bash bench/all.sh [--quick]     (--quick: fewer images/rounds, to check the scripts run)
#   INSTANAS_RUN=<search run dir> bash bench/all.sh   (floors for compiled-path.ts from that checkpoint; else from the bundle's ONNX weights)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
out=${OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
vn() { timeout 900 npx --no-install vite-node "$@"; }
n() { [ "$quick" = --quick ] && echo "$2" || echo "$1"; }
run() { # name command...
  local name=$1; shift
  echo "== $name: $*" | tee "$out/$name.txt"
  local t0=$SECONDS
  "$@" >> "$out/$name.txt" 2>&1
  local rc=$?
  echo "== exit $rc after $((SECONDS - t0)) s" >> "$out/$name.txt"
  tail -n 6 "$out/$name.txt"
}
uptime > "$out/load-before.txt"
npm run --silent build
A=models/fashion-mnist B=models/fashion-mnist-mobilenetv2
run e2e-latency vn bench/e2e-latency.ts --a $A --b $B --images "$(n 10000 500)"
floor=()
[ -n "${INSTANAS_RUN:-}" ] && floor=(--run "$INSTANAS_RUN")
run compiled-path vn bench/compiled-path.ts --bundle $A --images "$(n 2000 300)" --iters "$(n 400 60)" --warmup 40 "${floor[@]}"
run throughput vn bench/throughput.ts --bundle $A --baseline $B --seconds "$(n 3 1)" --rounds "$(n 3 1)"
run throughput-b16 vn bench/throughput.ts --bundle $A --baseline $B --seconds "$(n 3 1)" --rounds "$(n 3 1)" --maxBatchSize 16 --concurrency 32
run throughput-b32 vn bench/throughput.ts --bundle $A --baseline $B --seconds "$(n 3 1)" --rounds "$(n 3 1)" --maxBatchSize 32 --concurrency 64
run throughput-ab vn bench/throughput-ab.ts --a $A --b $B --batches 8,16,32,64 --pairs "$(n 8 1)" --slice "$(n 1.5 0.5)"
run routed-overhead vn bench/routed-overhead.ts --bundle $A --batch 16 --rounds "$(n 3 1)"
run event-loop vn bench/event-loop.ts --bundle $A --rounds "$(n 4 1)"
run rss vn bench/rss.ts --bundle $A --total "$(n 100000 5000)" --every "$(n 10000 1000)"
run server-load vn bench/server-load.ts --requests "$(n 2000 200)" --rounds "$(n 3 1)" --concurrency 8
if command -v wrk >/dev/null; then # the HTTP load with a C load generator (Debian package wrk)
  run http-load vn bench/http-load.ts --concurrency 1,16,32,64 --seconds "$(n 4 1)" --rounds "$(n 3 1)"
  run http-load-v2-batch8 vn bench/http-load.ts --batch 8 --concurrency 4,8,16 --seconds "$(n 4 1)" --rounds "$(n 3 1)"
else
  echo "== http-load: skipped, wrk is not installed (apt-get install wrk)" | tee "$out/http-load.txt"
fi
run http-floor vn bench/http-floor.ts --requests "$(n 2000 200)" --rounds "$(n 3 1)"
run browser vn bench/browser.ts --count 100 --rounds "$(n 3 1)"
uptime > "$out/load-after.txt"
echo "results in $out"
