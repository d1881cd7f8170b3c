// Does an onnxruntime session setting change what path switching costs? Two copies of one bundle, one with
// the default sessions and one with the given config entries (SessionOptions.extra), classify the same
// images image by image (order alternating): routed child time (consecutive images take different paths)
// and each image's path again at once, forced (warm). Logits are compared between the copies.
//   npx vite-node bench/session-config.ts [--bundle models/fashion-mnist] [--config session.disable_prepacking=1] [--images 2000] [--passes 2]
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import { InstaModel } from '../runtime/model.js';
import { args, fmt, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', config: 'session.disable_prepacking=1', images: 2000, passes: 2 });
const config = Object.fromEntries(a.config.split(',').map((kv) => kv.split('=') as [string, string]));
const manifest = await loadManifest(a.bundle);
const load = (cfg: Record<string, string>) =>
  InstaModel.create(
    { manifest, engine: createNodeEngine({ config: cfg }), readFile: async (n) => new Uint8Array(await readFile(path.join(a.bundle, n))) },
    { tier: 'compiled', threads: 1 },
  );
const arms = [
  { name: 'default', m: await load({}), routed: [] as number[], forced: [] as number[], total: [] as number[] },
  { name: a.config, m: await load(config), routed: [] as number[], forced: [] as number[], total: [] as number[] },
];
const inputs = loadInputs(manifest, a.images);
const dims = [1, ...arms[0].m.inputDims];
for (const { m } of arms) {
  for (const x of inputs) await m.classify(x, dims);
  await m.cacheIdle();
}
let maxDiff = 0;
for (let p = 0; p < a.passes; p++)
  for (let i = 0; i < inputs.length; i++) {
    const outs = [];
    for (const k of i % 2 ? [1, 0] : [0, 1]) {
      const arm = arms[k];
      const t0 = performance.now();
      const [r] = await arm.m.classify(inputs[i], dims);
      arm.total.push(performance.now() - t0);
      arm.routed.push(r.timings.childMs);
      const [f] = await arm.m.classify(inputs[i], dims, { path: r.path.code });
      arm.forced.push(f.timings.childMs);
      outs[k] = r.logits;
    }
    outs[0].forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - outs[1][j]))));
  }
console.log(`${a.bundle}: ${inputs.length} images x ${a.passes} passes, compiled tier, batch 1, 1 thread; medians (ms)`);
for (const arm of arms)
  console.log(`${arm.name.padEnd(36)} classify ${fmt(median(arm.total), 4)}  child routed ${fmt(median(arm.routed), 4)}  forced ${fmt(median(arm.forced), 4)}  mean routed ${fmt(arm.routed.reduce((s, v) => s + v, 0) / arm.routed.length, 4)}`);
console.log(`max |logit difference| between the two: ${maxDiff.toExponential(2)}`);
for (const { m } of arms) await m.release();
