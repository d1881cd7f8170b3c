// instanas profile --model <bundle> [--threads 1] [--batch 1] [--runs 200] [--warmup 20] [--out file] [--write]
// Per-module latency table (onnxruntime-node) for the search's latency-aware reward. At batch 1 an entry is the
// latency of one run; at batch N it is one run's latency / N, the cost per image when the server batches N inputs
// (fixed per-run costs, which dominate at batch 1 on small inputs, are then shared by N images).
import { cpus } from 'node:os';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNodeEngine } from '../../runtime/engine-node.js';
import type { Engine, Session, Tensor } from '../../runtime/engine.js';
import { modulesOf, validateManifest } from '../../runtime/manifest.js';
import { loadManifest, loadSchema } from '../../runtime/manifest-node.js';
import type { Manifest, Shape } from '../../runtime/manifest-types.js';
import { decodeModel, encodeModel } from '../../runtime/onnx/proto.js';
import { median, percentile } from '../../runtime/stats.js';
import { flagNumber, positiveInt, UsageError, type Command } from '../command.js';
import { fixed, formatTable, si } from '../table.js';

export interface ProfileOptions {
  threads: number;
  /** Timed runs per module. Default 200. */
  runs: number;
  /** Untimed rounds over every module first. Default 20. */
  warmup: number;
  /** Inputs per run; entries are per image (a run's median / batch). Default 1. */
  batch: number;
}

export const DEFAULT_PROFILE_OPTIONS: Readonly<ProfileOptions> = Object.freeze({ threads: 1, runs: 200, warmup: 20, batch: 1 });

export interface LatencyTable {
  unit: 'ms';
  method: string;
  device: string;
  measuredAt: string;
  /** Median ms per module id (per image: divided by the batch), plus 'controller' for instanas bundles. */
  table: Record<string, number>;
  /**
   * Median ms of one run of a graph that does nothing (Identity on the image): the fixed cost of a session run that
   * every entry above includes once, and that a compiled path pays once for all its modules (per image, like the
   * entries, when measured at a batch above 1). Always set by profileBundle; optional for tables made elsewhere.
   */
  overheadMs?: number;
}

export interface ProfileResult {
  latency: LatencyTable;
  /** Per module: nearest-rank p10/p90 and MACs, to judge the spread (not written to the manifest). */
  details: Record<string, { p10: number; p90: number; macs: number }>;
}

interface Target {
  id: string;
  session: Session;
  input: Tensor;
  macs: number;
}

/** `n` images of deterministic pixels (mulberry32), so every profile sees the same input. */
function pseudoImages(m: Manifest, n: number): Tensor {
  let s = 0x9e3779b9;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const { channels: c, height: h, width: w, mean, std } = m.input;
  const data = new Float32Array(n * c * h * w);
  for (let i = 0; i < data.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    data[i] = (Math.floor(rand() * 256) / 255 - (mean[ch] ?? mean[0])) / (std[ch] ?? std[0]);
  }
  return { data, dims: [n, c, h, w] };
}

const batchOf = (n: number, s: Shape): number[] => [n, ...s.slice(1)];

/** A model that only copies its input: the stem's graph with its input kept, one Identity node, no weights. */
function identityModel(stem: Uint8Array): Uint8Array {
  const m = decodeModel(stem);
  const x = m.graph.input.find((v) => v.name === 'x');
  if (!x) throw new Error("stem graph has no input 'x'");
  m.graph = {
    ...m.graph,
    node: [{ input: ['x'], output: ['y'], name: 'identity', opType: 'Identity', domain: '', attribute: [], rest: [] }],
    initializer: [],
    input: [x],
    output: [{ name: 'y', rest: x.rest }],
    valueInfo: [],
  };
  return encodeModel(m);
}

const OVERHEAD = '(identity)';

/**
 * Creates one session per module and times them. Inputs are realistic: the stem and
 * controller get an image-like tensor, every option of a cell gets the activation the
 * chain of defaultOptions actually feeds that cell, the head gets the last cell's output (only shapes matter here).
 */
