// Tier 1 of execution: every module of the bundle is its own session (the stem, each cell's options, the
// head, and the controller), created once; a path runs module by module, summing a cell's options in JS.
// Any path runs here without a compile, so this is the fallback and the reference the other tiers are
// tested against. Environment-neutral.
import type { Session, Tensor } from './engine.js';
import type { Manifest } from './manifest-types.js';
import { SMALL_GRAPH_BATCH, SMALL_GRAPH_MACS, type BundleSource } from './model-types.js';
import { smallGraph, SmallGraphSession, type SmallGraph } from './small-graph.js';

/** Runs a one-input, one-output module (input 'x', output 'y', as the bundle contract names them). */
export async function runModule(s: Session, t: Tensor): Promise<Tensor> {
  const out = await s.run({ x: t });
  const y = out.y;
  if (!y) throw new Error(`module returned no output 'y' (outputs: ${Object.keys(out).join(', ')})`);
  return y;
}

/** Rows `rows` of a batch-major tensor (the tensor itself when every row is taken). */
export function gather(t: Tensor, rows: readonly number[]): Tensor {
  const n = t.dims[0];
  if (rows.length === n) return t;
  const size = t.data.length / n;
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => data.set(t.data.subarray(r * size, (r + 1) * size), i * size));
  return { data, dims: [rows.length, ...t.dims.slice(1)] };
}

/** A batch-1 tensor of zeros for a module whose declared input shape is `shape` (batch first). */
export function zeros(shape: readonly number[]): Tensor {
  const dims = [1, ...shape.slice(1)];
  return { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
}

/**
 * Whether the JS evaluation of a controller gives its session's outputs (max |diff| <= 1e-5) on seeded inputs in
 * the range of normalised images, one at a time and as one batch: a graph that decodes but means something else
 * to onnxruntime (an attribute this evaluator reads differently) keeps the session.
 */
async function agrees(g: SmallGraph, s: Session, inputShape: readonly number[]): Promise<boolean> {
  const per = inputShape.slice(1).reduce((a, b) => a * b, 1);
  let seed = 20261201;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 4 - 2;
  for (const n of [1, 1, SMALL_GRAPH_BATCH]) {
    const x = { data: Float32Array.from({ length: n * per }, rnd), dims: [n, ...inputShape.slice(1)] };
    try {
      const want = await runModule(s, x);
      const got = g.run(x);
      if (got.data.length !== want.data.length || got.dims.join() !== want.dims.join()) return false;
      for (let i = 0; i < got.data.length; i++) if (!(Math.abs(got.data[i] - want.data[i]) <= 1e-5)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export class ModuleTier {
  private constructor(
    private readonly manifest: Manifest,
    /** The controller's session; null for static bundles. */
    readonly controller: Session | null,
    readonly stem: Session,
    private readonly cells: Session[][],
    private readonly head: Session,
  ) {}

  /** Creates one session per ONNX file (modules that share a file share a session). */
  static async create(src: BundleSource, threads: number, controllerMode: 'auto' | 'session' = 'auto'): Promise<ModuleTier> {
    const byFile = new Map<string, Promise<Session>>();
    const session = (file: string): Promise<Session> => {
      let s = byFile.get(file);
      if (!s) {
        s = src
          .readFile(file)
          .then((bytes) => src.engine.createSession(bytes, { intraOpNumThreads: threads }))
          .catch((err: unknown) => {
            throw new Error(`cannot load ONNX file '${file}': ${(err as Error).message?.split('\n')[0] ?? err}`);
          });
        byFile.set(file, s);
      }
      return s;
    };
    const m = src.manifest;
    let controller = m.kind === 'instanas' && m.controller ? await session(m.controller.file) : null;
    if (controller && controllerMode === 'auto') {
      // Any failure here (a read error included) keeps the session: the JS path is an optimisation.
      const bytes = await src.readFile(m.controller!.file).catch(() => null);
      const g = bytes && smallGraph(bytes, SMALL_GRAPH_MACS);
      if (g && (await agrees(g, controller, m.controller!.inputShape))) controller = new SmallGraphSession(g, controller, SMALL_GRAPH_BATCH);
    }
    const stem = await session(m.graph.stem.file);
    const cells = await Promise.all(m.graph.cells.map((c) => Promise.all(c.options.map((o) => session(o.file)))));
    return new ModuleTier(m, controller, stem, cells, await session(m.graph.head.file));
  }

  get controllerRuns(): 'js' | 'session' | null {
    return this.controller === null ? null : this.controller instanceof SmallGraphSession ? 'js' : 'session';
  }

  /** Cells and head for a batch (the stem's output) whose rows share one path; returns logits [n, labels]. */
  async runCellsAndHead(stemOut: Tensor, cells: readonly (readonly number[])[]): Promise<Tensor> {
    let h = stemOut;
    for (let c = 0; c < cells.length; c++) {
      const opts = cells[c];
      if (opts.length === 0) continue; // identity
      let acc: Float32Array | undefined;
      let dims: readonly number[] = [];
      for (const o of opts) {
        const y = await runModule(this.cells[c][o], h);
        if (!acc) {
          acc = Float32Array.from(y.data);
          dims = y.dims;
        } else {
          if (y.data.length !== acc.length)
            throw new Error(`cell ${c} option ${o} output dims [${y.dims.join(',')}] differ from [${dims.join(',')}]`);
          for (let k = 0; k < acc.length; k++) acc[k] += y.data[k];
        }
      }
      h = { data: acc!, dims };
    }
    return runModule(this.head, h);
  }

  /** One batch-1 run of every session on zeros, so that the first request does not pay for a first run. */
  async warmup(): Promise<void> {
    const m = this.manifest;
    const g = m.graph;
    if (this.controller && m.controller) await runModule(this.controller, zeros(m.controller.inputShape));
    await runModule(this.stem, zeros(g.stem.inputShape));
    for (let c = 0; c < g.cells.length; c++)
      for (let o = 0; o < g.cells[c].options.length; o++) await runModule(this.cells[c][o], zeros(g.cells[c].options[o].inputShape));
    await runModule(this.head, zeros(g.head.inputShape));
  }

  async release(): Promise<void> {
    const all = new Set<Session>([this.stem, this.head, ...this.cells.flat()]);
    // The wrapper's own session, so that a session shared with a module (same ONNX file) is released once.
    if (this.controller) all.add(this.controller instanceof SmallGraphSession ? this.controller.session : this.controller);
    await Promise.all([...all].map((s) => s.release()));
  }
}
