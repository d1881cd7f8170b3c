// A small hand-built bundle with a JS reference implementation, to test routing
// (selection, empty-selection rules, grouping, sum combine) independently of the
// PyTorch fixture. Input 1x4x4; stem 1->2 channels; cells:
//   0: [2,4,4]->[2,4,4], 3 options y = a*x + b            (identity when empty)
//   1: [2,4,4]->[2,2,2], 2 options y = a*avgpool2(x), default 1 (shape-changing)
//   2: [2,2,2]->[2,2,2], 2 options y = a*relu(x) + b      (identity when empty)
// head: global average pool -> [N,2] @ W[2,3] + bias. Controller: sigmoid(mean(x)*w + c).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Manifest } from '../../runtime/manifest-types.js';
import { buildModel } from './onnx-writer.js';

const STEM_W = [1, -0.5];
const STEM_B = [0, 0.1];
const CELL0 = [
  [0.5, 0.1],
  [-1, 0.2],
  [2, -0.3],
];
const CELL1 = [0.7, -1.3];
const CELL2 = [
  [1.5, 0.05],
  [-0.8, 0.4],
];
const HEAD_W = [
  [1, -1, 0.5],
  [-0.5, 2, 1],
];
const HEAD_B = [0.1, -0.2, 0.3];
// Cell 0 all empty when mean < 0; cell 1 empty (-> default) for |mean| < 0.1.
const CTRL_W = [6, 6, 3, 5, -5, 4, -4];
const CTRL_B = [0, -1, -1, -0.5, -0.5, 0, 0.2];
export const LABELS = ['alpha', 'beta', 'gamma'];

const mod = (id: string, file: string, inputShape: number[], outputShape: number[], macs: number) => ({
  id,
  file,
  inputShape,
  outputShape,
  macs,
  params: 2,
});

