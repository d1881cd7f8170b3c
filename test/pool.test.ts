// WorkerPool on test/fixtures/tiny with real worker threads. Under vitest the
// workers run the TypeScript source through the esbuild hook (worker-spawn-node.ts).
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { createPool, type WorkerPool } from '../runtime/pool-node.js';
import { QueueFullError } from '../runtime/scheduler.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let model: InstaModel;
let len: number;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-pool-'));

beforeAll(async () => {
  model = await loadModel(FIXTURE);
  len = model.inputDims.reduce((a, b) => a * b, 1);
});
afterAll(async () => {
  await model?.release();
  rmSync(tmp, { recursive: true, force: true });
});

const input = (i: number): Float32Array => Float32Array.from({ length: len }, (_, k) => Math.cos(k * 0.11 + i) * (0.3 + (i % 7) / 4));
const settle = <T>(ps: Promise<T>[]) => Promise.allSettled(ps);
/** Rejects when `p` has not settled after `ms`: a regression in these tests is a hang, which must fail, not stall the run. */
function within<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// Worker start-up (ORT load per thread) dominates; on an oversubscribed CI box it can exceed the 30 s default.
const SLOW = { timeout: 120_000 };

describe('WorkerPool', SLOW, () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await createPool(FIXTURE, { workers: 2, maxBatchSize: 8, maxQueueDelayMs: 2 });
    await pool.ready;
  });
  afterAll(() => pool?.close());

  it('answers 200 concurrent callers each with its own result, equal to in-process classify', async () => {
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => pool.classify(input(i))));
    for (let i = 0; i < n; i++) {
      const [ref] = await model.classify(input(i), [1, ...model.inputDims]);
      expect(results[i].path.code, `input ${i} path`).toBe(ref.path.code);
      const diff = Math.max(...results[i].logits.map((v, k) => Math.abs(v - ref.logits[k])));
      expect(diff, `input ${i} logits`).toBeLessThan(1e-5);
      expect(results[i].timings.queueMs).toBeGreaterThanOrEqual(0);
      // The worker sends typed arrays and codes; the result the pool builds from them has every field
      // classify() gives (a batch may run another tier, and timings differ).
      const { timings: _t, tier: _r, logits: _l, topk, controllerProbs, ...rest } = results[i];
      const { timings: _t2, tier: _r2, logits: _l2, topk: refTopk, controllerProbs: refProbs, ...refRest } = ref;
      expect(rest, `input ${i}`).toEqual({ ...refRest, probability: rest.probability });
      expect(Math.abs(rest.probability - refRest.probability)).toBeLessThan(1e-6);
      expect(topk.map((t) => t.index)).toEqual(refTopk.map((t) => t.index));
      expect(controllerProbs!.length).toBe(refProbs!.length);
      expect(Math.max(...controllerProbs!.map((v, k) => Math.abs(v - refProbs![k])))).toBeLessThan(1e-6);
    }
    const st = pool.stats();
    expect(st.completed).toBe(n);
    expect(st.batches).toBeLessThan(n);
    // Both workers took batches: dispatch goes to the least busy one.
    expect(st.workers.map((w) => w.batches > 0)).toEqual([true, true]);
    expect(pool.manifest.name).toBe(model.manifest.name);
  });

  it('rejects bad inputs before queueing, naming the argument', async () => {
    await expect(pool.classify(new Float64Array(len) as unknown as Float32Array)).rejects.toThrow(/^tensor: expected a Float32Array, got Float64Array/);
    await expect(pool.classify(new Float32Array(len + 1))).rejects.toThrow(RangeError);
    const inf = input(0);
    inf[0] = Infinity;
    await expect(pool.classify(inf)).rejects.toThrow(/^tensor: element 0 is Infinity/);
    expect(pool.stats().submitted).toBe(200);
  });
});

