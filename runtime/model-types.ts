// The public types of InstaModel (runtime/model.ts): options with their defaults, results and timings.
// Kept apart so that callers and back ends (the pool, the server, the browser) can import them alone.
import type { Engine } from './engine.js';
import type { Manifest } from './manifest-types.js';
import type { Path } from './path.js';
import { checkPathCacheOptions, type PathCacheOptions } from './path-cache.js';

/** 'modules': tier 1 only; 'auto': frequent paths compiled in the background; 'compiled': compile on first use and wait. */
export type TierMode = 'modules' | 'compiled' | 'auto';
/**
 * Which tier produced a result: module by module, one compiled graph of the path, or the routed graph
 * that runs a mixed-path batch in one session run (runtime/routed.ts).
 */
export type Tier = 'modules' | 'compiled' | 'routed';

/** Options of InstaModel; every field is optional, defaults in DEFAULT_OPTIONS. */
export interface ModelOptions {
  /** Intra-op threads per ONNX session. Default 1 (latency tables assume 1). */
  threads: number;
  /** Warm-up passes over every session at load time; 0 disables. Default 1. */
  warmup: number;
  /** Number of entries in each result's topk list (capped at the label count). Default 5. */
  topk: number;
  /** Overrides manifest.controller.threshold; undefined = use the manifest. */
  threshold: number | undefined;
  /** Execution tier (see TierMode). Default 'auto'. */
  tier: TierMode;
  /** Compiled-path cache options (maxEntries, compileAfter); unused with tier 'modules'. Default {}. */
  cache: Partial<PathCacheOptions>;
  /**
   * With tier 'auto' or 'compiled': how many of the bundle's hot paths (manifest.hotPaths, most
   * frequent first) to compile at load, before the model reports ready; 0 disables. Default 32: every hot path the
   * exporter writes (at most 32, the default cache size). With 16, session 6's 37-path default bundle met a path outside
   * them in ~2% of images, and in the browser (one thread) that compile landed on a request.
   */
  precompile: number;
  /**
   * The routed graph (tier 3, runtime/routed.ts) for batches whose rows took different paths: 'hot' covers
   * the bundle's hot paths with a share of at least ROUTED_MIN_SHARE; a list covers those path codes; 'off'
   * groups every batch by path. Unused with tier 'modules' and for static bundles. Default 'hot'.
   */
  routed: 'hot' | 'off' | readonly string[];
  /**
   * Where the controller runs: 'auto' evaluates a controller of at most SMALL_GRAPH_MACS multiply-adds made of
   * the ops runtime/small-graph.ts understands in JS for batches of up to SMALL_GRAPH_BATCH rows (a session run
   * costs more than such a graph's compute), once a check at load found it equal to its session within 1e-5;
   * 'session' always runs the controller's onnxruntime session. Default 'auto'.
   */
  controller: 'auto' | 'session';
}

/** The largest controller (multiply-adds per image) that 'auto' evaluates in JS: a linear layer on a 7x7 image is 4k. */
export const SMALL_GRAPH_MACS = 20_000;
/** Batches up to this size use the JS controller; from there onnxruntime's run cost is shared and its kernels win. */
export const SMALL_GRAPH_BATCH = 2;

/**
 * Hot paths rarer than this (share of validation images) stay out of the routed graph: each routed option
 * costs every batch a few nodes even when no row takes it, and a path seen in one image in a thousand
 * saves less than that. Its rows take tier 1 or 2.
 */
export const ROUTED_MIN_SHARE = 0.001;

export const DEFAULT_OPTIONS: Readonly<ModelOptions> = Object.freeze({
  threads: 1,
  warmup: 1,
  topk: 5,
  threshold: undefined,
  tier: 'auto',
  cache: Object.freeze({}),
  precompile: 32,
  routed: 'hot',
  controller: 'auto',
});

/** Throws RangeError naming the option for a value outside its domain (see ModelOptions). */
export function checkModelOptions(opts: ModelOptions): void {
  if (!Number.isInteger(opts.threads) || opts.threads < 1)
    throw new RangeError(`options.threads: must be a positive integer, got ${opts.threads}`);
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0)
    throw new RangeError(`options.warmup: must be a non-negative integer, got ${opts.warmup}`);
  if (!Number.isInteger(opts.topk) || opts.topk < 1) throw new RangeError(`options.topk: must be a positive integer, got ${opts.topk}`);
  if (opts.threshold !== undefined && !(opts.threshold >= 0 && opts.threshold <= 1))
    throw new RangeError(`options.threshold: must be in [0,1], got ${opts.threshold}`);
  if (!Number.isInteger(opts.precompile) || opts.precompile < 0)
    throw new RangeError(`options.precompile: must be a non-negative integer, got ${opts.precompile}`);
  if (!['modules', 'compiled', 'auto'].includes(opts.tier))
    throw new RangeError(`options.tier: must be 'modules', 'compiled' or 'auto', got ${JSON.stringify(opts.tier)}`);
  if (opts.routed !== 'hot' && opts.routed !== 'off' && !(Array.isArray(opts.routed) && opts.routed.every((c) => typeof c === 'string')))
    throw new RangeError(`options.routed: must be 'hot', 'off' or an array of path codes, got ${JSON.stringify(opts.routed)}`);
  if (opts.controller !== 'auto' && opts.controller !== 'session')
    throw new RangeError(`options.controller: must be 'auto' or 'session', got ${JSON.stringify(opts.controller)}`);
  if (opts.tier !== 'modules') checkPathCacheOptions(opts.cache, 'options.cache'); // the cache exists only then
}

/** What the model needs from a bundle, independent of where it lives. */
export interface BundleSource {
  manifest: Manifest;
  /** Reads a file of the bundle (ONNX modules) by its manifest name. */
  readFile(name: string): Promise<Uint8Array>;
  engine: Engine;
}

export interface Prediction {
  label: string;
  index: number;
  /** Softmax of the logits. */
  probability: number;
}

/**
 * Milliseconds (performance.now()). For a batch, controllerMs/childMs/totalMs
 * cover the whole classify() call and are shared by all its results.
 */
export interface Timings {
  /** Set by callers that decoded and preprocessed an image. */
  preprocessMs?: number;
  controllerMs: number;
  childMs: number;
  totalMs: number;
}

export interface ClassifyResult extends Prediction {
  topk: Prediction[];
  logits: number[];
  path: Path;
  /** Controller MACs for one input; 0 for static bundles and forced paths. */
  controllerMacs: number;
  /** One probability per (cell, option), row-major by cell; null when no controller ran. */
  controllerProbs: number[] | null;
  /** The tier that ran this input's child network. */
  tier: Tier;
  timings: Timings;
}

export interface ClassifyOptions {
  /** Runs this path for every input instead of asking the controller (code or cells). */
  path?: string | number[][];
}
