#!/usr/bin/env bash
# A/B of two builds of `instanas serve` under the #5 workload (one PNG per POST /v1/classify, wrk, loopback):
# the server of each build started fresh per run, builds alternating, the same PNGs. Per run: req/s, wrk's p50/p99,
# and the server process's CPU per request (all its threads, from /proc). Only one server runs at a time.
#   bash server-ab.sh <old repo dir> <new repo dir> <png dir> [rounds=4] [concurrency=64] [seconds=4] [model=fashion-mnist]
set -euo pipefail
old=$1 new=$2 png=$3 rounds=${4:-4} conc=${5:-64} secs=${6:-4} model=${7:-fashion-mnist}
lua=/work/main/bench/wrk-post.lua
tck=$(getconf CLK_TCK)
run() { # $1 label, $2 repo dir
  local log; log=$(mktemp)
  (cd "$2" && exec node bin/instanas.js serve --models "${MODELS:-/work/main/models}" --port 18090 --host 127.0.0.1 >"$log" 2>&1) &
  local pid=$!
  for _ in $(seq 200); do grep -q '"ready"' "$log" 2>/dev/null && break; sleep 0.1; done
  wrk -t1 -c"$conc" -d1s -s "$lua" http://127.0.0.1:18090 -- "$png" 200 "/v1/classify?model=$model" >/dev/null # warm-up
  local t0; t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  local r; r=$(wrk -t1 -c"$conc" -d"${secs}s" -s "$lua" http://127.0.0.1:18090 -- "$png" 200 "/v1/classify?model=$model" | grep '^RESULT')
  local t1; t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  node -e '
    const r = JSON.parse(process.argv[1].slice(7)); const ticks = Number(process.argv[2]), tck = Number(process.argv[3]);
    const rps = r.requests / (r.duration_us / 1e6);
    console.log(`${process.argv[4].padEnd(4)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${(r.p50_us/1000).toFixed(2)} ms  p99 ${(r.p99_us/1000).toFixed(2)} ms  server CPU ${(ticks / tck * 1e6 / r.requests).toFixed(1)} us/req  non2xx ${r.non2xx}`);
  ' "$r" "$((t1 - t0))" "$tck" "$1"
  rm -f "$log"
}
for i in $(seq "$rounds"); do
  if [ $((i % 2)) = 1 ]; then run old "$old"; run new "$new"; else run new "$new"; run old "$old"; fi
done
