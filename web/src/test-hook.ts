// window.instanas: a small, stable surface for the browser test and the benchmark
// (playwright passes plain JSON in and out, so tensors travel as number arrays).
import type { WebBackend } from '../../runtime/engine-web.js';
import type { InstaModel } from '../../runtime/model.js';
import { preprocess } from '../../runtime/preprocess.js';
import { samplePixels, type Samples } from './pixels.js';

export interface HookResult {
  index: number;
  label: string;
  code: string;
  macs: number;
  logits: number[];
  totalMs: number;
}

/** A row of classifyBatch: which tier ran it (the routed graph, when the batch mixes covered paths). */
export type HookBatchRow = HookResult & { tier: string };

export interface TestHook {
  engine: string;
  backend: WebBackend;
  /** Backends this browser offers (webgpu only with an adapter). */
  available: WebBackend[];
  crossOriginIsolated: boolean;
  models: { name: string; kind: string }[];
  /** Classifies each tensor of `tensors` (one input each, flat NCHW) in turn, batch 1. */
  classifyTensors(model: string, tensors: number[][]): Promise<HookResult[]>;
  /**
   * Classifies `tensors` as ONE batch with a second copy of the model that keeps the routed graph on (the page's
   * own models keep it off: they classify one image at a time), so mixed-path batches run on onnxruntime-web's
   * routed graph, options with zero rows included.
   */
  classifyBatch(model: string, tensors: number[][]): Promise<HookBatchRow[]>;
  /** The page's own preprocessed tensor of sample i, for comparison with node. */
  sampleTensor(model: string, i: number): number[];
  /** Runs `rounds` passes over samples [0, count), models interleaved per image; ms per classify call (tensors preprocessed beforehand). */
  timeModels(count: number, rounds: number): Promise<Record<string, number[]>>;
  showSample(i: number): Promise<void>;
  /** Settles when the page's classification queue is empty. */
  idle(): Promise<void>;
}

export function installTestHook(ctx: {
  models: Record<string, InstaModel>;
  samples: Samples;
  engineName: string;
  backend: WebBackend;
  available: WebBackend[];
  showSample(i: number): Promise<void>;
  idle(): Promise<void>;
  /** Loads the named bundle again with the routed graph on (for classifyBatch). */
  loadBatchModel(name: string): Promise<InstaModel>;
}): void {
  const batchModels = new Map<string, Promise<InstaModel>>();
  const model = (name: string): InstaModel => {
    const m = ctx.models[name];
    if (!m) throw new RangeError(`model: unknown '${name}' (have ${Object.keys(ctx.models).join(', ')})`);
    return m;
  };
  const hook: TestHook = {
    engine: ctx.engineName,
    backend: ctx.backend,
    available: ctx.available,
    crossOriginIsolated,
    models: Object.values(ctx.models).map((m) => ({ name: m.manifest.name, kind: m.manifest.kind })),
    async classifyTensors(name, tensors) {
      const m = model(name);
      const out: HookResult[] = [];
      for (const t of tensors) {
        const [r] = await m.classify(Float32Array.from(t), [1, ...m.inputDims]);
        out.push({ index: r.index, label: r.label, code: r.path.code, macs: r.path.macs, logits: r.logits, totalMs: r.timings.totalMs });
      }
      return out;
    },
    async classifyBatch(name, tensors) {
      model(name); // the same RangeError for unknown names
      if (!batchModels.has(name)) batchModels.set(name, ctx.loadBatchModel(name));
      const m = await batchModels.get(name)!;
      const size = tensors[0]?.length ?? 0;
      const x = new Float32Array(tensors.length * size);
      tensors.forEach((t, i) => x.set(t, i * size));
      const rs = await m.classify(x, [tensors.length, ...m.inputDims]);
      return rs.map((r) => ({ index: r.index, label: r.label, code: r.path.code, macs: r.path.macs, logits: r.logits, totalMs: r.timings.totalMs, tier: r.tier }));
    },
    sampleTensor: (name, i) => Array.from(preprocess(samplePixels(ctx.samples, i), model(name).manifest.input)),
    async timeModels(count, rounds) {
      const ms: Record<string, number[]> = Object.fromEntries(Object.keys(ctx.models).map((k) => [k, []]));
      const inputs = Object.fromEntries(
        Object.entries(ctx.models).map(([k, m]) => [k, Array.from({ length: count }, (_, i) => preprocess(samplePixels(ctx.samples, i), m.manifest.input))]),
      );
      const names = Object.keys(ctx.models);
      for (let r = 0; r < rounds; r++)
        for (let i = 0; i < count; i++)
          // Alternate which model goes first, so neither always runs on a cache warmed by the other.
          for (const k of (r + i) % 2 ? [...names].reverse() : names) {
            const m = ctx.models[k];
            const t0 = performance.now();
            await m.classify(inputs[k][i], [1, ...m.inputDims]);
            ms[k].push(performance.now() - t0);
          }
      return ms;
    },
    showSample: ctx.showSample,
    idle: ctx.idle,
  };
  (window as unknown as { instanas: TestHook }).instanas = hook;
}