export async function profileBundle(
  dir: string,
  m: Manifest,
  options: Partial<ProfileOptions> = {},
  engine: Engine = createNodeEngine(),
): Promise<ProfileResult> {
  const o: ProfileOptions = { ...DEFAULT_PROFILE_OPTIONS, ...options };
  for (const k of ['threads', 'runs', 'batch'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`options.${k}: must be a positive integer, got ${o[k]}`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new RangeError(`options.warmup: must be a non-negative integer, got ${o.warmup}`);
  const sessions = new Map<string, Session>();
  const open = async (file: string) => {
    let s = sessions.get(file);
    if (!s) {
      s = await engine.createSession(new Uint8Array(await readFile(path.join(dir, file))), { intraOpNumThreads: o.threads });
      sessions.set(file, s);
    }
    return s;
  };
  const run = async (s: Session, x: Tensor) => (await s.run({ x })).y;
  try {
    const image = pseudoImages(m, o.batch);
    const targets: Target[] = [];
    if (m.kind === 'instanas' && m.controller)
      targets.push({ id: 'controller', session: await open(m.controller.file), input: image, macs: m.controller.macs });
    const g = m.graph;
    const stem = await open(g.stem.file);
    const identity = await engine.createSession(identityModel(new Uint8Array(await readFile(path.join(dir, g.stem.file)))), { intraOpNumThreads: o.threads });
    sessions.set(OVERHEAD, identity);
    targets.push({ id: OVERHEAD, session: identity, input: image, macs: 0 });
    targets.push({ id: g.stem.id, session: stem, input: image, macs: g.stem.macs });
    let h = await run(stem, image);
    for (const cell of g.cells) {
      const input = { data: h.data, dims: batchOf(o.batch, cell.inputShape) };
      for (const opt of cell.options) targets.push({ id: opt.id, session: await open(opt.file), input, macs: opt.macs });
      h = await run(await open(cell.options[cell.defaultOption].file), input);
    }
    targets.push({ id: g.head.id, session: await open(g.head.file), input: { data: h.data, dims: batchOf(o.batch, g.head.inputShape) }, macs: g.head.macs });

    const times = targets.map(() => new Float64Array(o.runs));
    // Round-robin: each round runs every module once, starting one module later than
    // the previous round, so drifts in machine load spread evenly over all modules.
    for (let round = 0; round < o.warmup + o.runs; round++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (round + k) % targets.length;
        const t = targets[i];
        const t0 = performance.now();
        await t.session.run({ x: t.input });
        const dt = performance.now() - t0;
        if (round >= o.warmup) times[i][round - o.warmup] = dt;
      }
    }
    const table: Record<string, number> = {};
    const details: ProfileResult['details'] = {};
    let overheadMs = 0;
    const per = (ms: number) => Number((ms / o.batch).toFixed(6)); // per image
    targets.forEach((t, i) => {
      if (t.id === OVERHEAD) overheadMs = per(median(times[i]));
      else table[t.id] = per(median(times[i]));
      details[t.id] = { p10: per(percentile(times[i], 10)), p90: per(percentile(times[i], 90)), macs: t.macs };
    });
    const cpu = cpus();
    const threads = `${o.threads} intra-op thread${o.threads === 1 ? '' : 's'}`;
    return {
      latency: {
        unit: 'ms',
        method: `${engine.name}, batch ${o.batch}${o.batch > 1 ? ' (ms per image: a run / ' + o.batch + ')' : ''}, ${threads}, median of ${o.runs} runs after ${o.warmup} warm-up, interleaved`,
        device: `${cpu[0]?.model?.trim() ?? 'unknown CPU'} (${cpu.length} cores)`,
        measuredAt: new Date().toISOString(),
        table,
        overheadMs,
      },
      details,
    };
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.release()));
  }
}

/** Replaces manifest.json's latency, validating first; temp file + rename so readers never see half a file. */
export function writeLatency(dir: string, latency: LatencyTable): void {
  const file = path.join(path.resolve(dir), 'manifest.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  json.latency = latency;
  validateManifest(json, { schema: loadSchema(), source: file });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(json, null, 2) + '\n');
  renameSync(tmp, file);
}

function formatProfile(m: Manifest, r: ProfileResult, batch: number): string {
  const t = r.latency.table;
  const chain = [m.graph.stem.id, ...m.graph.cells.map((c) => c.options[c.defaultOption].id), m.graph.head.id];
  const sum = (ids: string[]) => ids.reduce((a, id) => a + (t[id] ?? 0), 0);
  const rows = Object.entries(t).map(([id, ms]) => {
    const d = r.details[id];
    return [id, si(d.macs), fixed(ms, 4), fixed(d.p10, 4), fixed(d.p90, 4)];
  });
  return [
    `method:    ${r.latency.method}`,
    `device:    ${r.latency.device}`,
    '',
    formatTable(['module', 'macs', 'median ms', 'p10 ms', 'p90 ms'], rows, [1, 2, 3, 4]),
    '',
    `all modules: ${sum(modulesOf(m).map(([, mod]) => mod.id)).toFixed(4)} ms; default chain: ${sum(chain).toFixed(4)} ms (sums of medians, controller excluded)`,
    `per-run overhead (Identity on the image${batch > 1 ? ', per image' : ''}): ${(r.latency.overheadMs ?? 0).toFixed(4)} ms, included once in every entry above`,
  ].join('\n');
}

export const profileCommand: Command = {
  name: 'profile',
  summary: 'measure per-module latency (per image, batch 1 or --batch N) and optionally write it into the manifest',
  usage: 'profile --model <bundleDir> [--threads 1] [--batch 1] [--runs 200] [--warmup 20] [--out <file>] [--write] [--json]',
  options: {
    model: { type: 'string', short: 'm' },
    threads: { type: 'string' },
    batch: { type: 'string' },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    out: { type: 'string' },
    write: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length !== 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, this);
    const dir = values.model;
    if (typeof dir !== 'string' || dir === '') throw new UsageError('--model <bundleDir> is required', this);
    const threads = positiveInt(values.threads, '--threads', this) ?? DEFAULT_PROFILE_OPTIONS.threads;
    const runs = positiveInt(values.runs, '--runs', this) ?? DEFAULT_PROFILE_OPTIONS.runs;
    const batch = positiveInt(values.batch, '--batch', this) ?? DEFAULT_PROFILE_OPTIONS.batch;
    let warmup = DEFAULT_PROFILE_OPTIONS.warmup;
    if (values.warmup !== undefined) {
      warmup = flagNumber(values.warmup);
      if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError(`--warmup must be a non-negative integer, got '${String(values.warmup)}'`, this);
    }
    const out = values.out as string | undefined;
    if (out === '') throw new UsageError('--out needs a file name', this);

    const m = await loadManifest(dir);
    const result = await profileBundle(path.resolve(dir), m, { threads, runs, warmup, batch });
    if (out !== undefined) writeFileSync(out, JSON.stringify({ ...result.latency, details: result.details }, null, 2) + '\n');
    if (values.write) writeLatency(dir, result.latency);
    io.out(values.json ? JSON.stringify(result, null, 2) : formatProfile(m, result, batch));
    if (values.write && !values.json) io.out(`wrote latency table (${Object.keys(result.latency.table).length} entries) to ${path.join(dir, 'manifest.json')}`);
    return 0;
  },
};
