// Tier 2: one ONNX graph per child path (runtime/compile.ts) must compute exactly what
// tier 1 (module by module) computes, and contain only the path's modules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, golden, maxDiff, readBundle } from './helpers/tiny.js';
import { compilePath, sumPrefix } from '../runtime/compile.js';
import type { Session } from '../runtime/engine.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import type { Manifest } from '../runtime/manifest-types.js';
import { loadModel } from '../runtime/model-node.js';
import { InstaModel } from '../runtime/model.js';
import { decodeModel, encodeModel } from '../runtime/onnx/proto.js';

const per = golden.inputShape.slice(1);
const engine = createNodeEngine();


async function runOnce(bytes: Uint8Array, data: Float32Array, dims: number[]) {
  const s: Session = await engine.createSession(bytes);
  try {
    return (await s.run({ x: { data, dims } })).y;
  } finally {
    await s.release();
  }
}

describe('compilePath on test/fixtures/tiny', () => {
  let manifest: Manifest;
  let modules: InstaModel;
  beforeAll(async () => {
    manifest = await loadManifest(FIXTURE);
    modules = await loadModel(FIXTURE, { tier: 'modules' });
  });
  afterAll(() => modules?.release());

  it('matches module-by-module (1e-5) and torch (1e-4) on every golden path', async () => {
    expect(golden.paths.length).toBeGreaterThan(0);
    expect(golden.paths.some((p) => p.cells.some((c) => c.length === 0)), 'fixture covers identity cells').toBe(true);
    expect(golden.paths.some((p) => p.cells.some((c) => c.length > 1)), 'fixture covers summed cells').toBe(true);
    for (const [i, p] of golden.paths.entries()) {
      const x = Float32Array.from(golden.inputs[i]);
      const y = await runOnce(await compilePath(manifest, readBundle, p.cells), x, [1, ...per]);
      const [ref] = await modules.classify(x, [1, ...per], { path: p.cells });
      expect(ref.tier).toBe('modules');
      expect(maxDiff(y.data, ref.logits), `path ${p.code} vs tier 1`).toBeLessThan(1e-5);
      expect(maxDiff(y.data, golden.logits[i]), `path ${p.code} vs torch`).toBeLessThan(1e-4);
    }
  });

  it('holds only the nodes of the executed modules', async () => {
    for (const p of golden.paths) {
      const g = decodeModel(await compilePath(manifest, readBundle, p.cells)).graph;
      const selected = ['stem', 'head', ...p.cells.flatMap((opts, ci) => opts.map((o) => manifest.graph.cells[ci].options[o].id))];
      const sums = p.cells.flatMap((opts, ci) => (opts.length > 1 ? [sumPrefix(ci)] : []));
      const owner = (name: string) => [...selected.map((id) => `${id}/`), ...sums].find((pre) => name.startsWith(pre));
      for (const n of g.node) expect(owner(n.name), `node '${n.name}' of path ${p.code}`).toBeDefined();
      for (const id of selected) expect(g.node.some((n) => n.name.startsWith(`${id}/`)), `${id} present in ${p.code}`).toBe(true);
      const adds = g.node.filter((n) => n.opType === 'Add' && n.name.startsWith('#')).length;
      expect(adds).toBe(p.cells.reduce((a, c) => a + Math.max(0, c.length - 1), 0));
      expect(g.input.map((v) => v.name)).toEqual(['x']);
      expect(g.output.map((v) => v.name)).toEqual(['y']);
    }
  });

  it('runs a batch > 1 (dynamic batch) like tier 1', async () => {
    const n = golden.inputs.length;
    const x = Float32Array.from(golden.inputs.flat());
    const cells = golden.paths[0].cells;
    const y = await runOnce(await compilePath(manifest, readBundle, cells), x, [n, ...per]);
    expect(y.dims).toEqual([n, manifest.labels.length]);
    const ref = await modules.classify(x, [n, ...per], { path: cells });
    expect(maxDiff(y.data, ref.flatMap((r) => r.logits))).toBeLessThan(1e-5);
  });

  it('keeps per-domain opset = max of the modules and IR version', async () => {
    const files = ['stem.onnx', 'head.onnx', ...manifest.graph.cells.flatMap((c) => c.options.map((o) => o.file))];
    const mods = await Promise.all(files.map(async (f) => decodeModel(await readBundle(f), f)));
    const want = Math.max(...mods.flatMap((m) => m.opsetImport.filter((o) => o.domain === '').map((o) => o.version)));
    const m = decodeModel(await compilePath(manifest, readBundle, golden.paths[0].cells));
    expect(m.opsetImport.find((o) => o.domain === '')?.version).toBe(want);
    expect(m.irVersion).toBe(Math.max(...mods.map((x) => x.irVersion)));
  });

  it('shares byte-identical initializers only, and still computes the same as tier 1', async () => {
    // Two options of cell 0 backed by one file: their weights must be stored once.
    const twin: Manifest = structuredClone(manifest);
    twin.graph.cells[0].options[1] = { ...twin.graph.cells[0].options[1], file: twin.graph.cells[0].options[0].file };
    const cells = golden.paths[0].cells.map((c) => [...c]);
    const count = async (m: Manifest, c0: number[]) => {
      cells[0] = c0;
      return decodeModel(await compilePath(m, readBundle, cells)).graph.initializer.length;
    };
    const one = await count(twin, [0]);
    expect(await count(twin, [0, 1])).toBe(one);
    expect(await count(manifest, [0, 1])).toBeGreaterThan(one);
    cells[0] = [0, 1];
    const x = Float32Array.from(golden.inputs[0]);
    const y = await runOnce(await compilePath(twin, readBundle, cells), x, [1, ...per]);
    const tier1 = await InstaModel.create({ manifest: twin, engine, readFile: readBundle }, { tier: 'modules', warmup: 0 });
    const [ref] = await tier1.classify(x, [1, ...per], { path: cells });
    await tier1.release();
    expect(maxDiff(y.data, ref.logits)).toBeLessThan(1e-5);
  });

  it('rejects paths the manifest does not allow, naming cells', async () => {
    const cells = golden.paths[0].cells.map((c) => [...c]);
    await expect(compilePath(manifest, readBundle, cells.slice(1))).rejects.toThrow(RangeError);
    const changing = manifest.graph.cells.findIndex((c) => c.inputShape.slice(1).join() !== c.outputShape.slice(1).join());
    expect(changing).toBeGreaterThanOrEqual(0);
    cells[changing] = [];
    await expect(compilePath(manifest, readBundle, cells)).rejects.toThrow(`cells[${changing}]: cell changes shape`);
    cells[changing] = [99];
    await expect(compilePath(manifest, readBundle, cells)).rejects.toThrow(/cells\[\d+\]: option 99 out of range/);
  });

  it('names the file of a module that is not ONNX', async () => {
    const bad = (name: string) => (name === 'head.onnx' ? Uint8Array.from([0x0a, 0xff, 0x01]) : readBundle(name));
    await expect(compilePath(manifest, bad, golden.paths[0].cells)).rejects.toThrow(/^head\.onnx/);
  });
});

describe('ONNX codec (runtime/onnx)', () => {
  it('re-encodes a module losslessly: stable bytes and identical outputs', async () => {
    const bytes = await readBundle('cell01_op2.onnx');
    const once = encodeModel(decodeModel(bytes));
    expect(encodeModel(decodeModel(once))).toEqual(once);
    const dims = [2, 8, 28, 28];
    const x = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
    const [a, b] = [await runOnce(bytes, x, dims), await runOnce(once, x, dims)];
    expect(b.dims).toEqual(a.dims);
    expect(maxDiff(a.data, b.data)).toBe(0);
  });
});
