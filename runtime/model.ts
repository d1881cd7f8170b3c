// InstaModel: runs a bundle. The controller scores the whole batch; then each input runs only its own path,
// on one of three tiers: rows whose paths the routed graph covers run together in it (tier 3, routed-tier.ts),
// a path compiled into one graph runs as one session (tier 2, compile.ts and path-cache.ts), and any other path
// runs module by module (tier 1, modules-tier.ts). All tiers give the same logits (tests: 1e-5).
// Environment-neutral: file access and the engine are injected (see model-node.ts).
import type { Session, Tensor } from './engine.js';
import type { Manifest } from './manifest-types.js';
import { cellRules, decodeCode, makePath, selectCells, staticCells, type CellRule, type Path } from './path.js';
import { gather, ModuleTier, runModule, zeros } from './modules-tier.js';
import { pathBuilder } from './compile.js';
import { PathCache, type PathCacheStats } from './path-cache.js';
import { RoutedTier } from './routed-tier.js';
import {
  checkModelOptions,
  DEFAULT_OPTIONS,
  type BundleSource,
  type ClassifyOptions,
  type ClassifyResult,
  type ModelOptions,
  type Tier,
  type Timings,
} from './model-types.js';
import { toResults, type BatchOutput } from './results.js';

export * from './model-types.js';

const now = (): number => performance.now();

/** One macrotask turn: setImmediate in node (I/O callbacks run first), setTimeout elsewhere. */
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => ((globalThis as { setImmediate?: (f: () => void) => void }).setImmediate ?? setTimeout)(resolve));

export class InstaModel {
  readonly options: Readonly<ModelOptions>;
  private readonly rules: CellRule[];
  private readonly optionCounts: number[];
  private readonly threshold: number;
  private readonly forced = new Map<string, Path>();
  /** [channels, height, width] of one input. */
  readonly inputDims: readonly [number, number, number];

  private constructor(
    readonly manifest: Manifest,
    readonly engineName: string,
    private readonly modules: ModuleTier,
    options: ModelOptions,
    private readonly cache: PathCache<Session> | null,
    private readonly routed: RoutedTier | null,
  ) {
    this.options = Object.freeze(options);
    this.rules = cellRules(manifest);
    this.optionCounts = manifest.graph.cells.map((c) => c.options.length);
    this.threshold = options.threshold ?? manifest.controller?.threshold ?? 0.5;
    this.inputDims = [manifest.input.channels, manifest.input.height, manifest.input.width];
  }

  /** Creates every session once (shared ONNX files are loaded once) and warms them up. */
  static async create(src: BundleSource, options: Partial<ModelOptions> = {}): Promise<InstaModel> {
    const opts: ModelOptions = { ...DEFAULT_OPTIONS, ...options };
    checkModelOptions(opts);
    const routedPlan = RoutedTier.plan(src.manifest, opts); // before any session: bad codes fail fast
    const m = src.manifest;
    const modules = await ModuleTier.create(src, opts.threads, opts.controller);
    const cache = opts.tier === 'modules' ? null : new PathCache(pathBuilder(src, { intraOpNumThreads: opts.threads }), opts.cache);
    const model = new InstaModel(m, src.engine.name, modules, opts, cache, routedPlan && (await RoutedTier.create(src, opts, routedPlan)));
    // Hot paths first, so the first requests already find them compiled (no compile on the request path).
    for (const hp of cache ? (m.hotPaths ?? []).slice(0, opts.precompile) : []) await cache!.preload(hp.code, hp.share);
    for (let i = 0; i < opts.warmup; i++) await model.warmup();
    return model;
  }

  /** One batch-1 run of every session on zeros, so the first request is not slow. */
  private async warmup(): Promise<void> {
    await this.modules.warmup();
    const g = this.manifest.graph;
    for (const hp of this.manifest.hotPaths ?? []) {
      const s = this.cache?.peek(hp.code);
      if (s) await runModule(s, zeros(g.stem.inputShape));
    }
    await this.routed?.warmup(g.stem.inputShape, this.optionCounts);
  }

  /**
   * Where the controller runs: 'js' (a small graph evaluated in JS for batches of up to SMALL_GRAPH_BATCH rows,
   * its session beyond: options.controller 'auto'), 'session', or null for a static bundle.
   */
  get controllerRuns(): 'js' | 'session' | null {
    return this.modules.controllerRuns;
  }

