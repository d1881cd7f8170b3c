// instanas eval --model <bundle> --data fashion-mnist:test [--data-root D] [--limit N] [--batch B] [--threads T] [--json out.json|-]
// Accuracy, per-image latency and MACs of a bundle on a labelled set, run through the runtime (InstaModel.classify).
import { writeFileSync } from 'node:fs';
import { loadDataset, normalizeBatch, parseDataSpec, type LabeledImages } from '../../runtime/dataset-node.js';
import { loadModel } from '../../runtime/model-node.js';
import type { InstaModel } from '../../runtime/model.js';
import { summarize } from '../../runtime/stats.js';
import { positiveInt, UsageError, type Command } from '../command.js';
import { formatTable, si } from '../table.js';

export interface EvalOptions {
  /** Images per classify() call. Default 1: per-image latency is then end to end. */
  batch: number;
  /** Number of most frequent paths listed. Default 10. */
  topPaths: number;
}

export const DEFAULT_EVAL_OPTIONS: Readonly<EvalOptions> = Object.freeze({ batch: 1, topPaths: 10 });

interface MacsGroup {
  count: number;
  meanMacs: number | null;
}

export interface EvalReport {
  model: { name: string; version: string; kind: string };
  engine: string;
  data: { spec: string; root: string; count: number };
  batch: number;
  threads: number;
  count: number;
  correct: number;
  accuracy: number;
  /** Per image: classify() wall time of its batch / batch size; controller and child included. */
  latency: { meanMs: number; p50Ms: number; p90Ms: number; p99Ms: number; minMs: number; maxMs: number; controllerMeanMs: number };
  /** Child-network MACs per image (stem + executed options + head), as Python's meanMacs; controller separate. */
  macs: { mean: number; p50: number; min: number; max: number; controller: number; meanWithController: number };
  paths: { distinct: number; top: { code: string; count: number; share: number; macs: number }[] };
  perClass: { label: string; index: number; count: number; accuracy: number | null; meanMacs: number | null }[];
  byCorrectness: { correct: MacsGroup; wrong: MacsGroup };
}

const meanOrNull = (sum: number, n: number): number | null => (n === 0 ? null : sum / n);

/** Classifies every image of `set` with `model` and aggregates the report. */
export async function evaluate(model: InstaModel, set: LabeledImages, options: Partial<EvalOptions> = {}): Promise<EvalReport> {
  const opts: EvalOptions = { ...DEFAULT_EVAL_OPTIONS, ...options };
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new RangeError(`options.batch: must be a positive integer, got ${opts.batch}`);
  const m = model.manifest;
  const nLabels = m.labels.length;
  const latency: number[] = [];
  const macs: number[] = [];
  let controllerMs = 0;
  let controllerMacs = 0;
  let correct = 0;
  const paths = new Map<string, { count: number; macs: number }>();
  const cls = m.labels.map(() => ({ count: 0, correct: 0, macs: 0 }));
  const byOk = { correct: { count: 0, macs: 0 }, wrong: { count: 0, macs: 0 } };
  for (let start = 0; start < set.count; start += opts.batch) {
    const n = Math.min(opts.batch, set.count - start);
    const x = normalizeBatch(set, start, n, m.input);
    const results = await model.classify(x, [n, ...model.inputDims]);
    results.forEach((r, i) => {
      const label = set.labels[start + i];
      if (label >= nLabels) throw new Error(`${set.spec}: image ${start + i} has label ${label}, outside the model's ${nLabels} labels`);
      latency.push(r.timings.totalMs / n);
      controllerMs += r.timings.controllerMs / n;
      controllerMacs = r.controllerMacs;
      macs.push(r.path.macs);
      const ok = r.index === label;
      if (ok) correct++;
      const p = paths.get(r.path.code);
      if (p) p.count++;
      else paths.set(r.path.code, { count: 1, macs: r.path.macs });
      cls[label].count++;
      cls[label].macs += r.path.macs;
      if (ok) cls[label].correct++;
      const g = ok ? byOk.correct : byOk.wrong;
      g.count++;
      g.macs += r.path.macs;
    });
  }
  const count = set.count;
  const lat = summarize(latency);
  const mac = summarize(macs);
  const top = [...paths.entries()]
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))
    .slice(0, opts.topPaths)
    .map(([code, p]) => ({ code, count: p.count, share: p.count / count, macs: p.macs }));
  return {
    model: { name: m.name, version: m.version, kind: m.kind },
    engine: model.engineName,
    data: { spec: set.spec, root: set.root, count },
    batch: opts.batch,
    threads: model.options.threads,
    count,
    correct,
    accuracy: correct / count,
    latency: { meanMs: lat.mean, p50Ms: lat.p50, p90Ms: lat.p90, p99Ms: lat.p99, minMs: lat.min, maxMs: lat.max, controllerMeanMs: controllerMs / count },
    macs: { mean: mac.mean, p50: mac.p50, min: mac.min, max: mac.max, controller: controllerMacs, meanWithController: mac.mean + controllerMacs },
    paths: { distinct: paths.size, top },
    perClass: cls.map((c, index) => ({
      label: m.labels[index],
      index,
      count: c.count,
      accuracy: meanOrNull(c.correct, c.count),
      meanMacs: meanOrNull(c.macs, c.count),
    })),
    byCorrectness: {
      correct: { count: byOk.correct.count, meanMacs: meanOrNull(byOk.correct.macs, byOk.correct.count) },
      wrong: { count: byOk.wrong.count, meanMacs: meanOrNull(byOk.wrong.macs, byOk.wrong.count) },
    },
  };
}

