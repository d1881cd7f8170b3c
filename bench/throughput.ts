// Throughput and latency of a bundle with closed-loop concurrency C, three arms
// interleaved round by round: in-process batch 1 (blocking), pool with batch 1
// (maxBatchSize 1), pool with micro-batching, and micro-batching with one batch
// per worker at a time (batchesPerWorker 1). Medians over rounds and ratios.
//   npx vite-node bench/throughput.ts [--bundle dir] [--concurrency 16] [--seconds 3] [--rounds 3] [--workers N] [--maxBatchSize 8] [--delayMs 1]
import { loadModel } from '../runtime/model-node.js';
import { createPool, DEFAULT_WORKERS } from '../runtime/pool-node.js';
import { args, closedLoop, defaultBundle, fmt, loadInputs, median, quantile } from './inputs.js';

const a = args({ bundle: defaultBundle(), concurrency: 16, seconds: 3, rounds: 3, workers: DEFAULT_WORKERS, maxBatchSize: 8, delayMs: 1 });
const model = await loadModel(a.bundle);
const single = await createPool(a.bundle, { workers: a.workers, maxBatchSize: 1 });
const batched = await createPool(a.bundle, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs });
const depth1 = await createPool(a.bundle, { workers: a.workers, maxBatchSize: a.maxBatchSize, maxQueueDelayMs: a.delayMs, batchesPerWorker: 1 });
await Promise.all([single.ready, batched.ready, depth1.ready]);
const inputs = loadInputs(model.manifest, 1000);
const dims = [1, ...model.inputDims];

const arms = {
  'in-process b1': (i: number) => model.classify(inputs[i % inputs.length], dims),
  'pool b1': (i: number) => single.classify(inputs[i % inputs.length]),
  [`pool b${a.maxBatchSize}`]: (i: number) => batched.classify(inputs[i % inputs.length]),
  [`pool b${a.maxBatchSize} 1/wkr`]: (i: number) => depth1.classify(inputs[i % inputs.length]),
};
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
    console.log(`round ${r} ${n.padEnd(16)} ${fmt(rate, 0).padStart(6)} inf/s  p50 ${fmt(quantile(lat, 0.5))} ms  p99 ${fmt(quantile(lat, 0.99))} ms`);
  }
}
console.log('median over rounds:');
for (const n of names)
  console.log(`  ${n.padEnd(16)} ${fmt(median(res[n].rate), 0).padStart(6)} inf/s  p50 ${fmt(median(res[n].p50))} ms  p99 ${fmt(median(res[n].p99))} ms`);
const base = median(res['pool b1'].rate);
const mb = names[2]; // micro-batching arm
console.log(`ratio ${mb} / pool b1 throughput: ${fmt(median(res[mb].rate) / base)}x; pool b1 / in-process b1: ${fmt(base / median(res['in-process b1'].rate))}x; ${mb} / ${names[3]}: ${fmt(median(res[mb].rate) / median(res[names[3]].rate))}x`);
const st = batched.stats();
console.log(`${mb}: mean batch ${fmt(st.completed / st.batches)}, batch sizes ${JSON.stringify(st.batchSizes)}`);
await Promise.all([single.close(), batched.close(), depth1.close()]);
await model.release();
