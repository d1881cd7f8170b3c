// The models alone, no pool: InstaNAS classifyBatch (controller + routed graph) vs the static baseline on the same
// batches, in this process, interleaved batch by batch; medians per batch size. What a pool or a server can at best
// pass on from the runtime to batched throughput (issue #4).
// Two more arms show the headroom of the bundle and of its meta-graph: every row forced through the bundle's most
// used path, and through the cheapest legal path (identity wherever the shape allows, else the option with the
// fewest MACs). Forced paths skip the controller and the routing, so they bound what any controller could reach
// with these paths.
//   npx vite-node bench/model-batch.ts [--a models/fashion-mnist] [--b models/fashion-mnist-mobilenetv2] [--batches 8,16,32,64] [--iters 60]
import { loadModel } from '../runtime/model-node.js';
import { args, cheapestCells, fmt, loadInputs, median } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', batches: '8,16,32,64', iters: 60 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
if (A.manifest.kind !== 'instanas') throw new Error(`--a ${a.a}: expected an InstaNAS bundle`);

const top = A.manifest.hotPaths?.[0]?.code;
if (!top) throw new Error(`--a ${a.a}: the manifest lists no hot paths`);
const cheapest = cheapestCells(A.manifest);
const inputs = loadInputs(A.manifest, 1024);
const per = inputs[0].length;
console.log(`top path ${top}; cheapest legal path ${JSON.stringify(cheapest)}`);
for (const n of a.batches.split(',').map(Number)) {
  const x = new Float32Array(n * per);
  const dims = [n, ...A.inputDims];
  const arms: [string, () => Promise<unknown>][] = [
    ['a', () => A.classifyBatch(x, dims)],
    ['b', () => B.classifyBatch(x, dims)],
    ['top', () => A.classifyBatch(x, dims, { path: top })],
    ['cheapest', () => A.classifyBatch(x, dims, { path: cheapest })],
  ];
  const t: Record<string, number[]> = { a: [], b: [], top: [], cheapest: [], ctrl: [], child: [] };
  for (let r = 0; r < a.iters + 10; r++) {
    for (let i = 0; i < n; i++) x.set(inputs[(r * n + i) % inputs.length], i * per);
    const order = r % 2 ? [...arms].reverse() : arms; // alternate which arm runs first on each batch
    for (const [k, run] of order) {
      const t0 = performance.now();
      const out = (await run()) as Awaited<ReturnType<typeof A.classifyBatch>>;
      const ms = performance.now() - t0;
      if (r < 10) continue; // warm-up: compiled paths, routed graph
      t[k].push(ms);
      if (k === 'a') (t.ctrl.push(out.timings.controllerMs), t.child.push(out.timings.childMs));
    }
  }
  const [ma, mb] = [median(t.a), median(t.b)];
  console.log(
    `batch ${String(n).padStart(2)}: InstaNAS ${fmt(ma)} ms (controller ${fmt(median(t.ctrl))}, child ${fmt(median(t.child))}) = ${fmt((ma / n) * 1000, 0)} us/image; ` +
      `static ${fmt(mb)} ms = ${fmt((mb / n) * 1000, 0)} us/image; static/InstaNAS ${fmt(mb / ma)}x; ` +
      `static/forced top path ${fmt(mb / median(t.top))}x; static/forced cheapest path ${fmt(mb / median(t.cheapest))}x`,
  );
}
await Promise.all([A.release(), B.release()]);
