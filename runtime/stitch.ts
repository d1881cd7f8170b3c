// Stitching ONNX modules into one graph, shared by compiled paths (compile.ts) and the
// routed batch graph (routed.ts). Every name of a module is prefixed with its id
// ('cell03_op2/...'), so modules never collide and the stitched graph shows which
// modules it holds; only byte-identical initializers are shared. Environment-neutral.
import type { ModuleSpec } from './manifest-types.js';
import { decodeModel, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './onnx/proto.js';
import type { RawField } from './onnx/wire.js';

/** Reads a bundle file by its manifest name. */
export type ReadFile = (name: string) => Uint8Array | Promise<Uint8Array>;

/** Name prefix of the nodes a stitcher adds to a cell (sums, routing); '#' cannot occur in module ids. */
export const sumPrefix = (cell: number): string => `#cell${cell}/`;

/** Decodes each module file once (shared files, parallel reads). */
export function moduleLoader(readFile: ReadFile): (spec: ModuleSpec) => Promise<ModelProto> {
  const decoded = new Map<string, Promise<ModelProto>>();
  return (spec) => {
    let p = decoded.get(spec.file);
    if (!p) {
      p = Promise.resolve(readFile(spec.file)).then((bytes) => decodeModel(bytes, spec.file));
      decoded.set(spec.file, p);
    }
    return p;
  };
}

/**
 * Hash of an initializer's content (every field but its name): FNV-1a over field
 * numbers, lengths and at most ~4k sampled bytes per field, so hashing a large
 * weight costs little; equal hashes are confirmed byte by byte (sameContent).
 */
function contentHash(fields: readonly RawField[]): number {
  let h = 0x811c9dc5;
  const mix = (v: number) => (h = Math.imul(h ^ v, 0x01000193));
  for (const f of fields) {
    mix(f.num);
    mix(f.wire);
    mix(f.data.length);
    const step = Math.max(1, Math.floor(f.data.length / 4096));
    for (let i = 0; i < f.data.length; i += step) mix(f.data[i]);
  }
  return h >>> 0;
}
const sameContent = (a: readonly RawField[], b: readonly RawField[]) =>
  a.length === b.length &&
  a.every((f, i) => f.num === b[i].num && f.wire === b[i].wire && f.data.length === b[i].data.length && f.data.every((v, k) => v === b[i].data[k]));

/** Lets other work (requests) run during a long compile: a macrotask break every ~4 ms of stitching. */
export async function yieldSometimes(state: { last: number }): Promise<void> {
  if (performance.now() - state.last < 4) return;
  await new Promise((r) => setTimeout(r, 0));
  state.last = performance.now();
}

type Rename = (name: string) => string;

function renameGraph(g: GraphProto, rename: Rename, prefix: string): GraphProto {
  return {
    ...g,
    node: g.node.map((n, i) => renameNode(n, i, rename, prefix)),
    initializer: g.initializer.map((t) => ({ ...t, name: rename(t.name) })),
    input: g.input.map((v) => ({ ...v, name: rename(v.name) })),
    output: g.output.map((v) => ({ ...v, name: rename(v.name) })),
    valueInfo: g.valueInfo.map((v) => ({ ...v, name: rename(v.name) })),
  };
}

function renameNode(n: NodeProto, i: number, rename: Rename, prefix: string): NodeProto {
  return {
    ...n,
    // Unnamed nodes get one too: the node name is what tells which module a node came from.
    name: prefix + (n.name || `${n.opType}_${i}`),
    input: n.input.map(rename),
    output: n.output.map(rename),
    attribute: n.attribute.map((a) => ({
      ...a,
      g: a.g && renameGraph(a.g, rename, prefix),
      graphs: a.graphs.map((g) => renameGraph(g, rename, prefix)),
    })),
  };
}

/** Accumulates modules into one graph. */
export class Stitcher {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly valueInfo: ValueInfoProto[] = [];
  readonly opsets = new Map<string, number>();
  irVersion = 0;
  input: ValueInfoProto | undefined;
  output: ValueInfoProto | undefined;
  private readonly shared = new Map<number, { rest: readonly RawField[]; name: string }[]>();

  /** Adds module `spec` reading value `from`; returns the name of its output (`to` when given). */
  add(spec: ModuleSpec, model: ModelProto, from: string, to?: string): string {
    const g = model.graph;
    const where = spec.file;
    for (const [num, what] of [[14, 'quantization_annotation'], [15, 'sparse_initializer']] as const)
      if (g.rest.some((f) => f.num === num)) throw new Error(`${where}: graph.${what} is not supported by stitching`);
    if (model.rest.some((f) => f.num === 25)) throw new Error(`${where}: model-local functions are not supported by stitching`);
    const initNames = new Set(g.initializer.map((t) => t.name));
    const inputs = g.input.filter((v) => !initNames.has(v.name)); // IR < 4 lists initializers as inputs too
    if (inputs.length !== 1 || g.output.length !== 1)
      throw new Error(`${where}: expected one graph input and one output, found ${inputs.length} and ${g.output.length}`);
    const inName = inputs[0].name;
    const outName = g.output[0].name;
    const prefix = `${spec.id}/`;
    const out = to ?? prefix + outName;

    // Share an initializer only when its whole encoding (type, dims, payload) is identical.
    const alias = new Map<string, string>();
    const own: TensorProto[] = [];
    for (const t of g.initializer) {
      const h = contentHash(t.rest);
      const same = this.shared.get(h)?.find((s) => sameContent(s.rest, t.rest));
      if (same) alias.set(t.name, same.name);
      else {
        own.push(t);
        const list = this.shared.get(h) ?? [];
        list.push({ rest: t.rest, name: prefix + t.name });
        this.shared.set(h, list);
      }
    }
    const rename: Rename = (n) => (n === '' ? '' : n === inName ? from : n === outName ? out : alias.get(n) ?? prefix + n);
    // value_info of the boundary values is dropped: they are described once, by their producer.
    const valueInfo = g.valueInfo.filter((v) => v.name !== inName && v.name !== outName);
    const r = renameGraph({ ...g, initializer: own, input: inputs, valueInfo }, rename, prefix);

    this.nodes.push(...r.node);
    this.inits.push(...r.initializer);
    this.valueInfo.push(...r.valueInfo);
    if (!this.input) this.input = r.input[0];
    if (to === undefined) this.valueInfo.push(r.output[0]);
    else this.output = r.output[0];
    this.irVersion = Math.max(this.irVersion, model.irVersion);
    for (const o of model.opsetImport) this.opsets.set(o.domain, Math.max(this.opsets.get(o.domain) ?? 0, o.version));
    return out;
  }

  sum(cell: number, values: string[]): string {
    let acc = values[0];
    for (let k = 1; k < values.length; k++) {
      // Left to right, as tier 1 accumulates, so both tiers round the same way.
      const next = `${sumPrefix(cell)}sum${k}`;
      this.nodes.push({ input: [acc, values[k]], output: [next], name: `${sumPrefix(cell)}add${k}`, opType: 'Add', domain: '', attribute: [], rest: [] });
      acc = next;
    }
    return acc;
  }
}
