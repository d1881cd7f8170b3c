// Bounded path-code cardinality of instanas_inferences_total (PathLabeler).
import { describe, expect, it } from 'vitest';
import { ExecutionBatchHistogram } from '../server/batch-histogram.js';
import { Metrics, PathLabeler } from '../server/metrics.js';
import type { ModelEntry } from '../server/registry.js';

/** Feeds codes 'c0'..'c<n-1>', code i occurring i+1 times, interleaved; returns label -> count. */
function feed(labeler: PathLabeler, n: number, counts: Map<string, number>, series: Map<string, number>): void {
  const remaining = Array.from({ length: n }, (_, i) => i + 1);
  for (let round = 0; remaining.some((r) => r > 0); round++) {
    for (let i = 0; i < n; i++) {
      if (remaining[i] === 0) continue;
      remaining[i]--;
      const code = `c${i}`;
      counts.set(code, (counts.get(code) ?? 0) + 1);
      const [label, evicted] = labeler.observe(code);
      if (evicted !== undefined) series.delete(evicted);
      series.set(label, (series.get(label) ?? 0) + 1);
    }
  }
}

describe('PathLabeler', () => {
  it('gives at most 20 codes their own label, the most frequent ones, and the rest "other"', () => {
    const labeler = new PathLabeler(20);
    const counts = new Map<string, number>();
    const series = new Map<string, number>();
    feed(labeler, 60, counts, series);
    const own = [...series.keys()].filter((k) => k !== 'other');
    expect(own.length).toBe(20);
    expect(series.has('other')).toBe(true);
    // Codes fed most often (c40..c59) hold the slots at the end.
    expect(own.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `c${40 + i}`).sort());
    // Every input is counted exactly once across the series still exported or evicted earlier.
    const exported = [...series.values()].reduce((a, b) => a + b, 0);
    expect(exported).toBeLessThanOrEqual([...counts.values()].reduce((a, b) => a + b, 0));
  });

  it('stops tracking new codes past maxTracked (bounded memory), counting them as other', () => {
    const labeler = new PathLabeler(2, 3);
    expect(['a', 'b', 'c', 'd'].map((c) => labeler.observe(c)[0])).toEqual(['a', 'b', 'other', 'other']);
    expect(labeler.observe('c')).toEqual(['c', 'a']); // c: 2 sightings > a: 1 -> takes a's slot
    expect(labeler.observe('d')[0]).toBe('other'); // never tracked
    expect(labeler.observe('b')[0]).toBe('b'); // b: 2, holds its slot
    expect(labeler.observe('a')[0]).toBe('other'); // a: 2, not more than the least slot holder (2)
  });
});

describe('instanas_execution_batch_size (ExecutionBatchHistogram)', () => {
  /** A model entry whose back end reports the given cumulative executions by size. */
  const entry = (name: string, sizes: { v: number[] }) =>
    ({ name, classifier: { stats: () => ({ queueDepth: 0, inFlight: 0, executedBatchSizes: sizes.v }) } }) as unknown as ModelEntry;
  const series = (h: ExecutionBatchHistogram) =>
    Object.fromEntries(h.get().values.map((v) => [`${v.metricName}{${Object.entries(v.labels).map(([k, x]) => `${k}=${x}`).join(',')}}`, v.value]));

  it('renders cumulative buckets, sum and count from the back ends, adding only what is new at each scrape', () => {
    const a = { v: [0, 3, 1, 0, 2] }; // 3 runs of 1 input, 1 of 2, 2 of 4
    let entries = [entry('m', a)];
    const h = new ExecutionBatchHistogram(() => entries);
    let s = series(h);
    expect(s['instanas_execution_batch_size_bucket{le=1,model=m}']).toBe(3);
    expect(s['instanas_execution_batch_size_bucket{le=2,model=m}']).toBe(4);
    expect(s['instanas_execution_batch_size_bucket{le=4,model=m}']).toBe(6);
    expect(s['instanas_execution_batch_size_bucket{le=256,model=m}']).toBe(6);
    expect(s['instanas_execution_batch_size_bucket{le=+Inf,model=m}']).toBe(6);
    expect(s['instanas_execution_batch_size_sum{model=m}']).toBe(3 + 2 + 8);
    expect(s['instanas_execution_batch_size_count{model=m}']).toBe(6);
    // Unchanged back end: the same totals, not doubled.
    expect(series(h)).toEqual(s);
    // One more batch of 3 (bucket le=4).
    a.v = [0, 3, 1, 1, 2];
    s = series(h);
    expect(s['instanas_execution_batch_size_bucket{le=2,model=m}']).toBe(4);
    expect(s['instanas_execution_batch_size_bucket{le=4,model=m}']).toBe(7);
    expect(s['instanas_execution_batch_size_sum{model=m}']).toBe(16);
    // A reload: a fresh back end counting from 0 adds to the model's totals (counts never go down).
    entries = [entry('m', { v: [0, 1] })];
    s = series(h);
    expect(s['instanas_execution_batch_size_count{model=m}']).toBe(8);
    expect(s['instanas_execution_batch_size_bucket{le=1,model=m}']).toBe(4);
    // A back end that does not count executions adds no series.
    entries = [{ name: 'x', classifier: { stats: () => ({ queueDepth: 0, inFlight: 0 }) } } as unknown as ModelEntry];
    expect(Object.keys(series(h)).some((k) => k.includes('model=x'))).toBe(false);
    // Registry.resetMetrics(): totals start over from the back ends' current counts.
    h.reset();
    expect(h.get().values).toEqual([]);
  });
});

describe('Metrics: back-end totals', () => {
  it('exports compile errors reported by a back end, adding what is new at each scrape', async () => {
    const st = { compileErrors: 2 };
    const entry = { name: 'm', classifier: { stats: () => ({ queueDepth: 0, inFlight: 0, ...st }) } } as unknown as ModelEntry;
    const m = new Metrics(() => [entry]);
    expect(await m.registry.metrics()).toMatch(/^instanas_path_compile_errors_total\{model="m"\} 2$/m);
    st.compileErrors = 3;
    expect(await m.registry.metrics()).toMatch(/^instanas_path_compile_errors_total\{model="m"\} 3$/m);
  });
});
