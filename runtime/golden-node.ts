// Golden parity check: replays the exporter's golden.json (torch inputs, logits,
// paths) through the runtime. Used by `instanas verify`; node-only (reads files).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { InstaModel } from './model.js';

export interface Golden {
  inputShape: number[];
  inputs: number[][];
  /** Absent for static bundles. */
  controllerProbs?: number[][];
  paths: { code: string; cells: number[][] }[];
  logits: number[][];
  labels: number[];
}

export interface VerifyOptions {
  /** Largest allowed |logit - torch logit| (and |probability difference|). Default 1e-4. */
  tolerance: number;
}

export const DEFAULT_VERIFY_OPTIONS: Readonly<VerifyOptions> = Object.freeze({ tolerance: 1e-4 });

export interface PathMismatch {
  index: number;
  expected: string;
  got: string;
  /** 'single' = run alone at batch 1, 'batch' = run with all inputs in one batch. */
  mode: 'single' | 'batch';
}

export interface VerifyReport {
  count: number;
  tolerance: number;
  /** Max |logit diff| over every input, at batch 1 and as one batch. */
  maxLogitDiff: number;
  /** Max |controller probability diff|; null when golden has none (static). */
  maxProbDiff: number | null;
  pathMismatches: PathMismatch[];
  /** Inputs whose argmax differs from torch's. */
  labelMismatches: number[];
  ok: boolean;
}

const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** Reads and checks golden.json; errors name the file and the field. */
export function readGolden(file: string): Golden {
  let g: Record<string, unknown>;
  try {
    g = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: cannot read golden file (${(err as Error).message.split('\n')[0]})`);
  }
  const fail = (field: string, why: string): never => {
    throw new Error(`${file}: ${field}: ${why}`);
  };
  if (g === null || typeof g !== 'object') fail('/', 'must be an object');
  if (!isNumArray(g.inputShape) || g.inputShape.length < 2) fail('inputShape', 'must be an array of at least 2 numbers');
  const n = (g.inputShape as number[])[0];
  const size = (g.inputShape as number[]).slice(1).reduce((a, b) => a * b, 1);
  for (const key of ['inputs', 'logits'] as const) {
    const v = g[key];
    if (!Array.isArray(v) || v.length !== n || !v.every(isNumArray)) fail(key, `must be ${n} arrays of numbers (inputShape[0])`);
  }
  if ((g.inputs as number[][]).some((row) => row.length !== size)) fail('inputs', `every row must have ${size} values (inputShape)`);
  if (g.controllerProbs !== undefined && (!Array.isArray(g.controllerProbs) || g.controllerProbs.length !== n || !g.controllerProbs.every(isNumArray)))
    fail('controllerProbs', `must be ${n} arrays of numbers`);
  if (!Array.isArray(g.paths) || g.paths.length !== n || !g.paths.every((p) => typeof p?.code === 'string'))
    fail('paths', `must be ${n} objects with a string code`);
  if (!isNumArray(g.labels) || g.labels.length !== n) fail('labels', `must be ${n} numbers`);
  return g as unknown as Golden;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Runs every golden input alone and then all as one batch, comparing with torch. */
export async function verifyGolden(model: InstaModel, golden: Golden, options: Partial<VerifyOptions> = {}): Promise<VerifyReport> {
  const { tolerance } = { ...DEFAULT_VERIFY_OPTIONS, ...options };
  if (typeof tolerance !== 'number' || !(tolerance >= 0)) throw new RangeError(`options.tolerance: must be a non-negative number, got ${tolerance}`);
  const n = golden.inputs.length;
  const per = golden.inputShape.slice(1);
  let maxLogitDiff = 0;
  let maxProbDiff: number | null = golden.controllerProbs ? 0 : null;
  const pathMismatches: PathMismatch[] = [];
  const labelMismatches: number[] = [];
  for (let i = 0; i < n; i++) {
    const [r] = await model.classify(Float32Array.from(golden.inputs[i]), [1, ...per]);
    if (r.path.code !== golden.paths[i].code) pathMismatches.push({ index: i, expected: golden.paths[i].code, got: r.path.code, mode: 'single' });
    maxLogitDiff = Math.max(maxLogitDiff, maxAbsDiff(r.logits, golden.logits[i]));
    if (golden.controllerProbs && maxProbDiff !== null)
      maxProbDiff = Math.max(maxProbDiff, r.controllerProbs ? maxAbsDiff(r.controllerProbs, golden.controllerProbs[i]) : Infinity);
    if (r.index !== golden.labels[i]) labelMismatches.push(i);
  }
  if (n > 0) {
    // Batched inputs are grouped by path inside the model: a different code path worth checking.
    const batch = await model.classify(Float32Array.from(golden.inputs.flat()), [n, ...per]);
    batch.forEach((r, i) => {
      if (r.path.code !== golden.paths[i].code) pathMismatches.push({ index: i, expected: golden.paths[i].code, got: r.path.code, mode: 'batch' });
      maxLogitDiff = Math.max(maxLogitDiff, maxAbsDiff(r.logits, golden.logits[i]));
    });
  }
  const ok = n > 0 && maxLogitDiff <= tolerance && (maxProbDiff === null || maxProbDiff <= tolerance) && pathMismatches.length === 0;
  return { count: n, tolerance, maxLogitDiff, maxProbDiff, pathMismatches, labelMismatches, ok };
}

/** The golden file of a bundle folder, or null when its manifest names none. */
export function goldenPath(bundleDir: string, golden: string | undefined): string | null {
  return golden === undefined ? null : path.join(path.resolve(bundleDir), golden);
}
