// Bounded cache of compiled child paths (tier 2), independent of the engine: it holds
// whatever `build(code)` returns and only needs release(). Requests never wait for a
// compile: a miss is served by tier 1 while paths seen often enough are compiled in
// the background, one at a time, so compiling never competes with itself for cores.
//
// Admission and eviction go by frequency, not recency (a small TinyLFU): every request
// counts for its path, counts are halved every `agingPeriod` requests so that old
// popularity fades, the victim is the least frequent entry (least recent among equals),
// and a full cache admits a path only when it is more frequent than that victim. An
// LRU that compiled every path seen twice thrashed on a model using hundreds of paths
// (453 compiles, 421 evictions in 1000 requests); with frequency admission the hot
// paths stay and the long tail runs module by module without compiling.

/** Anything the cache can hold; release() is called once, when it leaves the cache. */
export interface Releasable {
  release(): Promise<void>;
}

/** Options of PathCache; every field is optional, defaults in DEFAULT_PATH_CACHE_OPTIONS. */
export interface PathCacheOptions {
  /** Compiled paths kept; the least frequent is evicted and released. Default 32. */
  maxEntries: number;
  /** A path is compiled once it has been requested this many times (aged count). Default 2 (a one-off path is never compiled). */
  compileAfter: number;
  /** Paths whose counts are remembered (least recently seen forgotten first), bounding memory under many distinct paths. Default 4096. */
  maxTracked: number;
  /** Every this many requests all counts are halved, so a path that was popular long ago can be displaced. Default 1024. */
  agingPeriod: number;
}

export const DEFAULT_PATH_CACHE_OPTIONS: Readonly<PathCacheOptions> = Object.freeze({
  maxEntries: 32,
  compileAfter: 2,
  maxTracked: 4096,
  agingPeriod: 1024,
});

