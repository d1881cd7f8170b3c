import { describe, expect, it } from 'vitest';
import { mean, median, percentile, summarize } from '../runtime/stats.js';

describe('stats (nearest-rank percentiles)', () => {
  const ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];

  it('takes the value at rank ceil(p/100 * n) of the sorted sample', () => {
    // n = 10: p50 -> rank 5, p90 -> rank 9, p99 -> rank 10, p10 -> rank 1, p11 -> rank 2.
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile(ten, 99)).toBe(10);
    expect(percentile(ten, 10)).toBe(1);
    expect(percentile(ten, 11)).toBe(2);
    expect(percentile(ten, 0)).toBe(1);
    expect(percentile(ten, 100)).toBe(10);
  });

  it('sorts numerically, not as strings', () => {
    expect(median([100, 9, 20])).toBe(20);
    expect(percentile([100, 9, 20, 1000], 75)).toBe(100);
  });

  it('summarizes a sample and leaves the input unchanged', () => {
    const input = [3, 1, 2, 100];
    const s = summarize(input);
    expect(s).toEqual({ count: 4, mean: 26.5, min: 1, max: 100, p50: 2, p90: 100, p99: 100 });
    expect(input).toEqual([3, 1, 2, 100]);
    expect(mean(Float64Array.of(1, 2))).toBe(1.5);
  });

  it('one value is every percentile', () => {
    expect(summarize([7])).toMatchObject({ p50: 7, p90: 7, p99: 7, min: 7, max: 7 });
  });

  it('rejects empty samples, non-finite values and p out of range', () => {
    expect(() => summarize([])).toThrow(/values: is empty/);
    expect(() => median([1, NaN])).toThrow(/values: element 1 is NaN/);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(/p: must be in \[0, 100\]/);
    expect(() => summarize(null as unknown as number[])).toThrow(TypeError);
  });
});
