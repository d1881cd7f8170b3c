// Golden parity with PyTorch: the fixture bundle and golden.json come from the
// Python exporter (search/). Logits must agree within 1e-4 and paths exactly.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
const GOLDEN = path.join(FIXTURE, 'golden.json');

interface Golden {
  inputShape: number[];
  inputs: number[][];
  controllerProbs: number[][];
  paths: { code: string; cells: number[][] }[];
  logits: number[][];
  labels: number[];
}

describe.skipIf(!existsSync(GOLDEN))('golden parity with torch (test/fixtures/tiny)', () => {
  let model: InstaModel;
  let golden: Golden;
  const per = () => golden.inputShape.slice(1);

  beforeAll(async () => {
    golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
    model = await loadModel(FIXTURE);
  });
  afterAll(() => model?.release());

  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    expect(a.length).toBe(b.length);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    return d;
  };

  it('matches torch one input at a time', async () => {
    expect(golden.inputs.length).toBeGreaterThan(0);
    for (const [i, input] of golden.inputs.entries()) {
      const [r] = await model.classify(Float32Array.from(input), [1, ...per()]);
      expect(r.path.cells, `input ${i} cells`).toEqual(golden.paths[i].cells);
      expect(r.path.code, `input ${i} code`).toBe(golden.paths[i].code);
      expect(maxDiff(r.controllerProbs!, golden.controllerProbs[i]), `input ${i} controller probs`).toBeLessThan(1e-4);
      expect(maxDiff(r.logits, golden.logits[i]), `input ${i} logits`).toBeLessThan(1e-4);
      expect(r.index, `input ${i} label`).toBe(golden.labels[i]);
    }
  });

  it('matches torch as one batch (grouped by path)', async () => {
    const n = golden.inputs.length;
    const results = await model.classify(Float32Array.from(golden.inputs.flat()), [n, ...per()]);
    results.forEach((r, i) => {
      expect(r.path.code, `input ${i} code`).toBe(golden.paths[i].code);
      expect(maxDiff(r.logits, golden.logits[i]), `input ${i} logits`).toBeLessThan(1e-4);
    });
  });
});
