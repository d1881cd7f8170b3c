// createClassifier's idle-inline mode: a small model also runs on the calling thread while the
// pool is idle (no thread hand-off at concurrency 1); under load every request goes to the pool.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { createClassifier } from '../server/backend.js';

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
      // The first request finds the pool idle; the others arrive while it runs and go to the pool.
      expect(c.stats().inline).toBeGreaterThanOrEqual(1);
      expect(c.stats().inline).toBeLessThanOrEqual(2);
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
  });
});
