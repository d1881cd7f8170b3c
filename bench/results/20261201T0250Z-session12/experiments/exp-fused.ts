// ARCHIVED EXPERIMENT (session 12), ran as bench/zz-fused.ts with fused_graph.py's output (min share 0.002).
// Result (one run, 3,000 images): F/A mean 0.994: one fused session (controller + If chains) = controller session +
// compiled path; the If nodes cost what the saved run saves. Parity: max |logit diff| 1.1e-6; its path-code check
// compared unresolved cells and is not meaningful.
// EXPERIMENT (session 12): batch-1 end to end, interleaved per image in a random order: A = the bundle through the
// runtime (controller session + compiled path), B = the static baseline, F = one fused session (controller + hot
// paths, If chains; uncovered images then run their path through A's runtime, timed in F).
import { readFile } from 'node:fs/promises';
import { loadModel } from '../runtime/model-node.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { makePath } from '../runtime/path.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ a: '/work/scratch/distilled', b: 'models/fashion-mnist-mobilenetv2', graph: '/work/scratch/exp/fused-distilled.onnx', images: 3000 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const eng = createNodeEngine();
const F = await eng.createSession(new Uint8Array(await readFile(a.graph)), { intraOpNumThreads: 1 });
const inputs = loadInputs(A.manifest, a.images);
const dims = [1, ...A.inputDims];
const m = A.manifest;
const cellsOf = (p: Float32Array) => {
  const out: number[][] = [];
  m.graph.cells.forEach((c, i) => {
    const s: number[] = [];
    for (let o = 0; o < c.options.length; o++) if (p[i * 5 + o] >= m.controller!.threshold) s.push(o);
    out.push(s);
  });
  return out;
};
async function fused(x: Float32Array) {
  const r = await F.run({ x: { data: x, dims } });
  const p = r.p.data as Float32Array;
  let code: string;
  try { code = makePath(m, cellsOf(p)).code; } catch { code = makePath(m, cellsOf(p).map((s, i) => (s.length || m.graph.cells[i].inputShape.join() === m.graph.cells[i].outputShape.join() ? s : [m.graph.cells[i].defaultOption]))).code; }
  if (r.covered.data[0] === 1) return { y: r.y.data as Float32Array, code, covered: true };
  const [q] = await A.classify(x, dims, { path: code });
  return { y: Float32Array.from(q.logits), code, covered: false };
}
for (const x of inputs) { await A.classify(x, dims); await B.classify(x, dims); await fused(x); }
await A.cacheIdle(); await B.cacheIdle();
let maxDiff = 0, pathDiff = 0, unc = 0;
for (const x of inputs.slice(0, 500)) {
  const [r] = await A.classify(x, dims);
  const f = await fused(x);
  if (f.code !== r.path.code) pathDiff++;
  if (!f.covered) unc++;
  for (let c = 0; c < 10; c++) maxDiff = Math.max(maxDiff, Math.abs(f.y[c] - r.logits[c]));
}
console.log(`parity on 500 images: max |logit diff| ${maxDiff.toExponential(2)}, path mismatches ${pathDiff}, uncovered ${unc}`);
let seed = 777;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const T: number[][] = [[], [], []];
for (const x of inputs) {
  const order = [0, 1, 2].sort(() => rnd() - 0.5);
  for (const k of order) {
    const t0 = performance.now();
    if (k === 0) await A.classify(x, dims);
    else if (k === 1) await B.classify(x, dims);
    else await fused(x);
    T[k].push(performance.now() - t0);
  }
}
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const [ta, tb, tf] = T;
console.log(`means ms: A ${mean(ta).toFixed(3)}  B ${mean(tb).toFixed(3)}  F ${mean(tf).toFixed(3)}; medians A ${median(ta).toFixed(3)} B ${median(tb).toFixed(3)} F ${median(tf).toFixed(3)}`);
console.log(`A/B mean ${(mean(ta) / mean(tb)).toFixed(3)}  F/B mean ${(mean(tf) / mean(tb)).toFixed(3)}  F/A mean ${(mean(tf) / mean(ta)).toFixed(3)}  F/B p50 ${(median(tf) / median(tb)).toFixed(3)}`);
await A.release(); await B.release(); await F.release();
