// As run in session 9 from bench/ (then named _rv2.ts): times the routed graph of models/fashion-mnist and the two
// rewritten variants (rewrite_routed.py) on the same feeds, alternating order; checks their logits agree.
// Usage then: npx vite-node bench/_rv2.ts <batch>. Not maintained.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { loadManifest } from '../runtime/manifest-node.js';
import { RoutedTier } from '../runtime/routed-tier.js';
import { routedFeeds, covers } from '../runtime/routed.js';
import { PathBook } from '../runtime/results.js';
import { loadModel } from '../runtime/model-node.js';
import { loadInputs } from './inputs.js';
const dir = 'models/fashion-mnist';
const m = await loadManifest(dir);
const plan = RoutedTier.plan(m, { routed: 'hot', tier: 'compiled' } as any)!;
const model = await loadModel(dir, { threads: 1, routed: 'off' });
const inputs = loadInputs(m, 1024);
const N = +(process.argv[2] ?? 32);
const per = inputs[0].length;
const book = new PathBook(m);
const base = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' } as const;
const S: Record<string, ort.InferenceSession> = {};
for (const v of ['routed', 'routed-v1', 'routed-v2']) S[v] = await ort.InferenceSession.create(new Uint8Array(await readFile(`/tmp/${v}.onnx`)), base);
const batches: Record<string, Record<string, ort.Tensor>>[] = [];
for (let b = 0; b < 8; b++) {
  const x = new Float32Array(N * per);
  for (let i = 0; i < N; i++) x.set(inputs[(b * N + i) % inputs.length], i * per);
  const out = await model.classifyBatch(x, [N, ...model.inputDims]);
  const rows = out.codes.map((c) => book.get(c).cells).map((r) => (covers(plan, r) ? r : book.get(plan.codes[0]).cells));
  const f = routedFeeds(plan, { data: x, dims: [N, ...model.inputDims] }, rows);
  const v0: Record<string, ort.Tensor> = {}, v1: Record<string, ort.Tensor> = {}, v2: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(f)) {
    v0[k] = new ort.Tensor('float32', t.data as Float32Array, t.dims);
    if (k === 'x') { v1[k] = v0[k]; v2[k] = v0[k]; continue; }
    const i64 = BigInt64Array.from(t.data as Float32Array, (v) => BigInt(v));
    v1[k] = new ort.Tensor('int64', i64, t.dims);
    if (k.startsWith('route')) v2[k] = new ort.Tensor('int64', i64, [t.dims[0], 1]);
  }
  batches.push({ routed: v0, 'routed-v1': v1, 'routed-v2': v2 });
}
const ref = (await S.routed.run(batches[0].routed)).y.data as Float32Array;
for (const k of Object.keys(S)) { const y = (await S[k].run(batches[0][k])).y.data as Float32Array; console.log(k, 'max diff', Math.max(...Array.from(y, (v, i) => Math.abs(v - ref[i])))); }
const ts: Record<string, number[]> = {};
for (let r = 0; r < 400; r++) for (const k of (r % 2 ? Object.keys(S) : Object.keys(S).reverse())) {
  const t0 = performance.now(); await S[k].run(batches[r % 8][k]); (ts[k] ??= []).push(performance.now() - t0);
}
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
for (const k of Object.keys(ts)) console.log(k, 'median ms', med(ts[k]).toFixed(3), 'ratio to v0 (paired)', med(ts[k].map((t, i) => t / ts.routed[i])).toFixed(3));
