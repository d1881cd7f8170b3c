// EXPERIMENT (not committed): routed child time of full compiled paths under session-option variants.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadModel } from '../runtime/model-node.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { compilePath } from '../runtime/compile.js';
import { decodeCode } from '../runtime/path.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', images: 2000, passes: 2, paths: 25, block: 200 });
const m = await loadModel(a.bundle, { tier: 'modules', threads: 1 });
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
const codes: string[] = [];
for (const x of inputs) codes.push((await m.classify(x, dims))[0].path.code);
const freq = new Map<string, number>();
for (const c of codes) freq.set(c, (freq.get(c) ?? 0) + 1);
const top = [...freq].sort((x, y) => y[1] - x[1]).slice(0, a.paths).map((e) => e[0]);
const topSet = new Set(top);
const rf = async (n: string) => new Uint8Array(await readFile(path.join(a.bundle, n)));
const counts = m.manifest.graph.cells.map((c) => c.options.length);
const variants: Record<string, Record<string, unknown>> = {
  default: {},
  noArena: { enableCpuMemArena: false },
  noMemPattern: { enableMemPattern: false },
  noArenaNoPattern: { enableCpuMemArena: false, enableMemPattern: false },
};
const arms = new Map<string, Map<string, any>>();
for (const [name, raw] of Object.entries(variants)) {
  const eng = createNodeEngine({ raw });
  const ss = new Map();
  for (const c of top) ss.set(c, await eng.createSession(await compilePath(m.manifest, rf, decodeCode(c, counts)), { intraOpNumThreads: 1 }));
  arms.set(name, ss);
}
const t = new Map<string, number[]>([...arms.keys()].map((k) => [k, []]));
const warm = new Map<string, number[]>([...arms.keys()].map((k) => [k, []]));
const idx = codes.map((_, i) => i).filter((i) => topSet.has(codes[i]));
for (let p = 0; p < a.passes; p++)
  for (let s = 0; s < idx.length; s += a.block) {
    const blk = idx.slice(s, s + a.block);
    for (const arm of [...arms.keys()].sort(() => Math.random() - 0.5))
      for (const i of blk) {
        const x = { x: { data: inputs[i], dims } };
        const ses = arms.get(arm)!.get(codes[i]);
        let t0 = performance.now(); await ses.run(x); t.get(arm)!.push(performance.now() - t0);
        t0 = performance.now(); await ses.run(x); warm.get(arm)!.push(performance.now() - t0);
      }
  }
const base = median(t.get('default')!);
for (const k of arms.keys()) console.log(`${k.padEnd(18)} routed median ${median(t.get(k)!).toFixed(4)} ms (x${(median(t.get(k)!) / base).toFixed(3)} of default), warm ${median(warm.get(k)!).toFixed(4)}`);
