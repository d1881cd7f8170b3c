// instanas_execution_batch_size: the batches the scheduler actually ran, as a Prometheus histogram.
//
// Why not a prom-client Histogram: the sizes are known only to the back end (in a worker pool, per batch on
// another thread), which keeps cumulative counts per size; observing each execution on the server thread
// would cost an observe per batch and a hook through the pool. Instead each scrape adds what is new since the
// last one, as the execution counters of metrics.ts do, and this object renders the bucket series itself.
// Counts only grow (a reloaded model's fresh back end counts from 0 and is keyed apart), so rate() holds.
import type { ModelEntry } from './registry.js';

/** Powers of two up to the largest max batch size a user is likely to set. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;

type Value = { metricName: string; labels: Record<string, string | number>; value: number };

/**
 * A custom prom-client metric (Registry.registerMetric takes any object with this shape): name, help, type,
 * aggregator, get() and reset().
 */
export class ExecutionBatchHistogram {
  readonly name = 'instanas_execution_batch_size';
  readonly help =
    'Inputs per model execution: the batches the scheduler formed under load (runs on the server thread count as 1). Compare with instanas_batch_size (inputs per request).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['model'];
  /** Model name -> cumulative executions by size (index = inputs per execution). */
  private totals = new Map<string, number[]>();
  /** Back end -> its counts at the previous scrape. */
  private seen = new WeakMap<object, readonly number[]>();

  constructor(private readonly models: () => ModelEntry[]) {}

  /** Takes in what each back end ran since the previous call. */
  private collect(): void {
    for (const e of this.models()) {
      const sizes = e.classifier.stats().executedBatchSizes;
      if (!sizes) continue;
      const prev = this.seen.get(e.classifier) ?? [];
      const acc = this.totals.get(e.name) ?? [];
      for (let k = 1; k < sizes.length; k++) {
        const d = (sizes[k] ?? 0) - (prev[k] ?? 0);
        if (d > 0) acc[k] = (acc[k] ?? 0) + d;
      }
      this.seen.set(e.classifier, [...sizes]);
      this.totals.set(e.name, acc);
    }
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Value[] } {
    this.collect();
    const values: Value[] = [];
    for (const [model, acc] of this.totals) {
      let count = 0;
      let sum = 0;
      const upTo = BATCH_BUCKETS.map(() => 0);
      acc.forEach((c, k) => {
        if (!c) return;
        count += c;
        sum += c * k;
        BATCH_BUCKETS.forEach((le, b) => {
          if (k <= le) upTo[b] += c;
        });
      });
      BATCH_BUCKETS.forEach((le, b) => values.push({ metricName: `${this.name}_bucket`, labels: { le, model }, value: upTo[b] }));
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', model }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { model }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { model }, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics(): forget the totals; the next scrape counts from the back ends' current state. */
  reset(): void {
    this.totals = new Map();
    const seen = new WeakMap<object, readonly number[]>();
    for (const e of this.models()) {
      const sizes = e.classifier.stats().executedBatchSizes;
      if (sizes) seen.set(e.classifier, [...sizes]);
    }
    this.seen = seen;
  }
}
