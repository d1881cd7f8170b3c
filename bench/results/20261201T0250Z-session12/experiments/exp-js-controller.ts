// ARCHIVED EXPERIMENT (session 12), ran as bench/zz-jsctrl.ts (imports relative to bench/). Its JS arm is BIASED and its
// numbers are not quoted: that arm ran the same compiled sessions as arm A, right after A in half of the orders, so
// it found their weights warm. bench/e2e-latency.ts measures the shipped JS controller without that bias.
// EXPERIMENT (session 12): the distilled bundle's linear controller evaluated in JS (no session run) + the runtime's
// forced-path classify (which skips the controller session), against the runtime as is, and the static baseline.
import { readFileSync } from 'node:fs';
import { loadModel } from '../runtime/model-node.js';
import { selectCells, cellRules, makePath } from '../runtime/path.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ a: '/work/scratch/distilled', b: 'models/fashion-mnist-mobilenetv2', images: 3000, rounds: 2 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const w = JSON.parse(readFileSync('/work/scratch/exp/student-weights.json', 'utf8'));
const W = Float32Array.from((w['fc.weight'] as number[][]).flat());
const bias = Float32Array.from(w['fc.bias']);
const m = A.manifest;
const rules = cellRules(m);
const pooled = new Float32Array(49);
const probs = new Float32Array(85);
function jsController(x: Float32Array): Float32Array {
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) {
    let s = 0;
    for (let u = 0; u < 4; u++) { const r = (i * 4 + u) * 28 + j * 4; s += x[r] + x[r + 1] + x[r + 2] + x[r + 3]; }
    pooled[i * 7 + j] = Math.fround(s / 16);
  }
  for (let o = 0; o < 85; o++) {
    let s = bias[o];
    const off = o * 49;
    for (let k = 0; k < 49; k++) s += W[off + k] * pooled[k];
    probs[o] = 1 / (1 + Math.exp(-s));
  }
  return probs;
}
const inputs = loadInputs(m, a.images);
const dims = [1, ...A.inputDims];
async function viaJs(x: Float32Array) {
  const p = jsController(x);
  const code = makePath(m, selectCells(p, rules, m.controller!.threshold)).code;
  return (await A.classify(x, dims, { path: code }))[0];
}
for (const x of inputs) { await A.classify(x, dims); await B.classify(x, dims); await viaJs(x); }
await A.cacheIdle(); await B.cacheIdle();
let mism = 0;
for (const x of inputs) { const [r] = await A.classify(x, dims); const q = await viaJs(x); if (q.path.code !== r.path.code) mism++; }
console.log(`paths: JS controller vs the session's differ on ${mism}/${inputs.length} images`);
let seed = 99;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
for (let r = 0; r < a.rounds; r++) {
  const T: number[][] = [[], [], []];
  for (const x of inputs)
    for (const k of [0, 1, 2].sort(() => rnd() - 0.5)) {
      const t0 = performance.now();
      if (k === 0) await A.classify(x, dims); else if (k === 1) await B.classify(x, dims); else await viaJs(x);
      T[k].push(performance.now() - t0);
    }
  const [ta, tb, tj] = T;
  console.log(`round ${r + 1}: means ms A ${mean(ta).toFixed(3)} B ${mean(tb).toFixed(3)} JS ${mean(tj).toFixed(3)}; A/B ${(mean(ta) / mean(tb)).toFixed(3)} JS/B ${(mean(tj) / mean(tb)).toFixed(3)} (p50 ${(median(tj) / median(tb)).toFixed(3)}) JS/A ${(mean(tj) / mean(ta)).toFixed(3)}`);
}
await A.release(); await B.release();
