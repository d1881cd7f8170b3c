// The JS evaluator for small controllers (runtime/small-graph.ts) and its use by the model (options.controller).
// test/fixtures/tiny-distilled is test/fixtures/tiny with its controller distilled into one linear layer on the
// 7x7-pooled image (search/configs/tiny-distill.json); its golden.json was computed by torch from the ONNX graphs
// (search/tests/test_distill.py checks the same file from Python).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session, Tensor } from '../runtime/engine.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { SMALL_GRAPH_BATCH, SMALL_GRAPH_MACS } from '../runtime/model-types.js';
import { smallGraph, SmallGraphSession } from '../runtime/small-graph.js';

const DISTILLED = path.resolve('test/fixtures/tiny-distilled');
const CNN = path.resolve('test/fixtures/tiny');
const golden = JSON.parse(readFileSync(path.join(DISTILLED, 'golden.json'), 'utf8')) as {
  inputShape: number[];
  inputs: number[][];
  controllerProbs: number[][];
  paths: { code: string }[];
  logits: number[][];
};

let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 4 - 2;
const batch = (n: number): Tensor => ({ data: Float32Array.from({ length: n * 784 }, rnd), dims: [n, 1, 28, 28] });
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('smallGraph', () => {
  it('evaluates the linear controller as onnxruntime does (1e-6), for any batch', async () => {
    const bytes = readFileSync(path.join(DISTILLED, 'controller.onnx'));
    const g = smallGraph(bytes, SMALL_GRAPH_MACS);
    expect(g).not.toBeNull();
    expect(g!.macs).toBe(49 * 25); // the manifest counts the same: one 49 -> 25 layer
    const s = await createNodeEngine().createSession(bytes);
    try {
      for (const n of [1, 3, 17]) {
        const x = batch(n);
        const want = (await s.run({ x })).y;
        const got = g!.run(x);
        expect(got.dims).toEqual(want.dims);
        expect(maxDiff(got.data, want.data)).toBeLessThan(1e-6);
      }
    } finally {
      await s.release();
    }
  });

  it("evaluates the shipped default's MLP controller (Gemm, Relu, Gemm, Sigmoid) as onnxruntime does, and the model uses it", async () => {
    const bytes = readFileSync(path.resolve('models/fashion-mnist/controller.onnx'));
    const g = smallGraph(bytes, SMALL_GRAPH_MACS);
    expect(g).not.toBeNull();
    const s = await createNodeEngine().createSession(bytes);
    try {
      for (const n of [1, 2, 9]) {
        const x = batch(n);
        expect(maxDiff(g!.run(x).data, (await s.run({ x })).y.data)).toBeLessThan(1e-6);
      }
    } finally {
      await s.release();
    }
    const m = await loadModel(path.resolve('models/fashion-mnist'), { warmup: 0, precompile: 0 });
    try {
      expect(m.controllerRuns).toBe('js'); // a re-export that the JS path cannot take would show here
    } finally {
      await m.release();
    }
  });

  it('declines graphs it does not evaluate: ops outside its set, or over the MAC limit', () => {
    expect(smallGraph(readFileSync(path.join(CNN, 'controller.onnx')), SMALL_GRAPH_MACS)).toBeNull(); // Conv
    expect(smallGraph(readFileSync(path.join(DISTILLED, 'controller.onnx')), 49 * 25 - 1)).toBeNull();
    expect(smallGraph(Uint8Array.of(1, 2, 3), SMALL_GRAPH_MACS)).toBeNull(); // not ONNX
  });

  it('SmallGraphSession evaluates small batches in JS and hands larger ones to the session', async () => {
    const g = smallGraph(readFileSync(path.join(DISTILLED, 'controller.onnx')), SMALL_GRAPH_MACS)!;
    const calls: number[] = [];
    const stub: Session = {
      inputNames: ['x'],
      outputNames: ['y'],
      run: async (f) => {
        calls.push(f.x.dims[0]);
        return { y: g.run(f.x) };
      },
      release: async () => undefined,
    };
    const s = new SmallGraphSession(g, stub, SMALL_GRAPH_BATCH);
    await s.run({ x: batch(1) });
    await s.run({ x: batch(SMALL_GRAPH_BATCH) });
    await s.run({ x: batch(SMALL_GRAPH_BATCH + 1) });
    expect(calls).toEqual([SMALL_GRAPH_BATCH + 1]);
  });
});

describe('options.controller', () => {
  let js: InstaModel;
  let ort: InstaModel;
  beforeAll(async () => {
    js = await loadModel(DISTILLED);
    ort = await loadModel(DISTILLED, { controller: 'session' });
  });
  afterAll(async () => {
    await js?.release();
    await ort?.release();
  });

  it("'auto' runs a small controller in JS, a CNN's in its session; 'session' always in the session", async () => {
    expect(js.controllerRuns).toBe('js');
    expect(ort.controllerRuns).toBe('session');
    const cnn = await loadModel(CNN);
    try {
      expect(cnn.controllerRuns).toBe('session');
    } finally {
      await cnn.release();
    }
    const stat = await loadModel(path.resolve('models/fashion-mnist-mobilenetv2'), { warmup: 0, precompile: 0 });
    try {
      expect(stat.controllerRuns).toBeNull();
    } finally {
      await stat.release();
    }
  });

  it('both give torch golden paths and logits, one image at a time and as a batch', async () => {
    const per = golden.inputShape.slice(1);
    for (const m of [js, ort]) {
      for (let i = 0; i < golden.inputs.length; i++) {
        const [r] = await m.classify(Float32Array.from(golden.inputs[i]), [1, ...per]);
        expect(r.path.code).toBe(golden.paths[i].code);
        expect(maxDiff(r.controllerProbs!, golden.controllerProbs[i])).toBeLessThan(1e-5);
        expect(maxDiff(r.logits, golden.logits[i])).toBeLessThan(1e-4);
      }
      const all = await m.classify(Float32Array.from(golden.inputs.flat()), [golden.inputs.length, ...per]);
      expect(all.map((r) => r.path.code)).toEqual(golden.paths.map((p) => p.code));
    }
    expect(new Set(golden.paths.map((p) => p.code)).size).toBeGreaterThan(1);
  });

  it('rejects an unknown mode, naming the option', async () => {
    await expect(loadModel(DISTILLED, { controller: 'gpu' as never })).rejects.toThrow(/options\.controller: must be 'auto' or 'session'/);
  });
});
