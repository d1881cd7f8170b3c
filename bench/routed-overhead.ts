// What the routed graph (tier 3) costs over plain compute: at batch B of test images, the routed graph with
// every row forced onto the top hot path vs that path's compiled graph (same work, no routing), and the routed
// graph on the rows' own paths. Interleaved call by call; medians per batch.
//   npx vite-node bench/routed-overhead.ts [--bundle models/fashion-mnist] [--batch 16] [--rounds 3]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compilePath } from '../runtime/compile.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import { loadModel } from '../runtime/model-node.js';
import { ROUTED_MIN_SHARE } from '../runtime/model-types.js';
import { decodeCode } from '../runtime/path.js';
import { compileRouted, covers, planRouted, routedFeeds } from '../runtime/routed.js';
import { args, defaultBundle, fmt, loadInputs, median } from './inputs.js';

const a = args({ bundle: defaultBundle(), batch: 16, rounds: 3 });
const m = await loadManifest(a.bundle);
const read = (n: string) => readFile(path.join(a.bundle, n)).then((b) => new Uint8Array(b));
const codes = (m.hotPaths ?? []).filter((h) => h.share >= ROUTED_MIN_SHARE).map((h) => h.code);
if (codes.length < 2) throw new Error(`${a.bundle}: fewer than 2 hot paths, no routed graph`);
const plan = planRouted(m, codes);
const engine = createNodeEngine();
const routed = await engine.createSession(await compileRouted(m, read, plan), {});
const topCells = decodeCode(codes[0], m.graph.cells.map((c) => c.options.length));
const top = await engine.createSession(await compilePath(m, read, topCells), {});
const model = await loadModel(a.bundle, { routed: 'off' }); // only for the controller's paths
// Only inputs whose controller path the routed graph covers (the others go to tiers 1-2 in the runtime).
const all = loadInputs(m, 2048);
const covered = await Promise.all(all.map(async (x) => covers(plan, (await model.route(x, [1, ...model.inputDims])).paths[0].cells)));
const inputs = all.filter((_, i) => covered[i]);
const size = inputs[0].length;
const t: Record<string, number[]> = { 'routed, all rows on the top path': [], 'compiled top path': [], 'routed, own paths': [] };
const [rTop, cTop, rOwn] = Object.values(t);
for (let round = 0; round < a.rounds; round++)
  for (let r = 0; r + a.batch <= inputs.length; r += a.batch) {
    const x = new Float32Array(a.batch * size);
    for (let i = 0; i < a.batch; i++) x.set(inputs[r + i], i * size);
    const dims = [a.batch, ...model.inputDims];
    const { paths } = await model.route(x, dims);
    const fTop = routedFeeds(plan, { data: x, dims }, paths.map(() => topCells));
    const fOwn = routedFeeds(plan, { data: x, dims }, paths.map((p) => p.cells));
    let t0 = performance.now();
    await routed.run(fTop);
    rTop.push(performance.now() - t0);
    t0 = performance.now();
    await top.run({ x: { data: x, dims } });
    cTop.push(performance.now() - t0);
    t0 = performance.now();
    await routed.run(fOwn);
    rOwn.push(performance.now() - t0);
  }
console.log(`${a.bundle}: batch ${a.batch}, ${rTop.length} batches per arm of the ${inputs.length}/${all.length} test images on covered paths, routed graph over ${codes.length} hot paths (top ${codes[0]})`);
for (const [k, v] of Object.entries(t)) console.log(`  ${k.padEnd(34)} median ${fmt(median(v))} ms per batch`);
console.log(`routing overhead (routed, top path / compiled top path): ${fmt(median(rTop) / median(cTop))}x`);
await Promise.all([routed.release(), top.release(), model.release()]);
