// onnxruntime-node implementation of Engine (CPU execution provider).
//
// Why two ways to run: onnxruntime-node's public `session.run()` executes the
// graph synchronously in native code anyway, but first defers to the next
// event-loop turn with setImmediate. For a 28x28 model that turn costs as much
// as a small module (a CPU profile put ~15% of a compiled-path call in it; see
// docs/PERFORMANCE.md). The 'direct' mode calls the package's own native session
// (onnxruntime-node/dist/binding.js, pinned to the version in package-lock.json)
// without the deferral: same library, same graph, same outputs, one event-loop
// turn fewer per session run. It blocks the caller's thread for the run, which
// is what the public API does one turn later. When the binding is not where this
// version keeps it, the engine falls back to the public API.
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import type { Engine, Session, SessionOptions, Tensor } from './engine.js';

/** How session runs are issued: 'direct' (native session, no deferral; default) or 'public' (ort.InferenceSession). */
export type NodeRunMode = 'direct' | 'public';

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: ReadonlyArray<{ name: string }>;
  readonly outputMetadata: ReadonlyArray<{ name: string }>;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): Record<string, ort.Tensor>;
  dispose(): void;
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

let native: NativeBinding | null | undefined;
/** The package's native binding, or null when this onnxruntime-node does not keep it at dist/binding.js. */
function nativeBinding(): NativeBinding | null {
  if (native === undefined) {
    try {
      const b = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as Partial<NativeBinding>;
      native = typeof b.initOrt === 'function' && typeof b.binding?.InferenceSession === 'function' ? (b as NativeBinding) : null;
      native?.initOrt();
    } catch {
      native = null;
    }
  }
  return native;
}

const toOrt = (feeds: Record<string, Tensor>): Record<string, ort.Tensor> => {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor('float32', t.data, t.dims);
  return out;
};

const fromOrt = (result: Record<string, ort.Tensor>): Record<string, Tensor> => {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(result)) {
    if (t.type !== 'float32') throw new TypeError(`output '${name}' has type ${t.type}, expected float32`);
    out[name] = { data: t.data as Float32Array, dims: t.dims };
  }
  return out;
};

class PublicSession implements Session {
  constructor(private readonly s: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.s.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return fromOrt(await this.s.run(toOrt(feeds)));
  }
  release(): Promise<void> {
    return this.s.release();
  }
}

class DirectSession implements Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly fetches: Record<string, null> = {};
  private s: NativeSession | null;
  constructor(s: NativeSession) {
    this.s = s;
    this.inputNames = s.inputMetadata.map((m) => m.name);
    this.outputNames = s.outputMetadata.map((m) => m.name);
    for (const n of this.outputNames) this.fetches[n] = null;
  }
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (!this.s) throw new Error('session was released');
    return fromOrt(this.s.run(toOrt(feeds), this.fetches, {}));
  }
  async release(): Promise<void> {
    this.s?.dispose();
    this.s = null;
  }
}

export interface NodeEngineOptions {
  /** How session runs are issued; default 'direct' (falls back to 'public' when the native binding is not found). */
  run?: NodeRunMode;
  /**
   * onnxruntime session configuration entries, passed as SessionOptions.extra (the node binding hands each to
   * AddConfigEntry), e.g. { 'session.disable_prepacking': '1' }. Values are strings. Default none.
   */
  config?: Readonly<Record<string, string>>;
}

/** Engine backed by onnxruntime-node. Sessions use full graph optimisation and sequential execution. */
export function createNodeEngine(opts: NodeEngineOptions = {}): Engine {
  const mode = opts.run ?? 'direct';
  if (mode !== 'direct' && mode !== 'public') throw new RangeError(`opts.run: must be 'direct' or 'public', got ${String(mode)}`);
  const config = opts.config ?? {};
  for (const [k, v] of Object.entries(config))
    if (typeof v !== 'string') throw new TypeError(`opts.config['${k}']: must be a string, got ${typeof v}`);
  const extra = Object.keys(config).length ? { extra: { ...config } } : {};
  const direct = mode === 'direct' ? nativeBinding() : null;
  return {
    name: `onnxruntime-node ${ort.env.versions.common}`,
    async createSession(bytes: Uint8Array, o: SessionOptions = {}): Promise<Session> {
      const options = {
        intraOpNumThreads: o.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        ...extra,
      } as const;
      if (direct) {
        const s = new direct.binding.InferenceSession();
        s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
        return new DirectSession(s);
      }
      return new PublicSession(await ort.InferenceSession.create(bytes, options));
    },
  };
}

/** Whether createNodeEngine() will run sessions directly (false: this onnxruntime-node hides its binding). */
export const directRunAvailable = (): boolean => nativeBinding() !== null;
