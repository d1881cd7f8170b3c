// decodePng (runtime/png-node.ts, built dist) on a 28x28 RGB and grey PNG, and inflateSync alone. node png-decode-cost.mjs
import sharp from '/work/main/node_modules/sharp/lib/index.js';
import { decodePng } from '/work/main/dist/runtime/png-node.js';
import { inflateSync } from 'node:zlib';
const px = Uint8Array.from({ length: 784 }, (_, k) => (k * 7) % 256);
const rgb = new Uint8Array(await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer());
const grey = new Uint8Array(await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toBuffer());
console.log('sizes', rgb.length, grey.length, rgb[25], grey[25]);
for (const [n, b] of [['rgb', rgb], ['grey', grey]]) {
  for (let r = 0; r < 3; r++) {
    let t0 = performance.now();
    for (let i = 0; i < 20000; i++) decodePng(b);
    const d = (performance.now() - t0) / 20;
    console.log(n, 'decodePng', d.toFixed(2), 'us');
  }
}
const z = inflateSync; const small = (await import('node:zlib')).deflateSync(Buffer.alloc(2380, 7));
let t0 = performance.now(); for (let i = 0; i < 20000; i++) z(small); console.log('inflateSync of a tiny stream', ((performance.now() - t0) / 20).toFixed(2), 'us');
