// Post-processing of logits, once per image: softmax and top-k.
import type { Prediction } from './model-types.js';

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = new Array<number>(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += e[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < e.length; i++) e[i] /= sum;
  return e;
}

/** The k most probable classes, most probable first; ties keep the lower index first (as a stable sort). */
export function topK(p: readonly number[], k: number, labels: readonly string[]): Prediction[] {
  // Insertion into a list of at most k indices: k is small (5) and this runs once per image,
  // where sorting every class index allocated and compared more than the model's own bookkeeping.
  const idx: number[] = [];
  for (let j = 0; j < p.length; j++) {
    let pos = idx.length;
    while (pos > 0 && p[idx[pos - 1]] < p[j]) pos--;
    if (pos < k) {
      idx.splice(pos, 0, j);
      if (idx.length > k) idx.pop();
    }
  }
  return idx.map((index) => ({ label: labels[index], index, probability: p[index] }));
}
