// EXPERIMENT (not committed): routed child time, full compiled paths vs body-only compiled paths + shared head.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadModel } from '../runtime/model-node.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { compilePath } from '../runtime/compile.js';
import { decodeCode } from '../runtime/path.js';
import { args, loadInputs, median } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', images: 2000, passes: 2, paths: 25, block: 250 });
const m = await loadModel(a.bundle, { tier: 'modules', threads: 1 });
const inputs = loadInputs(m.manifest, a.images);
const dims = [1, ...m.inputDims];
const codes: string[] = [];
for (const x of inputs) codes.push((await m.classify(x, dims))[0].path.code);
const freq = new Map<string, number>();
for (const c of codes) freq.set(c, (freq.get(c) ?? 0) + 1);
const top = [...freq].sort((x, y) => y[1] - x[1]).slice(0, a.paths).map((e) => e[0]);
const topSet = new Set(top);
const covered = codes.filter((c) => topSet.has(c)).length;
console.log(`${freq.size} distinct paths; top ${top.length} cover ${covered}/${codes.length}`);
const eng = createNodeEngine();
const rf = async (n: string) => new Uint8Array(await readFile(path.join(a.bundle, n)));
const counts = m.manifest.graph.cells.map((c) => c.options.length);
const opt = { intraOpNumThreads: 1 };
const full = new Map(); const body = new Map();
for (const c of top) {
  full.set(c, await eng.createSession(await compilePath(m.manifest, rf, decodeCode(c, counts)), opt));
  body.set(c, await eng.createSession(await compilePath(m.manifest, rf, decodeCode(c, counts), { head: false }), opt));
}
const head = await eng.createSession(await rf(m.manifest.graph.head.file), opt);
const hin = head.inputNames[0];
const ta: number[] = []; const tb: number[] = []; const tw: number[] = [];
const idx = codes.map((c, i) => i).filter((i) => topSet.has(codes[i]));
for (let p = 0; p < a.passes; p++)
  for (let s = 0; s < idx.length; s += a.block) {
    const blk = idx.slice(s, s + a.block);
    const order = Math.random() < 0.5 ? ['A', 'B'] : ['B', 'A'];
    for (const arm of order)
      for (const i of blk) {
        const x = { x: { data: inputs[i], dims } };
        const t0 = performance.now();
        if (arm === 'A') { await full.get(codes[i]).run(x); ta.push(performance.now() - t0); const t1 = performance.now(); await full.get(codes[i]).run(x); tw.push(performance.now() - t1); }
        else { const y = await body.get(codes[i]).run(x); await head.run({ [hin]: y.y }); tb.push(performance.now() - t0); }
      }
  }
const f = (v: number[]) => median(v).toFixed(4);
const mean = (v: number[]) => (v.reduce((s, x) => s + x, 0) / v.length).toFixed(4);
console.log(`child ms median/mean: full routed ${f(ta)}/${mean(ta)}  full warm(repeat) ${f(tw)}/${mean(tw)}  body+shared head routed ${f(tb)}/${mean(tb)}`);
console.log(`ratio body+head / full routed (median) ${(median(tb) / median(ta)).toFixed(3)}; full routed / warm ${(median(ta) / median(tw)).toFixed(3)}`);
