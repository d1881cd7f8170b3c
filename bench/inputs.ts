// Shared by the benchmarks: argument parsing, real inputs and summary statistics.
// Inputs are Fashion-MNIST test images run through the runtime's own preprocess,
// so the controller sees the path mix of real data (batches group by path).
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Manifest } from '../runtime/manifest-types.js';
import { cellRules } from '../runtime/path.js';
import { preprocess } from '../runtime/preprocess.js';

export const FASHION = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';

/** `--name value` flags over defaults; numbers stay numbers. */
export function args<T extends Record<string, string | number>>(defaults: T): T {
  const out: Record<string, string | number> = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in defaults) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete flag '${argv[i]}' (flags: ${Object.keys(defaults).join(', ')})`);
    out[key] = typeof defaults[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return out as T;
}

/** The first InstaNAS bundle that exists, else the tiny fixture. */
export function defaultBundle(): string {
  return ['models/fashion-mnist', 'test/fixtures/tiny'].find((d) => existsSync(`${d}/manifest.json`))!;
}

/** `count` preprocessed test images (random 28x28 pixels when the dataset is absent). */
export function loadInputs(manifest: Manifest, count: number): Float32Array[] {
  let images: Uint8Array[];
  if (existsSync(FASHION)) {
    const raw = gunzipSync(readFileSync(FASHION));
    const n = Math.min(count, raw.readUInt32BE(4));
    images = Array.from({ length: n }, (_, i) => raw.subarray(16 + i * 784, 16 + (i + 1) * 784));
  } else {
    images = Array.from({ length: count }, () => Uint8Array.from({ length: 784 }, () => Math.floor(Math.random() * 256)));
  }
  return images.map((data) => preprocess({ data, width: 28, height: 28, channels: 1 }, manifest.input));
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** The middle value; for an even count the mean of the two middle values (quantile() would take the upper one). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const fmt = (v: number, digits = 2): string => v.toFixed(digits);

/**
 * Closed loop: `concurrency` lanes, each issuing its next call when the previous
 * one returns, until `total` calls were issued or `untilMs` (performance.now()) passed.
 * Returns per-call latencies in ms.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
  untilMs = Infinity,
): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < total && performance.now() < untilMs) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return lat;
}

/**
 * Starts `instanas serve` (built dist) as a child process with its request logs (info, as in production) going to
 * a file, not a pipe: draining a pipe would put the server's log traffic on the load generator's event loop.
 * Resolves with the port once the server logs 'ready'.
 */
export async function startServe(serveArgs: string[], nodeArgs: string[] = []): Promise<{ port: number; child: ChildProcess; logFile: string }> {
  const logFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'instanas-serve-')), 'server.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, 'bin/instanas.js', 'serve', ...serveArgs, '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', fd, 'inherit'],
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (c) => (exited = c));
  for (;;) {
    if (exited !== undefined) throw new Error(`server exited with ${exited} (did you run npm run build?)`);
    let port = 0;
    let ready = false;
    for (const l of readFileSync(logFile, 'utf8').split('\n')) {
      if (!l.startsWith('{')) continue;
      const rec = JSON.parse(l) as { msg?: string; port?: number };
      if (rec.msg === 'listening') port = rec.port!;
      if (rec.msg === 'ready') ready = true;
    }
    if (ready && port) return { port, child, logFile };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A load-generator client: node:http with a keep-alive agent (fetch's own per-request cost on these 2 cores would
 * count as server time). post(port, path, body) resolves with the status once the body is read. A kept-alive socket
 * can be closed by the server (5 s keep-alive timeout) while an arm waits its turn; a request on it then fails with
 * ECONNRESET: retried once, as HTTP clients do, and counted.
 */
export function pngClient(contentType = 'image/png') {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stats = { retries: 0 };
  const once = (port: number, pathName: string, body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: pathName, method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });
  const post = (port: number, pathName: string, body: Buffer): Promise<number> =>
    once(port, pathName, body).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET') throw err;
      stats.retries++;
      return once(port, pathName, body);
    });
  return { post, stats, close: () => agent.destroy() };
}

/**
 * The meta-graph's cheapest legal path, as executed cells: the identity wherever a cell keeps its shape, else the
 * option with the fewest MACs (what no controller can undercut in this search space).
 */
export function cheapestCells(m: Manifest): number[][] {
  return cellRules(m).map((r, ci) => {
    if (r.identityWhenEmpty) return [];
    const ops = m.graph.cells[ci].options;
    return [ops.reduce((best, o, k) => (o.macs < ops[best].macs ? k : best), 0)];
  });
}
