// Issue 4's headline number: end-to-end latency per image (controller included), batch 1, one intra-op
// thread, of the InstaNAS bundle vs the static baseline, interleaved image by image (a random order per image)
// so machine noise hits both alike. Each model runs with its default tier ('auto': hot paths compiled in the
// background); a warm-up pass over the images lets the cache settle first, as in a long-running server.
// For an InstaNAS A, a third arm runs A's cheapest legal path (identity wherever a cell allows it, else its
// fewest-MAC option) for every image, forced, without the controller: with A's mean controller time added,
// the lowest A/B ratio any controller could reach in this search space at batch 1.
// --block N (default 1) interleaves blocks of N consecutive images per arm instead (a random arm order per block):
// each model then runs as it would alone in a process (its sessions' weights stay in the CPU caches between its
// images), while the blocks still alternate every few milliseconds so noise hits all arms alike.
// --c <bundle> adds a fourth arm, another InstaNAS bundle against the same B in the same run (e.g. A with a distilled
// controller: `python -m instanas_search distill`), so two bundles' ratios are measured under the same noise;
// --c-controller session runs C's controller in its onnxruntime session (A keeps 'auto': a small controller in JS),
// so --c set to A's own folder measures what evaluating the controller in JS saves.
//   npx vite-node bench/e2e-latency.ts [--a models/fashion-mnist] [--b models/fashion-mnist-mobilenetv2] [--c <bundle>] [--images 2000] [--warm 1] [--block 1]
import { loadModel } from '../runtime/model-node.js';
import { makePath } from '../runtime/path.js';
import { args, cheapestCells, fmt, loadInputs, median, quantile } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', c: '', 'c-controller': 'auto', images: 2000, warm: 1, block: 1 });
if (!Number.isInteger(a.block) || a.block < 1) throw new RangeError(`--block: must be an integer >= 1, got ${a.block}`);
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const cMode = a['c-controller'];
if (cMode !== 'auto' && cMode !== 'session') throw new RangeError(`--c-controller: must be auto or session, got ${cMode}`);
const C = a.c ? await loadModel(a.c, { threads: 1, controller: cMode }) : undefined;
const inputs = loadInputs(A.manifest, a.images);
const dims = [1, ...A.inputDims];

for (let w = 0; w < a.warm; w++) {
  for (const x of inputs) {
    await A.classify(x, dims);
    await B.classify(x, dims);
    await C?.classify(x, dims);
  }
  await A.cacheIdle();
  await B.cacheIdle();
  await C?.cacheIdle();
}
const m = A.manifest;
const cheapest = m.kind === 'instanas' ? makePath(m, cheapestCells(m)) : undefined;
if (cheapest) {
  for (const x of inputs.slice(0, 200)) await A.classify(x, dims, { path: cheapest.code });
  await A.cacheIdle();
}
let seed = 12345;
const shuffle = (xs: number[]): number[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};
const ta: number[] = [];
const tb: number[] = [];
const tc: number[] = [];
const td: number[] = [];
const ctrl: number[] = [];
const ctrlC: number[] = [];
const now = () => performance.now();
for (let s = 0; s < inputs.length; s += a.block) {
  const block = inputs.slice(s, s + a.block);
  // A fresh random order per block (seeded): every arm follows every other arm, and itself, equally often.
  // A fixed rotation would let one arm run twice in a row more often, with its weights still in the CPU caches.
  for (const k of shuffle([0, 1, ...(cheapest ? [2] : []), ...(C ? [3] : [])]))
    for (const x of block) {
      const t0 = now();
      if (k === 2) await A.classify(x, dims, { path: cheapest!.code });
      else {
        const [r] = await [A, B, A, C!][k].classify(x, dims);
        if (k === 0) ctrl.push(r.timings.controllerMs);
        if (k === 3) ctrlC.push(r.timings.controllerMs);
      }
      [ta, tb, tc, td][k].push(now() - t0);
    }
}
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const row = (name: string, xs: number[]) =>
  `${name.padEnd(36)} mean ${fmt(mean(xs), 3)} ms  p50 ${fmt(median(xs), 3)} ms  p99 ${fmt(quantile(xs, 0.99), 3)} ms`;
console.log(`${inputs.length} Fashion-MNIST test images, batch 1, 1 intra-op thread, interleaved ${a.block === 1 ? 'image by image' : `in blocks of ${a.block} images`}, after ${a.warm} warm-up pass(es)`);
console.log(row(`${A.manifest.name} (${A.manifest.kind}${A.controllerRuns ? `, controller: ${A.controllerRuns}` : ''})`, ta));
console.log(row(`${B.manifest.name} (${B.manifest.kind})`, tb));
console.log(`ratio A/B: mean ${fmt(mean(ta) / mean(tb), 3)}, p50 ${fmt(median(ta) / median(tb), 3)}`);
if (cheapest) {
  const floor = mean(tc) + mean(ctrl);
  console.log(row(`A's cheapest path, forced, no controller`, tc) + `  (${cheapest.code}, ${fmt(cheapest.macs / 1e6, 2)} M MACs)`);
  console.log(`A's controller: mean ${fmt(mean(ctrl), 3)} ms; cheapest path + controller = ${fmt(floor, 3)} ms: lowest reachable A/B mean ratio ${fmt(floor / mean(tb), 3)}`);
}
if (C) {
  console.log(row(`C: ${C.manifest.name} (${C.manifest.kind}, controller: ${C.controllerRuns})`, td) + (ctrlC.length ? `  controller mean ${fmt(mean(ctrlC), 3)} ms` : ''));
  console.log(`ratio C/B: mean ${fmt(mean(td) / mean(tb), 3)}, p50 ${fmt(median(td) / median(tb), 3)}; C/A: mean ${fmt(mean(td) / mean(ta), 3)}`);
}
console.log('A cache', JSON.stringify(A.cacheStats()), 'B cache', JSON.stringify(B.cacheStats()));
await A.release();
await B.release();
await C?.release();
