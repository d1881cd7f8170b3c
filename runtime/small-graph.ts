// A JS evaluator for very small ONNX graphs, for a controller such as a distilled linear one (4k MACs).
//
// Why: an onnxruntime session run has a fixed cost (node binding, OrtValues, the executor; 25-45 us on the 2-core
// VM of session 12, for a graph of one Relu) that is ten times such a graph's compute. At batch 1 the controller is a
// run of its own before the child path, so that fixed cost is paid per image. Evaluated here it costs a few
// microseconds. Only a handful of ops is understood and the graph must be small (smallGraphMacs); anything else
// returns null and the caller keeps its session. Float32 values as onnxruntime stores them; sums are accumulated in
// float64: results differ from onnxruntime's by ~1e-7 (ModuleTier refuses the JS path beyond 1e-5, checked at
// load), so a probability within ~1e-7 of the threshold may pick another option here (batches <= 2) than in the
// session (larger batches), as between any two float32 kernels.
import type { Session, Tensor } from './engine.js';
import { decodeModel, type AttributeProto, type TensorProto } from './onnx/proto.js';
import { I32, LEN, VARINT, readFields, stringValue, varintValue, type RawField } from './onnx/wire.js';

interface Value {
  data: Float32Array;
  dims: number[];
}
type Attrs = Record<string, number | number[] | string>;
type Op = (inputs: (Value | undefined)[], a: Attrs) => Value;

const size = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

function ints(f: RawField, where: string): number[] {
  if (f.wire === VARINT) return [varintValue(f, where)];
  const out: number[] = [];
  for (const g of readFields(prependKeys(f.data), where)) out.push(varintValue(g, where));
  return out;
}
/** A packed varint payload as a sequence of field-1 varints, so readFields can split it. */
function prependKeys(packed: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const b of packed) {
    if (start) out.push(0x08);
    out.push(b);
    start = b < 0x80;
  }
  return Uint8Array.from(out);
}

function tensor(t: TensorProto, where: string): Value {
  const dims: number[] = [];
  let type = 0;
  let data: Float32Array | undefined;
  for (const f of t.rest) {
    if (f.num === 1) dims.push(...ints(f, `${where}.dims`));
    else if (f.num === 2) type = varintValue(f, `${where}.data_type`);
    // A copy, aligned: f.data may be a view into a Buffer (whose slice() is no copy), at any offset.
    else if ((f.num === 9 || f.num === 4) && f.wire === LEN) data = new Float32Array(Uint8Array.from(f.data).buffer);
  }
  if (type !== 1) throw new Error(`${where}: data type ${type} is not float32`);
  if (!data) throw new Error(`${where}: no raw_data or packed float_data (external data is not read here)`);
  if (data.length !== size(dims)) throw new Error(`${where}: ${data.length} values for dims [${dims.join(',')}]`);
  return { data, dims };
}

function attrs(list: AttributeProto[], where: string): Attrs {
  const out: Attrs = {};
  for (const a of list)
    for (const f of a.rest) {
      if (f.num === 2 && f.wire === I32) out[a.name] = new DataView(f.data.buffer, f.data.byteOffset, 4).getFloat32(0, true);
      else if (f.num === 3) out[a.name] = varintValue(f, `${where}.${a.name}`); // a negative value throws: no JS path
      else if (f.num === 4 && f.wire === LEN) out[a.name] = stringValue(f, `${where}.${a.name}`);
      else if (f.num === 8) out[a.name] = [...((out[a.name] as number[] | undefined) ?? []), ...ints(f, `${where}.${a.name}`)];
    }
  return out;
}

const unary = (fn: (v: number) => number): Op => ([x]) => {
  const d = x!.data;
  const out = new Float32Array(d.length); // a loop: TypedArray.prototype.map took ~100 ns per element here
  for (let i = 0; i < d.length; i++) out[i] = fn(d[i]);
  return { data: out, dims: x!.dims };
};

function meanPool(x: Value, kh: number, kw: number, sh: number, sw: number): Value {
  const [n, c, h, w] = x.dims;
  const oh = Math.floor((h - kh) / sh) + 1;
  const ow = Math.floor((w - kw) / sw) + 1;
  const out = new Float32Array(n * c * oh * ow);
  let o = 0;
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let s = 0;
        for (let u = 0; u < kh; u++) {
          const row = p * h * w + (i * sh + u) * w + j * sw;
          for (let v = 0; v < kw; v++) s += x.data[row + v];
        }
        out[o++] = s / (kh * kw);
      }
  return { data: out, dims: [n, c, oh, ow] };
}

/** Σ a[ao+q]·b[bo+q] for q < k, four partial sums (about twice as fast as one in V8 here). */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, k: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let q = 0;
  for (; q + 3 < k; q += 4) {
    s0 += a[ao + q] * b[bo + q];
    s1 += a[ao + q + 1] * b[bo + q + 1];
    s2 += a[ao + q + 2] * b[bo + q + 2];
    s3 += a[ao + q + 3] * b[bo + q + 3];
  }
  for (; q < k; q++) s0 += a[ao + q] * b[bo + q];
  return s0 + s1 + (s2 + s3);
}

