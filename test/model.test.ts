import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import { DEFAULT_OPTIONS, type InstaModel } from '../runtime/model.js';
import { LABELS, referenceLogits, referenceProbs, writeSyntheticBundle } from './helpers/synthetic-bundle.js';

let tmp: string;
let model: InstaModel;
let staticModel: InstaModel;

/** Deterministic pseudo-random inputs whose means spread over several paths. */
function makeBatch(n: number): Float32Array {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const x = new Float32Array(n * 16);
  for (let i = 0; i < n; i++) {
    const shift = (i / n) * 1.6 - 0.8;
    for (let k = 0; k < 16; k++) x[i * 16 + k] = shift + (rnd() - 0.5) * 0.4;
  }
  return x;
}

/** The expected executed cells, written out independently of runtime/path.ts. */
function expectedCells(p: number[]): number[][] {
  const sel = (from: number, count: number) => [...Array(count).keys()].filter((o) => p[from + o] >= 0.5);
  const c0 = sel(0, 3);
  const c1 = sel(3, 2);
  const c2 = sel(5, 2);
  return [c0, c1.length ? c1 : [1], c2];
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-model-'));
  writeSyntheticBundle(path.join(tmp, 'dyn'));
  writeSyntheticBundle(path.join(tmp, 'static'), 'static');
  model = await loadModel(path.join(tmp, 'dyn'));
  staticModel = await loadModel(path.join(tmp, 'static'), { topk: 2 });
});
afterAll(async () => {
  await model?.release();
  await staticModel?.release();
  rmSync(tmp, { recursive: true, force: true });
});

describe('InstaModel routing (synthetic bundle)', () => {
  it('has frozen defaults', () => {
    expect(Object.isFrozen(DEFAULT_OPTIONS)).toBe(true);
    expect(model.options).toMatchObject({ threads: 1, warmup: 1, topk: 5 });
  });

  it('runs the selected options per input and matches a JS reference', async () => {
    const n = 24;
    const x = makeBatch(n);
    const results = await model.classify(x, [n, 1, 4, 4]);
    expect(results).toHaveLength(n);
    const codes = new Set<string>();
    results.forEach((r, i) => {
      const xi = x.subarray(i * 16, (i + 1) * 16);
      const probs = referenceProbs(xi);
      r.controllerProbs!.forEach((p, k) => expect(p).toBeCloseTo(probs[k], 5));
      const cells = expectedCells(r.controllerProbs!);
      expect(r.path.cells).toEqual(cells);
      codes.add(r.path.code);
      const logits = referenceLogits(xi, cells);
      r.logits.forEach((v, k) => expect(Math.abs(v - logits[k])).toBeLessThan(1e-4));
      const best = logits.indexOf(Math.max(...logits));
      expect(r.index).toBe(best);
      expect(r.label).toBe(LABELS[best]);
      expect(r.topk[0]).toEqual({ label: r.label, index: r.index, probability: r.probability });
      expect(r.topk.reduce((a, t) => a + t.probability, 0)).toBeCloseTo(1, 6);
      expect(r.controllerMacs).toBe(100);
      expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.childMs);
    });
    // The batch must actually exercise grouping, identity cells and the default option.
    expect(codes.size).toBeGreaterThan(2);
    expect(results.some((r) => r.path.cells[0].length === 0)).toBe(true);
    expect(results.some((r) => r.controllerProbs![3] < 0.5 && r.controllerProbs![4] < 0.5)).toBe(true);
  });

  it('gives the same answer alone as in a batch', async () => {
    const x = makeBatch(24);
    const batch = await model.classify(x, [24, 1, 4, 4]);
    for (const i of [0, 7, 23]) {
      const [single] = await model.classify(x.slice(i * 16, (i + 1) * 16), [1, 1, 4, 4]);
      expect(single.path).toEqual(batch[i].path);
      single.logits.forEach((v, k) => expect(v).toBeCloseTo(batch[i].logits[k], 5));
    }
  });

  it('runs a forced path (code or cells) without the controller', async () => {
    const x = makeBatch(3);
    const [r] = await model.classify(x.slice(0, 16), [1, 1, 4, 4], { path: '512' });
    expect(r.path.cells).toEqual([[0, 2], [0], [1]]);
    expect(r.controllerProbs).toBeNull();
    expect(r.controllerMacs).toBe(0);
    referenceLogits(x.subarray(0, 16), [[0, 2], [0], [1]]).forEach((v, k) => expect(r.logits[k]).toBeCloseTo(v, 4));
    await expect(model.classify(x.slice(0, 16), [1, 1, 4, 4], { path: [[], [], []] })).rejects.toThrow(/^path: cell 1 changes shape/);
  });

  it('refuses a forced path that is neither a code nor cells, or that repeats an option', async () => {
    const x = makeBatch(1);
    for (const bad of [5, null, {}, [[0], 3], [[0], [0], ['1']]]) {
      const p = model.classify(x, [1, 1, 4, 4], { path: bad as never });
      await expect(p).rejects.toThrow(TypeError);
      await expect(p).rejects.toThrow(/^path: expected a path code \(string\) or an array of option indices per cell/);
    }
    // Codes are bitmasks, so a compiled path would run option 0 once; tier 1 would run it twice and sum.
    const twice = model.classify(x, [1, 1, 4, 4], { path: [[0, 2, 0], [0], [1]] });
    await expect(twice).rejects.toThrow(RangeError);
    await expect(twice).rejects.toThrow(/^path: cell 0 repeats option 0$/);
    await expect(model.classify(x, [1, 1, 4, 4], { path: [[0], [0]] })).rejects.toThrow(/^path: expected 3 cells, got 2$/);
    await expect(model.classify(x, [1, 1, 4, 4], { path: [[0], [2], [1]] })).rejects.toThrow(/^path: cell 1 has no option 2 \(it has 2\)$/);
  });

  it('static bundles run the default options', async () => {
    const x = makeBatch(4);
    const results = await staticModel.classify(x, [4, 1, 4, 4]);
    for (const [i, r] of results.entries()) {
      expect(r.path.cells).toEqual([[0], [1], [0]]);
      expect(r.path.code).toBe('121');
      expect(r.path.macs).toBe(32 + 6 + 10 + 2000 + 100000);
      expect(r.controllerProbs).toBeNull();
      expect(r.topk).toHaveLength(2);
      referenceLogits(x.subarray(i * 16, (i + 1) * 16), [[0], [1], [0]]).forEach((v, k) => expect(r.logits[k]).toBeCloseTo(v, 4));
    }
  });
});

