// Experiment (session 11): onnxruntime's graph optimisation level at batch 1. 'all' adds the NCHWc layout
// transform (reorders around blocked convolutions); at batch 1 on 28x28 inputs its reorders may cost more than
// they save. Compiled graphs of the bundle's top 3 paths, the cheapest legal path, the controller and the static
// baseline's chain, each as a session at 'all' and at 'extended'; batch 1, 1 thread, real test images,
// interleaved image by image (order alternating); medians and means in us.
//   npx vite-node bench/results/20261201T0040Z-session11/experiments/optlevel-batch1.ts [--images 3000]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { compilePath } from '../../../../runtime/compile.js';
import { loadManifest } from '../../../../runtime/manifest-node.js';
import { decodeCode } from '../../../../runtime/path.js';
import { args, cheapestCells, fmt, loadInputs, median } from '../../../inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', images: 3000 });
const ma = await loadManifest(a.a);
const mb = await loadManifest(a.b);
const rf = (dir: string) => async (n: string) => new Uint8Array(await readFile(path.join(dir, n)));
const counts = ma.graph.cells.map((c) => c.options.length);
const graphs: [string, Uint8Array][] = [];
for (const h of ma.hotPaths!.slice(0, 3)) graphs.push([`path ${h.code}`, await compilePath(ma, rf(a.a), decodeCode(h.code, counts))]);
graphs.push(['cheapest path', await compilePath(ma, rf(a.a), cheapestCells(ma))]);
graphs.push(['controller', new Uint8Array(await readFile(path.join(a.a, ma.controller!.file)))]);
graphs.push(['static baseline', await compilePath(mb, rf(a.b), mb.graph.cells.map((c) => [c.defaultOption ?? 0]))]);
const opt = (level: 'all' | 'extended') => ({ intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: level, executionMode: 'sequential' as const });
const inputs = loadInputs(ma, a.images);
for (const [name, bytes] of graphs) {
  const s = { all: await ort.InferenceSession.create(bytes, opt('all')), extended: await ort.InferenceSession.create(bytes, opt('extended')) };
  const inName = s.all.inputNames[0];
  const t: Record<string, number[]> = { all: [], extended: [] };
  let maxDiff = 0;
  for (let pass = 0; pass < 2; pass++)
    for (let i = 0; i < inputs.length; i++) {
      const feed = { [inName]: new ort.Tensor('float32', inputs[i], [1, 1, 28, 28]) };
      const order = (i + pass) % 2 ? (['all', 'extended'] as const) : (['extended', 'all'] as const);
      const out: Record<string, Float32Array> = {};
      for (const k of order) {
        const t0 = performance.now();
        const r = await s[k].run(feed);
        const dt = performance.now() - t0;
        if (pass === 1) t[k].push(dt * 1000);
        out[k] = r[s[k].outputNames[0]].data as Float32Array;
      }
      for (let j = 0; j < out.all.length; j++) maxDiff = Math.max(maxDiff, Math.abs(out.all[j] - out.extended[j]));
    }
  const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
  console.log(`${name.padEnd(26)} all: median ${fmt(median(t.all), 1)} mean ${fmt(mean(t.all), 1)} us; extended: median ${fmt(median(t.extended), 1)} mean ${fmt(mean(t.extended), 1)} us; all/extended median ${fmt(median(t.all) / median(t.extended))}x; max |diff| ${maxDiff.toExponential(1)}`);
  await s.all.release(); await s.extended.release();
}
