// onnxruntime-web implementation of Engine, for browsers. Routing, path logic and
// preprocessing stay in model.ts/path.ts/preprocess.ts: this file only turns
// bytes into sessions. onnxruntime-web 1.30 ships SIMD-only wasm builds, so the
// wasm backend always uses SIMD; threads need crossOriginIsolated (SharedArrayBuffer).
//
// The onnxruntime-web module is passed in rather than imported: its builds differ
// a lot in size (ort.wasm.min.mjs + 14 MB wasm vs ort.min.mjs with WebGPU + 28 MB),
// so a page loads only the one it needs, and this file stays import-free for node.
import type * as Ort from 'onnxruntime-web';
import type { Engine, Session, SessionOptions, Tensor } from './engine.js';

/** The onnxruntime-web module (any of its builds: ort.wasm.min.mjs, ort.min.mjs, ...). */
export type OrtWeb = typeof Ort;

export type WebBackend = 'wasm' | 'webgpu';

/** Options of createWebEngine; every field is optional, defaults in DEFAULT_WEB_OPTIONS. */
export interface WebEngineOptions {
  /** Execution provider of every session. Default 'wasm'. */
  backend: WebBackend;
  /**
   * Wasm threads, set once per page (onnxruntime-web has one global thread pool).
   * undefined = onnxruntime-web's rule when crossOriginIsolated (min(4, ceil(cores/2))),
   * else 1 (without isolation there is no SharedArrayBuffer, so no threads).
   */
  numThreads: number | undefined;
  /** URL prefix (ending in '/') of the ort-wasm-simd-threaded.* files; undefined = next to ort's own script. */
  wasmPaths: string | undefined;
}

export const DEFAULT_WEB_OPTIONS: Readonly<WebEngineOptions> = Object.freeze({
  backend: 'wasm',
  numThreads: undefined,
  wasmPaths: undefined,
});

const isolated = (): boolean => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
const cores = (): number => (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;

/** Threads the engine will use for `requested` (see WebEngineOptions.numThreads). */
export function resolveThreads(requested: number | undefined): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1))
    throw new RangeError(`numThreads: must be a positive integer, got ${requested}`);
  if (!isolated()) return 1;
  return requested ?? Math.min(4, Math.ceil(cores() / 2));
}

/** Backends this browser can run: webgpu when an adapter is granted, always wasm. */
export async function availableBackends(): Promise<WebBackend[]> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return ['wasm'];
  try {
    return (await gpu.requestAdapter()) ? ['webgpu', 'wasm'] : ['wasm'];
  } catch {
    return ['wasm'];
  }
}

class WebSession implements Session {
  constructor(
    private readonly ort: OrtWeb,
    private readonly s: Ort.InferenceSession,
  ) {}
  get inputNames(): readonly string[] {
    return this.s.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor('float32', t.data, t.dims);
    const result = await this.s.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(result)) {
      if (t.type !== 'float32') throw new TypeError(`output '${name}' has type ${t.type}, expected float32`);
      // getData() downloads GPU-resident outputs; for CPU outputs it is the data itself.
      out[name] = { data: (await t.getData()) as Float32Array, dims: t.dims };
    }
    return out;
  }
  release(): Promise<void> {
    return this.s.release();
  }
}

// ort.env.wasm is read once per module, when the first session initialises the wasm.
const configuredModules = new WeakMap<object, { numThreads: number; wasmPaths: string | undefined }>();

function configure(ort: OrtWeb, numThreads: number, wasmPaths: string | undefined): void {
  const configured = configuredModules.get(ort.env);
  if (configured) {
    if (configured.numThreads !== numThreads)
      throw new RangeError(`numThreads: onnxruntime-web is already initialised with ${configured.numThreads} thread(s), got ${numThreads}`);
    if (configured.wasmPaths !== wasmPaths)
      throw new RangeError(`wasmPaths: onnxruntime-web is already initialised with ${configured.wasmPaths ?? '(default)'}`);
    return;
  }
  ort.env.wasm.numThreads = numThreads;
  if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  // Keep inference on this thread: a proxy worker would copy every tensor twice per module.
  ort.env.wasm.proxy = false;
  configuredModules.set(ort.env, { numThreads, wasmPaths });
}

/** Engine backed by onnxruntime-web `ort`. SessionOptions.intraOpNumThreads is ignored (the pool is global). */
export function createWebEngine(
  ort: OrtWeb,
  options: Partial<WebEngineOptions> = {},
): Engine & { readonly backend: WebBackend; readonly numThreads: number } {
  if (typeof ort?.InferenceSession?.create !== 'function' || typeof ort.Tensor !== 'function')
    throw new TypeError('ort: expected the onnxruntime-web module (with InferenceSession and Tensor)');
  const opts: WebEngineOptions = { ...DEFAULT_WEB_OPTIONS, ...options };
  if (opts.backend !== 'wasm' && opts.backend !== 'webgpu')
    throw new RangeError(`backend: must be 'wasm' or 'webgpu', got ${JSON.stringify(opts.backend)}`);
  if (opts.wasmPaths !== undefined && (typeof opts.wasmPaths !== 'string' || !opts.wasmPaths.endsWith('/')))
    throw new TypeError(`wasmPaths: must be a URL prefix ending in '/', got ${JSON.stringify(opts.wasmPaths)}`);
  const numThreads = resolveThreads(opts.numThreads);
  configure(ort, numThreads, opts.wasmPaths);
  const backend = opts.backend;
  return {
    name: `onnxruntime-web ${ort.env.versions.web ?? ort.env.versions.common} (${backend}${backend === 'wasm' ? `, simd, ${numThreads} thread${numThreads > 1 ? 's' : ''}` : ''})`,
    backend,
    numThreads,
    async createSession(bytes: Uint8Array, _opts: SessionOptions = {}): Promise<Session> {
      const s = await ort.InferenceSession.create(bytes, {
        executionProviders: [backend],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
      return new WebSession(ort, s);
    },
  };
}