  /** Throws TypeError/RangeError naming `tensor` or `dims` when they do not fit the input spec. */
  private checkInput(tensor: unknown, dims: unknown): asserts tensor is Float32Array {
    if (!(tensor instanceof Float32Array))
      throw new TypeError(`tensor: expected a Float32Array, got ${tensor === null ? 'null' : (tensor as object)?.constructor?.name ?? typeof tensor}`);
    if (!Array.isArray(dims) || dims.length !== 4 || !dims.every((d) => Number.isInteger(d) && d >= 0))
      throw new RangeError(`dims: expected [N,${this.inputDims.join(',')}], got ${JSON.stringify(dims)}`);
    if (dims[0] === 0 || tensor.length === 0) throw new RangeError('tensor: is empty (batch size 0)');
    if (dims[1] !== this.inputDims[0] || dims[2] !== this.inputDims[1] || dims[3] !== this.inputDims[2])
      throw new RangeError(`dims: expected [N,${this.inputDims.join(',')}], got [${dims.join(',')}]`);
    const expected = dims.reduce((a: number, b: number) => a * b, 1);
    if (tensor.length !== expected)
      throw new RangeError(`tensor: length ${tensor.length} does not match dims [${dims.join(',')}] (${expected})`);
    for (let i = 0; i < tensor.length; i++) {
      if (!Number.isFinite(tensor[i])) throw new RangeError(`tensor: element ${i} is ${tensor[i]} (must be finite)`);
    }
  }

  /** A forced path, validated once per code string (benchmarks and clients repeat the same few codes). */
  private forcedPath(path: string | number[][]): Path {
    if (typeof path !== 'string') return this.resolveForced(path);
    let p = this.forced.get(path);
    if (!p) {
      p = this.resolveForced(path);
      if (this.forced.size >= 1024) this.forced.clear(); // bounded: codes come from callers
      this.forced.set(path, p);
    }
    return p;
  }

  /** Resolves a forced path (code or cells) into the path it executes, validating it. */
  private resolveForced(path: string | number[][]): Path {
    const cells = typeof path === 'string' ? decodeCode(path, this.optionCounts) : this.checkForcedCells(path);
    cells.forEach((opts, ci) => {
      if (opts.length === 0 && !this.rules[ci]?.identityWhenEmpty)
        throw new RangeError(`path: cell ${ci} changes shape and cannot be empty`);
    });
    return makePath(this.manifest, cells.map((o) => [...o].sort((a, b) => a - b)));
  }

  /** Throws TypeError/RangeError naming `path` unless it holds, per cell, distinct option indices of that cell. */
  private checkForcedCells(path: unknown): number[][] {
    if (!Array.isArray(path) || !path.every((c) => Array.isArray(c) && c.every((o) => typeof o === 'number')))
      throw new TypeError(
        `path: expected a path code (string) or an array of option indices per cell, got ${Array.isArray(path) ? `an array of ${path.length}` : path === null ? 'null' : typeof path}`,
      );
    const cells = path as number[][];
    if (cells.length !== this.optionCounts.length) throw new RangeError(`path: expected ${this.optionCounts.length} cells, got ${cells.length}`);
    cells.forEach((opts, ci) => {
      const n = this.optionCounts[ci];
      opts.forEach((o, k) => {
        if (!Number.isInteger(o) || o < 0 || o >= n) throw new RangeError(`path: cell ${ci} has no option ${o} (it has ${n})`);
        // A repeated option would run twice on tier 1 (outputs summed, MACs counted twice) but once on tiers 2
        // and 3, whose path codes are bitmasks: refused rather than giving two answers for one path.
        if (opts.indexOf(o) !== k) throw new RangeError(`path: cell ${ci} repeats option ${o}`);
      });
    });
    return cells;
  }

  /**
   * Controller step only: per input, the controller probabilities and the path.
   * Static bundles return every cell's default option and null probabilities.
   */
  async route(tensor: Float32Array, dims: readonly number[]): Promise<{ probs: number[][] | null; paths: Path[]; controllerMs: number }> {
    this.checkInput(tensor, dims);
    const { probs, paths, controllerMs } = await this.routeChecked({ data: tensor, dims });
    const w = probs ? probs.length / paths.length : 0;
    return { probs: probs ? paths.map((_, i) => Array.from(probs.subarray(i * w, (i + 1) * w))) : null, paths, controllerMs };
  }

  /** probs: the controller's output [n, Σ options], row-major, in a buffer of its own (null without a controller). */
  private async routeChecked(x: Tensor): Promise<{ probs: Float32Array | null; paths: Path[]; controllerMs: number }> {
    const n = x.dims[0];
    const controller = this.modules.controller;
    if (!controller) {
      const cells = staticCells(this.rules);
      return { probs: null, paths: Array.from({ length: n }, () => makePath(this.manifest, cells.map((c) => [...c]))), controllerMs: 0 };
    }
    const t0 = now();
    const y = await runModule(controller, x);
    const controllerMs = now() - t0;
    const total = this.optionCounts.reduce((a, b) => a + b, 0);
    if (y.dims.length !== 2 || y.dims[0] !== n || y.dims[1] !== total)
      throw new Error(`controller output has dims [${y.dims.join(',')}], expected [${n},${total}]`);
    const paths: Path[] = [];
    for (let i = 0; i < n; i++) paths.push(makePath(this.manifest, selectCells(y.data.subarray(i * total, (i + 1) * total), this.rules, this.threshold)));
    // A copy: the engine's output buffer may be shared, and this one can be transferred to another thread.
    return { probs: y.data.slice(0, n * total), paths, controllerMs };
  }

