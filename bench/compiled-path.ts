// Tier 2 benchmark: for the most used child paths of a bundle over Fashion-MNIST test
// images, batch 1, one intra-op thread, arms interleaved call by call (shuffled order):
//   modules  InstaModel tier 'modules'  (tier 1: one session run per module)
//   compiled InstaModel tier 'compiled' (tier 2: compilePath, one session run)
//   graph    the compiled graph's Session.run alone (no InstaModel bookkeeping)
//   floor    torch's own export of the same path as one static model, Session.run alone
// Prints per-path medians (us) and ratios graph/floor (target <= 1.10) and modules/compiled.
//   npx vite-node bench/compiled-path.ts --bundle /tmp/b17 [--images 1000] [--paths 5] [--iters 400] [--run <search dir>] [--floor dir]
// The floor is written by bench/export_static_path.py (torch, /usr/bin/python3) into --floor (default $TMPDIR/instanas-floor/<bundle folder name>-<manifest hash>);
// if it cannot be written (no torch or onnx for /usr/bin/python3, a config it cannot read) the benchmark stops with its error.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compilePath } from '../runtime/compile.js';
import { decodeModel } from '../runtime/onnx/proto.js';
import type { Session, Tensor } from '../runtime/engine.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadModel } from '../runtime/model-node.js';
import { args, defaultBundle, fmt, loadInputs, median } from './inputs.js';

const a = args({ bundle: defaultBundle(), images: 1000, paths: 5, iters: 400, warmup: 50, run: '', floor: '' });
const engine = createNodeEngine();
const modules = await loadModel(a.bundle, { tier: 'modules' });
const compiled = await loadModel(a.bundle, { tier: 'compiled' });
const m = modules.manifest;
const per = [...modules.inputDims];

// The most used paths, as the controller routes real images.
const inputs = loadInputs(m, a.images);
const uses = new Map<string, { count: number; cells: number[][]; input: Float32Array }>();
for (let i = 0; i < inputs.length; i += 100) {
  const chunk = inputs.slice(i, i + 100);
  const { paths } = await modules.route(Float32Array.from(chunk.flatMap((x) => Array.from(x))), [chunk.length, ...per]);
  paths.forEach((p, k) => {
    const u = uses.get(p.code) ?? { count: 0, cells: p.cells, input: chunk[k] };
    u.count++;
    uses.set(p.code, u);
  });
}
const top = [...uses.entries()].sort((x, y) => y[1].count - x[1].count).slice(0, a.paths);
console.log(`${a.bundle}: ${m.graph.cells.length} cells, ${inputs.length} images, ${uses.size} distinct paths; ${engine.name}, batch 1, 1 thread`);

