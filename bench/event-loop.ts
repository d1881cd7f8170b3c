// Event-loop delay while classifications run in-process (onnxruntime-node's run
// blocks the main thread) versus through the worker pool. A and B rounds are
// interleaved in one run; medians of the per-round p99 and their ratio are printed.
// In-process, a closed loop of classify() calls may not give the loop a single turn
// during a round (session runs finish synchronously): its one delay sample is then the
// whole round, which is exactly how long a timer or an HTTP request would have waited.
//   npx vite-node bench/event-loop.ts [--bundle dir] [--total 2000] [--rounds 4] [--concurrency 8] [--workers N]
import { loadModel } from '../runtime/model-node.js';
import { createPool, DEFAULT_WORKERS } from '../runtime/pool-node.js';
import { args, closedLoop, defaultBundle, fmt, loadInputs, median, quantile } from './inputs.js';

/**
 * Event-loop delay probe: a 1 ms timer chain that records how late each tick fires.
 * (perf_hooks' monitorEventLoopDelay needs two ticks for its first sample, so a loop
 * blocked for a whole round would read as no delay at all.)
 */
function loopProbe(intervalMs = 1): { stop(): number[] } {
  const delays: number[] = [];
  let due = performance.now() + intervalMs;
  const tick = () => {
    const t = performance.now();
    delays.push(Math.max(0, t - due));
    due = t + intervalMs;
    timer = setTimeout(tick, intervalMs);
  };
  let timer = setTimeout(tick, intervalMs);
  return {
    stop() {
      clearTimeout(timer);
      return delays;
    },
  };
}

const a = args({ bundle: defaultBundle(), total: 2000, rounds: 4, concurrency: 8, workers: DEFAULT_WORKERS });
const model = await loadModel(a.bundle);
const pool = await createPool(a.bundle, { workers: a.workers });
await pool.ready;
const inputs = loadInputs(model.manifest, 512);
const dims = [1, ...model.inputDims];
const perRound = Math.ceil(a.total / a.rounds);

const modes = {
  'in-process': (i: number) => model.classify(inputs[i % inputs.length], dims),
  pool: (i: number) => pool.classify(inputs[i % inputs.length]),
};
type Mode = keyof typeof modes;
const p99: Record<Mode, number[]> = { 'in-process': [], pool: [] };
const rate: Record<Mode, number[]> = { 'in-process': [], pool: [] };

console.log(`bundle ${a.bundle}, ${a.total} classifications per mode in ${a.rounds} interleaved rounds, concurrency ${a.concurrency}, pool workers ${a.workers}`);
for (let r = 0; r < a.rounds; r++) {
  const order: Mode[] = r % 2 === 0 ? ['in-process', 'pool'] : ['pool', 'in-process'];
  for (const mode of order) {
    const probe = loopProbe();
    const t0 = performance.now();
    await closedLoop(perRound, a.concurrency, modes[mode]);
    const secs = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3)); // the tick that was due during the round fires now
    const d = probe.stop();
    p99[mode].push(quantile(d, 0.99));
    rate[mode].push(perRound / secs);
    console.log(
      `round ${r} ${mode.padEnd(10)} loop delay p50 ${fmt(quantile(d, 0.5))} ms  p99 ${fmt(quantile(d, 0.99))} ms  max ${fmt(Math.max(...d))} ms  (${d.length} ticks)  ${fmt(perRound / secs, 0)} inf/s`,
    );
  }
}
const [inP, poolP] = [median(p99['in-process']), median(p99.pool)];
console.log(`median p99 loop delay: in-process ${fmt(inP)} ms, pool ${fmt(poolP)} ms, ratio in-process/pool ${fmt(inP / poolP, 1)}x`);
console.log(`median throughput: in-process ${fmt(median(rate['in-process']), 0)} inf/s, pool ${fmt(median(rate.pool), 0)} inf/s`);
await pool.close();
await model.release();
