// CPU time the server spends per request, by thread (from /proc/<pid>/task/*/stat), for POST /v1/classify
// at a given concurrency: the main thread (HTTP, decoding, dispatch) vs the inference workers. Unlike
// wall-clock latency, CPU time per request barely moves when other work shares the cores, so it can
// compare server changes on a busy machine. Linux only.
//   npm run build && npx vite-node bench/server-cpu.ts [--models models] [--model fashion-mnist] [--concurrency 8] [--requests 4000] [--images 200] [--prof dir (V8 CPU profiles of the server)]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { FASHION, args, closedLoop, pngClient, startServe } from './inputs.js';

const a = args({ models: 'models', model: 'fashion-mnist', concurrency: 8, requests: 4000, images: 200, prof: '' });
const raw = existsSync(FASHION) ? gunzipSync(readFileSync(FASHION)) : undefined;
const pngs = await Promise.all(
  Array.from({ length: a.images }, (_, i) => {
    const px = raw ? raw.subarray(16 + i * 784, 16 + (i + 1) * 784) : Uint8Array.from({ length: 784 }, (_, k) => (k * 7 + i) % 256);
    return sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
  }),
);

const { port, child } = await startServe(['--models', a.models], a.prof ? ['--cpu-prof', `--cpu-prof-dir=${a.prof}`] : []);
const pid = child.pid!;
const tick = 1000 / 100; // ms per clock tick (USER_HZ is 100 on Linux)
/** CPU ms per thread name (main = the process's first thread) */
const cpu = (): Map<string, number> => {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // thread gone
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * tick; // utime + stime
    const name = tid === String(pid) ? 'main' : comm;
    out.set(name, (out.get(name) ?? 0) + ms);
  }
  return out;
};

const client = pngClient();
let failures = 0;
const post = (i: number) => client.post(port, `/v1/classify?model=${a.model}`, pngs[i % pngs.length]).then((s) => void (s !== 200 && failures++));
await closedLoop(500, a.concurrency, post); // warm-up: compiles, JIT
const before = cpu();
const t0 = performance.now();
const lat = await closedLoop(a.requests, a.concurrency, post);
const wall = performance.now() - t0;
const after = cpu();
child.kill('SIGTERM');
client.close();
lat.sort((x, y) => x - y);
console.log(`${a.model}: ${lat.length} requests at concurrency ${a.concurrency}, ${failures} failed; ${(lat.length / wall * 1000).toFixed(0)} req/s, p50 ${lat[lat.length >> 1].toFixed(3)} ms (wall figures: meaningful on a quiet machine only)`);
let total = 0;
for (const [name, ms] of after) {
  const d = ms - (before.get(name) ?? 0);
  total += d;
  if (d > 0) console.log(`  ${name.padEnd(16)} ${(d * 1000 / lat.length).toFixed(1).padStart(7)} us CPU per request`);
}
console.log(`  ${'all threads'.padEnd(16)} ${(total * 1000 / lat.length).toFixed(1).padStart(7)} us CPU per request`);
await new Promise((r) => child.once('exit', r));
