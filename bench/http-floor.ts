// How much of the server's HTTP overhead is this machine's floor: sequential
// POSTs (concurrency 1) of a 28x28 PNG from one node:http keep-alive client to
// four servers, arms interleaved round by round, p50 per arm:
//   bare      node:http, reads the body, answers a small JSON (no model)
//   express   the same in an express 5 app with one route
//   stripped  node:http: body -> decode -> classify (createClassifier, as the server) -> JSON; no logs or metrics
//   serve     `instanas serve` on the shipped bundles (built dist, child process)
// and the raw runtime (InstaModel.classify on the tensor, in this process).
//   npm run build && npx vite-node bench/http-floor.ts [--bundle models/fashion-mnist] [--requests 2000] [--rounds 3]
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import { loadModel } from '../runtime/model-node.js';
import { createClassifier } from '../server/backend.js';
import { sendJson } from '../server/routes/classify.js';
import { DEFAULT_SERVER_OPTIONS } from '../server/options.js';
import { imageToTensor } from '../server/upload.js';
import { args, closedLoop, fmt, median, pngClient, quantile, startServe } from './inputs.js';

const a = args({ bundle: 'models/fashion-mnist', requests: 2000, rounds: 3 });
const model = await loadModel(a.bundle, { threads: 1 });
const px = Buffer.alloc(784);
for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 256;
const png = await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
const tensor = await imageToTensor(png, model.manifest.input, { maxPixels: DEFAULT_SERVER_OPTIONS.maxPixels });

const readAll = (req: NodeJS.ReadableStream) =>
  new Promise<Buffer>((resolve) => {
    const c: Buffer[] = [];
    req.on('data', (d: Buffer) => c.push(d));
    req.on('end', () => resolve(Buffer.concat(c)));
  });
const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

const bare = createServer(async (req, res) => sendJson(res, 200, { ok: true, n: (await readAll(req)).length }));
const app = express();
app.set('etag', false);
app.post('/x', async (req, res) => sendJson(res, 200, { ok: true, n: (await readAll(req)).length }));
const expressServer = createServer(app);
let inFlight = 0;
const classifier = await createClassifier(a.bundle, { idle: () => inFlight <= 1 });
const stripped = createServer(async (req, res) => {
  inFlight++;
  const t = await imageToTensor(await readAll(req), classifier.manifest.input, { maxPixels: DEFAULT_SERVER_OPTIONS.maxPixels });
  const r = await classifier.classify(t);
  sendJson(res, 200, { label: r.label, index: r.index, probability: r.probability, topk: r.topk, path: { code: r.path.code, cells: r.path.cells, macs: r.path.macs }, timings: r.timings });
  inFlight--;
});
const ports = { bare: await listen(bare), express: await listen(expressServer), stripped: await listen(stripped) };

const { port: servePort, child } = await startServe(['--models', path.dirname(a.bundle)]);

const client = pngClient();
const post = (port: number, pathName: string) => () => client.post(port, pathName, png);
const arms: Record<string, () => Promise<unknown>> = {
  bare: post(ports.bare, '/'),
  express: post(ports.express, '/x'),
  stripped: post(ports.stripped, '/'),
  serve: post(servePort, `/v1/classify?model=${path.basename(a.bundle)}`),
  raw: () => model.classify(tensor, [1, ...model.inputDims]),
};
const p50: Record<string, number[]> = Object.fromEntries(Object.keys(arms).map((k) => [k, []]));
try {
  for (const f of Object.values(arms)) await closedLoop(200, 1, f); // warm-up
  for (let r = 0; r < a.rounds; r++) {
    const names = Object.keys(arms);
    const order = names.map((_, k) => names[(k + r) % names.length]);
    for (const n of order) p50[n].push(quantile(await closedLoop(a.requests, 1, arms[n]), 0.5));
  }
  console.log(`${a.requests} sequential requests per arm per round, ${a.rounds} rounds interleaved; p50 ms per round and their median`);
  for (const [n, v] of Object.entries(p50)) console.log(`  ${n.padEnd(9)} ${v.map((x) => fmt(x, 3)).join(' ')}  median ${fmt(median(v), 3)}`);
  const m = (n: string) => median(p50[n]);
  console.log(`retried after a keep-alive reset: ${client.stats.retries}`);
  console.log(`over the raw runtime: stripped ${fmt(m('stripped') - m('raw'), 3)} ms, serve ${fmt(m('serve') - m('raw'), 3)} ms; express - bare ${fmt(m('express') - m('bare'), 3)} ms`);
} finally {
  client.close();
  for (const s of [bare, expressServer, stripped]) {
    s.closeAllConnections();
    s.close();
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await classifier.close();
  await model.release();
}
