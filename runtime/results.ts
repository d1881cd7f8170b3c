// A batch's results in two forms. BatchOutput is what inference produces: typed arrays and path codes, cheap
// to hand across a worker boundary (two transferable buffers instead of a structured clone of one object tree
// per input: cloning 32 results cost ~0.7 ms, a fifth of the batch's inference). ClassifyResult[] is what
// callers get; toResults builds it, in the worker's caller or in process alike. Environment-neutral.
import type { Manifest } from './manifest-types.js';
import type { ClassifyResult, Tier, Timings } from './model-types.js';
import { decodeCode, makePath, type Path } from './path.js';
import { softmax, topK } from './predict.js';

export interface BatchOutput {
  /** Logits, [n, labels] row-major. */
  logits: Float32Array;
  /** Controller probabilities, [n, Σ options] row-major; null when no controller ran (static bundle, forced path). */
  probs: Float32Array | null;
  /** Each input's path code. */
  codes: string[];
  /** The tier that ran each input. */
  tiers: Tier[];
  /** Controller MACs per input (0 when no controller ran). */
  controllerMacs: number;
  /** The batch's timings, shared by its results. */
  timings: Timings;
}

/** The buffers of a BatchOutput, for postMessage's transfer list (they must not be shared with anything else). */
export const transferables = (out: BatchOutput): ArrayBuffer[] =>
  [out.logits.buffer, out.probs?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);

/** Path records by code, built once per code (bounded: codes come from the controller). */
export class PathBook {
  private readonly paths = new Map<string, Path>();
  private readonly counts: number[];
  constructor(private readonly manifest: Manifest) {
    this.counts = manifest.graph.cells.map((c) => c.options.length);
  }
  get(code: string): Path {
    let p = this.paths.get(code);
    if (!p) {
      p = makePath(this.manifest, decodeCode(code, this.counts));
      if (this.paths.size >= 4096) this.paths.clear();
      this.paths.set(code, p);
    }
    return p;
  }
}

/** Float32Array -> number[] with a plain loop: Array.from goes through the iterator protocol and showed up in profiles. */
function toNumbers(a: Float32Array): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i];
  return out;
}

/** One ClassifyResult per input: softmax top-`k` of its logits, its path (`paths[i]`), probabilities and timings. */
export function toResults(out: BatchOutput, labels: readonly string[], k: number, paths: readonly Path[]): ClassifyResult[] {
  const n = out.codes.length;
  const nl = labels.length;
  if (out.logits.length !== n * nl) throw new Error(`batch output: ${out.logits.length} logits for ${n} inputs of ${nl} labels`);
  const np = out.probs ? out.probs.length / n : 0;
  const kk = Math.min(k, nl);
  const results: ClassifyResult[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const logits = toNumbers(out.logits.subarray(i * nl, (i + 1) * nl));
    const topk = topK(softmax(logits), kk, labels);
    const best = topk[0];
    results[i] = {
      label: best.label,
      index: best.index,
      probability: best.probability,
      topk,
      logits,
      path: paths[i],
      controllerMacs: out.controllerMacs,
      controllerProbs: out.probs ? toNumbers(out.probs.subarray(i * np, (i + 1) * np)) : null,
      tier: out.tiers[i],
      timings: { ...out.timings },
    };
  }
  return results;
}
