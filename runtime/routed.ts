// Tier 3 of execution: one ONNX graph that runs a whole batch whose rows took
// different paths, as the search trains (each option runs on the rows that chose it).
// Grouping a batch by path costs one session run per distinct path, each on a few
// rows: session 6's 37-path default bundle split a batch of 8 into ~5.4 runs. This graph takes the
// batch once: per routed cell, every covered option gathers its rows (an index
// input), runs on them (zero rows is a valid, near-free run), and a second gather
// takes each row's output (its option's, or the input itself for identity), or, in a
// cell where a covered path runs two options, puts a row's outputs side by side to
// be summed. Cells where every covered path runs the same options are
// stitched as in a compiled path, without routing. Covered paths come from the
// bundle's hot paths; a row outside them takes tier 1 or 2. Environment-neutral.
import type { Tensor } from './engine.js';
import type { Manifest } from './manifest-types.js';
import { encodeModel, type AttributeProto, type GraphProto, type NodeProto, type ValueInfoProto } from './onnx/proto.js';
import { Writer, readFields, type RawField } from './onnx/wire.js';
import { cellRules, decodeCode } from './path.js';
import { moduleLoader, Stitcher, sumPrefix, yieldSometimes, type ReadFile } from './stitch.js';

/** How the routed graph treats one cell. */
export type RoutedCell =
  /** Every covered path runs exactly these options ([] = identity): no routing. */
  | { kind: 'fixed'; options: readonly number[] }
  /**
   * Each row runs its own subset of `options`; `identity`: an empty subset (the input passes through) occurs;
   * `multi`: some covered path runs two or more options here (rows are then summed, else each row picks one value).
   */
  | { kind: 'routed'; options: readonly number[]; identity: boolean; multi: boolean };

export interface RoutedPlan {
  cells: readonly RoutedCell[];
  /** The path codes the plan was made from. */
  codes: readonly string[];
}

/** The plan covering `codes` (path codes of the bundle). Throws RangeError naming `codes`. */
export function planRouted(manifest: Manifest, codes: readonly string[]): RoutedPlan {
  if (codes.length === 0) throw new RangeError('codes: a routed graph needs at least one path code');
  const counts = manifest.graph.cells.map((c) => c.options.length);
  const rules = cellRules(manifest);
  const paths = codes.map((code) => decodeCode(code, counts));
  paths.forEach((p, i) =>
    p.forEach((opts, ci) => {
      if (opts.length === 0 && !rules[ci].identityWhenEmpty)
        throw new RangeError(`codes[${i}]: cell ${ci} changes shape and cannot be empty`);
    }),
  );
  const cells = counts.map((_, ci): RoutedCell => {
    const sets = new Set(paths.map((p) => p[ci].join(',')));
    if (sets.size === 1) return { kind: 'fixed', options: paths[0][ci] };
    const union = [...new Set(paths.flatMap((p) => p[ci]))].sort((a, b) => a - b);
    return { kind: 'routed', options: union, identity: paths.some((p) => p[ci].length === 0), multi: paths.some((p) => p[ci].length > 1) };
  });
  return { cells, codes: [...codes] };
}

/** True when the routed graph can run a row with these executed options per cell (ascending). */
export function covers(plan: RoutedPlan, cells: readonly (readonly number[])[]): boolean {
  return plan.cells.every((c, ci) => {
    const got = cells[ci];
    if (c.kind === 'fixed') return got.length === c.options.length && got.every((o, k) => o === c.options[k]);
    if (got.length > 1 && !c.multi) return false;
    return got.length === 0 ? c.identity : got.every((o) => c.options.includes(o));
  });
}

/** Feed names: the rows each option of a routed cell runs on, and the per-row picks to sum. */
export const routeInput = (cell: number, option: number): string => `route${cell}_${option}`;
export const pickInput = (cell: number): string => `pick${cell}`;

/**
 * Feeds for a batch `x` whose row i runs `rows[i]` (executed options per cell; every row must be covered:
 * RangeError naming `rows[i]` otherwise).
 * Indices travel as float32 (exact below 2^24) and are cast inside the graph, so the engines keep
 * one tensor type. Per routed cell, the summed values are numbered: 0 = a zero row (padding),
 * 1..N = the cell's input rows (identity, when the plan has it), then each option's outputs in order;
 * `pick{c}` is [N] (one value per row) in a cell without summed options, else [N, S].
 */
