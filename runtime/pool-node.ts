// WorkerPool: N worker threads, each with its own copy of the bundle, behind one
// micro-batching Scheduler. Inference leaves the main event loop, batches go to
// the least-busy live worker, a crashed worker fails only its in-flight batches
// (with a clear error) and is replaced.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { loadManifest } from './manifest-node.js';
import type { Manifest } from './manifest-types.js';
import { checkModelOptions, DEFAULT_OPTIONS, type ClassifyResult, type ModelOptions } from './model-types.js';
import { PathBook, toResults } from './results.js';
import { RoutedTier } from './routed-tier.js';
import { Scheduler, type QueueTimings, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
import type { CacheCounts, FromWorker, ToWorker, WorkerInit } from './worker-node.js';
import { spawnWorker } from './worker-spawn-node.js';

/**
 * One core is left to the main thread (HTTP, decoding, preprocessing, the
 * scheduler); each worker runs single-threaded ORT, so more workers than cores
 * only time-slice. The cap of 8 bounds memory (every worker holds all sessions)
 * and keeps batches filling at moderate load.
 */
export const DEFAULT_WORKERS = Math.min(8, Math.max(1, availableParallelism() - 1));

/** Options of createPool; every field is optional, defaults in POOL_DEFAULTS. */
export interface PoolOptions extends Omit<SchedulerOptions, 'concurrency' | 'hasIdleExecutor'> {
  /** Worker threads. Default DEFAULT_WORKERS. */
  workers: number;
  /** ORT intra-op threads per session inside each worker. Default 1. */
  intraOpNumThreads: number;
  /**
   * Batches sent to one worker before its results return. Default 2: the next
   * batch already waits in the worker's port, so the worker does not idle for a
   * message round trip (costly when cores are oversubscribed). A partial batch
   * goes only to an idle worker; a busy one gets a second batch only when a full
   * one is queued (SchedulerOptions.hasIdleExecutor), so pipelining does not
   * shrink batches.
   */
  batchesPerWorker: number;
  /** Passed to loadModel in every worker (threads comes from intraOpNumThreads). */
  model: Partial<Omit<ModelOptions, 'threads'>>;
}

export const POOL_DEFAULTS: Readonly<PoolOptions> = Object.freeze({
  workers: DEFAULT_WORKERS,
  intraOpNumThreads: 1,
  batchesPerWorker: 2,
  maxBatchSize: 8,
  maxQueueDelayMs: 0, // batches form while the workers are busy; a lone request does not wait
  maxQueue: 1024,
  timeoutMs: undefined,
  model: Object.freeze({}),
});

export type PoolResult = Omit<ClassifyResult, 'timings'> & { timings: ClassifyResult['timings'] & QueueTimings };

export interface WorkerStats {
  index: number;
  state: 'loading' | 'ready' | 'dead';
  inFlightBatches: number;
  batches: number;
  restarts: number;
}

export interface PoolStats extends SchedulerStats {
  workers: WorkerStats[];
  crashes: number;
  /**
   * Compiled-path cache counters summed over the workers (as last reported with a result), crashed and
   * replaced workers included; null: no cache.
   */
  cache: CacheCounts | null;
}

interface Call {
  resolve(r: ClassifyResult[]): void;
  reject(e: Error): void;
}

interface Slot {
  index: number;
  worker: Worker;
  state: WorkerStats['state'];
  calls: Map<number, Call>;
  batches: number;
  restarts: number;
  lastError?: string;
  /** Set by stop(): the exit that follows is close()'s doing, not a crash. */
  stopping?: boolean;
  /** The worker's cumulative cache counters, as last reported (a replaced worker starts again from 0). */
  cache: CacheCounts | null;
}

const addCounts = (a: CacheCounts | null, b: CacheCounts): CacheCounts => ({
  hits: (a?.hits ?? 0) + b.hits,
  misses: (a?.misses ?? 0) + b.misses,
  compileErrors: (a?.compileErrors ?? 0) + b.compileErrors,
});

export class WorkerPool {
  /** Path records by code, for the results built from the workers' batch outputs. */
  private readonly paths: PathBook;
  readonly ready: Promise<void>;
  private readonly slots: Slot[] = [];
  private readonly scheduler: Scheduler<ClassifyResult>;
  /** Batches waiting for a worker to become ready (at start-up or after a crash). */
  private readonly waiting: { resolve(s: Slot): void; reject(e: Error): void }[] = [];
  private nextId = 1;
  private crashes = 0;
  private lastCrash = '';
  private closing = false;
  /** close()'s one run, shared by every caller (the fatal path's and the owner's). */
  private closed: Promise<void> | undefined;
  /** Cache counters of dead workers, so that the pool's totals never go backwards when one is replaced. */
  private retired: CacheCounts | null = null;
  private fatal: Error | undefined;
  private readyCb!: { resolve(): void; reject(e: Error): void };

  /** Use createPool(). */
  constructor(
    readonly manifest: Manifest,
    private readonly dir: string,
    readonly options: Readonly<PoolOptions>,
  ) {
    this.paths = new PathBook(manifest);
    const m = manifest.input;
    const { maxBatchSize, maxQueueDelayMs, maxQueue, timeoutMs } = options;
    this.scheduler = new Scheduler<ClassifyResult>((batch, dims) => this.execute(batch, dims), [m.channels, m.height, m.width], {
      maxBatchSize,
      maxQueueDelayMs,
      maxQueue,
      timeoutMs,
      concurrency: options.workers * options.batchesPerWorker,
      hasIdleExecutor: () => this.slots.some((s) => s.state === 'ready' && s.calls.size === 0),
    });
    this.ready = new Promise<void>((resolve, reject) => (this.readyCb = { resolve, reject }));
    this.ready.catch(() => {}); // a caller that never awaits ready must not crash the process
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn(i, 0));
  }

  /**
   * Classifies one preprocessed input [C,H,W] (flat); the scheduler batches concurrent calls. The tensor is checked
   * now and copied into its batch when the batch goes out: it must not change until the promise settles (a value
   * made NaN meanwhile would fail the whole batch).
   */
  classify(tensor: Float32Array, opts: { timeoutMs?: number } = {}): Promise<PoolResult> {
    return this.scheduler.submit(tensor, opts) as Promise<PoolResult>;
  }

  /** Nothing queued and nothing running in any worker. */
  get idle(): boolean {
    return this.scheduler.idle;
  }

  stats(): PoolStats {
    return {
      ...this.scheduler.stats(),
      crashes: this.crashes,
      workers: this.slots.map((s) => ({ index: s.index, state: s.state, inFlightBatches: s.calls.size, batches: s.batches, restarts: s.restarts })),
      cache: this.slots.reduce<CacheCounts | null>((t, s) => (s.cache ? addCounts(t, s.cache) : t), this.retired),
    };
  }

  /**
   * Stops accepting, lets admitted requests finish, then ends every worker. Every call returns the same
   * promise: a second run would skip the drain and stop the workers under the first one's requests.
   */
  close(): Promise<void> {
    return (this.closed ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await this.scheduler.close().catch(() => {});
    this.failWaiting(new Error('pool is closed'));
    // Workers still loading are terminated below; without this, ready would never settle (no-op once it has).
    this.readyCb.reject(new Error('pool was closed before its workers had loaded'));
    await Promise.all(this.slots.map((s) => this.stop(s)));
  }

  /** Test only: the worker at `index` dies when its next batch arrives. */
  crashWorkerForTest(index: number, how: 'throw' | 'exit'): void {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`index: no worker ${index}`);
    slot.worker.postMessage({ type: 'crash-on-next-run', how } satisfies ToWorker);
  }

  private spawn(index: number, restarts: number): Slot {
    const init: WorkerInit = { dir: this.dir, model: { ...this.options.model, threads: this.options.intraOpNumThreads } };
    const slot: Slot = { index, worker: spawnWorker(init), state: 'loading', calls: new Map(), batches: 0, restarts, cache: null };
    slot.worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    slot.worker.on('error', (err: Error) => (slot.lastError = err?.message ?? String(err)));
    slot.worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'ready') {
      slot.state = 'ready';
      if (this.slots.every((s) => s.state !== 'loading')) this.readyCb.resolve();
      this.wakeWaiting();
      this.scheduler.wake(); // an idle worker: partial batches held back for one may go now
      return;
    }
    const call = slot.calls.get(msg.id);
    slot.calls.delete(msg.id);
    if (msg.type === 'result') {
      if (msg.cache) slot.cache = msg.cache;
      if (call) {
        try {
          const paths = msg.out.codes.map((c) => this.paths.get(c));
          call.resolve(toResults(msg.out, this.manifest.labels, this.options.model.topk ?? DEFAULT_OPTIONS.topk, paths));
        } catch (err) {
          call.reject(new Error(`worker ${slot.index}: malformed result: ${(err as Error).message}`));
        }
      }
    }
    else call?.reject(new Error(`worker ${slot.index}: ${msg.message}`));
    this.wakeWaiting();
  }

  private onExit(slot: Slot, code: number): void {
    const wasLoading = slot.state === 'loading';
    slot.state = 'dead';
    if (slot.cache) this.retired = addCounts(this.retired, slot.cache);
    slot.cache = null;
    const reason = slot.lastError ?? `exited with code ${code}`;
    const stopped = slot.stopping && !slot.lastError;
    const err = new Error(stopped ? `worker ${slot.index} was stopped (pool closing)` : `worker ${slot.index} crashed: ${reason}`);
    // Its requests fail, during close() too: one that waited forever would hold close() (which drains them) forever.
    for (const call of slot.calls.values()) call.reject(err);
    slot.calls.clear();
    if (stopped) return;
    this.crashes++;
    this.lastCrash = err.message;
    if (this.closing) {
      // Not replaced while closing; batches waiting for a worker fail once none is left to take them.
      if (this.slots.every((s) => s.state === 'dead')) this.failWaiting(new Error(`no live workers (last crash: ${err.message})`));
      return;
    }
    if (wasLoading && slot.restarts === 0) {
      // The bundle itself does not load: retrying would loop. The pool is unusable.
      this.fatal = new Error(`worker ${slot.index} failed to load ${this.dir}: ${reason}`);
      this.readyCb.reject(this.fatal);
      this.failWaiting(this.fatal);
      void this.close();
      return;
    }
    // A replacement that fails to load is not retried (wasLoading): its slot stays dead.
    if (!wasLoading) this.slots[slot.index] = this.spawn(slot.index, slot.restarts + 1);
    if (this.slots.every((s) => s.state === 'dead')) this.failWaiting(new Error(`no live workers (last crash: ${err.message})`));
  }

  private leastBusy(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (s.state === 'ready' && (!best || s.calls.size < best.calls.size)) best = s;
    return best;
  }

  private wakeWaiting(): void {
    while (this.waiting.length > 0) {
      const s = this.leastBusy();
      if (!s) return;
      this.waiting.shift()!.resolve(s);
    }
  }

  private failWaiting(err: Error): void {
    this.waiting.splice(0).forEach((w) => w.reject(err));
  }

  private async execute(batch: Float32Array[], dims: number[]): Promise<ClassifyResult[]> {
    if (this.fatal) throw this.fatal;
    if (this.slots.every((s) => s.state === 'dead')) throw new Error(`no live workers (last crash: ${this.lastCrash})`);
    const slot = this.leastBusy() ?? (await new Promise<Slot>((resolve, reject) => this.waiting.push({ resolve, reject })));
    const per = batch[0].length;
    const data = new Float32Array(batch.length * per);
    batch.forEach((t, i) => data.set(t, i * per));
    const id = this.nextId++;
    slot.batches++;
    return new Promise<ClassifyResult[]>((resolve, reject) => {
      slot.calls.set(id, { resolve, reject });
      // The joined batch is transferred, not copied: the worker owns its buffer from here.
      slot.worker.postMessage({ type: 'run', id, data, dims } satisfies ToWorker, [data.buffer]);
    });
  }

  private async stop(slot: Slot): Promise<void> {
    if (slot.state === 'dead') return;
    slot.stopping = true;
    if (slot.state === 'loading') {
      await slot.worker.terminate(); // nothing in flight; no need to wait for the load
      return;
    }
    const exited = new Promise<void>((r) => slot.worker.once('exit', () => r()));
    slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
    // A worker stuck in native code would never read 'close': terminate after a grace period.
    const timer = setTimeout(() => void slot.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function checkInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`options.${name}: must be a positive integer, got ${v}`);
}

/**
 * Validates the bundle's manifest here, then starts the workers. Resolves at once;
 * `pool.ready` resolves when every worker has loaded and warmed up (requests
 * submitted before then wait in the queue).
 */
export async function createPool(bundleDir: string, options: Partial<PoolOptions> = {}): Promise<WorkerPool> {
  const o: PoolOptions = { ...POOL_DEFAULTS, ...options };
  checkInt('workers', o.workers);
  checkInt('intraOpNumThreads', o.intraOpNumThreads);
  checkInt('batchesPerWorker', o.batchesPerWorker);
  // The checks InstaModel.create makes before its first session, made here so that bad model options
  // reject now, naming the option, instead of every worker failing to load.
  const model: ModelOptions = { ...DEFAULT_OPTIONS, ...o.model, threads: o.intraOpNumThreads };
  checkModelOptions(model);
  const manifest = await loadManifest(bundleDir);
  RoutedTier.plan(manifest, model); // options.routed: the codes must fit this bundle
  return new WorkerPool(manifest, bundleDir, Object.freeze(o));
}
