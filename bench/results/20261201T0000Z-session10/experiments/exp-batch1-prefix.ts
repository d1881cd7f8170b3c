// EXPERIMENT (session 10; ran as bench/exp-batch1-prefix.ts, imports relative to bench/): batch 1, controller
// included. (A) what the runtime does: the controller's session, then the path's compiled graph. (B) one session
// running the controller and the prefix all hot paths share (stem + cells 0..K-1) side by side, then the path's
// suffix (cells K.. + head). Same number of session runs; B keeps the shared prefix in one session instead of one
// copy per path. Graphs from prefix_graphs.py. Blocks of images alternate arms, random order per block.
import { readFile } from 'node:fs/promises';
import { loadModel } from '../runtime/model-node.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', dir: '/work/exp10/prefix', images: 2000, passes: 2, block: 250 });
const m = await loadModel(a.bundle, { threads: 1 });
const meta = JSON.parse(await readFile(`${a.dir}/prefix.json`, 'utf8')) as { K: number; codes: string[] };
const eng = createNodeEngine();
const open = async (f: string) => eng.createSession(new Uint8Array(await readFile(f)), { intraOpNumThreads: 1 });
const ctrl = await open(`${a.bundle}/controller.onnx`);
const fused = await open(`${a.dir}/fused.onnx`);
const full = new Map<string, Awaited<ReturnType<typeof open>>>();
const suffix = new Map<string, Awaited<ReturnType<typeof open>>>();
for (const c of meta.codes) {
  full.set(c, await open(`${a.dir}/full_${c}.onnx`));
  suffix.set(c, await open(`${a.dir}/suffix_${c}.onnx`));
}
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
const codes: string[] = [];
for (const x of inputs) codes.push((await m.route(x, dims)).paths[0].code);
const idx = codes.map((_, i) => i).filter((i) => full.has(codes[i]));
const runA = async (i: number) => {
  const x = { data: inputs[i], dims };
  await ctrl.run({ x });
  return (await full.get(codes[i])!.run({ x })).y;
};
const runB = async (i: number) => {
  const r = await fused.run({ x: { data: inputs[i], dims } });
  return (await suffix.get(codes[i])!.run({ hin: r.h })).y;
};
let maxDiff = 0;
for (let k = 0; k < idx.length; k += 41) {
  const [ya, yb] = [await runA(idx[k]), await runB(idx[k])];
  for (let c = 0; c < ya.data.length; c++) maxDiff = Math.max(maxDiff, Math.abs(ya.data[c] - yb.data[c]));
}
console.log(`${a.bundle}: ${idx.length}/${inputs.length} images on the ${meta.codes.length} paths sharing cells 0..${meta.K - 1}; max |logit diff| A vs B ${maxDiff.toExponential(2)}`);
const t: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let p = 0; p < a.passes; p++)
  for (let s = 0; s < idx.length; s += a.block)
    for (const arm of Math.random() < 0.5 ? (['A', 'B'] as const) : (['B', 'A'] as const))
      for (let k = s; k < Math.min(s + a.block, idx.length); k++) {
        const t0 = performance.now();
        await (arm === 'A' ? runA : runB)(idx[k]);
        t[arm].push(performance.now() - t0);
      }
const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
console.log(`controller + child ms, median/mean: A (controller, then the compiled path) ${median(t.A).toFixed(4)}/${mean(t.A).toFixed(4)}  B (controller + prefix, then the suffix) ${median(t.B).toFixed(4)}/${mean(t.B).toFixed(4)}`);
console.log(`B/A: median ${(median(t.B) / median(t.A)).toFixed(3)}, mean ${(mean(t.B) / mean(t.A)).toFixed(3)}`);
await m.release();
