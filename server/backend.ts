// The inference back end as the server sees it. The server only talks to a
// Classifier; where inference runs (in this process, or a worker pool) is decided
// once, in createClassifier().
import type { Manifest } from '../runtime/manifest-types.js';
import { loadModel } from '../runtime/model-node.js';
import { createPool, DEFAULT_WORKERS, type WorkerPool } from '../runtime/pool-node.js';
import type { ClassifyResult, InstaModel, ModelOptions, Timings } from '../runtime/model.js';

export type BackendResult = ClassifyResult & { timings: Timings & { queueMs: number } };

export interface BackendStats {
  /** Requests waiting for the model. */
  queueDepth: number;
  /** Requests running on the model. */
  inFlight: number;
  /** Cumulative compiled-path cache counters, when the back end has such a cache. */
  cacheHits?: number;
  cacheMisses?: number;
  /** Cumulative compiles of a path that failed (the path then runs module by module). */
  compileErrors?: number;
  /** Requests run on the server's own thread because the pool was idle (createClassifier's inlineMaxMs). */
  inline?: number;
  /**
   * Cumulative model executions (batches, inline runs included) and the inputs they ran, when the back end counts
   * them: inputs / executions is the mean batch the scheduler formed (Triton's execution vs inference counts).
   */
  executions?: number;
  executedInputs?: number;
  /** Cumulative executions by size: executedBatchSizes[k] = executions that ran k inputs (index 0 unused). */
  executedBatchSizes?: number[];
}

