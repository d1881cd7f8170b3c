// Tier 1 of execution: every module of the bundle is its own session (the stem, each cell's options, the
// head, and the controller), created once; a path runs module by module, summing a cell's options in JS.
// Any path runs here without a compile, so this is the fallback and the reference the other tiers are
// tested against. Environment-neutral.
import type { Session, Tensor } from './engine.js';
import type { Manifest } from './manifest-types.js';
import type { BundleSource } from './model-types.js';

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
  static async create(src: BundleSource, threads: number): Promise<ModuleTier> {
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
    const controller = m.kind === 'instanas' && m.controller ? await session(m.controller.file) : null;
    const stem = await session(m.graph.stem.file);
    const cells = await Promise.all(m.graph.cells.map((c) => Promise.all(c.options.map((o) => session(o.file)))));
    return new ModuleTier(m, controller, stem, cells, await session(m.graph.head.file));
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
    if (this.controller) all.add(this.controller);
    await Promise.all([...all].map((s) => s.release()));
  }
}