export function routedFeeds(plan: RoutedPlan, x: Tensor, rows: readonly (readonly (readonly number[])[])[]): Record<string, Tensor> {
  const n = x.dims[0];
  if (rows.length !== n) throw new RangeError(`rows: ${rows.length} paths for a batch of ${n}`);
  rows.forEach((r, i) => {
    if (!covers(plan, r)) throw new RangeError(`rows[${i}]: path is not covered by the routed graph`);
  });
  const feeds: Record<string, Tensor> = { x };
  plan.cells.forEach((c, ci) => {
    if (c.kind !== 'routed') return;
    const slot = new Map(c.options.map((o, k) => [o, k]));
    const members: number[][] = c.options.map(() => []);
    let width = 1;
    for (let i = 0; i < n; i++) {
      const opts = rows[i][ci];
      width = Math.max(width, opts.length);
      for (const o of opts) members[slot.get(o)!].push(i);
    }
    const start: number[] = [];
    let next = 1 + (c.identity ? n : 0);
    members.forEach((m, k) => {
      start.push(next);
      next += m.length;
      feeds[routeInput(ci, c.options[k])] = { data: Float32Array.from(m), dims: [m.length] };
    });
    const seen = c.options.map(() => 0);
    const pick = new Float32Array(n * width); // zeros: pad with the zero row
    for (let i = 0; i < n; i++) {
      const opts = rows[i][ci];
      if (opts.length === 0) pick[i * width] = 1 + i;
      opts.forEach((o, j) => {
        const k = slot.get(o)!;
        pick[i * width + j] = start[k] + seen[k]++;
      });
    }
    // A cell without summed options takes one pick per row: [N], and the graph has no sum to do.
    feeds[pickInput(ci)] = { data: pick, dims: c.multi ? [n, width] : [n] };
  });
  return feeds;
}

// ---- building the graph: the few messages the stitched modules do not bring ----

const raw = (w: Writer): RawField[] => readFields(w.finish(), 'routed graph');
const FLOAT = 1;
const INT64 = 7;

function node(opType: string, input: string[], output: string, name: string, attribute: AttributeProto[] = []): NodeProto {
  return { input, output: [output], name, opType, domain: '', attribute, rest: [] };
}
/** An INT attribute (type 2, field i = 3). */
const intAttr = (name: string, v: number): AttributeProto => ({ name, g: undefined, graphs: [], rest: raw(new Writer().int(20, 2).int(3, v)) });
/** An INTS attribute (type 7, field ints = 8). */
const intsAttr = (name: string, v: number[]): AttributeProto => {
  const w = new Writer().int(20, 7);
  for (const x of v) w.int(8, x);
  return { name, g: undefined, graphs: [], rest: raw(w) };
};
/** A float32 graph input whose dimensions are all symbolic. */
function floatInput(name: string, dims: string[]): ValueInfoProto {
  const shape = new Writer();
  for (const d of dims) shape.bytes(1, new Writer().string(2, d));
  const tensor = new Writer().int(1, FLOAT).bytes(2, shape);
  return { name, rest: raw(new Writer().bytes(2, new Writer().bytes(1, tensor))) };
}
/** An initializer of zeros (float32) or of the given int64 values. */
function initializer(name: string, dims: number[], type: number, values: number[] = []) {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  w.int(2, type);
  if (type === FLOAT) w.bytes(9, new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)));
  else for (const v of values) w.int(7, v); // int64_data: non-negative here, so plain varints
  return { name, rest: raw(w) };
}

/**
 * Builds the routed graph for `plan`: input `x` (batch), for each routed cell `route{c}_{o}` ([k], the
 * rows option o runs on) and `pick{c}` ([N] or [N, S], see routedFeeds); output `y` (logits).
 */
