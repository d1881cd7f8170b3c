// Tier 3 at run time: the routed graph's session, which paths it covers, and running covered rows through it.
// The graph itself is built by routed.ts. Environment-neutral.
import type { Session, Tensor } from './engine.js';
import type { Manifest } from './manifest-types.js';
import { ROUTED_MIN_SHARE, type BundleSource, type ModelOptions } from './model-types.js';
import { decodeCode, type Path } from './path.js';
import { compileRouted, covers, planRouted, routedFeeds, type RoutedPlan } from './routed.js';

export class RoutedTier {
  /** Path code -> covered by the plan (bounded; codes come from the controller). */
  private readonly covered = new Map<string, boolean>();

  private constructor(
    readonly plan: RoutedPlan,
    private readonly session: Session,
    private readonly labels: number,
  ) {}

  /**
   * The plan for `opts.routed` ('hot': the hot paths with share >= ROUTED_MIN_SHARE), or null when the routed
   * graph is off, not applicable (tier 'modules', a static bundle) or would cover fewer than two paths (one
   * path: its compiled graph is the same work without routing). Throws RangeError naming options.routed for
   * bad codes; cheap, so a model checks it before creating any session.
   */
  static plan(m: Manifest, opts: ModelOptions): RoutedPlan | null {
    if (opts.routed === 'off' || opts.tier === 'modules' || m.kind !== 'instanas') return null;
    const codes = opts.routed === 'hot' ? (m.hotPaths ?? []).filter((h) => h.share >= ROUTED_MIN_SHARE).map((h) => h.code) : [...opts.routed];
    if (codes.length < 2) return null;
    try {
      return planRouted(m, codes);
    } catch (err) {
      throw err instanceof RangeError ? new RangeError(`options.routed: ${err.message}`) : err;
    }
  }

  /** Builds the routed graph of `plan` and its session. */
  static async create(src: BundleSource, opts: ModelOptions, plan: RoutedPlan): Promise<RoutedTier> {
    const session = await src.engine.createSession(await compileRouted(src.manifest, src.readFile, plan), { intraOpNumThreads: opts.threads });
    return new RoutedTier(plan, session, src.manifest.labels.length);
  }

  /** Whether the routed graph can run this path (memoised per code). */
  covers(p: Path): boolean {
    let v = this.covered.get(p.code);
    if (v === undefined) {
      v = covers(this.plan, p.cells);
      if (this.covered.size >= 1024) this.covered.clear();
      this.covered.set(p.code, v);
    }
    return v;
  }

  /** Logits [rows, labels] for the rows of `x`, row i on `paths[i]` (every one covered). */
  async run(x: Tensor, paths: readonly Path[]): Promise<Tensor> {
    const y = (await this.session.run(routedFeeds(this.plan, x, paths.map((p) => p.cells)))).y;
    if (!y || y.dims.length !== 2 || y.dims[0] !== paths.length || y.dims[1] !== this.labels)
      throw new Error(`routed graph output has dims [${y?.dims.join(',')}], expected [${paths.length},${this.labels}]`);
    return y;
  }

  /** Two zero rows on the first two covered paths, so the first mixed batch does not pay the session's first run. */
  async warmup(inputShape: readonly number[], optionCounts: readonly number[]): Promise<void> {
    const dims = [2, ...inputShape.slice(1)];
    const x: Tensor = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
    const rows = this.plan.codes.slice(0, 2).map((c) => decodeCode(c, optionCounts));
    await this.session.run(routedFeeds(this.plan, x, rows));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
