// createClassifier's idle-inline mode: a small model also runs on the calling thread while the
// pool is idle (no thread hand-off at concurrency 1); under load every request goes to the pool.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { Agent, request } from 'node:http';
import { adapt, createClassifier, measureMs } from '../server/backend.js';
import { testImages, startTestServer, MODEL_A } from './helpers/server-fixture.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let ref: InstaModel;
let len: number;
beforeAll(async () => {
  ref = await loadModel(FIXTURE, { tier: 'modules' });
  len = ref.inputDims.reduce((a, b) => a * b, 1);
});
afterAll(() => ref?.release());
const input = (i: number): Float32Array => Float32Array.from({ length: len }, (_, k) => Math.sin(k * 0.07 + i) * (0.4 + (i % 5) / 3));

describe('createClassifier with a pool', () => {
  it('runs sequential requests on this thread while the pool is idle, with the same answers', async () => {
    const c = await createClassifier(FIXTURE, { workers: 1, inlineMaxMs: 1000 });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await c.classify(input(i));
        const [want] = await ref.classify(input(i), [1, ...ref.inputDims]);
        expect(r.path.code).toBe(want.path.code);
        r.logits.forEach((v, k) => expect(Math.abs(v - want.logits[k])).toBeLessThan(1e-5));
      }
      expect(c.stats()).toMatchObject({ inline: 5, queueDepth: 0, inFlight: 0 });
      expect(c.stats().cacheHits! + c.stats().cacheMisses!).toBe(5); // one lookup each; the load-time check not counted
    } finally {
      await c.close();
    }
  });

  it('sends concurrent requests to the pool, and every caller gets its own answer', async () => {
    const c = await createClassifier(FIXTURE, { workers: 1, inlineMaxMs: 1000 });
    try {
      const out = await Promise.all(Array.from({ length: 24 }, (_, i) => c.classify(input(i))));
      // The first request finds the pool idle, waits one loop turn, sees the others queued and joins them in the pool.
      expect(c.stats().inline ?? 0).toBeLessThanOrEqual(1);
      // The workers report their compiled-path cache counters with each result (the server's metrics read them).
      const st = c.stats();
      expect(st.cacheHits).toBeDefined();
      expect(st.cacheHits! + st.cacheMisses!).toBeGreaterThanOrEqual(3); // at least one lookup per batch of 8
      for (let i = 0; i < out.length; i++) {
        const [want] = await ref.classify(input(i), [1, ...ref.inputDims]);
        expect(out[i].path.code, `request ${i}`).toBe(want.path.code);
        out[i].logits.forEach((v, k) => expect(Math.abs(v - want.logits[k])).toBeLessThan(1e-5));
      }
    } finally {
      await c.close();
    }
  });

  it('keeps everything in the pool when the model is slower than inlineMaxMs, or when it is 0', async () => {
    for (const inlineMaxMs of [1e-9, 0]) {
      const c = await createClassifier(FIXTURE, { workers: 1, inlineMaxMs });
      try {
        const r = await c.classify(input(1));
        expect(r.logits).toHaveLength(ref.manifest.labels.length);
        expect(c.stats().inline ?? 0).toBe(0);
        expect(c.stats().cacheHits! + c.stats().cacheMisses!).toBe(1); // pool only: one lookup, from the worker
      } finally {
        await c.close();
      }
    }
    await expect(createClassifier(FIXTURE, { workers: 1, inlineMaxMs: -1 })).rejects.toThrow(/options.inlineMaxMs/);
    for (const maxBatchSize of [0, 2.5]) await expect(createClassifier(FIXTURE, { maxBatchSize })).rejects.toThrow(/^options.maxBatchSize: must be an integer >= 1/);
  });
});

describe('createClassifier: deadline and readiness', () => {
  it('passes timeoutMs to the pool (its scheduler times requests out: test/scheduler.test.ts; the server answers 504)', async () => {
    await expect(createClassifier(FIXTURE, { workers: 1, timeoutMs: -1 })).rejects.toThrow(/options\.timeoutMs: must be > 0/);
    const c = await createClassifier(FIXTURE, { workers: 1, inlineMaxMs: 0, timeoutMs: 10_000 });
    try {
      expect((await c.classify(input(0))).logits).toHaveLength(ref.manifest.labels.length);
    } finally {
      await c.close();
    }
  });

  it('is not ready when every worker of its pool is dead', async () => {
    const workers = [{ state: 'ready' }];
    const c = await adapt({ manifest: ref.manifest, classify: () => Promise.reject(new Error('unused')), stats: () => ({ workers }), close: async () => {} });
    expect(c.ready).toBe(true);
    workers[0].state = 'dead';
    expect(c.ready).toBe(false);
  });
});