  /**
   * Classifies a batch of preprocessed inputs, tensor [N,C,H,W] flat with dims.
   * Returns one result per input, in order.
   */
  async classify(tensor: Float32Array, dims: readonly number[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const { out, paths } = await this.run(tensor, dims, opts);
    return toResults(out, this.manifest.labels, this.options.topk, paths);
  }

  /**
   * classify() without building the result objects: logits and probabilities as typed arrays, paths as codes
   * (what a worker thread sends back; runtime/results.ts turns it into results).
   */
  async classifyBatch(tensor: Float32Array, dims: readonly number[], opts: ClassifyOptions = {}): Promise<BatchOutput> {
    return (await this.run(tensor, dims, opts)).out;
  }

  private async run(tensor: Float32Array, dims: readonly number[], opts: ClassifyOptions): Promise<{ out: BatchOutput; paths: Path[] }> {
    const t0 = now();
    this.checkInput(tensor, dims);
    const x: Tensor = { data: tensor, dims };
    const n = dims[0];
    let probs: Float32Array | null = null;
    let paths: Path[];
    let controllerMs = 0;
    if (opts.path !== undefined) {
      const path = this.forcedPath(opts.path);
      paths = Array.from({ length: n }, () => path);
    } else {
      ({ probs, paths, controllerMs } = await this.routeChecked(x));
    }

    const t1 = now();
    // The stem is on every path: tier 1 runs it once on the whole batch, then splits by path.
    let stemOut: Tensor | undefined;
    const groups = new Map<string, number[]>();
    paths.forEach((p, i) => {
      const g = groups.get(p.code);
      if (g) g.push(i);
      else groups.set(p.code, [i]);
    });
    const labels = this.manifest.labels;
    const nl = labels.length;
    const logits = new Float32Array(n * nl);
    const tiers: Tier[] = new Array(n);
    // Tier 3: two or more covered paths in this batch run together in the routed graph, one session run.
    if (this.routed && groups.size > 1) {
      const rows: number[] = [];
      let coveredPaths = 0;
      for (const [code, g] of groups)
        if (this.routed.covers(paths[g[0]])) {
          rows.push(...g);
          groups.delete(code);
          coveredPaths++;
        }
      if (coveredPaths === 1) groups.set(paths[rows[0]].code, rows); // one path: its own graph does less
      else if (rows.length > 0) {
        rows.sort((a, b) => a - b);
        const y = await this.routed.run(gather(x, rows), rows.map((r) => paths[r]));
        for (const r of rows) this.cache?.touch(paths[r].code);
        rows.forEach((r, i) => {
          logits.set(y.data.subarray(i * nl, (i + 1) * nl), r * nl);
          tiers[r] = 'routed';
        });
      }
    }
    for (const [code, rows] of groups) {
      // Tier 2 when the path is compiled (or, with tier 'compiled', compile it now), else tier 1.
      let y = await this.cache?.use(code, (s) => runModule(s, gather(x, rows)), this.options.tier === 'compiled');
      rows.forEach((r) => (tiers[r] = y ? 'compiled' : 'modules'));
      if (!y) {
        stemOut ??= await runModule(this.modules.stem, x);
        y = await this.modules.runCellsAndHead(gather(stemOut, rows), paths[rows[0]].cells);
      }
      if (y.dims.length !== 2 || y.dims[0] !== rows.length || y.dims[1] !== labels.length)
        throw new Error(`head output has dims [${y.dims.join(',')}], expected [${rows.length},${labels.length}]`);
      rows.forEach((r, i) => logits.set(y.data.subarray(i * nl, (i + 1) * nl), r * nl));
    }
    const childMs = now() - t1;
    const timings: Timings = { controllerMs, childMs, totalMs: now() - t0 };
    // Session runs complete without an event-loop turn (engine-node's direct mode), so a caller that
    // awaits classify() in a tight loop would starve a background compile waiting on file I/O; give the
    // loop one turn per call while a compile is pending (after the timings: the caller's wait, not ours).
    if (this.cache?.busy) await yieldToEventLoop();

    const controllerMacs = probs ? (this.manifest.controller?.macs ?? 0) : 0;
    return { out: { logits, probs, codes: paths.map((p) => p.code), tiers, controllerMacs, timings }, paths };
  }

  /** Compiled-path cache counters; null with tier 'modules'. */
  cacheStats(): PathCacheStats | null {
    return this.cache?.stats() ?? null;
  }

  /** Resolves when no background compile is queued or running. */
  cacheIdle(): Promise<void> {
    return this.cache?.idle() ?? Promise.resolve();
  }

  /** Releases every ONNX session. */
  async release(): Promise<void> {
    await this.cache?.close();
    await this.routed?.release();
    await this.modules.release();
  }
}