const OPS: Record<string, Op> = {
  Relu: unary((v) => (v > 0 ? v : 0)),
  Sigmoid: unary((v) => 1 / (1 + Math.exp(-v))),
  Flatten: ([x], a) => {
    const axis = (a.axis as number | undefined) ?? 1;
    return { data: x!.data, dims: [size(x!.dims.slice(0, axis)), size(x!.dims.slice(axis))] };
  },
  GlobalAveragePool: ([x]) => meanPool(x!, x!.dims[2], x!.dims[3], 1, 1),
  ReduceMean: ([x], a) => {
    const axes = a.axes as number[] | undefined;
    if (x!.dims.length !== 4 || String(axes) !== '2,3') throw new Error(`ReduceMean over axes ${String(axes)}`);
    const y = meanPool(x!, x!.dims[2], x!.dims[3], 1, 1);
    return a.keepdims === 0 ? { data: y.data, dims: y.dims.slice(0, 2) } : y;
  },
  AveragePool: ([x], a) => {
    const k = a.kernel_shape as number[];
    const s = (a.strides as number[] | undefined) ?? k.map(() => 1); // ONNX's default stride is 1 (torch's is the kernel)
    if ((a.pads as number[] | undefined)?.some((p) => p !== 0) || a.ceil_mode) throw new Error('AveragePool with pads or ceil_mode');
    if ((a.dilations as number[] | undefined)?.some((d) => d !== 1)) throw new Error('AveragePool with dilations');
    return meanPool(x!, k[0], k[1], s[0], s[1]);
  },
  Gemm: ([x, w, b], a) => {
    if (a.transA) throw new Error('Gemm with transA');
    const [n, k] = x!.dims;
    const tb = !!a.transB;
    const m = tb ? w!.dims[0] : w!.dims[1];
    if ((tb ? w!.dims[1] : w!.dims[0]) !== k) throw new Error(`Gemm: [${x!.dims}] x [${w!.dims}]`);
    if (b && b.data.length !== m && b.data.length !== 1) throw new Error(`Gemm bias of ${b.data.length} values`);
    const alpha = (a.alpha as number | undefined) ?? 1;
    const beta = (a.beta as number | undefined) ?? 1;
    const X = x!.data;
    const W = w!.data;
    const bias = b?.data;
    const out = new Float32Array(n * m);
    for (let r = 0; r < n; r++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        if (tb) s = dot(X, r * k, W, j * k, k);
        else for (let q = 0, xo = r * k; q < k; q++) s += X[xo + q] * W[q * m + j];
        out[r * m + j] = alpha * s + (bias ? beta * bias[bias.length === m ? j : 0] : 0); // bias: [m] or [1]
      }
    return { data: out, dims: [n, m] };
  },
};

/** Multiply-adds per input row, for the size limit: Gemm's (its weight count). Pooling and activations, about one
 * operation per input element, are not counted (784 adds for a 28x28 image). */
function costPerRow(op: string, ins: (Value | undefined)[]): number {
  return op === 'Gemm' ? ins[1]!.data.length : 0;
}

/** auto_pad other than NOTSET/VALID pads implicitly, which these ops do not do. */
const padsImplicitly = (a: Attrs) => typeof a.auto_pad === 'string' && a.auto_pad !== 'NOTSET' && a.auto_pad !== 'VALID';

export interface SmallGraph {
  readonly macs: number;
  run(x: Tensor): Tensor;
}

/**
 * The graph in `bytes` as a JS function, or null when it is not one this evaluator takes: an op outside
 * Relu, Sigmoid, Flatten, GlobalAveragePool, ReduceMean (axes 2,3), AveragePool (no pads), Gemm; more than
 * `maxMacs` multiply-adds per input; not one input 'x' and one output 'y'; or anything it cannot decode.
 */
export function smallGraph(bytes: Uint8Array, maxMacs: number): SmallGraph | null {
  try {
    const g = decodeModel(bytes, 'small graph').graph;
    // Ops first: a CNN controller is refused before its weights are decoded.
    if (g.node.some((n) => n.domain || !(n.opType in OPS))) return null;
    const nodes = g.node.map((n) => ({ op: n.opType, ins: n.input, out: n.output[0], a: attrs(n.attribute, n.name) }));
    if (nodes.some((n) => padsImplicitly(n.a))) return null;
    const consts = new Map<string, Value>(g.initializer.map((t) => [t.name, tensor(t, `initializer ${t.name}`)]));
    const inputs = g.input.map((i) => i.name).filter((n) => !consts.has(n));
    if (inputs.length !== 1 || inputs[0] !== 'x' || g.output.length !== 1 || g.output[0].name !== 'y') return null;
    const macs = nodes.reduce((s, n) => s + costPerRow(n.op, n.ins.map((i) => consts.get(i))), 0);
    if (macs > maxMacs) return null;
    return {
      macs,
      run(x: Tensor): Tensor {
        // Intermediates only: the constants are read from their own map, not copied per call (the batch-1 hot path).
        const env = new Map<string, Value>([['x', { data: x.data, dims: [...x.dims] }]]);
        const value = (i: string) => (i ? (env.get(i) ?? consts.get(i)) : undefined);
        for (const n of nodes) env.set(n.out, OPS[n.op](n.ins.map(value), n.a));
        const y = env.get('y');
        if (!y) throw new Error("small graph produced no output 'y'");
        return { data: y.data, dims: y.dims };
      },
    };
  } catch {
    return null;
  }
}

/**
 * A session that evaluates batches of at most `maxBatch` rows with `graph` in JS and larger ones with `session`
 * (there onnxruntime's run cost is shared by the rows and its kernels win).
 */
export class SmallGraphSession implements Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  constructor(
    private readonly graph: SmallGraph,
    /** The graph's onnxruntime session: larger batches, and release(). */
    readonly session: Session,
    private readonly maxBatch: number,
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const x = feeds.x;
    if (x && x.dims[0] <= this.maxBatch) return { y: this.graph.run(x) };
    return this.session.run(feeds);
  }
  release(): Promise<void> {
    return this.session.release();
  }
}