describe('InstaModel input validation', () => {
  const ok = () => new Float32Array(16);
  it.each([
    ['not a Float32Array', () => model.classify([0] as any, [1, 1, 4, 4]), TypeError, /^tensor: expected a Float32Array, got Array/],
    ['Float64Array', () => model.classify(new Float64Array(16) as any, [1, 1, 4, 4]), TypeError, /^tensor: .*Float64Array/],
    ['null', () => model.classify(null as any, [1, 1, 4, 4]), TypeError, /^tensor: .*null/],
    ['wrong dims', () => model.classify(ok(), [1, 1, 5, 4]), RangeError, /^dims: expected \[N,1,4,4\], got \[1,1,5,4\]/],
    ['dims not an array', () => model.classify(ok(), 'x' as any), RangeError, /^dims: /],
    ['3-d dims', () => model.classify(ok(), [1, 4, 4]), RangeError, /^dims: /],
    ['length mismatch', () => model.classify(ok(), [2, 1, 4, 4]), RangeError, /^tensor: length 16 does not match dims \[2,1,4,4\]/],
    ['empty', () => model.classify(new Float32Array(0), [0, 1, 4, 4]), RangeError, /^tensor: is empty/],
    ['NaN', () => model.classify(Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? NaN : 0)), [1, 1, 4, 4]), RangeError, /^tensor: element 3 is NaN/],
    ['Infinity', () => model.classify(Float32Array.from({ length: 16 }, (_, i) => (i === 9 ? -Infinity : 0)), [1, 1, 4, 4]), RangeError, /^tensor: element 9 is -Infinity/],
  ])('%s', async (_name, call, type, msg) => {
    const p = call();
    await expect(p).rejects.toThrow(type);
    await expect(p).rejects.toThrow(msg);
  });

  it('rejects bad options, naming them', async () => {
    await expect(loadModel(path.join(tmp, 'dyn'), { threads: 0 })).rejects.toThrow(/^options\.threads: /);
    await expect(loadModel(path.join(tmp, 'dyn'), { threshold: 2 })).rejects.toThrow(/^options\.threshold: /);
  });
});
