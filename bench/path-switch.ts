// What switching between child paths costs. For the most used paths of a bundle (compiled tier, batch 1,
// one intra-op thread), each image's child time when the controller routes it (consecutive images take
// different paths, so each compiled path's weights and buffers may have left the CPU caches) against the
// same path run again at once, forced (warm). Every image runs in both arms, alternating, so noise hits
// both alike. A gap means that a bundle using many paths pays for it beyond the MACs of each path.
//   npx vite-node bench/path-switch.ts [--bundle models/fashion-mnist] [--images 2000] [--passes 2] [--paths 8]
import { loadModel } from '../runtime/model-node.js';
import { args, defaultBundle, fmt, loadInputs, median } from './inputs.js';

const a = args({ bundle: defaultBundle(), images: 2000, passes: 2, paths: 8 });
const m = await loadModel(a.bundle, { tier: 'compiled', threads: 1 });
if (m.manifest.kind !== 'instanas') throw new Error(`${a.bundle}: a static bundle has one path; nothing to switch`);
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
for (const x of inputs) await m.classify(x, dims); // warm-up: compile every path the images take
await m.cacheIdle();

const routed = new Map<string, number[]>();
const forced = new Map<string, number[]>();
const push = (map: Map<string, number[]>, k: string, v: number) => (map.get(k) ?? map.set(k, []).get(k)!).push(v);
for (let p = 0; p < a.passes; p++)
  for (const x of inputs) {
    const [r] = await m.classify(x, dims);
    push(routed, r.path.code, r.timings.childMs);
    const [f] = await m.classify(x, dims, { path: r.path.code });
    push(forced, r.path.code, f.timings.childMs);
  }
const total = inputs.length * a.passes;
console.log(`${a.bundle}: ${inputs.length} images x ${a.passes} passes, ${routed.size} distinct paths; child ms, median`);
console.log(`${'path'.padEnd(20)} ${'share'.padStart(6)} ${'routed'.padStart(8)} ${'forced'.padStart(8)} ${'ratio'.padStart(6)}`);
let wr = 0;
let wf = 0;
for (const [code, xs] of [...routed].sort((x, y) => y[1].length - x[1].length)) {
  const r = median(xs);
  const f = median(forced.get(code)!);
  wr += r * xs.length;
  wf += f * xs.length;
  if ([...routed.keys()].length <= a.paths || xs.length >= [...routed.values()].map((v) => v.length).sort((x, y) => y - x)[a.paths - 1])
    console.log(`${code.padEnd(20)} ${fmt((100 * xs.length) / total, 1).padStart(5)}% ${fmt(r, 4).padStart(8)} ${fmt(f, 4).padStart(8)} ${fmt(r / f, 2).padStart(6)}`);
}
console.log(`traffic-weighted child ms: routed ${fmt(wr / total, 4)}, forced ${fmt(wf / total, 4)} (ratio ${fmt(wr / wf, 2)})`);
console.log('cache', JSON.stringify(m.cacheStats()));
await m.release();