// Floors are cached between runs, per bundle content: the folder name alone let a re-exported bundle meet the
// floors of its predecessor (same path codes, other weights), which the logits check below then refused.
const bundleId = createHash('sha256').update(readFileSync(path.join(a.bundle, 'manifest.json'))).digest('hex').slice(0, 12);
// --run's floors (checkpoint weights) are kept apart from those read back from the bundle's ONNX modules.
const floorDir = a.floor || path.join(os.tmpdir(), 'instanas-floor', `${path.basename(path.resolve(a.bundle))}-${bundleId}${a.run ? '-run' : ''}`);
const missing = top.filter(([code]) => !existsSync(path.join(floorDir, `${code}.onnx`)));
// The exporter takes the weights from the search's checkpoint with --run, else from the bundle's own ONNX modules
// (BatchNorm folded back in torch); the logits check below compares the floor with the bundle.
if (missing.length) {
  const cmd = ['bench/export_static_path.py', '--bundle', a.bundle, '--out', floorDir, '--paths', missing.map(([c]) => c).join(',')];
  if (a.run) cmd.push('--run', a.run);
  const r = spawnSync('/usr/bin/python3', cmd, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench/export_static_path.py failed (exit ${r.status})`);
}

const readBundle = (name: string) => readFile(path.join(a.bundle, name)).then((b) => new Uint8Array(b));
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((d, v, i) => Math.max(d, Math.abs(v - y[i])), 0);
let seed = 12345;
const shuffle = <T>(xs: readonly T[]): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};
const rows: string[][] = [];
const ratios = { floor: [] as number[], modules: [] as number[], overhead: [] as number[] };
for (const [code, u] of top) {
  const x: Tensor = { data: u.input, dims: [1, ...per] };
  const graphBytes = await compilePath(m, readBundle, u.cells);
  const floorBytes = new Uint8Array(readFileSync(path.join(floorDir, `${code}.onnx`)));
  const graph: Session = await engine.createSession(graphBytes);
  const floor: Session = await engine.createSession(floorBytes);
  // Structure, free of timing noise: both graphs should hold the same operators.
  const ops = (b: Uint8Array) => decodeModel(b).graph.node.filter((n) => n.opType !== 'Constant').length;
  const arms: Record<string, () => Promise<ArrayLike<number>>> = {
    modules: async () => (await modules.classify(u.input, x.dims, { path: code }))[0].logits,
    compiled: async () => (await compiled.classify(u.input, x.dims, { path: code }))[0].logits,
    graph: async () => (await graph.run({ x })).y.data,
    floor: async () => (await floor.run({ x })).y.data,
  };
  const names = Object.keys(arms);
  // Same weights or the comparison means nothing: every arm must give the same logits.
  const out = await Promise.all(names.map((n) => arms[n]()));
  const diff = Math.max(...out.map((o) => maxDiff(o, out[0])));
  if (diff > 1e-4) throw new Error(`path ${code}: arms disagree by ${diff} (floor weights differ from the bundle?)`);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < a.warmup + a.iters; i++) {
    // A fresh order each iteration: no arm always follows the cache-thrashing module-by-module arm.
    for (const n of shuffle(names)) {
      const t0 = performance.now();
      await arms[n]();
      if (i >= a.warmup) times[n].push((performance.now() - t0) * 1000);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(times[n])]));
  // Paired: arms of one iteration ran back to back, so their ratio cancels slow drifts in machine load.
  const paired = (p: string, q: string) => median(times[p].map((t, i) => t / times[q][i]));
  ratios.floor.push(paired('graph', 'floor'));
  ratios.modules.push(paired('modules', 'compiled'));
  const modulesRun = 2 + u.cells.reduce((s, c) => s + c.length, 0);
  // Runtime overhead of the compiled tier: what InstaModel adds around the one session run (checks, grouping, softmax, top-k).
  ratios.overhead.push(1 - paired('graph', 'compiled'));
  rows.push([code, String(u.count), String(modulesRun), `${ops(graphBytes)}/${ops(floorBytes)}`,
    ...['modules', 'compiled', 'graph', 'floor'].map((n) => fmt(med[n], 0)),
    fmt(ratios.floor.at(-1)!), fmt(ratios.modules.at(-1)!), `${fmt(100 * ratios.overhead.at(-1)!, 1)}%`, diff.toExponential(1)]);
  await graph.release();
  await floor.release();
}
const header = ['path', 'uses', 'modules', 'nodes graph/floor', 'modules us', 'compiled us', 'graph us', 'floor us', 'graph/floor', 'modules/compiled', 'overhead', 'max |dlogit|'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padStart(widths[i])).join('  '));
console.log(`ratios are medians of per-iteration ratios; over paths: graph/floor ${fmt(median(ratios.floor))} (target <= 1.10), modules/compiled ${fmt(median(ratios.modules))}, runtime overhead 1 - graph/compiled ${fmt(100 * median(ratios.overhead), 1)}% (target <= 10%); ${a.iters} interleaved iterations per arm, medians in us`);
console.log(`cache: ${JSON.stringify(compiled.cacheStats())}`);
await modules.release();
await compiled.release();
