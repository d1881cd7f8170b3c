// Issue #4's batched-throughput comparison, built to resist this VM's drift: InstaNAS and the static baseline,
// each in its own worker pool (same options), alternate in short slices (A B B A ...), so every pair of slices
// sees the same machine state; the figure is the median of the per-pair throughput ratios, with their range.
// Closed loop with concurrency = 2 x max batch (one batch running, one queued). For every max batch size in
// --batches, then each arm at its best max batch under one p99 bound (p99 over all its slices' latencies).
//   npx vite-node bench/throughput-ab.ts [--a models/fashion-mnist] [--b models/fashion-mnist-mobilenetv2]
//     [--batches 8,16,32,64] [--pairs 8] [--slice 1.5] [--p99 25] [--workers N] [--delayMs 1]
//     [--idle K]   K more pools of A loaded and left idle (throughput.ts keeps 6 pools in one process: this
//                  checks whether idle pools change the figures)
import { createPool, DEFAULT_WORKERS, type WorkerPool } from '../runtime/pool-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import { args, closedLoop, fmt, loadInputs, median, quantile } from './inputs.js';

const a = args({ a: 'models/fashion-mnist', b: 'models/fashion-mnist-mobilenetv2', batches: '8,16,32,64', pairs: 8, slice: 1.5, p99: 25, workers: DEFAULT_WORKERS, delayMs: 1, idle: 0 });
const batches = a.batches.split(',').map(Number);
const inputs = loadInputs(await loadManifest(a.a), 1000);

type Arm = { rates: number[]; lat: number[] };
const idle = await Promise.all(Array.from({ length: a.idle }, () => createPool(a.a, { workers: a.workers })));
await Promise.all(idle.map((p) => p.ready));
const rows: { n: number; A: Arm; B: Arm; ratios: number[]; sizes: { A: number; B: number } }[] = [];
console.log(`A = ${a.a}, B = ${a.b}; ${a.pairs} pairs of ${a.slice} s slices per max batch, workers ${a.workers}, queue delay ${a.delayMs} ms`);

for (const n of batches) {
  const opts = { workers: a.workers, maxBatchSize: n, maxQueueDelayMs: a.delayMs };
  const pools: WorkerPool[] = [await createPool(a.a, opts), await createPool(a.b, opts)];
  await Promise.all(pools.map((p) => p.ready));
  const loop = (p: WorkerPool, seconds: number) => closedLoop(Infinity, 2 * n, (i) => p.classify(inputs[i % inputs.length]), performance.now() + seconds * 1000);
  for (const p of pools) await loop(p, 1); // warm-up: compiled paths, routed graph, JIT
  const warm = pools.map((p) => p.stats()); // mean batch sizes below count the measured slices only
  const arms: [Arm, Arm] = [{ rates: [], lat: [] }, { rates: [], lat: [] }];
  const ratios: number[] = [];
  for (let k = 0; k < a.pairs; k++) {
    const rate = [0, 0];
    for (const i of k % 2 ? [1, 0] : [0, 1]) {
      const t0 = performance.now();
      const lat = await loop(pools[i], a.slice);
      rate[i] = lat.length / ((performance.now() - t0) / 1000);
      arms[i].rates.push(rate[i]);
      for (const l of lat) arms[i].lat.push(l);
    }
    ratios.push(rate[0] / rate[1]);
  }
  const mean = (k: number) => { const s = pools[k].stats(); return (s.completed - warm[k].completed) / (s.batches - warm[k].batches); };
  rows.push({ n, A: arms[0], B: arms[1], ratios, sizes: { A: mean(0), B: mean(1) } });
  await Promise.all(pools.map((p) => p.close()));
  const r = rows[rows.length - 1];
  const line = (x: Arm) => `${fmt(median(x.rates), 0).padStart(6)} inf/s  p50 ${fmt(quantile(x.lat, 0.5))}  p99 ${fmt(quantile(x.lat, 0.99))} ms`;
  console.log(`max batch ${String(n).padStart(2)}  A ${line(r.A)} (mean batch ${fmt(r.sizes.A, 1)})  B ${line(r.B)} (mean batch ${fmt(r.sizes.B, 1)})`);
  console.log(`             A/B per pair ${ratios.map((v) => fmt(v)).join(' ')}  median ${fmt(median(ratios))} (range ${fmt(Math.min(...ratios))}-${fmt(Math.max(...ratios))})`);
}

// Each arm at its own best max batch under the p99 bound (the issue's "at the same p99 bound").
const best = (k: 'A' | 'B') =>
  rows.filter((r) => quantile(r[k].lat, 0.99) <= a.p99).sort((x, y) => median(y[k].rates) - median(x[k].rates))[0];
const [bA, bB] = [best('A'), best('B')];
console.log(`\nbest under p99 <= ${a.p99} ms: A at max batch ${bA?.n ?? 'none'} (${bA ? fmt(median(bA.A.rates), 0) : '-'} inf/s), B at max batch ${bB?.n ?? 'none'} (${bB ? fmt(median(bB.B.rates), 0) : '-'} inf/s)`);
if (bA && bB) console.log(`  ratio A/B: ${fmt(median(bA.A.rates) / median(bB.B.rates))}`);
console.log(`per max batch, median paired ratio: ${rows.map((r) => `b${r.n} ${fmt(median(r.ratios))}`).join(', ')}`);
await Promise.all(idle.map((p) => p.close()));
