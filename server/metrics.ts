// Prometheus metrics on a registry of their own (several apps can live in one
// process, e.g. in tests). Base units (seconds), counters end in _total.
import client from 'prom-client';
import type { BackendResult } from './backend.js';
import { ExecutionBatchHistogram } from './batch-histogram.js';
import type { ModelEntry } from './registry.js';

/** 0.1 ms .. 1 s, roughly 1-2.5-5 per decade. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * Bounded label values for path codes: at most `slots` codes have their own label,
 * the rest count as 'other'. A code takes a slot when it has been seen more often
 * than the least-seen slot holder, which then goes back to 'other'. Counts only
 * grow under every label value (a promoted code starts at 0), so rate() stays valid.
 */
export class PathLabeler {
  private readonly seen = new Map<string, number>();
  private readonly slots = new Set<string>();
  constructor(
    private readonly maxSlots = 20,
    /** Distinct codes tracked at all; past it new codes are always 'other' (bounded memory). */
    private readonly maxTracked = 10_000,
  ) {}

  /** Records one occurrence; returns [label value, evicted code or undefined]. */
  observe(code: string): [string, string | undefined] {
    const n = (this.seen.get(code) ?? 0) + 1;
    if (n === 1 && this.seen.size >= this.maxTracked) return ['other', undefined];
    this.seen.set(code, n);
    if (this.slots.has(code)) return [code, undefined];
    if (this.slots.size < this.maxSlots) {
      this.slots.add(code);
      return [code, undefined];
    }
    let min: string | undefined;
    for (const s of this.slots) if (min === undefined || this.seen.get(s)! < this.seen.get(min)!) min = s;
    if (min !== undefined && n > this.seen.get(min)!) {
      this.slots.delete(min);
      this.slots.add(code);
      return [code, min];
    }
    return ['other', undefined];
  }
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly labelers = new Map<string, PathLabeler>();

  readonly httpDuration = new client.Histogram({
    name: 'instanas_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly stageDuration = new client.Histogram({
    name: 'instanas_stage_duration_seconds',
    help: 'Per-input time in each inference stage (queue, decode, controller, child).',
    labelNames: ['model', 'stage'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'instanas_batch_size',
    help: 'Inputs per inference request.',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly macs = new client.Histogram({
    name: 'instanas_request_macs',
    help: 'Multiply-accumulates per input (child path plus controller).',
    labelNames: ['model'],
    buckets: client.exponentialBuckets(1e5, 2, 16),
    registers: [this.registry],
  });
  readonly inFlight = new client.Gauge({
    name: 'instanas_in_flight_requests',
    help: 'Inference requests admitted and not yet answered.',
    registers: [this.registry],
  });
  readonly inferences = new client.Counter({
    name: 'instanas_inferences_total',
    help: 'Classified inputs by model and path code (top 20 codes by count, the rest "other").',
    labelNames: ['model', 'path'],
    registers: [this.registry],
  });
  readonly tiers = new client.Counter({
    name: 'instanas_inferences_by_tier_total',
    help: 'Classified inputs by model and the execution tier that ran them: modules (one session per module), compiled (one graph per path), routed (one graph for a mixed-path batch).',
    labelNames: ['model', 'tier'],
    registers: [this.registry],
  });
  readonly rejected = new client.Counter({
    name: 'instanas_rejected_requests_total',
    help: 'Requests refused before inference, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly modelInfo = new client.Gauge({
    name: 'instanas_model_info',
    help: 'Loaded bundles: 1 per model with its version and the sha256 of its manifest.json.',
    labelNames: ['model', 'version', 'bundle_sha256'],
    registers: [this.registry],
  });
  constructor(models: () => ModelEntry[]) {
    client.collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges *_total, which promtool rejects (only counters may end
    // in _total); the event-loop and heap metrics it also exports cover the same ground.
    for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(n);
    new client.Gauge({
      name: 'instanas_queue_depth',
      help: 'Inputs waiting for a model, as reported by the back end.',
      labelNames: ['model'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const e of models()) this.set({ model: e.name }, e.classifier.stats().queueDepth);
      },
    });
    // Back ends report cumulative totals (cache hits and misses, executions and their inputs); each scrape adds what
    // is new since the last one. Keyed by back end, so a reloaded model's fresh back end counts from 0.
    const fromTotals = (name: string, help: string, kind: 'cacheHits' | 'cacheMisses' | 'compileErrors' | 'executions' | 'executedInputs') => {
      const seen = new WeakMap<object, number>();
      return new client.Counter({
        name,
        help,
        labelNames: ['model'],
        registers: [this.registry],
        collect() {
          for (const e of models()) {
            const cur = e.classifier.stats()[kind];
            if (cur === undefined) continue;
            const prev = seen.get(e.classifier) ?? 0;
            if (cur > prev) this.inc({ model: e.name }, cur - prev);
            seen.set(e.classifier, cur);
          }
        },
      });
    };
    fromTotals('instanas_path_cache_hits_total', 'Compiled-path cache hits reported by the back end.', 'cacheHits');
    fromTotals('instanas_path_cache_misses_total', 'Compiled-path cache misses reported by the back end.', 'cacheMisses');
    fromTotals('instanas_path_compile_errors_total', 'Path compiles that failed (those paths run module by module).', 'compileErrors');
    // rate(inputs) / rate(executions) is the mean batch size the scheduler forms under the current load.
    fromTotals('instanas_model_executions_total', 'Model executions (batches; batch-1 runs on the server thread included).', 'executions');
    fromTotals('instanas_model_execution_inputs_total', 'Inputs run by those executions (divided by executions: the mean batch size).', 'executedInputs');
    // The distribution behind that mean (server/batch-histogram.ts).
    this.registry.registerMetric(new ExecutionBatchHistogram(models) as unknown as client.Metric);
  }

  setModelInfo(entry: ModelEntry, old: ModelEntry | undefined): void {
    if (old) this.modelInfo.remove({ model: old.name, version: old.classifier.manifest.version, bundle_sha256: old.bundleHash });
    this.modelInfo.set({ model: entry.name, version: entry.classifier.manifest.version, bundle_sha256: entry.bundleHash }, 1);
  }

  /** Records one classified input. */
  observeResult(model: string, r: BackendResult, decodeMs: number | undefined): void {
    const t = r.timings;
    this.stageDuration.observe({ model, stage: 'queue' }, t.queueMs / 1000);
    if (decodeMs !== undefined) this.stageDuration.observe({ model, stage: 'decode' }, decodeMs / 1000);
    this.stageDuration.observe({ model, stage: 'controller' }, t.controllerMs / 1000);
    this.stageDuration.observe({ model, stage: 'child' }, t.childMs / 1000);
    this.macs.observe({ model }, r.path.macs + r.controllerMacs);
    let labeler = this.labelers.get(model);
    if (!labeler) this.labelers.set(model, (labeler = new PathLabeler()));
    const [label, evicted] = labeler.observe(r.path.code);
    if (evicted !== undefined) this.inferences.remove({ model, path: evicted });
    this.inferences.inc({ model, path: label });
    this.tiers.inc({ model, tier: r.tier });
  }
}
