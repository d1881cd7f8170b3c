// runtime/results.ts: the typed-array form of a batch's results (what a worker sends) turns back into exactly
// the results classify() gives in process.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { makePath, decodeCode } from '../runtime/path.js';
import { PathBook, toResults, transferables } from '../runtime/results.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let model: InstaModel;
beforeAll(async () => {
  model = await loadModel(FIXTURE);
});
afterAll(() => model?.release());

describe('BatchOutput -> ClassifyResult[]', () => {
  it('rebuilds what classify() returns, field by field, with paths from a PathBook', async () => {
    const n = 12;
    const len = model.inputDims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n * len }, (_, k) => Math.sin(k * 0.37) * 1.5);
    const dims = [n, ...model.inputDims];
    const ref = await model.classify(x, dims);
    const out = await model.classifyBatch(x, dims);
    expect(out.logits.length).toBe(n * model.manifest.labels.length);
    expect(out.codes).toEqual(ref.map((r) => r.path.code));
    const buffers = transferables(out);
    expect(buffers).toHaveLength(2); // the fixture has a controller
    expect(buffers[0]).not.toBe(buffers[1]);
    expect(buffers[0].byteLength).toBe(out.logits.byteLength); // whole buffers of their own, not views into a larger one
    expect(buffers[1].byteLength).toBe(out.probs!.byteLength);
    const book = new PathBook(model.manifest);
    const got = toResults(out, model.manifest.labels, model.options.topk, out.codes.map((c) => book.get(c)));
    // tier can differ between two calls (a background compile may land in between); timings always differ.
    const strip = (r: (typeof ref)[number]) => ({ ...r, timings: undefined, tier: undefined });
    expect(got.map(strip)).toEqual(ref.map(strip));
  });

  it('PathBook gives the same record as makePath, once per code', () => {
    const book = new PathBook(model.manifest);
    const counts = model.manifest.graph.cells.map((c) => c.options.length);
    const code = '1'.repeat(counts.length);
    expect(book.get(code)).toEqual(makePath(model.manifest, decodeCode(code, counts)));
    expect(book.get(code)).toBe(book.get(code));
  });

  it('refuses an output whose logits do not fit its inputs', () => {
    const book = new PathBook(model.manifest);
    const code = '1'.repeat(model.manifest.graph.cells.length);
    const out = { logits: new Float32Array(3), probs: null, codes: [code], tiers: ['modules' as const], controllerMacs: 0, timings: { controllerMs: 0, childMs: 0, totalMs: 0 } };
    expect(() => toResults(out, model.manifest.labels, 5, [book.get(code)])).toThrow(/3 logits for 1 inputs/);
  });
});
