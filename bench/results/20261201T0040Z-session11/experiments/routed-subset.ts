// Experiment (session 11): does a routed graph specialised to the paths present in a batch run faster than
// the bundle's full routed graph (every hot path >= 0.1%)? Real test images, controller paths, batches of
// consecutive images; per batch size, every distinct path set gets its own routed graph (or its compiled path
// when the batch has one path); interleaved per batch, medians of child time.
//   npx vite-node bench/results/20261201T0040Z-session11/experiments/routed-subset.ts [--batches 8,16,32] [--iters 300]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNodeEngine } from '../../../../runtime/engine-node.js';
import { loadManifest } from '../../../../runtime/manifest-node.js';
import { loadModel } from '../../../../runtime/model-node.js';
import { RoutedTier } from '../../../../runtime/routed-tier.js';
import { args, fmt, loadInputs, median } from '../../../inputs.js';

const a = args({ model: 'models/fashion-mnist', batches: '8,16,32', iters: 300 });
const manifest = await loadManifest(a.model);
const src = { manifest, engine: createNodeEngine(), readFile: async (n: string) => new Uint8Array(await readFile(path.join(path.resolve(a.model), n))) };
const A = await loadModel(a.model, { threads: 1 });
const inputs = loadInputs(manifest, 4096);
const per = inputs[0].length;
const all = new Float32Array(inputs.length * per);
inputs.forEach((x, i) => all.set(x, i * per));
const { paths } = await A.route(all, [inputs.length, ...A.inputDims]);
const opts = { threads: 1, routed: 'hot' as const, tier: 'auto' as const };
const full = await RoutedTier.create(src as never, opts as never, RoutedTier.plan(manifest, opts as never)!);
for (const n of a.batches.split(',').map(Number)) {
  const sub = new Map<string, RoutedTier>();
  const tFull: number[] = [];
  const tSub: number[] = [];
  let skipped = 0;
  for (let r = 0; r < a.iters; r++) {
    const start = (r * n) % (inputs.length - n);
    const ps = paths.slice(start, start + n);
    if (!ps.every((p) => full.covers(p))) { skipped++; continue; }
    const codes = [...new Set(ps.map((p) => p.code))].sort();
    if (codes.length < 2) { skipped++; continue; } // one path: the compiled path runs it today
    const key = codes.join('|');
    let s = sub.get(key);
    if (!s) {
      s = await RoutedTier.create(src as never, { ...opts, routed: codes } as never, RoutedTier.plan(manifest, { ...opts, routed: codes } as never)!);
      sub.set(key, s);
      const x0 = { data: all.subarray(start * per, (start + n) * per), dims: [n, ...A.inputDims] };
      await s.run(x0, ps); await s.run(x0, ps); // warm
    }
    const x = { data: all.slice(start * per, (start + n) * per), dims: [n, ...A.inputDims] };
    const order: [number[], RoutedTier][] = r % 2 ? [[tFull, full], [tSub, s]] : [[tSub, s], [tFull, full]];
    const ys: Float32Array[] = [];
    for (const [t, tier] of order) {
      const t0 = performance.now();
      const y = await tier.run(x, ps);
      t.push(performance.now() - t0);
      ys.push(y.data as Float32Array);
    }
    let d = 0;
    for (let i = 0; i < ys[0].length; i++) d = Math.max(d, Math.abs(ys[0][i] - ys[1][i]));
    if (d > 1e-4) throw new Error(`batch ${r}: logits differ by ${d}`);
  }
  console.log(`batch ${n}: ${tFull.length} mixed batches (${skipped} skipped), ${sub.size} distinct path sets; child median full ${fmt(median(tFull), 3)} ms, specialised ${fmt(median(tSub), 3)} ms: full/specialised ${fmt(median(tFull) / median(tSub))}x`);
  await Promise.all([...sub.values()].map((s) => s.release()));
}
await full.release();
await A.release();