export function formatEval(r: EvalReport): string {
  const l = r.latency;
  const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
  return [
    `model:     ${r.model.name} ${r.model.version} (${r.model.kind}), ${r.engine}, ${r.threads} thread(s)`,
    `data:      ${r.data.spec} (${r.data.root}), ${r.count} images, batch ${r.batch}`,
    `accuracy:  ${pct(r.accuracy)} (${r.correct}/${r.count})`,
    `latency:   per image mean ${l.meanMs.toFixed(3)} ms, p50 ${l.p50Ms.toFixed(3)}, p90 ${l.p90Ms.toFixed(3)}, p99 ${l.p99Ms.toFixed(3)} (controller mean ${l.controllerMeanMs.toFixed(3)})`,
    `macs:      child mean ${si(r.macs.mean)}, p50 ${si(r.macs.p50)}, min ${si(r.macs.min)}, max ${si(r.macs.max)}; controller ${si(r.macs.controller)}`,
    `correct:   ${r.byCorrectness.correct.count} images, mean ${r.byCorrectness.correct.meanMacs === null ? '-' : si(r.byCorrectness.correct.meanMacs)} MACs`,
    `wrong:     ${r.byCorrectness.wrong.count} images, mean ${r.byCorrectness.wrong.meanMacs === null ? '-' : si(r.byCorrectness.wrong.meanMacs)} MACs`,
    `paths:     ${r.paths.distinct} distinct`,
    '',
    formatTable(['path', 'count', 'share', 'macs'], r.paths.top.map((p) => [p.code, p.count, pct(p.share), si(p.macs)]), [1, 2, 3]),
    '',
    formatTable(
      ['class', 'label', 'count', 'accuracy', 'mean macs'],
      r.perClass.map((c) => [c.index, c.label, c.count, pct(c.accuracy), c.meanMacs === null ? '-' : si(c.meanMacs)]),
      [0, 2, 3, 4],
    ),
  ].join('\n');
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'accuracy, latency and MACs of a bundle on a labelled data set',
  usage: 'eval --model <bundleDir> --data <dataset:split> [--data-root <dir>] [--limit N] [--batch B] [--threads T] [--json <file>|-]',
  options: {
    model: { type: 'string', short: 'm' },
    data: { type: 'string' },
    'data-root': { type: 'string' },
    limit: { type: 'string' },
    batch: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length !== 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, this);
    const modelDir = values.model;
    if (typeof modelDir !== 'string' || modelDir === '') throw new UsageError('--model <bundleDir> is required', this);
    const spec = values.data;
    if (typeof spec !== 'string' || spec === '') throw new UsageError('--data <dataset:split> is required (e.g. fashion-mnist:test)', this);
    try {
      parseDataSpec(spec);
    } catch (err) {
      throw new UsageError(`--data: ${(err as Error).message.replace(/^data: /, '')}`, this);
    }
    const limit = positiveInt(values.limit, '--limit', this);
    const batch = positiveInt(values.batch, '--batch', this) ?? DEFAULT_EVAL_OPTIONS.batch;
    const threads = positiveInt(values.threads, '--threads', this) ?? 1;
    const json = values.json as string | undefined;
    if (json === '') throw new UsageError('--json needs a file name or - (stdout)', this);
    const root = values['data-root'] as string | undefined;
    if (root === '') throw new UsageError('--data-root needs a folder', this);

    const set = loadDataset(spec, { root, limit });
    const model = await loadModel(modelDir, { threads });
    let report: EvalReport;
    try {
      const names = set.labelNames.slice(0, model.manifest.labels.length);
      if (names.some((n, i) => n !== model.manifest.labels[i]))
        io.err(`instanas: warning: ${spec} class names differ from the bundle's labels; comparing by index`);
      report = await evaluate(model, set, { batch });
    } finally {
      await model.release();
    }
    if (json === '-') io.out(JSON.stringify(report, null, 2));
    else {
      if (json !== undefined) writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
      io.out(formatEval(report));
    }
    return 0;
  },
};
