// Process RSS (main thread + all worker threads) every 10k inferences over 100k
// through the pool: a bounded queue and transferred buffers should keep it flat.
//   npx vite-node bench/rss.ts [--bundle test/fixtures/tiny] [--total 100000] [--every 10000] [--concurrency 32] [--workers N] [--maxSeconds 300]
import { createPool, DEFAULT_WORKERS } from '../runtime/pool-node.js';
import { args, closedLoop, fmt, loadInputs } from './inputs.js';

const a = args({ bundle: 'test/fixtures/tiny', total: 100_000, every: 10_000, concurrency: 32, workers: DEFAULT_WORKERS, maxSeconds: 300 });
const pool = await createPool(a.bundle, { workers: a.workers });
await pool.ready;
const inputs = loadInputs(pool.manifest, 256);
const mib = (b: number) => b / 2 ** 20;
const deadline = performance.now() + a.maxSeconds * 1000;

console.log(`bundle ${a.bundle}, workers ${a.workers}, concurrency ${a.concurrency}`);
console.log(`after ready: rss ${fmt(mib(process.memoryUsage().rss), 1)} MiB`);
const samples: number[] = [];
let done = 0;
const t0 = performance.now();
while (done < a.total && performance.now() < deadline) {
  const lat = await closedLoop(a.every, a.concurrency, (i) => pool.classify(inputs[(done + i) % inputs.length]), deadline);
  done += lat.length;
  const m = process.memoryUsage();
  samples.push(mib(m.rss));
  console.log(`${String(done).padStart(7)} inferences: rss ${fmt(mib(m.rss), 1)} MiB  heapUsed ${fmt(mib(m.heapUsed), 1)} MiB  arrayBuffers ${fmt(mib(m.arrayBuffers), 1)} MiB  ${fmt(done / ((performance.now() - t0) / 1000), 0)} inf/s`);
}
if (done < a.total) console.log(`stopped at maxSeconds=${a.maxSeconds} after ${done} inferences`);
// The first sample still includes allocator and JIT warm-up; growth is measured after it.
const later = samples.slice(1);
if (later.length > 1)
  console.log(`rss after first sample: min ${fmt(Math.min(...later), 1)} MiB, max ${fmt(Math.max(...later), 1)} MiB, last-first ${fmt(later[later.length - 1] - later[0], 1)} MiB over ${done - a.every} inferences`);
const st = pool.stats();
console.log(`batches ${st.batches}, mean batch ${fmt(st.completed / st.batches)}, failed ${st.failed}, rejected ${st.rejected}`);
await pool.close();