describe('WorkerPool limits and failures', SLOW, () => {
  it('rejects past maxQueue with QueueFullError while admitted requests succeed', async () => {
    const pool = await createPool(FIXTURE, { workers: 1, maxBatchSize: 2, maxQueue: 4, maxQueueDelayMs: 5 });
    try {
      await pool.ready;
      // Synchronous burst: two full batches of 2 go to the only worker (batchesPerWorker 2), 4 wait, 4 are refused.
      const out = await settle(Array.from({ length: 12 }, (_, i) => pool.classify(input(i))));
      const ok = out.filter((r) => r.status === 'fulfilled');
      const refused = out.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
      expect(ok).toHaveLength(8);
      expect(refused).toHaveLength(4);
      refused.forEach((e) => expect(e).toBeInstanceOf(QueueFullError));
      expect(pool.stats()).toMatchObject({ rejected: 4, completed: 8 });
    } finally {
      await pool.close();
    }
  });

  it('fails in-flight requests of a crashed worker with a clear error, replaces it, and closes without open handles', async () => {
    const count = () => process.getActiveResourcesInfo().reduce((m, r) => m.set(r, (m.get(r) ?? 0) + 1), new Map<string, number>());
    const before = count();
    const pool = await createPool(FIXTURE, { workers: 1, maxQueueDelayMs: 5 });
    await pool.ready;
    for (const [how, reason] of [
      ['throw', /^worker 0 crashed: crash requested by test$/],
      ['exit', /^worker 0 crashed: exited with code 7$/],
    ] as const) {
      pool.crashWorkerForTest(0, how);
      const lost = await settle([0, 1, 2].map((i) => pool.classify(input(i))));
      for (const r of lost) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason.message).toMatch(reason);
      }
      // The replacement loads while this request waits in the queue, then serves it.
      const [ref] = await model.classify(input(5), [1, ...model.inputDims]);
      const after = await pool.classify(input(5));
      expect(Math.max(...after.logits.map((v, k) => Math.abs(v - ref.logits[k])))).toBeLessThan(1e-5);
    }
    expect(pool.stats()).toMatchObject({ crashes: 2, failed: 6, workers: [{ state: 'ready', restarts: 2 }] });
    await pool.close();
    await expect(pool.classify(input(0))).rejects.toThrow(/closed/);
    const leaked = [...count()].filter(([r, n]) => n > (before.get(r) ?? 0));
    expect(leaked).toEqual([]);
  });

  it('rejects ready when the bundle does not load in the worker, and bad options at once', async () => {
    const bad = path.join(tmp, 'corrupt');
    cpSync(FIXTURE, bad, { recursive: true });
    writeFileSync(path.join(bad, 'head.onnx'), 'not an onnx file');
    const pool = await createPool(bad, { workers: 1 });
    await expect(pool.ready).rejects.toThrow(/worker 0 failed to load .*corrupt: .*head\.onnx/);
    await expect(pool.classify(input(0))).rejects.toThrow(/failed to load|closed/);
    await pool.close();
    await expect(createPool(FIXTURE, { workers: 0 })).rejects.toThrow(/options.workers/);
    // Model options are checked here as InstaModel checks them, before any worker starts.
    await expect(createPool(FIXTURE, { workers: 1, model: { topk: 0 } })).rejects.toThrow(/^options\.topk: must be a positive integer/);
    await expect(createPool(FIXTURE, { workers: 1, model: { tier: 'fast' as never } })).rejects.toThrow(RangeError);
    await expect(createPool(FIXTURE, { workers: 1, model: { cache: { maxEntries: 0 } } })).rejects.toThrow(/^options\.cache\.maxEntries: /);
    await expect(createPool(FIXTURE, { workers: 1, model: { routed: ['zz', 'yy'] } })).rejects.toThrow(/^options\.routed: /);
    await expect(createPool(path.join(tmp, 'missing'))).rejects.toThrow(/bundle directory not found/);
    copyFileSync(path.join(FIXTURE, 'manifest.json'), path.join(tmp, 'manifest.json')); // a manifest whose files are missing
    await expect(createPool(tmp)).rejects.toThrow(/\.onnx/);
  });

  it('settles every request, close() and ready when the only worker dies during close()', async () => {
    const pool = await createPool(FIXTURE, { workers: 1, maxBatchSize: 2 });
    await pool.ready;
    pool.crashWorkerForTest(0, 'exit');
    // Two batches go to the worker (it dies on the first), three requests stay queued; close() drains them.
    const calls = Array.from({ length: 6 }, (_, i) => pool.classify(input(i)));
    const out = await within(settle([...calls, pool.close()]));
    expect(out.pop()!.status).toBe('fulfilled');
    for (const r of out) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.message).toMatch(/^(worker 0 crashed: exited with code 7|no live workers \(last crash: worker 0 crashed: exited with code 7\))$/);
    }
    expect(pool.stats().crashes).toBe(1);

    // Closed while its worker still loads: ready rejects instead of staying pending.
    const early = await createPool(FIXTURE, { workers: 1 });
    await within(early.close());
    await expect(within(early.ready)).rejects.toThrow(/closed before/);
  });

  it('close() called twice at once lets every queued request finish, and both calls resolve', async () => {
    const pool = await createPool(FIXTURE, { workers: 1, maxBatchSize: 2 });
    await pool.ready;
    const calls = Array.from({ length: 8 }, (_, i) => pool.classify(input(i)));
    const closes = [pool.close(), pool.close()];
    const out = await within(settle(calls));
    expect(out.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    await within(Promise.all(closes));
    await expect(pool.classify(input(0))).rejects.toThrow(/closed/);
  });

  it("keeps a crashed worker's compiled-path cache counts in the pool's stats", async () => {
    const pool = await createPool(FIXTURE, { workers: 1 });
    try {
      await pool.ready;
      // One at a time: each request is one cache lookup (a hit or a miss).
      for (let i = 0; i < 10; i++) await pool.classify(input(i));
      const before = pool.stats().cache!;
      expect(before.hits + before.misses).toBe(10);
      expect(before.compileErrors).toBe(0);
      pool.crashWorkerForTest(0, 'exit');
      await settle([pool.classify(input(0))]);
      await pool.classify(input(1)); // served by the replacement, whose own counts start at 0
      const after = pool.stats().cache!;
      expect(after.hits).toBeGreaterThanOrEqual(before.hits);
      expect(after.misses).toBeGreaterThanOrEqual(before.misses);
      expect(after.hits + after.misses).toBe(11);
    } finally {
      await pool.close();
    }
  });
});
