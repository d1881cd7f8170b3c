// The inference back end as the server sees it. The server only talks to a
// Classifier; where inference runs (in this process, or a worker pool) is decided
// once, in createClassifier().
import type { Manifest } from '../runtime/manifest-types.js';
import { loadModel } from '../runtime/model-node.js';
import { createPool, DEFAULT_WORKERS } from '../runtime/pool-node.js';
import type { ClassifyResult, ModelOptions, Timings } from '../runtime/model.js';

export type BackendResult = ClassifyResult & { timings: Timings & { queueMs: number } };

export interface BackendStats {
  /** Requests waiting for the model. */
  queueDepth: number;
  /** Requests running on the model. */
  inFlight: number;
  /** Cumulative compiled-path cache counters, when the back end has such a cache. */
  cacheHits?: number;
  cacheMisses?: number;
}

export interface Classifier {
  readonly manifest: Manifest;
  /** True once every session is created and warmed up. */
  readonly ready: boolean;
  /** Classifies ONE preprocessed input, flat [C,H,W] as in manifest.input. */
  classify(tensor: Float32Array): Promise<BackendResult>;
  stats(): BackendStats;
  /** Finishes queued work, then releases the sessions. */
  close(): Promise<void>;
}

/** What any runner must offer to become a Classifier: InstaModel wrappers and runtime/pool-node.ts' Pool fit. */
export interface Runner {
  readonly manifest: Manifest;
  /** Absent, a boolean, or a promise that settles when loaded (the pool's shape). */
  readonly ready?: boolean | Promise<unknown>;
  classify(tensor: Float32Array): Promise<ClassifyResult & { timings: Timings & { queueMs?: number } }>;
  stats?(): object;
  close(): Promise<void>;
}

const num = (s: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) if (typeof s[k] === 'number') return s[k] as number;
  return undefined;
};

/** Wraps a Runner: awaits its readiness and normalises its stats and timings. */
export async function adapt(runner: Runner): Promise<Classifier> {
  if (runner.ready && typeof runner.ready !== 'boolean') await runner.ready;
  let closed = false;
  return {
    manifest: runner.manifest,
    get ready() {
      return !closed;
    },
    async classify(tensor) {
      const r = await runner.classify(tensor);
      return { ...r, timings: { ...r.timings, queueMs: r.timings.queueMs ?? 0 } };
    },
    stats() {
      // Field names differ between runners (ours: queueDepth; a pool may say queued), so read either.
      const s = (runner.stats?.() ?? {}) as Record<string, unknown>;
      const cache = (typeof s.cache === 'object' && s.cache ? s.cache : s) as Record<string, unknown>;
      return {
        queueDepth: num(s, 'queueDepth', 'queued', 'queue') ?? 0,
        inFlight: num(s, 'inFlight', 'running') ?? 0,
        cacheHits: num(cache, 'cacheHits', 'hits'),
        cacheMisses: num(cache, 'cacheMisses', 'misses'),
      };
    },
    async close() {
      closed = true;
      await runner.close();
    },
  };
}

/**
 * In-process runner: one InstaModel, requests run one after another in arrival
 * order. onnxruntime-node's run blocks the event loop, so overlapping runs would
 * not be faster; the explicit queue makes the wait measurable (queueMs).
 */
export async function inProcessRunner(dir: string, options: Partial<ModelOptions> = {}): Promise<Runner> {
  const model = await loadModel(dir, options);
  const dims = [1, ...model.inputDims];
  let tail: Promise<unknown> = Promise.resolve();
  let queued = 0;
  let running = 0;
  return {
    manifest: model.manifest,
    ready: true,
    classify(tensor) {
      const t0 = performance.now();
      queued++;
      const run = tail.then(async () => {
        queued--;
        running++;
        const queueMs = performance.now() - t0;
        try {
          const [r] = await model.classify(tensor, dims);
          return { ...r, timings: { ...r.timings, queueMs } };
        } finally {
          running--;
        }
      });
      tail = run.catch(() => undefined);
      return run;
    },
    // cacheStats() exists when the runtime has the compiled-path tier (null with tier 'modules').
    stats: () => ({ queueDepth: queued, inFlight: running, cache: (model as { cacheStats?: () => object | null }).cacheStats?.() ?? {} }),
    async close() {
      await tail;
      await model.release();
    },
  };
}

/**
 * Loads the bundle in `dir` as a Classifier. workers > 0 (the default, from the core count): a worker_threads pool
 * with dynamic batching, so inference never blocks the event loop; workers = 0: in this process, one request at a
 * time (tests, and machines where threads cost more than they give).
 */
export async function createClassifier(
  dir: string,
  options: Partial<ModelOptions> & { workers?: number } = {},
): Promise<Classifier> {
  const { workers = DEFAULT_WORKERS, ...model } = options;
  if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`options.workers: must be an integer >= 0, got ${workers}`);
  if (workers === 0) return adapt(await inProcessRunner(dir, model));
  return adapt(await createPool(dir, { workers, model }));
}
