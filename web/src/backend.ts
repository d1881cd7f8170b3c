// Chooses the execution provider: WebGPU only when the browser offers an adapter
// AND it is faster here on this bundle (tiny modules can lose to the per-module GPU
// round trip), else wasm. Measured by interleaved runs, median per backend.
import { availableBackends, createWebEngine, type OrtWeb, type WebBackend } from '../../runtime/engine-web.js';
import type { InstaModel } from '../../runtime/model.js';
import { loadBundle } from './bundles.js';
import { loadOrt } from './ort-loader.js';

export interface Choice {
  ort: OrtWeb;
  model: InstaModel;
  backend: WebBackend;
  engineName: string;
  available: WebBackend[];
  /** Median ms per backend when both were measured. */
  trial?: Partial<Record<WebBackend, number>>;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export async function chooseBackend(base: string, want: WebBackend | 'auto', numThreads: number | undefined, runs = 15): Promise<Choice> {
  const available = await availableBackends();
  if (want === 'webgpu' && !available.includes('webgpu')) throw new Error('backend: WebGPU was requested but this browser offers no adapter');
  const candidates: WebBackend[] = want === 'auto' ? available : [want];
  const ort = await loadOrt(candidates);
  const loaded = [];
  for (const backend of candidates) {
    try {
      const engine = createWebEngine(ort, { backend, numThreads });
      loaded.push({ backend, engine, model: await loadBundle(base, engine) });
    } catch (err) {
      // wasm is the last candidate and always tried; a GPU that fails to start is not fatal.
      if (backend === 'wasm') throw err;
      console.warn(`backend ${backend} unavailable: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (loaded.length === 0) throw new Error(`backend: ${candidates.join(', ')} could not start (see the console); try ?backend=wasm`);
  if (loaded.length === 1) return { ort, model: loaded[0].model, backend: loaded[0].backend, engineName: loaded[0].engine.name, available };
  const dims = [1, ...loaded[0].model.inputDims];
  const x = new Float32Array(dims.reduce((a, b) => a * b, 1));
  const times = loaded.map(() => [] as number[]);
  for (let r = 0; r < runs; r++)
    for (const [i, c] of loaded.entries()) {
      const t0 = performance.now();
      await c.model.classify(x, dims);
      times[i].push(performance.now() - t0);
    }
  const med = times.map(median);
  const best = med.indexOf(Math.min(...med));
  await Promise.all(loaded.filter((_, i) => i !== best).map((c) => c.model.release()));
  const trial = Object.fromEntries(loaded.map((c, i) => [c.backend, med[i]]));
  return { ort, model: loaded[best].model, backend: loaded[best].backend, engineName: loaded[best].engine.name, available, trial };
}
