#!/usr/bin/env bash
# Smoke test of a built image (needs a Docker engine): health, a classification per bundle, the non-root
# user, metrics, and SIGTERM -> exit 0.   Usage: bash scripts/docker-smoke.sh [image] (default instanas:test)
set -uo pipefail
D=${DOCKER:-docker}
IMG=${1:-instanas:test}
$D rm -f instanas-smoke >/dev/null 2>&1
# RUN_ARGS: extra `docker run` flags, e.g. RUN_ARGS="--health-timeout 10s" to try a health setting without a rebuild.
$D run -d --name instanas-smoke -p 18080:8080 ${RUN_ARGS:-} "$IMG" >/dev/null
for i in $(seq 1 90); do
  s=$($D inspect -f '{{.State.Health.Status}}' instanas-smoke 2>/dev/null); [ "$s" = healthy ] && break; sleep 2
done
echo "health after ~$((i*2)) s: $s"
echo "user: $($D exec instanas-smoke id -un)"
curl -s localhost:18080/v2/health/ready -o /dev/null -w 'ready %{http_code}\n'
curl -s localhost:18080/v2/models/fashion-mnist | head -c 300; echo
python3 - <<'PY' > /tmp/smoke.png
import gzip,zlib,struct,sys
raw=gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()[16:16+784]
def chunk(t,d): return struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff)
rows=b''.join(b'\x00'+raw[r*28:(r+1)*28] for r in range(28))
sys.stdout.buffer.write(b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',28,28,8,0,0,0,0))+chunk(b'IDAT',zlib.compress(rows))+chunk(b'IEND',b''))
PY
for m in fashion-mnist fashion-mnist-mobilenetv2; do
  curl -s -X POST --data-binary @/tmp/smoke.png -H 'content-type: image/png' "localhost:18080/v1/classify?model=$m" | head -c 260; echo
done
curl -s localhost:18080/metrics | grep -c '^instanas_' | sed 's/^/instanas_ metric lines: /'
t0=$(date +%s.%N); $D stop -t 20 instanas-smoke >/dev/null; t1=$(date +%s.%N)
echo "exit code after docker stop (SIGTERM): $($D inspect -f '{{.State.ExitCode}}' instanas-smoke), $(python3 -c "print(round($t1-$t0,1))") s"
$D logs instanas-smoke 2>&1 | tail -3 | cut -c1-250
$D image inspect "$IMG" -f 'image size {{.Size}} bytes'
