// A/B of server/tensor.ts parseInferRequest before (7c121cb) and after session 10's inline element checks, 1x1x28x28.
// Build each version (npm run build), copy dist/server to /tmp/old-srv and /tmp/new-srv; then: node parse-infer-ab.mjs
const A = await import('/tmp/old-srv/tensor.js'), B = await import('/tmp/new-srv/tensor.js');
const n = 784, bin = Buffer.alloc(n * 4); for (let i = 0; i < n; i++) bin.writeFloatLE((i % 255) / 255 - 0.3, i * 4);
const hdr = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1, 28, 28], parameters: { binary_data_size: n * 4 } }] };
const js = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1, 28, 28], data: Array.from({ length: n }, (_, i) => (i % 255) / 255 - 0.3) }] };
const arms = { 'binary old': () => A.parseInferRequest(hdr, [1, 28, 28], 64, bin), 'binary new': () => B.parseInferRequest(hdr, [1, 28, 28], 64, bin),
  'json old': () => A.parseInferRequest(js, [1, 28, 28], 64), 'json new': () => B.parseInferRequest(js, [1, 28, 28], 64) };
const t = {}; const med = (v) => v.sort((x, y) => x - y)[v.length >> 1];
for (let r = 0; r < 9; r++) for (const [k, f] of Object.entries(arms)) { const t0 = performance.now(); for (let i = 0; i < 5000; i++) f(); (t[k] ??= []).push((performance.now() - t0) / 5); }
for (const k in t) console.log(k.padEnd(11), med(t[k]).toFixed(2), 'us per 1x1x28x28 request');
