// EXPERIMENT (session 12; ran as bench/zz-ctrl.ts): one onnxruntime-node run (the runtime's direct engine, batch 1,
// 1 thread) of: the search's CNN controller, a linear layer on the 7x7-pooled image (random weights, mk.py), a graph
// of one Relu (relu.onnx: the fixed cost of a run), and the shipped MLP controller; and the MLP evaluated in JS
// (runtime/small-graph.ts). 30 interleaved rounds of 500 runs each, medians.
import { readFileSync } from 'node:fs';
import { createNodeEngine } from '../runtime/engine-node.js';
import { smallGraph } from '../runtime/small-graph.js';
const dir = 'bench/results/20261201T0250Z-session12/experiments';
const files: Record<string, string> = {
  'cnn (search)': 'search/teachers/fashion-mnist-cnn/controller.onnx',
  'linear 7x7': `${dir}/lin7.onnx`,
  'relu only': `${dir}/relu.onnx`,
  'mlp 14x14-16 (shipped)': 'models/fashion-mnist/controller.onnx',
};
const e = createNodeEngine();
const S: Record<string, any> = {};
for (const [n, f] of Object.entries(files)) S[n] = await e.createSession(readFileSync(f));
const js = smallGraph(readFileSync(files['mlp 14x14-16 (shipped)']), 20000)!;
const x = { data: new Float32Array(784).map(() => Math.random()), dims: [1, 1, 28, 28] };
const T: Record<string, number[]> = {};
const arms = [...Object.keys(files), 'mlp in JS'];
for (const n of arms) T[n] = [];
for (let r = 0; r < 30; r++)
  for (const n of arms) {
    const run = n === 'mlp in JS' ? async () => js.run(x) : async () => S[n].run({ [S[n].inputNames[0]]: x });
    for (let i = 0; i < 50; i++) await run();
    const t = performance.now();
    for (let i = 0; i < 500; i++) await run();
    T[n].push(((performance.now() - t) / 500) * 1000);
  }
const med = (a: number[]) => a.slice().sort((p, q) => p - q)[a.length >> 1];
for (const n of arms) console.log(n.padEnd(24), med(T[n]).toFixed(1), 'us');