/** Writes the bundle into dir (created) and returns its manifest. */
export function writeSyntheticBundle(dir: string, kind: 'instanas' | 'static' = 'instanas'): Manifest {
  mkdirSync(dir, { recursive: true });
  const write = (file: string, bytes: Uint8Array) => writeFileSync(path.join(dir, file), bytes);
  const S0 = [1, 2, 4, 4];
  const S1 = [1, 2, 2, 2];

  write(
    'stem.onnx',
    buildModel({
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } }],
      inits: [
        { name: 'w', dims: [2, 1, 1, 1], data: STEM_W },
        { name: 'b', dims: [2], data: STEM_B },
      ],
      inputShape: [1, 1, 4, 4],
      outputShape: S0,
    }),
  );
  const affine = (file: string, pre: 'none' | 'pool' | 'relu', a: number, b: number, inS: number[], outS: number[]) => {
    const nodes = [];
    let cur = 'x';
    if (pre === 'pool') {
      nodes.push({ op: 'AveragePool', inputs: ['x'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
      cur = 'p';
    } else if (pre === 'relu') {
      nodes.push({ op: 'Relu', inputs: ['x'], outputs: ['p'] });
      cur = 'p';
    }
    nodes.push({ op: 'Mul', inputs: [cur, 'a'], outputs: ['m'] });
    nodes.push({ op: 'Add', inputs: ['m', 'b'], outputs: ['y'] });
    write(
      file,
      buildModel({
        nodes,
        inits: [
          { name: 'a', dims: [], data: [a] },
          { name: 'b', dims: [], data: [b] },
        ],
        inputShape: inS,
        outputShape: outS,
      }),
    );
  };
  CELL0.forEach(([a, b], i) => affine(`c0_o${i}.onnx`, 'none', a, b, S0, S0));
  CELL1.forEach((a, i) => affine(`c1_o${i}.onnx`, 'pool', a, 0, S0, S1));
  CELL2.forEach(([a, b], i) => affine(`c2_o${i}.onnx`, 'relu', a, b, S1, S1));
  write(
    'head.onnx',
    buildModel({
      nodes: [
        { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
        { op: 'Flatten', inputs: ['g'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['y'] },
      ],
      inits: [
        { name: 'w', dims: [2, 3], data: HEAD_W.flat() },
        { name: 'b', dims: [3], data: HEAD_B },
      ],
      inputShape: S1,
      outputShape: [1, 3],
    }),
  );
  if (kind === 'instanas') {
    write(
      'controller.onnx',
      buildModel({
        nodes: [
          { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
          { op: 'Flatten', inputs: ['g'], outputs: ['f'], attrs: { axis: 1 } },
          { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['z'] },
          { op: 'Sigmoid', inputs: ['z'], outputs: ['y'] },
        ],
        inits: [
          { name: 'w', dims: [1, 7], data: CTRL_W },
          { name: 'b', dims: [7], data: CTRL_B },
        ],
        inputShape: [1, 1, 4, 4],
        outputShape: [1, 7],
      }),
    );
  }

  const manifest: Manifest = {
    schemaVersion: 1,
    name: 'synthetic',
    version: '0.0.1',
    kind,
    labels: LABELS,
    input: {
      height: 4,
      width: 4,
      channels: 1,
      layout: 'NCHW',
      dtype: 'float32',
      mean: [0.5],
      std: [0.25],
      resize: 'stretch-bilinear',
      colorConversion: 'luma-bt601',
    },
    ...(kind === 'instanas'
      ? { controller: { file: 'controller.onnx', inputShape: [1, 1, 4, 4], outputShape: [1, 7], threshold: 0.5, macs: 100, params: 14 } }
      : {}),
    graph: {
      combine: 'sum',
      emptySelection: 'identity-else-default',
      stem: mod('stem', 'stem.onnx', [1, 1, 4, 4], S0, 32),
      cells: [
        { inputShape: S0, outputShape: S0, defaultOption: 0, options: CELL0.map((_, i) => mod(`c0_o${i}`, `c0_o${i}.onnx`, S0, S0, 10 * (i + 1))) },
        { inputShape: S0, outputShape: S1, defaultOption: 1, options: CELL1.map((_, i) => mod(`c1_o${i}`, `c1_o${i}.onnx`, S0, S1, 1000 * (i + 1))) },
        { inputShape: S1, outputShape: S1, defaultOption: 0, options: CELL2.map((_, i) => mod(`c2_o${i}`, `c2_o${i}.onnx`, S1, S1, 100000 * (i + 1))) },
      ],
      head: mod('head', 'head.onnx', S1, [1, 3], 6),
    },
    latency: { unit: 'ms', method: 'macs-proxy', device: 'none', table: {} },
    accuracy: null,
    provenance: { data: 'synthetic', seed: 0, command: 'test', gitCommit: 'none', createdAt: '2025-01-01T00:00:00Z' },
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Reference controller probabilities for one input (16 floats). */
export function referenceProbs(x: ArrayLike<number>): number[] {
  let mean = 0;
  for (let i = 0; i < 16; i++) mean += x[i] / 16;
  return CTRL_W.map((w, k) => sigmoid(mean * w + CTRL_B[k]));
}

/** Reference logits for one input (16 floats) along executed cells. */
export function referenceLogits(x: ArrayLike<number>, cells: number[][]): number[] {
  // h: [C][H*W] planes
  let h = [0, 1].map((c) => Array.from({ length: 16 }, (_, i) => x[i] * STEM_W[c] + STEM_B[c]));
  const sumOf = (outs: number[][][]) => outs.reduce((acc, o) => acc.map((p, c) => p.map((v, i) => v + o[c][i])));
  if (cells[0].length) h = sumOf(cells[0].map((o) => h.map((p) => p.map((v) => CELL0[o][0] * v + CELL0[o][1]))));
  const pool = (p: number[]) =>
    [0, 1, 2, 3].map((q) => {
      const r = Math.floor(q / 2) * 2;
      const c = (q % 2) * 2;
      return (p[r * 4 + c] + p[r * 4 + c + 1] + p[(r + 1) * 4 + c] + p[(r + 1) * 4 + c + 1]) / 4;
    });
  h = sumOf(cells[1].map((o) => h.map((p) => pool(p).map((v) => CELL1[o] * v))));
  if (cells[2].length)
    h = sumOf(cells[2].map((o) => h.map((p) => p.map((v) => CELL2[o][0] * Math.max(0, v) + CELL2[o][1]))));
  const g = h.map((p) => p.reduce((a, b) => a + b, 0) / p.length);
  return HEAD_B.map((b, k) => b + g[0] * HEAD_W[0][k] + g[1] * HEAD_W[1][k]);
}
