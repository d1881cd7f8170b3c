// ARCHIVED EXPERIMENT (session 12), ran as bench/zz-if.ts with if_graph_minshare.py (models/fashion-mnist 0.2 -> if3: cells 7, 9;
// 0.03 -> if5: cells 7, 8, 9, 10). Results, 3,000 images, 2 rounds each: I/A mean 1.029, 1.055 (if3), 1.094, 0.987 (if5):
// one session for the top paths (one copy of each weight) is no faster than a compiled session per path.
// EXPERIMENT (session 12): batch 1, the default bundle. A = runtime as is (JS controller + the path's compiled
// session); I = the same JS controller (model.route) + ONE session holding the top paths (If nodes in the cells
// where they differ, one copy of every weight), other paths as A; B = static baseline. Per image, random order.
import { readFile } from 'node:fs/promises';
import { loadModel } from '../runtime/model-node.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', graph: '/work/scratch/exp/if3.onnx', images: 3000, rounds: 2 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const meta = JSON.parse(await readFile(`${a.graph}.json`, 'utf8')) as { sets: Record<string, number[][]> };
const S = await createNodeEngine().createSession(new Uint8Array(await readFile(a.graph)), { intraOpNumThreads: 1 });
const inputs = loadInputs(A.manifest, a.images);
const dims = [1, ...A.inputDims];
const fixed = new Map<number, string>(); // cells outside meta.sets must equal the graph's single set
const graphCells = (await A.route(inputs[0], dims)).paths[0].cells; // placeholder to size
async function viaIf(x: Float32Array): Promise<{ covered: boolean; y: Float32Array }> {
  const r = await A.route(x, dims);
  const p = r.paths[0];
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: x, dims } };
  for (const [ci, sets] of Object.entries(meta.sets)) {
    const j = sets.findIndex((s) => JSON.stringify(s) === JSON.stringify(p.cells[+ci]));
    if (j < 0) return { covered: false, y: Float32Array.from((await A.classify(x, dims, { path: p.code }))[0].logits) };
    feeds[`sel${ci}`] = { data: Float32Array.of(j), dims: [1] };
  }
  if (!covers(p.cells)) return { covered: false, y: Float32Array.from((await A.classify(x, dims, { path: p.code }))[0].logits) };
  return { covered: true, y: (await S.run(feeds)).y.data as Float32Array };
}
const base = (await A.route(inputs[0], dims)).paths; // unused
let ref: number[][] | null = null;
function covers(cells: number[][]): boolean {
  if (!ref) return true;
  return cells.every((c, i) => i in meta.sets || JSON.stringify(c) === JSON.stringify(ref![i]));
}
// the graph's fixed cells: take them from the bundle's top hot path
ref = (await import('../runtime/path.js')).decodeCode(A.manifest.hotPaths![0].code, A.manifest.graph.cells.map((c) => c.options.length));
void graphCells; void base; void fixed;
for (const x of inputs) { await A.classify(x, dims); await B.classify(x, dims); await viaIf(x); }
await A.cacheIdle(); await B.cacheIdle();
let maxDiff = 0, cov = 0;
for (const x of inputs.slice(0, 1000)) {
  const [r] = await A.classify(x, dims);
  const f = await viaIf(x);
  if (f.covered) cov++;
  for (let c = 0; c < 10; c++) maxDiff = Math.max(maxDiff, Math.abs(f.y[c] - r.logits[c]));
}
console.log(`${a.graph}: covered ${cov}/1000 images; max |logit diff| vs the runtime ${maxDiff.toExponential(2)}`);
let seed = 4242;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
for (let round = 0; round < a.rounds; round++) {
  const T: number[][] = [[], [], []];
  for (const x of inputs)
    for (const k of [0, 1, 2].sort(() => rnd() - 0.5)) {
      const t0 = performance.now();
      if (k === 0) await A.classify(x, dims); else if (k === 1) await B.classify(x, dims); else await viaIf(x);
      T[k].push(performance.now() - t0);
    }
  const [ta, tb, ti] = T;
  console.log(`round ${round + 1}: mean ms A ${mean(ta).toFixed(3)} B ${mean(tb).toFixed(3)} I ${mean(ti).toFixed(3)}; A/B ${(mean(ta) / mean(tb)).toFixed(3)} I/B ${(mean(ti) / mean(tb)).toFixed(3)} I/A ${(mean(ti) / mean(ta)).toFixed(3)} (p50 ${(median(ti) / median(ta)).toFixed(3)})`);
}
await A.release(); await B.release(); await S.release();