/** Throws RangeError naming the option (`${prefix}.maxEntries`, ...) for a value outside its domain (see PathCacheOptions). */
export function checkPathCacheOptions(options: Partial<PathCacheOptions>, prefix = 'options'): void {
  const o = { ...DEFAULT_PATH_CACHE_OPTIONS, ...options };
  for (const k of ['maxEntries', 'compileAfter', 'maxTracked', 'agingPeriod'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${prefix}.${k}: must be a positive integer, got ${o[k]}`);
}

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
  /** Misses not compiled because the path was rarer than the coldest cached one. */
  rejected: number;
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
  /** Aged request counts per path (cached or not); Map order = least recently seen first. */
  private readonly freq = new Map<string, number>();
  private sinceAging = 0;
  /** Paths whose compile failed: not retried, so a broken module costs one failure, not one per request. */
  private readonly failed = new Set<string>();
  private readonly queue: string[] = [];
  private readonly building = new Map<string, Promise<S>>();
  private pump: Promise<void> | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly counts = { hits: 0, misses: 0, compiles: 0, evictions: 0, compileErrors: 0, rejected: 0 };
  /** Last compile error, for logs. */
  lastError: Error | undefined;

  constructor(private readonly build: (code: string) => Promise<S>, options: Partial<PathCacheOptions> = {}) {
    if (typeof build !== 'function') throw new TypeError('build: expected a function (code) => Promise<session>');
    checkPathCacheOptions(options);
    this.options = Object.freeze({ ...DEFAULT_PATH_CACHE_OPTIONS, ...options });
  }

  /** The compiled session of `code`, or undefined (a miss, which may schedule a background compile). */
  get(code: string): S | undefined {
    this.count(code);
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
   * now and waits (throws if that fails); a path whose compile already failed is not
   * compiled again, it returns undefined. The session cannot be released while `fn` runs.
   */
  async use<T>(code: string, fn: (session: S) => Promise<T>, compile = false): Promise<T | undefined> {
    if (!this.entries.has(code) && !compile) {
      this.get(code);
      return undefined;
    }
    if (!this.get(code)) {
      // Recompiling would fail again, after the full compile time, on every request for the path.
      if (this.failed.has(code)) return undefined;
      await this.compile(code, true);
    }
    const e = this.entries.get(code);
    if (!e) throw new Error(`path ${code}: compiled but evicted before use (maxEntries ${this.options.maxEntries})`);
    e.pins++;
    try {
      return await fn(e.session);
    } finally {
      if (--e.pins === 0 && e.evicted) await e.session.release().catch(() => undefined);
    }
  }

  /**
   * Counts a request for `code` that another tier served (the routed graph), so that paths served there keep
   * their frequency: otherwise aging would make them the coldest entries, evicted by rarer paths, and
   * batch-1 requests on them would fall to tier 1. No hit or miss is counted and nothing is compiled.
   */
  touch(code: string): void {
    this.count(code);
    const e = this.entries.get(code);
    if (e) {
      this.entries.delete(code); // re-insert: most recently used
      this.entries.set(code, e);
    }
  }

  /** The compiled session of `code` without counting a request (warm-up); undefined when not cached. */
  peek(code: string): S | undefined {
    return this.entries.get(code)?.session;
  }

  /**
   * Compiles `code` now (load time: a bundle's hot paths) and gives it the count that
   * `share` of the traffic would have earned over one aging period, so that it is not
   * displaced by the first rare path. A failed compile is recorded, not thrown.
   */
  async preload(code: string, share: number): Promise<boolean> {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`share: must be in [0,1], got ${share}`);
    const seeded = Math.max(this.options.compileAfter, Math.round(share * this.options.agingPeriod));
    this.freq.set(code, Math.max(this.freq.get(code) ?? 0, seeded));
    if (this.entries.has(code)) return true;
    if (this.entries.size >= this.options.maxEntries) return false; // never evict one hot path for another at load
    return (await this.compile(code, false)) !== undefined;
  }

  private count(code: string): void {
    const n = (this.freq.get(code) ?? 0) + 1;
    this.freq.delete(code); // re-insert: most recently seen
    this.freq.set(code, n);
    if (this.freq.size > this.options.maxTracked) {
      // Forget the least recently seen path that is not cached (cached paths keep their counts).
      for (const k of this.freq.keys())
        if (!this.entries.has(k)) {
          this.freq.delete(k);
          break;
        }
    }
    if (++this.sinceAging >= this.options.agingPeriod) {
      this.sinceAging = 0;
      for (const [k, v] of this.freq) {
        if (v <= 1 && !this.entries.has(k)) this.freq.delete(k);
        else this.freq.set(k, v >> 1);
      }
    }
  }

  /** The entry a full cache would evict: least frequent, least recent among equals. */
  private victim(): [string, number] | undefined {
    let best: [string, number] | undefined;
    for (const code of this.entries.keys()) {
      const f = this.freq.get(code) ?? 0;
      if (!best || f < best[1]) best = [code, f];
    }
    return best;
  }

  /** Whether `code` deserves a compile now: frequent enough, and more frequent than what it would evict. */
  private admits(code: string): boolean {
    const n = this.freq.get(code) ?? 0;
    if (n < this.options.compileAfter) return false;
    if (this.entries.size < this.options.maxEntries) return true;
    return n > (this.victim()?.[1] ?? 0);
  }

  private noteMiss(code: string): void {
    if (this.closed || this.failed.has(code) || this.building.has(code) || this.queue.includes(code)) return;
    if ((this.freq.get(code) ?? 0) < this.options.compileAfter) return;
    if (!this.admits(code)) {
      this.counts.rejected++;
      return;
    }
    if (this.queue.length >= this.options.maxEntries) return;
    this.queue.push(code);
    this.pump ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let code = this.queue.shift(); code !== undefined; code = this.queue.shift()) {
        // Counts move while a candidate waits: check again before spending a compile on it.
        if (this.entries.has(code) || !this.admits(code)) continue;
        await this.compile(code, false);
      }
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
    while (this.entries.size >= this.options.maxEntries) {
      const [oldCode] = this.victim()!;
      const old = this.entries.get(oldCode)!;
      this.entries.delete(oldCode);
      this.counts.evictions++;
      old.evicted = true;
      if (old.pins === 0) void old.session.release().catch(() => undefined);
    }
    this.entries.set(code, { session, pins: 0, evicted: false });
  }

  /** True while a compile is queued or running. */
  get busy(): boolean {
    return this.pump !== null || this.building.size > 0;
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
