// EXPERIMENT (session 10; ran as bench/exp-batch1-routed.ts, so imports are relative to bench/): batch-1 child time of the path the controller picks, run (A) on that path's own
// compiled session (what the runtime does at batch 1) or (B) as one row of the routed graph (one session holding
// every hot path's modules once: no switching between sessions, but zero-row runs of the options not taken).
// Blocks of images alternate A and B (random order per block), so both arms see the same images and noise.
import { loadModel } from '../runtime/model-node.js'; // paths as run from bench/
import { args, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', images: 2000, passes: 2, block: 250 });
const m = await loadModel(a.bundle, { tier: 'compiled', threads: 1 });
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
const routed = (m as unknown as { routed: { covers(p: unknown): boolean; run(x: unknown, p: unknown[]): Promise<unknown> } }).routed;
const paths = [];
for (const x of inputs) paths.push((await m.route(x, dims)).paths[0]);
await m.cacheIdle();
const idx = paths.map((_, i) => i).filter((i) => routed.covers(paths[i]));
console.log(`${a.bundle}: ${idx.length}/${inputs.length} images on covered paths (${new Set(idx.map((i) => paths[i].code)).size} paths)`);
const ta: number[] = [];
const tb: number[] = [];
const tw: number[] = [];
for (let p = 0; p < a.passes; p++)
  for (let s = 0; s < idx.length; s += a.block) {
    const blk = idx.slice(s, s + a.block);
    for (const arm of Math.random() < 0.5 ? ['A', 'B'] : ['B', 'A'])
      for (const i of blk) {
        const x = inputs[i];
        if (arm === 'A') {
          const [r] = await m.classify(x, dims, { path: paths[i].code });
          ta.push(r.timings.childMs);
          const [w] = await m.classify(x, dims, { path: paths[i].code });
          tw.push(w.timings.childMs);
        } else {
          const t0 = performance.now();
          await routed.run({ data: x, dims }, [paths[i]]);
          tb.push(performance.now() - t0);
        }
      }
  }
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const f = (v: number[]) => `${median(v).toFixed(4)}/${mean(v).toFixed(4)}`;
console.log(`child ms median/mean: compiled path ${f(ta)}  same path again (warm) ${f(tw)}  routed graph, 1 row ${f(tb)}`);
console.log(`routed/compiled: median ${(median(tb) / median(ta)).toFixed(3)}, mean ${(mean(tb) / mean(ta)).toFixed(3)}; compiled/warm median ${(median(ta) / median(tw)).toFixed(3)}`);
console.log('cache', JSON.stringify(m.cacheStats()));
await m.release();
