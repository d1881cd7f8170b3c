// Summary statistics for measurements (latency, MACs). Percentiles use the
// nearest-rank definition: the value at rank ceil(p/100 * n) of the sorted
// sample, so every reported percentile is an observed value, never interpolated.

export interface Summary {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

function checkValues(values: ArrayLike<number>, name: string): void {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number')
    throw new TypeError(`${name}: expected an array of numbers`);
  if (values.length === 0) throw new RangeError(`${name}: is empty`);
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i]))
      throw new RangeError(`${name}: element ${i} is ${String(values[i])} (must be a finite number)`);
  }
}

/** Ascending copy as a Float64Array (numeric sort, not the default string sort). */
export function sorted(values: ArrayLike<number>): Float64Array {
  checkValues(values, 'values');
  return Float64Array.from(values).sort();
}

/**
 * Nearest-rank percentile of an ascending sample; p in [0, 100].
 * p = 0 gives the minimum, p = 100 the maximum.
 */
export function percentileSorted(asc: ArrayLike<number>, p: number): number {
  if (asc.length === 0) throw new RangeError('values: is empty');
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) throw new RangeError(`p: must be in [0, 100], got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * asc.length));
  return asc[rank - 1];
}

/** Nearest-rank percentile of an unsorted sample. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sorted(values), p);
}

/** Nearest-rank median (the lower middle value for an even count). */
export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export function mean(values: ArrayLike<number>): number {
  checkValues(values, 'values');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Count, mean, min, max and nearest-rank p50/p90/p99 of a sample. */
export function summarize(values: ArrayLike<number>): Summary {
  const asc = sorted(values);
  let s = 0;
  for (const v of asc) s += v;
  return {
    count: asc.length,
    mean: s / asc.length,
    min: asc[0],
    max: asc[asc.length - 1],
    p50: percentileSorted(asc, 50),
    p90: percentileSorted(asc, 90),
    p99: percentileSorted(asc, 99),
  };
}
