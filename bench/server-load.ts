// HTTP load benchmark (loopback only, bounded in count and time): closed-loop
// POST /v1/classify of Fashion-MNIST test images as PNG against `instanas serve`
// (a child process, built dist), two bundles side by side, arms interleaved per
// round; the same images straight to the server's back end in this process
// (decode + preprocess + pool, no HTTP); and the raw runtime (InstaModel.classify
// on the preprocessed tensor, in this process, batch 1). The server's overhead
// (HTTP, decode, queueing: issue #5) is http p50 - raw p50.
//   npm run build && npx vite-node bench/server-load.ts [--models dir] [--a name] [--b name]
//     [--concurrency 8] [--requests 300] [--rounds 3] [--images 200] [--seconds 180]
// Without --models: models/ when it holds both default bundles, else the tiny fixture copied twice.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { createClassifier, type Classifier } from '../server/backend.js';
import { imageToTensor } from '../server/upload.js';
import { DEFAULT_SERVER_OPTIONS } from '../server/options.js';
import { FASHION, args, closedLoop, fmt, median, pngClient, quantile, startServe } from './inputs.js';

const a = args({ models: '', a: 'fashion-mnist', b: 'fashion-mnist-mobilenetv2', concurrency: 8, requests: 300, rounds: 3, images: 200, seconds: 180 });
const deadline = performance.now() + a.seconds * 1000;

let models = a.models;
let tmp: string | undefined;
if (!models) {
  if ([a.a, a.b].every((n) => existsSync(`models/${n}/manifest.json`))) models = 'models';
  else {
    tmp = models = mkdtempSync(path.join(os.tmpdir(), 'instanas-bench-'));
    for (const n of [a.a, a.b]) cpSync('test/fixtures/tiny', path.join(tmp, n), { recursive: true });
    console.log(`(models/ lacks ${a.a} and ${a.b}: using test/fixtures/tiny under both names)`);
  }
}

// Test images as PNG bytes (random pixels when the dataset is absent).
const raw = existsSync(FASHION) ? gunzipSync(readFileSync(FASHION)) : undefined;
const pngs = await Promise.all(
  Array.from({ length: a.images }, (_, i) => {
    const px = raw ? raw.subarray(16 + i * 784, 16 + (i + 1) * 784) : Uint8Array.from({ length: 784 }, () => Math.floor(Math.random() * 256));
    return sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
  }),
);

const { port, child } = await startServe(['--models', models]);

const backends: Record<string, Classifier> = {};
const raws: Record<string, { model: InstaModel; tensors: Float32Array[] }> = {};
for (const n of [a.a, a.b]) {
  backends[n] = await createClassifier(path.join(models, n));
  const model = await loadModel(path.join(models, n), { threads: 1 });
  const tensors = await Promise.all(pngs.map((p) => imageToTensor(p, model.manifest.input, { maxPixels: DEFAULT_SERVER_OPTIONS.maxPixels })));
  raws[n] = { model, tensors };
}

let failures = 0;
const client = pngClient();
const http = (model: string) => async (i: number) => {
  if ((await client.post(port, `/v1/classify?model=${model}`, pngs[i % pngs.length])) !== 200) failures++;
};
const direct = (model: string) => async (i: number) => {
  const c = backends[model];
  const t = await imageToTensor(pngs[i % pngs.length], c.manifest.input, { maxPixels: DEFAULT_SERVER_OPTIONS.maxPixels });
  await c.classify(t);
};

const rawRun = (model: string) => async (i: number) => {
  const r = raws[model];
  await r.model.classify(r.tensors[i % r.tensors.length], [1, ...r.model.inputDims]);
};

type Arm = { name: string; run: (i: number) => Promise<void> };
const allArms: Arm[] = [
  { name: `http ${a.a}`, run: http(a.a) },
  { name: `http ${a.b}`, run: http(a.b) },
  { name: `direct ${a.a}`, run: direct(a.a) },
  { name: `direct ${a.b}`, run: direct(a.b) },
  { name: `raw ${a.a}`, run: rawRun(a.a) },
  { name: `raw ${a.b}`, run: rawRun(a.b) },
];

async function phase(concurrency: number) {
  // The raw runtime is one in-process model: a concurrency-1 reference only.
  const arms = allArms.filter((x) => concurrency === 1 || !x.name.startsWith('raw '));
  const lat = new Map<string, number[]>(arms.map((x) => [x.name, []]));
  const rps = new Map<string, number[]>(arms.map((x) => [x.name, []]));
  for (const x of arms) await closedLoop(20, concurrency, x.run); // warm-up
  for (let r = 0; r < a.rounds && performance.now() < deadline; r++) {
    const order = r % 2 ? [...arms].reverse() : arms; // alternate order so drift hits all arms
    for (const x of order) {
      const t0 = performance.now();
      const l = await closedLoop(a.requests, concurrency, x.run, deadline);
      rps.get(x.name)!.push((l.length / (performance.now() - t0)) * 1000);
      lat.get(x.name)!.push(...l);
    }
  }
  console.log(`\nconcurrency ${concurrency}: ${a.rounds} rounds x ${a.requests} requests per arm, interleaved`);
  console.log('arm'.padEnd(40), 'req/s(median of rounds)'.padStart(24), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9));
  for (const x of arms) {
    const l = lat.get(x.name)!;
    console.log(x.name.padEnd(40), fmt(median(rps.get(x.name)!), 1).padStart(24), fmt(quantile(l, 0.5), 3).padStart(9), fmt(quantile(l, 0.99), 3).padStart(9));
  }
  if (concurrency > 1) return; // overhead is a concurrency-1 figure (queueing under load is the next table)
  for (const n of [a.a, a.b]) {
    const [h, d, r] = ['http', 'direct', 'raw'].map((k) => quantile(lat.get(`${k} ${n}`)!, 0.5));
    console.log(`server overhead at p50, ${n}: ${fmt(h - r, 3)} ms over the raw runtime (${fmt(r, 3)} ms): ` +
      `HTTP ${fmt(h - d, 3)} ms, decode + preprocess + pool ${fmt(d - r, 3)} ms`);
  }
}

try {
  await phase(1);
  await phase(a.concurrency);
  console.log(`\nnon-200 responses: ${failures}; retried after a keep-alive reset: ${client.stats.retries}`);
} finally {
  client.close();
  child.kill('SIGTERM');
  await Promise.all(Object.values(backends).map((c) => c.close()));
  await Promise.all(Object.values(raws).map((r) => r.model.release()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
