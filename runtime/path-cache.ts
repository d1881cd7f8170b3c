// Bounded LRU of compiled child paths (tier 2), independent of the engine: it holds
// whatever `build(code)` returns and only needs release(). Requests never wait for a
// compile: a miss is served by tier 1 while paths seen often enough are compiled in
// the background, one at a time, so compiling never competes with itself for cores.

/** Anything the cache can hold; release() is called once, when it leaves the cache. */
export interface Releasable {
  release(): Promise<void>;
}

/** Options of PathCache; every field is optional, defaults in DEFAULT_PATH_CACHE_OPTIONS. */
export interface PathCacheOptions {
  /** Compiled paths kept; the least recently used is evicted and released. Default 32. */
  maxEntries: number;
  /** A path is compiled once it has missed this many times. Default 2 (a one-off path is never compiled). */
  compileAfter: number;
  /** Paths whose miss counts are remembered (oldest forgotten first), bounding memory under many distinct paths. Default 4096. */
  maxTracked: number;
}

export const DEFAULT_PATH_CACHE_OPTIONS: Readonly<PathCacheOptions> = Object.freeze({
  maxEntries: 32,
  compileAfter: 2,
  maxTracked: 4096,
});

export interface PathCacheStats {
  hits: number;
  misses: number;
  /** Successful compiles. */
  compiles: number;
  evictions: number;
  compileErrors: number;
  /** Compiled paths held now. */
  entries: number;
  /** Paths waiting for a background compile. */
  queued: number;
}

interface Entry<S> {
  session: S;
  /** Requests running on it now; an evicted entry is released when this drops to 0. */
  pins: number;
  evicted: boolean;
}

export class PathCache<S extends Releasable> {
  readonly options: Readonly<PathCacheOptions>;
  private readonly entries = new Map<string, Entry<S>>(); // Map order = LRU order, oldest first
  private readonly seen = new Map<string, number>();
  /** Paths whose compile failed: not retried, so a broken module costs one failure, not one per request. */
  private readonly failed = new Set<string>();
  private readonly queue: string[] = [];
  private readonly building = new Map<string, Promise<S>>();
  private pump: Promise<void> | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly counts = { hits: 0, misses: 0, compiles: 0, evictions: 0, compileErrors: 0 };
  /** Last compile error, for logs. */
  lastError: Error | undefined;

  constructor(private readonly build: (code: string) => Promise<S>, options: Partial<PathCacheOptions> = {}) {
    if (typeof build !== 'function') throw new TypeError('build: expected a function (code) => Promise<session>');
    const o = { ...DEFAULT_PATH_CACHE_OPTIONS, ...options };
    for (const k of ['maxEntries', 'compileAfter', 'maxTracked'] as const)
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`options.${k}: must be a positive integer, got ${o[k]}`);
    this.options = Object.freeze(o);
  }

  /** The compiled session of `code`, or undefined (a miss, which may schedule a background compile). */
  get(code: string): S | undefined {
    const e = this.entries.get(code);
    if (e) {
      this.counts.hits++;
      this.entries.delete(code); // re-insert: most recently used
      this.entries.set(code, e);
      return e.session;
    }
    this.counts.misses++;
    this.noteMiss(code);
    return undefined;
  }

  /**
   * Runs `fn` on the compiled session of `code` and returns its result, or returns
   * undefined on a miss (the caller runs tier 1). With `compile` true a miss compiles
   * now and waits (throws if that fails). The session cannot be released while `fn` runs.
   */
  async use<T>(code: string, fn: (session: S) => Promise<T>, compile = false): Promise<T | undefined> {
    if (!this.entries.has(code) && !compile) {
      this.get(code);
      return undefined;
    }
    if (!this.get(code)) await this.compile(code, true);
    const e = this.entries.get(code);
    if (!e) throw new Error(`path ${code}: compiled but evicted before use (maxEntries ${this.options.maxEntries})`);
    e.pins++;
    try {
      return await fn(e.session);
    } finally {
      if (--e.pins === 0 && e.evicted) await e.session.release().catch(() => undefined);
    }
  }

  private noteMiss(code: string): void {
    if (this.closed || this.failed.has(code) || this.building.has(code) || this.queue.includes(code)) return;
    const n = (this.seen.get(code) ?? 0) + 1;
    this.seen.delete(code);
    this.seen.set(code, n);
    if (this.seen.size > this.options.maxTracked) this.seen.delete(this.seen.keys().next().value!);
    if (n < this.options.compileAfter || this.queue.length >= this.options.maxEntries) return;
    this.queue.push(code);
    this.pump ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let code = this.queue.shift(); code !== undefined; code = this.queue.shift()) await this.compile(code, false);
    } finally {
      // Cleared in the same turn as the last queue check, so a path queued later always starts a new drain.
      this.pump = null;
    }
  }

  /** Builds and inserts `code`, one build at a time; concurrent calls for one code share it. */
  private compile(code: string, rethrow: boolean): Promise<S> {
    let p = this.building.get(code);
    if (!p) {
      const run = this.lock.then(async () => {
        const e = this.entries.get(code);
        if (e) return e.session;
        const session = await this.build(code);
        if (this.closed) {
          await session.release();
          throw new Error('path cache: closed');
        }
        this.counts.compiles++;
        this.seen.delete(code);
        this.insert(code, session);
        return session;
      });
      p = run.catch((err: unknown) => {
        this.counts.compileErrors++;
        this.failed.add(code);
        if (this.failed.size > this.options.maxTracked) this.failed.delete(this.failed.values().next().value!);
        this.lastError = err instanceof Error ? err : new Error(String(err));
        throw this.lastError;
      }).finally(() => this.building.delete(code));
      this.lock = p.catch(() => undefined);
      this.building.set(code, p);
    }
    return rethrow ? p : p.catch(() => undefined as unknown as S);
  }

  private insert(code: string, session: S): void {
    this.entries.set(code, { session, pins: 0, evicted: false });
    while (this.entries.size > this.options.maxEntries) {
      const [oldCode, old] = this.entries.entries().next().value!;
      this.entries.delete(oldCode);
      this.counts.evictions++;
      old.evicted = true;
      if (old.pins === 0) void old.session.release().catch(() => undefined);
    }
  }

  /** Resolves once no compile is queued or running (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    while (this.pump || this.building.size) await Promise.allSettled([this.pump, ...this.building.values()]);
  }

  stats(): PathCacheStats {
    return { ...this.counts, entries: this.entries.size, queued: this.queue.length };
  }

  /** Stops compiling, waits for a running compile, and releases every session (pinned ones when their request ends). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.idle();
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map((e) => {
        e.evicted = true;
        return e.pins === 0 ? e.session.release() : undefined;
      }),
    );
  }
}