export interface Classifier {
  readonly manifest: Manifest;
  /** True once every session is created and warmed up. */
  readonly ready: boolean;
  /** True when the back end cannot recover (every worker of its pool dead): not ready, and not live. */
  readonly failed?: boolean;
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

/** Executions and their inputs from a scheduler's stats (batches, batchSizes) plus inline batch-1 runs. */
function executionCounts(s: Record<string, unknown>): Pick<BackendStats, 'executions' | 'executedInputs' | 'executedBatchSizes'> {
  const sizes = s.batchSizes;
  const batches = num(s, 'batches');
  if (!Array.isArray(sizes) || batches === undefined) return {};
  const inline = num(s, 'inline') ?? 0;
  const inputs = sizes.reduce((t: number, c: number, k: number) => t + c * k, 0);
  const bySize = sizes.map((c: number) => c);
  bySize[1] = (bySize[1] ?? 0) + inline; // an inline run is a batch of one
  return { executions: batches + inline, executedInputs: inputs + inline, executedBatchSizes: bySize };
}

/**
 * A pool whose workers are all dead cannot answer (a replacement that fails to load is not retried): not ready, so
 * a load balancer or Kubernetes stops sending it requests.
 */
function allWorkersDead(stats: object | undefined): boolean {
  const w = (stats as { workers?: unknown } | undefined)?.workers;
  return Array.isArray(w) && w.length > 0 && w.every((x) => (x as { state?: unknown })?.state === 'dead');
}

/** Wraps a Runner: awaits its readiness and normalises its stats and timings. */
export async function adapt(runner: Runner): Promise<Classifier> {
  if (runner.ready && typeof runner.ready !== 'boolean') await runner.ready;
  let closed = false;
  return {
    manifest: runner.manifest,
    get ready() {
      return !closed && !allWorkersDead(runner.stats?.());
    },
    get failed() {
      return !closed && allWorkersDead(runner.stats?.());
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
        compileErrors: num(cache, 'compileErrors'),
        inline: num(s, 'inline'),
        ...executionCounts(s),
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
 * Pool plus a copy of the model on this thread, used only when the pool is idle: at concurrency 1 the two thread
 * hand-offs of a pool request (~0.37 ms measured here) cost more than a small model itself, while under load every
 * request goes to the pool and the event loop stays free. A run on this thread blocks the loop for one
 * classification, which createClassifier only allows for models measured below `inlineMaxMs`.
 */
function idleInlineRunner(pool: WorkerPool, model: InstaModel, serverIdle: () => boolean): Runner {
  const dims = [1, ...model.inputDims];
  let running = false;
  let closed = false;
  let current: Promise<unknown> = Promise.resolve(); // the inline run in progress, awaited by close()
  let inline = 0;
  const base = model.cacheStats(); // the load-time measurement's lookups are not requests
  return {
    manifest: pool.manifest,
    ready: pool.ready,
    async classify(tensor) {
      // Under load the server's thread is the scarce one (HTTP, decoding): inline only when nothing else is in flight.
      if (running || !pool.idle || !serverIdle()) return pool.classify(tensor);
      // A request is parsed, decoded and (inline) answered within one event-loop callback, so a burst of requests
      // waiting in other sockets would never show up in serverIdle(): each would find the server idle and the
      // pool would never be used (measured: 2000 of 2000 requests inline at concurrency 8). One turn of the loop
      // lets the requests already readable start (and count) first; at concurrency 1 it costs a few us.
      running = true;
      await new Promise<void>((r) => setImmediate(r));
      if (closed || !serverIdle() || !pool.idle) {
        running = false;
        return pool.classify(tensor); // a closed pool rejects with its own error
      }
      inline++;
      const run = model.classify(tensor, dims);
      current = run.catch(() => undefined);
      try {
        const [r] = await run;
        return { ...r, timings: { ...r.timings, queueMs: 0 } };
      } finally {
        running = false;
      }
    },
    stats: () => {
      const s = pool.stats();
      const c = model.cacheStats();
      // Both copies of the model count: the pool's workers and the one on this thread.
      const own = {
        hits: (c?.hits ?? 0) - (base?.hits ?? 0),
        misses: (c?.misses ?? 0) - (base?.misses ?? 0),
        compileErrors: (c?.compileErrors ?? 0) - (base?.compileErrors ?? 0),
      };
      const cache =
        s.cache || c
          ? { hits: (s.cache?.hits ?? 0) + own.hits, misses: (s.cache?.misses ?? 0) + own.misses, compileErrors: (s.cache?.compileErrors ?? 0) + own.compileErrors }
          : {};
      return { ...s, inFlight: s.inFlight + (running ? 1 : 0), inline, cache };
    },
    async close() {
      closed = true;
      await pool.close();
      await current; // an inline run that started before close() finishes on its sessions
      await model.release();
    },
  };
}

/**
 * The model's own batch-1 cost: the fastest of `n` runs of its most used path (the bundle's first hot path, compiled
 * at load; the chain for a static bundle) plus its fastest controller step. The minimum, not the median, because
 * bundles load one after another while other pools warm up. Not a classification of a zero image: what path a
 * grey image takes says nothing of real traffic (a distilled controller sent it down every option, 12x the cost).
 */
export async function measureMs(model: InstaModel, n = 15): Promise<number> {
  const x = new Float32Array(model.inputDims.reduce((a, b) => a * b, 1));
  const dims = [1, ...model.inputDims];
  const top = model.manifest.kind === 'instanas' ? model.manifest.hotPaths?.[0]?.code : undefined;
  await model.classify(x, dims, top ? { path: top } : {});
  await model.cacheIdle();
  let best = Infinity;
  let controller = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await model.classify(x, dims, top ? { path: top } : {});
    best = Math.min(best, performance.now() - t0);
    if (top) controller = Math.min(controller, (await model.route(x, dims)).controllerMs);
  }
  return best + (top ? controller : 0);
}

/** Options of createClassifier beyond the model's own. */
export interface ClassifierOptions {
  /** Worker threads; 0 = in this process, one request at a time. Default DEFAULT_WORKERS (cores - 1). */
  workers: number;
  /**
   * With a pool: also keep the model on this thread and run a request here when the pool is idle, if one
   * classification measured at load takes at most this many ms (it blocks the event loop that long). 0 = never.
   * Default 1.
   */
  inlineMaxMs: number;
  /** Whether the caller's thread has nothing else to do (the server: this is the only request in flight). */
  idle: () => boolean;
  /**
   * Largest batch the pool sends to a worker. Batches only form while the workers are busy (no queue delay), so a
   * larger bound costs nothing at low load and lets a saturated server amortise each run over more requests.
   * Default 32: half the server's default maxInFlight (64), so under full admission one batch runs while the
   * next one fills. Unused with workers 0 (one request at a time).
   */
  maxBatchSize: number;
  /**
   * Deadline of one request in the pool (queue + run), ms; past it the request fails with RequestTimeoutError (the
   * server answers 504) and its admission slot is freed. undefined = none. The server passes its requestTimeoutMs:
   * a wedged worker would otherwise hold every slot forever. Runs on this thread (inline) are not timed.
   */
  timeoutMs: number | undefined;
}

export const CLASSIFIER_DEFAULTS: Readonly<ClassifierOptions> = Object.freeze({
  workers: DEFAULT_WORKERS,
  inlineMaxMs: 1,
  idle: () => true,
  maxBatchSize: 32,
  timeoutMs: undefined,
});

/**
 * Loads the bundle in `dir` as a Classifier. workers > 0 (the default, from the core count): a worker_threads pool
 * with dynamic batching, so inference under load never blocks the event loop (small models also run on this
 * thread while the pool is idle, see idleInlineRunner); workers = 0: in this process, one request at a time
 * (tests, and machines where threads cost more than they give).
 */
export async function createClassifier(
  dir: string,
  options: Partial<ModelOptions> & Partial<ClassifierOptions> = {},
): Promise<Classifier> {
  const {
    workers = CLASSIFIER_DEFAULTS.workers,
    inlineMaxMs = CLASSIFIER_DEFAULTS.inlineMaxMs,
    idle = CLASSIFIER_DEFAULTS.idle,
    maxBatchSize = CLASSIFIER_DEFAULTS.maxBatchSize,
    timeoutMs = CLASSIFIER_DEFAULTS.timeoutMs,
    ...model
  } = options;
  if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`options.workers: must be an integer >= 0, got ${workers}`);
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new RangeError(`options.maxBatchSize: must be an integer >= 1, got ${maxBatchSize}`);
  if (!(inlineMaxMs >= 0)) throw new RangeError(`options.inlineMaxMs: must be >= 0, got ${inlineMaxMs}`);
  if (workers === 0) return adapt(await inProcessRunner(dir, model));
  const pool = await createPool(dir, { workers, maxBatchSize, model, timeoutMs });
  if (inlineMaxMs === 0) return adapt(pool);
  // The inline model runs one request at a time (batch 1): the routed graph would only cost memory and load time.
  const local = await loadModel(dir, { ...model, threads: 1, routed: 'off' });
  if ((await measureMs(local)) > inlineMaxMs) {
    await local.release();
    return adapt(pool);
  }
  return adapt(idleInlineRunner(pool, local, idle));
}
