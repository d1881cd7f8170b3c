// Starts runtime/worker-node (or another worker script of this folder) as a worker thread both from the compiled
// package (dist/runtime/worker-node.js next to this module) and from TypeScript source
// (vitest, vite-node), where no .js file exists and plain node cannot run .ts:
// there the worker first registers a tiny module hook that transpiles .ts with
// esbuild (a dev dependency, only needed in that mode).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// Module hooks, run in the worker's loader thread. Relative './x.js' imports of
// .ts sources fall back to './x.ts' (NodeNext style), and .ts files are transpiled.
const HOOKS = `
let esbuild;
export async function initialize(data) {
  const { createRequire } = await import('node:module');
  esbuild = createRequire(data.from)('esbuild');
}
export async function resolve(specifier, context, next) {
  if (context.parentURL?.endsWith('.ts') && /^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) {
    try { return await next(specifier, context); } catch { return next(specifier.slice(0, -3) + '.ts', context); }
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const { readFile } = await import('node:fs/promises');
  const source = await readFile(new URL(url), 'utf8');
  const { code } = esbuild.transformSync(source, { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: url });
  return { format: 'module', source: code, shortCircuit: true };
}`;

/** How a worker script of this folder (`script`, no extension) will be started: the compiled .js, or the .ts source through the hook. */
export function workerEntry(script = 'worker-node'): { url: URL; mode: 'js' | 'ts' } {
  const js = new URL(`./${script}.js`, import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js, mode: 'js' };
  const ts = new URL(`./${script}.ts`, import.meta.url);
  if (existsSync(fileURLToPath(ts))) return { url: ts, mode: 'ts' };
  throw new Error(`worker script not found next to ${fileURLToPath(import.meta.url)} (${script}.js or .ts)`);
}

/** Starts `script` (default the pool's worker-node) as a worker thread with `workerData`. */
export function spawnWorker(workerData: unknown, options: Omit<WorkerOptions, 'workerData' | 'eval'> = {}, script = 'worker-node'): Worker {
  const { url, mode } = workerEntry(script);
  if (mode === 'js') return new Worker(url, { ...options, workerData });
  const from = fileURLToPath(import.meta.url);
  createRequire(from).resolve('esbuild'); // fail here, in the caller's thread, with a clear message
  const boot = `
    const { register } = require('node:module');
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), { data: { from: ${JSON.stringify(from)} } });
    import(${JSON.stringify(url.href)}).catch((e) => setImmediate(() => { throw e; }));`;
  return new Worker(boot, { ...options, workerData, eval: true });
}
