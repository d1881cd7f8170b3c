// How long health checks wait while a large photo is classified: one lane POSTs a 4096x4096 PNG to /v1/classify
// in a loop, another GETs /v2/health/live every 20 ms; per build (old: decoded on the server's thread, new: on the
// decoder thread), 2 rounds alternating, 6 s each. Prints /live latency p50/p99/max and the photo's mean time.
//   node big-image-loop.mjs <old repo dir> <new repo dir>
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
const sharp = createRequire(import.meta.url)('/work/main/node_modules/sharp');
const [oldDir, newDir] = process.argv.slice(2);
const px = Buffer.alloc(4096 * 4096 * 3);
for (let i = 0; i < px.length; i++) px[i] = (i * 37 + (i >> 12)) & 255;
const photo = await sharp(px, { raw: { width: 4096, height: 4096, channels: 3 } }).png().toBuffer();
const agent = new http.Agent({ keepAlive: true });
const req = (port, method, path, body) =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const r = http.request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'image/png' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode, performance.now() - t0]));
    });
    r.on('error', reject);
    r.end(body);
  });
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
async function run(label, dir, port) {
  const child = spawn(process.execPath, ['bin/instanas.js', 'serve', '--models', '/work/main/models', '--port', String(port), '--host', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  while (!out.includes('"ready"')) await new Promise((r) => setTimeout(r, 100));
  const live = [], photos = [];
  let stop = false;
  const lanes = [
    (async () => { while (!stop) { const [st, ms] = await req(port, 'POST', '/v1/classify', photo); if (st !== 200) throw new Error(`photo: ${st}`); photos.push(ms); } })(),
    (async () => { while (!stop) { const [, ms] = await req(port, 'GET', '/v2/health/live'); live.push(ms); await new Promise((r) => setTimeout(r, 20)); } })(),
  ];
  await new Promise((r) => setTimeout(r, 6000));
  stop = true;
  await Promise.all(lanes);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  console.log(`${label.padEnd(4)} /live: ${live.length} checks, p50 ${q(live, 0.5).toFixed(1)} ms, p99 ${q(live, 0.99).toFixed(1)} ms, max ${Math.max(...live).toFixed(1)} ms; photo: ${photos.length} done, mean ${(photos.reduce((a, b) => a + b, 0) / photos.length).toFixed(0)} ms`);
}
for (let round = 0; round < 2; round++)
  for (const [label, dir] of round % 2 ? [['new', newDir], ['old', oldDir]] : [['old', oldDir], ['new', newDir]]) await run(label, dir, 18095);
agent.destroy();
