// A/B of runtime/preprocess.ts before (e0882f5) and after session 10's at-size path, on a 28x28 image, interleaved 10 x 20,000 calls per arm.
// Build each version (npm run build) and copy dist/runtime/preprocess.js to /tmp/old-pp.mjs and /tmp/new-pp.mjs; then: node preprocess-ab.mjs
import { readFileSync } from 'node:fs';
const A = await import('/tmp/old-pp.mjs'), B = await import('/tmp/new-pp.mjs');
const m = JSON.parse(readFileSync('/work/main/models/fashion-mnist/manifest.json', 'utf8'));
const rgb = Uint8Array.from({ length: 784 * 3 }, (_, i) => (i * 37) % 256);
const grey = Uint8Array.from({ length: 784 }, (_, i) => (i * 37) % 256);
const imgs = { rgb: { data: rgb, width: 28, height: 28, channels: 3 }, grey: { data: grey, width: 28, height: 28, channels: 1 } };
for (const [name, img] of Object.entries(imgs)) {
  const a = A.preprocess(img, m.input), b = B.preprocess(img, m.input);
  if (a.some((v, i) => v !== b[i])) throw new Error('differ ' + name);
  const t = { old: [], new: [] };
  for (let r = 0; r < 10; r++) for (const [k, f] of r % 2 ? [['old', A], ['new', B]] : [['new', B], ['old', A]]) {
    const t0 = performance.now(); let s = 0;
    for (let i = 0; i < 20000; i++) s += f.preprocess(img, m.input)[5];
    t[k].push((performance.now() - t0) / 20000 * 1000);
  }
  const med = (v) => v.sort((x, y) => x - y)[v.length >> 1];
  console.log(name, 'old', med(t.old).toFixed(2), 'us  new', med(t.new).toFixed(2), 'us  identical output');
}
