// Bounded path-code cardinality of instanas_inferences_total (PathLabeler).
import { describe, expect, it } from 'vitest';
import { PathLabeler } from '../server/metrics.js';

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