export async function compileRouted(manifest: Manifest, readFile: ReadFile, plan: RoutedPlan): Promise<Uint8Array> {
  const g = manifest.graph;
  if (plan.cells.length !== g.cells.length) throw new RangeError(`plan: has ${plan.cells.length} cells, the bundle ${g.cells.length}`);
  const load = moduleLoader(readFile);
  const s = new Stitcher();
  const inputs: ValueInfoProto[] = [];
  const clock = { last: performance.now() };
  let h = s.add(g.stem, await load(g.stem), 'x');
  for (let ci = 0; ci < g.cells.length; ci++) {
    const c = plan.cells[ci];
    const cell = g.cells[ci];
    const outs: string[] = [];
    if (c.kind === 'fixed') {
      if (c.options.length === 0) continue; // identity for every covered path
      for (const o of c.options) outs.push(s.add(cell.options[o], await load(cell.options[o]), h));
      h = s.sum(ci, outs);
      continue;
    }
    const p = `${sumPrefix(ci)}route/`;
    const zero = `${p}zero`;
    s.inits.push(initializer(zero, [1, ...cell.outputShape.slice(1)], FLOAT));
    const parts = [zero, ...(c.identity ? [h] : [])];
    for (const o of c.options) {
      const name = routeInput(ci, o);
      inputs.push(floatInput(name, [`rows${ci}_${o}`]));
      s.nodes.push(node('Cast', [name], `${p}rows${o}`, `${p}cast${o}`, [intAttr('to', INT64)]));
      s.nodes.push(node('Gather', [h, `${p}rows${o}`], `${p}in${o}`, `${p}gather${o}`, [intAttr('axis', 0)]));
      parts.push(s.add(cell.options[o], await load(cell.options[o]), `${p}in${o}`));
      await yieldSometimes(clock);
    }
    inputs.push(floatInput(pickInput(ci), c.multi ? ['n', `picks${ci}`] : ['n']));
    s.nodes.push(node('Concat', parts, `${p}all`, `${p}concat`, [intAttr('axis', 0)]));
    s.nodes.push(node('Cast', [pickInput(ci)], `${p}pick`, `${p}castpick`, [intAttr('to', INT64)]));
    if (!c.multi) {
      h = `${p}picked`;
      s.nodes.push(node('Gather', [`${p}all`, `${p}pick`], h, `${p}gatherpick`, [intAttr('axis', 0)])); // [N, C, H, W]
      continue;
    }
    s.nodes.push(node('Gather', [`${p}all`, `${p}pick`], `${p}picked`, `${p}gatherpick`, [intAttr('axis', 0)])); // [N, S, C, H, W]
    h = `${p}sum`;
    // Sum over the picks (axis 1). Opset 13 moved ReduceSum's axes from an attribute to an input.
    if ((s.opsets.get('') ?? s.opsets.get('ai.onnx') ?? 13) >= 13) {
      s.inits.push(initializer(`${p}axes`, [1], INT64, [1]));
      s.nodes.push(node('ReduceSum', [`${p}picked`, `${p}axes`], h, `${p}reducesum`, [intAttr('keepdims', 0)]));
    } else s.nodes.push(node('ReduceSum', [`${p}picked`], h, `${p}reducesum`, [intsAttr('axes', [1]), intAttr('keepdims', 0)]));
  }
  s.add(g.head, await load(g.head), h, 'y');

  const graph: GraphProto = {
    node: s.nodes,
    name: `${manifest.name} routed over ${plan.codes.length} paths`,
    initializer: s.inits,
    input: [{ ...s.input!, name: 'x' }, ...inputs],
    output: [{ ...s.output!, name: 'y' }],
    // The modules' value_info names their batch dimension alike ('batch'); here each option runs on its own
    // number of rows, and onnxruntime takes equal names for equal sizes (it reuses buffers on that basis), so
    // the intermediate shapes are left to its own inference.
    valueInfo: [],
    rest: [],
  };
  const opsetImport = [...s.opsets].map(([domain, version]) => ({ domain, version }));
  // The added nodes need the default domain ('' or its alias 'ai.onnx').
  if (!s.opsets.has('') && !s.opsets.has('ai.onnx')) opsetImport.push({ domain: '', version: 13 });
  return encodeModel({ irVersion: s.irVersion, opsetImport, graph, rest: [] });
}
