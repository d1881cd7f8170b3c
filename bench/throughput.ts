// Throughput and latency of a bundle with closed-loop concurrency C, three arms
// interleaved round by round: in-process batch 1 (blocking), pool with batch 1
// (maxBatchSize 1), pool with micro-batching, and micro-batching with one batch
// per worker at a time (batchesPerWorker 1), and micro-batching with the routed graph off (every batch
// grouped by path: one session run per distinct path, as before tier 3). Medians over rounds and ratios.
// With --baseline <dir> the static baseline runs the same two pool arms (b1 and micro-batching) in the
// same rounds, and the InstaNAS / baseline throughput ratio is printed with both p99s (issue 4's target:
// >= 1.8x at the same p99 bound).
//   npx vite-node bench/throughput.ts [--bundle dir] [--baseline dir] [--concurrency 16] [--seconds 3] [--rounds 3] [--workers N] [--maxBatchSize 8] [--delayMs 1]
import { loadModel } from '../runtime/model-node.js';
import { createPool, DEFAULT_WORKERS } from '../runtime/pool-node.js';
import { args, closedLoop, defaultBundle, fmt, loadInputs, median, quantile } from './inputs.js';

const a = args({ bundle: defaultBundle(), baseline: '', concurrency: 16, seconds: 3, rounds: 3, workers: DEFAULT_WORKERS, maxBatchSize: 8, delayMs: 1 });
const model = await loadModel(a.bundle);
const single = await createPool(a.bundle, { workers: a.workers, maxBatchSize: 1 });
const batched = await createPool(a.bundle, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs });
const depth1 = await createPool(a.bundle, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs, batchesPerWorker: 1 });
const grouped = await createPool(a.bundle, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs, model: { routed: 'off' } });
const base1 = a.baseline ? await createPool(a.baseline, { workers: a.workers, maxBatchSize: 1 }) : null;
const baseN = a.baseline ? await createPool(a.baseline, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs }) : null;
await Promise.all([single.ready, batched.ready, depth1.ready, grouped.ready, base1?.ready, baseN?.ready]);
const inputs = loadInputs(model.manifest, 1000);
const dims = [1, ...model.inputDims];

const arms: Record<string, (i: number) => Promise<unknown>> = {
  'in-process b1': (i: number) => model.classify(inputs[i % inputs.length], dims),
  'pool b1': (i: number) => single.classify(inputs[i % inputs.length]),
  [`pool b${a.maxBatchSize}`]: (i: number) => batched.classify(inputs[i % inputs.length]),
  [`pool b${a.maxBatchSize} 1/wkr`]: (i: number) => depth1.classify(inputs[i % inputs.length]),
  [`pool b${a.maxBatchSize} grouped`]: (i: number) => grouped.classify(inputs[i % inputs.length]),
};
if (base1 && baseN) {
  arms['baseline pool b1'] = (i: number) => base1.classify(inputs[i % inputs.length]);
  arms[`baseline pool b${a.maxBatchSize}`] = (i: number) => baseN.classify(inputs[i % inputs.length]);
}
const names = Object.keys(arms);
const res: Record<string, { rate: number[]; p50: number[]; p99: number[] }> = {};
for (const n of names) res[n] = { rate: [], p50: [], p99: [] };

console.log(`bundle ${a.bundle}, concurrency ${a.concurrency}, ${a.seconds} s per arm per round, ${a.rounds} rounds, workers ${a.workers}`);
for (let r = 0; r < a.rounds; r++) {
  // Rotate the order so no arm always runs first (CPU clock and cache state drift).
  const order = names.map((_, k) => names[(k + r) % names.length]);
  for (const n of order) {
    const t0 = performance.now();
    const lat = await closedLoop(Infinity, a.concurrency, arms[n], t0 + a.seconds * 1000);
    const rate = lat.length / ((performance.now() - t0) / 1000);
    res[n].rate.push(rate);
    res[n].p50.push(quantile(lat, 0.5));
    res[n].p99.push(quantile(lat, 0.99));
    console.log(`round ${r} ${n.padEnd(18)} ${fmt(rate, 0).padStart(6)} inf/s  p50 ${fmt(quantile(lat, 0.5))} ms  p99 ${fmt(quantile(lat, 0.99))} ms`);
  }
}
console.log('median over rounds:');
for (const n of names)
  console.log(`  ${n.padEnd(18)} ${fmt(median(res[n].rate), 0).padStart(6)} inf/s  p50 ${fmt(median(res[n].p50))} ms  p99 ${fmt(median(res[n].p99))} ms`);
const base = median(res['pool b1'].rate);
const mb = names[2]; // micro-batching arm
console.log(`ratio ${mb} / pool b1 throughput: ${fmt(median(res[mb].rate) / base)}x; pool b1 / in-process b1: ${fmt(base / median(res['in-process b1'].rate))}x; ${mb} / ${names[3]}: ${fmt(median(res[mb].rate) / median(res[names[3]].rate))}x`);
console.log(`${mb} (routed graph) / ${names[4]}: throughput ${fmt(median(res[mb].rate) / median(res[names[4]].rate))}x`);
const st = batched.stats();
console.log(`${mb}: mean batch ${fmt(st.completed / st.batches)}, batch sizes ${JSON.stringify(st.batchSizes)}`);
if (base1 && baseN) {
  for (const [x, y] of [['pool b1', 'baseline pool b1'], [mb, `baseline pool b${a.maxBatchSize}`]])
    console.log(`InstaNAS ${x} / ${y}: throughput ${fmt(median(res[x].rate) / median(res[y].rate))}x (p99 ${fmt(median(res[x].p99))} vs ${fmt(median(res[y].p99))} ms)`);
}
await Promise.all([single.close(), batched.close(), depth1.close(), grouped.close(), base1?.close(), baseN?.close()]);
await model.release();
