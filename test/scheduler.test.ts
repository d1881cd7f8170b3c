// Scheduler in front of the real in-process InstaModel (test/fixtures/tiny).
// Timing is steered with gates around the real executor, never with fake results.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { ClassifyResult, InstaModel } from '../runtime/model.js';
import { QueueFullError, RequestTimeoutError, Scheduler, type BatchExecutor } from '../runtime/scheduler.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let model: InstaModel;
let item: number[];
let len: number;

beforeAll(async () => {
  model = await loadModel(FIXTURE);
  item = [...model.inputDims];
  len = item.reduce((a, b) => a * b, 1);
});
afterAll(() => model?.release());

/** Deterministic distinct inputs: input i is a smooth pattern scaled by i. */
const input = (i: number): Float32Array => Float32Array.from({ length: len }, (_, k) => Math.sin(k * 0.37 + i) * (0.2 + (i % 13) / 5));
const join = (batch: Float32Array[]): Float32Array => {
  const out = new Float32Array(batch.length * len);
  batch.forEach((t, i) => out.set(t, i * len));
  return out;
};
const direct: BatchExecutor<ClassifyResult> = (batch, dims) => model.classify(join(batch), dims);

function gate(): { open(): void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

describe('Scheduler', () => {
  it('gives each of 200 concurrent callers its own result, equal to a direct classify', async () => {
    const s = new Scheduler(direct, item, { maxBatchSize: 8, maxQueueDelayMs: 2 });
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => s.submit(input(i))));
    for (let i = 0; i < n; i++) {
      const [ref] = await model.classify(input(i), [1, ...item]);
      expect(results[i].path.code, `input ${i} path`).toBe(ref.path.code);
      const diff = Math.max(...results[i].logits.map((v, k) => Math.abs(v - ref.logits[k])));
      expect(diff, `input ${i} logits`).toBeLessThan(1e-5);
      expect(results[i].timings.queueMs).toBeGreaterThanOrEqual(0);
      expect(results[i].timings.totalMs).toBeGreaterThanOrEqual(results[i].timings.queueMs);
    }
    const st = s.stats();
    expect(st.completed).toBe(n);
    expect(st.batches).toBeLessThan(n);
    expect(st.batchSizes.reduce((a, c, k) => a + c * k, 0)).toBe(n);
    expect(st.batchSizes[8]).toBeGreaterThan(0);
    expect(st).toMatchObject({ queueDepth: 0, inFlight: 0, inFlightBatches: 0, failed: 0 });
  });

  it('rejects past maxQueue with QueueFullError while admitted requests still succeed', async () => {
    const g = gate();
    const s = new Scheduler<ClassifyResult>(async (b, d) => (await g.wait, direct(b, d)), item, { maxBatchSize: 2, maxQueue: 4, maxQueueDelayMs: 0 });
    // With no delay the first input goes alone to the blocked executor; 4 more fill the queue.
    const admitted = Array.from({ length: 5 }, (_, i) => s.submit(input(i)));
    expect(s.stats()).toMatchObject({ inFlight: 1, queueDepth: 4 });
    await expect(s.submit(input(99))).rejects.toBeInstanceOf(QueueFullError);
    expect(s.stats().rejected).toBe(1);
    g.open();
    const results = await Promise.all(admitted);
    results.forEach((r, i) => expect(r.logits.length, `request ${i}`).toBe(model.manifest.labels.length));
    expect(s.stats()).toMatchObject({ completed: 5, queueDepth: 0, batchSizes: [0, 1, 2] });
  });

  it('waits maxQueueDelayMs for a batch to fill, and sends a full batch at once', async () => {
    const s = new Scheduler(direct, item, { maxBatchSize: 4, maxQueueDelayMs: 40 });
    const lone = await s.submit(input(1));
    expect(lone.timings.queueMs).toBeGreaterThanOrEqual(35);
    const full = await Promise.all([0, 1, 2, 3].map((i) => s.submit(input(i))));
    expect(Math.max(...full.map((r) => r.timings.queueMs))).toBeLessThan(35);
    expect(s.stats().batchSizes).toEqual([0, 1, 0, 0, 1]);
  });

  it('with hasIdleExecutor, sends a partial batch only to an idle executor, a full one at once, and wake() re-checks', async () => {
    const gates = [gate(), gate()];
    const calls: number[] = [];
    let running = 0;
    let override: boolean | undefined; // stands for a second worker turning idle or ready, unseen by the scheduler
    const gated: BatchExecutor<ClassifyResult> = async (batch, dims) => {
      const k = calls.push(batch.length) - 1;
      running++;
      try {
        if (k < 2) await gates[k].wait; // the first two batches hold their executor until their gate opens
        return await direct(batch, dims);
      } finally {
        running--;
      }
    };
    const s = new Scheduler(gated, item, { maxBatchSize: 4, concurrency: 2, hasIdleExecutor: () => override ?? running === 0 });
    const pause = () => new Promise((r) => setTimeout(r, 20));
    const first = s.submit(input(0)); // idle: goes alone at once
    const partial = [1, 2].map((i) => s.submit(input(i))); // the executor is busy: a partial batch waits
    await pause();
    expect(calls).toEqual([1]);
    const fill = [3, 4].map((i) => s.submit(input(i))); // 4 queued = a full batch: takes the second slot at once
    await pause();
    expect(calls).toEqual([1, 4]);
    const late = s.submit(input(5)); // both slots taken
    override = false;
    gates[0].open(); // the lone batch ends while the full one (inputs 1-4) still runs
    await first;
    await pause();
    expect(calls, 'no idle executor: the partial batch stays queued').toEqual([1, 4]);
    override = true;
    s.wake();
    await late;
    expect(calls).toEqual([1, 4, 1]);
    gates[1].open();
    const all = await Promise.all([first, ...partial, ...fill, late]);
    for (const [i, r] of all.entries()) {
      const [ref] = await model.classify(input(i), [1, ...item]); // each caller got its own input's answer
      expect(Math.max(...r.logits.map((v, k) => Math.abs(v - ref.logits[k]))), `request ${i}`).toBeLessThan(1e-5);
    }
    expect(s.stats()).toMatchObject({ completed: 6, queueDepth: 0, batchSizes: [0, 2, 0, 0, 1] });
    expect(() => new Scheduler(direct, item, { hasIdleExecutor: 3 as never })).toThrow(/^options.hasIdleExecutor: expected a function/);
  });

  it('rejects bad inputs before queueing, naming the argument', async () => {
    const s = new Scheduler(direct, item);
    await expect(s.submit([1, 2] as unknown as Float32Array)).rejects.toThrow(TypeError);
    await expect(s.submit(new Float32Array(3))).rejects.toThrow(/^tensor: length 3, expected 784/);
    const nan = input(0);
    nan[5] = NaN;
    await expect(s.submit(nan)).rejects.toThrow(/^tensor: element 5 is NaN/);
    await expect(s.submit(input(0), { timeoutMs: -1 })).rejects.toThrow(RangeError);
    expect(() => new Scheduler(direct, item, { maxBatchSize: 0 })).toThrow(/options.maxBatchSize/);
    expect(s.stats().submitted).toBe(0);
  });

  it('refuses a timeoutMs that a timer cannot hold (node would fire it after 1 ms)', async () => {
    for (const bad of [2 ** 31, Infinity, 0, NaN]) {
      expect(() => new Scheduler(direct, item, { timeoutMs: bad })).toThrow(RangeError);
      expect(() => new Scheduler(direct, item, { timeoutMs: bad })).toThrow(/^options\.timeoutMs: must be > 0 and at most 2147483647 ms/);
    }
    const s = new Scheduler(direct, item);
    await expect(s.submit(input(0), { timeoutMs: 2 ** 31 })).rejects.toThrow(/^timeoutMs: must be > 0 and at most 2147483647 ms, got 2147483648$/);
    await expect(s.submit(input(0), { timeoutMs: Infinity })).rejects.toThrow(RangeError);
    // The largest timer node holds is a real deadline, not an immediate timeout; undefined still means none.
    const far = new Scheduler(direct, item, { timeoutMs: 2 ** 31 - 1 });
    expect((await far.submit(input(0))).label).toEqual(expect.any(String));
    expect((await s.submit(input(1))).label).toEqual(expect.any(String));
    expect(far.stats().timedOut + s.stats().timedOut).toBe(0);
    // The same holds for the queue delay (a longer one would silently mean no delay at all).
    for (const bad of [2 ** 31, Infinity, -1, NaN])
      expect(() => new Scheduler(direct, item, { maxQueueDelayMs: bad })).toThrow(/^options\.maxQueueDelayMs: must be >= 0 and at most 2147483647 ms/);
  });

  it('times out a request, fails a whole batch on executor error, and drains on close', async () => {
    const g = gate();
    const slow = new Scheduler<ClassifyResult>(async (b, d) => (await g.wait, direct(b, d)), item, { maxQueueDelayMs: 0 });
    await expect(slow.submit(input(0), { timeoutMs: 20 })).rejects.toBeInstanceOf(RequestTimeoutError);
    const late = slow.submit(input(1));
    const closed = slow.close();
    await expect(slow.submit(input(2))).rejects.toThrow(/closed/);
    g.open();
    await closed;
    expect((await late).label).toEqual(expect.any(String));
    expect(slow.stats()).toMatchObject({ timedOut: 1, completed: 1, inFlightBatches: 0 });

    const broken = new Scheduler<ClassifyResult>(async (b, d) => (await direct(b, d)).slice(1), item, { maxQueueDelayMs: 5 });
    const both = [broken.submit(input(0)), broken.submit(input(1))];
    for (const p of both) await expect(p).rejects.toThrow(/executor returned 1 results for a batch of 2/);
    expect(broken.stats().failed).toBe(2);
  });
});
