// The models alone, no pool: InstaNAS classifyBatch (controller + routed graph) vs the static baseline on the same
// batches, in this process, interleaved batch by batch; medians per batch size. What a pool or a server can at best
// pass on from the runtime to batched throughput (issue #4).
//   npx vite-node bench/model-batch.ts [--a models/fashion-mnist] [--b models/fashion-mnist-mobilenetv2] [--batches 8,16,32,64] [--iters 60]
import { loadModel } from '../runtime/model-node.js';
import { args, fmt, loadInputs, median } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', batches: '8,16,32,64', iters: 60 });
const A = await loadModel(a.a, { threads: 1 });
const B = await loadModel(a.b, { threads: 1 });
const inputs = loadInputs(A.manifest, 1024);
const per = inputs[0].length;
for (const n of a.batches.split(',').map(Number)) {
  const x = new Float32Array(n * per);
  const dims = [n, ...A.inputDims];
  const t: Record<'a' | 'b' | 'ctrl' | 'child', number[]> = { a: [], b: [], ctrl: [], child: [] };
  for (let r = 0; r < a.iters + 10; r++) {
    for (let i = 0; i < n; i++) x.set(inputs[(r * n + i) % inputs.length], i * per);
    const order = r % 2 ? [B, A] : [A, B]; // alternate which model runs first on each batch
    for (const m of order) {
      const t0 = performance.now();
      const out = await m.classifyBatch(x, dims);
      const ms = performance.now() - t0;
      if (r < 10) continue; // warm-up: compiled paths, routed graph
      if (m === A) (t.a.push(ms), t.ctrl.push(out.timings.controllerMs), t.child.push(out.timings.childMs));
      else t.b.push(ms);
    }
  }
  const [ma, mb] = [median(t.a), median(t.b)];
  console.log(`batch ${String(n).padStart(2)}: InstaNAS ${fmt(ma)} ms (controller ${fmt(median(t.ctrl))}, child ${fmt(median(t.child))}) = ${fmt((ma / n) * 1000, 0)} us/image; static ${fmt(mb)} ms = ${fmt((mb / n) * 1000, 0)} us/image; static/InstaNAS ${fmt(mb / ma)}x`);
}
await Promise.all([A.release(), B.release()]);