describe('the server under concurrent HTTP load', () => {
  it('sends most requests to the pool at concurrency 8, and runs inline at concurrency 1', async () => {
    const s = await startTestServer({ classifier: { workers: 1, inlineMaxMs: 1000 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const { png } = await testImages();
    const post = () =>
      new Promise<number>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port: s.port, path: `/v1/classify?model=${MODEL_A}`, method: 'POST', agent, headers: { 'content-type': 'image/png' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        r.on('error', reject);
        r.end(png);
      });
    const loop = async (n: number, lanes: number) => {
      let left = n;
      const codes: number[] = [];
      await Promise.all(Array.from({ length: lanes }, async () => {
        while (left-- > 0) codes.push(await post());
      }));
      return codes;
    };
    try {
      const inline = () => s.deps.registry.get(MODEL_A)!.classifier.stats().inline ?? 0;
      const i0 = inline();
      expect(await loop(20, 1)).toEqual(Array(20).fill(200));
      expect(inline() - i0).toBe(20);
      // Each request is read, decoded and answered within one event-loop callback, so without a look at the
      // sockets already readable every request of a burst found the server idle: 400 of 400 ran inline.
      const i1 = inline();
      expect(await loop(400, 8)).toEqual(Array(400).fill(200));
      expect(inline() - i1).toBeLessThan(200);
      // Every input counted once in the execution counters, inline runs as batches of 1, pool batches as they formed.
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const counter = (name: string) => Number(new RegExp(`${name}\\{model="${MODEL_A}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
      const st = s.deps.registry.get(MODEL_A)!.classifier.stats();
      expect(counter('instanas_model_execution_inputs_total')).toBe(st.executedInputs);
      expect(st.executedInputs).toBe(420); // 20 + 400 requests; load-time warm-ups do not pass through the scheduler
      expect(counter('instanas_model_executions_total')).toBe(st.executions);
      expect(st.executions).toBeLessThan(st.executedInputs!); // the pool batched at concurrency 8
      // The same executions as a histogram of their sizes: count and sum match the counters, the le="1" bucket
      // holds the inline runs and the pool's batches of one, and a batch of 8 at most (8 lanes) fills le="8".
      const hist = (series: string) => Number(new RegExp(`instanas_execution_batch_size_${series} (\\d+)`).exec(text)?.[1] ?? NaN);
      expect(hist(`count\\{model="${MODEL_A}"\\}`)).toBe(st.executions);
      expect(hist(`sum\\{model="${MODEL_A}"\\}`)).toBe(st.executedInputs);
      expect(hist(`bucket\\{le="1",model="${MODEL_A}"\\}`)).toBe(st.executedBatchSizes![1]);
      expect(hist(`bucket\\{le="1",model="${MODEL_A}"\\}`)).toBeGreaterThanOrEqual(20);
      expect(hist(`bucket\\{le="8",model="${MODEL_A}"\\}`)).toBe(st.executions);
    } finally {
      agent.destroy();
      await s.stop();
    }
  });
});

describe('measureMs (what decides whether a model may run inline)', () => {
  it("times the bundle's most used path and its controller, not whatever path a zero image takes", async () => {
    // A first distilled controller sent a zero (mid-grey) image down every option of every cell, a path 12x the
    // cost of its usual ones; timed on it, the model was refused inline at 4 ms. The path a grey image takes says
    // nothing of traffic whatever the controller, so only the top hot path (forced) and the controller are timed.
    const m = await loadModel(path.resolve('models/fashion-mnist'), { routed: 'off' });
    try {
      const top = m.manifest.hotPaths![0].code;
      const seen: (string | undefined)[] = [];
      const classify = m.classify.bind(m);
      m.classify = (t, d, o = {}) => (seen.push(typeof o.path === 'string' ? o.path : undefined), classify(t, d, o));
      expect(await measureMs(m, 3)).toBeGreaterThan(0);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((p) => p === top)).toBe(true);
    } finally {
      await m.release();
    }
  });
});
