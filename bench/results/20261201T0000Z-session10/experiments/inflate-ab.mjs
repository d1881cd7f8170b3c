// Cost of node:zlib inflateSync (a new zlib handle per call) vs fflate's unzlibSync on a small stream (not a
// dependency of the project: npm install fflate@0.8.2 into a scratch folder to run this). node inflate-ab.mjs
import zlib from 'node:zlib';
import { unzlibSync } from 'fflate';
const raw = Buffer.from(Array.from({ length: 2380 }, (_, i) => (i * 7919) % 251));
const small = zlib.deflateSync(raw);
const eng = new zlib.Inflate();
const med = (v) => v.sort((a, b) => a - b)[v.length >> 1];
const arms = {
  inflateSync: () => zlib.inflateSync(small, { maxOutputLength: 2381 }),
  fflate: () => unzlibSync(small, { out: new Uint8Array(2380) }),
};
for (const [k, f] of Object.entries(arms)) if (Buffer.compare(Buffer.from(f()), raw) !== 0) throw new Error(k);
const t = {};
for (let r = 0; r < 7; r++) for (const [k, f] of Object.entries(arms)) {
  const t0 = performance.now(); for (let i = 0; i < 20000; i++) f(); (t[k] ??= []).push((performance.now() - t0) / 20);
}
for (const k in t) console.log(k, med(t[k]).toFixed(2), 'us', small.length, 'bytes in');
