// Issue 4's headline number: end-to-end latency per image (controller included), batch 1, one intra-op
// thread, of the InstaNAS bundle vs the static baseline, interleaved image by image (A/B order alternates)
// so machine noise hits both alike. Each model runs with its default tier ('auto': hot paths compiled in the
// background); a warm-up pass over the images lets the cache settle first, as in a long-running server.
//   npx vite-node bench/e2e-latency.ts [--a models/fashion-mnist] [--b models/fashion-mnist-mobilenetv2] [--images 2000] [--warm 1]
import { loadModel } from '../runtime/model-node.js';
import { args, fmt, loadInputs, median, quantile } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', images: 2000, warm: 1 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const inputs = loadInputs(A.manifest, a.images);
const dims = [1, ...A.inputDims];

for (let w = 0; w < a.warm; w++) {
  for (const x of inputs) {
    await A.classify(x, dims);
    await B.classify(x, dims);
  }
  await A.cacheIdle();
  await B.cacheIdle();
}
const ta: number[] = [];
const tb: number[] = [];
const now = () => performance.now();
for (let i = 0; i < inputs.length; i++) {
  const x = inputs[i];
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  for (const k of order) {
    const m = k === 0 ? A : B;
    const t0 = now();
    await m.classify(x, dims);
    (k === 0 ? ta : tb).push(now() - t0);
  }
}
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const row = (name: string, xs: number[]) =>
  `${name.padEnd(36)} mean ${fmt(mean(xs), 3)} ms  p50 ${fmt(median(xs), 3)} ms  p99 ${fmt(quantile(xs, 0.99), 3)} ms`;
console.log(`${inputs.length} Fashion-MNIST test images, batch 1, 1 intra-op thread, interleaved, after ${a.warm} warm-up pass(es)`);
console.log(row(`${A.manifest.name} (${A.manifest.kind})`, ta));
console.log(row(`${B.manifest.name} (${B.manifest.kind})`, tb));
console.log(`ratio A/B: mean ${fmt(mean(ta) / mean(tb), 3)}, p50 ${fmt(median(ta) / median(tb), 3)}`);
console.log('A cache', JSON.stringify(A.cacheStats()), 'B cache', JSON.stringify(B.cacheStats()));
await A.release();
await B.release();
