// EXPERIMENT (session 10; ran as bench/exp-batch1-if.ts, so imports are relative to bench/): batch-1 child time of the controller's path on (A) its own compiled session (the
// runtime today) vs (C) one session holding every hot path, with an ONNX If chain in each cell where the hot
// paths differ (built by if_graph.py). Blocks of images alternate arms in a random order per block.
import { readFile } from 'node:fs/promises';
import { loadModel } from '../runtime/model-node.js'; // paths as run from bench/
import { createNodeEngine } from '../runtime/engine-node.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', graph: '/work/exp10/if.onnx', images: 2000, passes: 2, block: 250 });
const m = await loadModel(a.bundle, { tier: 'compiled', threads: 1, routed: 'off' });
const meta = JSON.parse(await readFile(`${a.graph}.json`, 'utf8')) as { sets: Record<string, number[][]>; codes: string[] };
const eng = createNodeEngine();
const sess = await eng.createSession(new Uint8Array(await readFile(a.graph)), { intraOpNumThreads: 1 });
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
const paths = [];
for (const x of inputs) paths.push((await m.route(x, dims)).paths[0]);
await m.cacheIdle();
const hot = new Set(meta.codes);
const idx = paths.map((_, i) => i).filter((i) => hot.has(paths[i].code));
const feedsOf = (i: number) => {
  const f: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: inputs[i], dims } };
  for (const [ci, sets] of Object.entries(meta.sets)) {
    const want = JSON.stringify(paths[i].cells[+ci]);
    const j = sets.findIndex((s) => JSON.stringify(s) === want);
    if (j < 0) throw new Error(`cell ${ci}: ${want} not in the graph`);
    f[`sel${ci}`] = { data: Float32Array.of(j), dims: [1] };
  }
  return f;
};
const feeds = idx.map(feedsOf);
let maxDiff = 0;
for (let k = 0; k < idx.length; k += 37) {
  const [r] = await m.classifyBatch(inputs[idx[k]], dims, { path: paths[idx[k]].code }).then((o) => [o.logits]);
  const y = (await sess.run(feeds[k])).y.data;
  for (let c = 0; c < y.length; c++) maxDiff = Math.max(maxDiff, Math.abs(y[c] - r[c]));
}
console.log(`${a.bundle}: ${idx.length}/${inputs.length} images on the graph's ${hot.size} paths; max |logit diff| vs compiled ${maxDiff.toExponential(2)}`);
const ta: number[] = [];
const tc: number[] = [];
const tw: number[] = [];
for (let p = 0; p < a.passes; p++)
  for (let s = 0; s < idx.length; s += a.block) {
    for (const arm of Math.random() < 0.5 ? ['A', 'C'] : ['C', 'A'])
      for (let k = s; k < Math.min(s + a.block, idx.length); k++) {
        const i = idx[k];
        if (arm === 'A') {
          const [r] = await m.classify(inputs[i], dims, { path: paths[i].code });
          ta.push(r.timings.childMs);
          const [w] = await m.classify(inputs[i], dims, { path: paths[i].code });
          tw.push(w.timings.childMs);
        } else {
          const t0 = performance.now();
          await sess.run(feeds[k]);
          tc.push(performance.now() - t0);
        }
      }
  }
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const f = (v: number[]) => `${median(v).toFixed(4)}/${mean(v).toFixed(4)}`;
console.log(`child ms median/mean: compiled path ${f(ta)}  same path again (warm) ${f(tw)}  if-graph ${f(tc)}`);
console.log(`if/compiled: median ${(median(tc) / median(ta)).toFixed(3)}, mean ${(mean(tc) / mean(ta)).toFixed(3)}; compiled/warm median ${(median(ta) / median(tw)).toFixed(3)}`);
await m.release();
await sess.release();
