// Minimal ONNX (protobuf) writer for test fixtures. There is no torch/onnx in the
// Node toolchain, so synthetic bundles are encoded by hand: just the ModelProto
// fields onnxruntime needs (graph nodes, float initializers, typed inputs/outputs).

class Pb {
  private parts: number[] = [];

  private varint(v: number | bigint): void {
    let n = BigInt(v);
    if (n < 0n) n += 1n << 64n; // two's complement, as protobuf encodes negative int64
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (n > 0n);
  }
  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.done());
  }
  float(field: number, f: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, f, true);
    for (const x of b) this.parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export type Attr = number | number[] | string;
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
}
export interface Init {
  name: string;
  dims: number[];
  data: number[] | Float32Array;
  /** int64 tensors are needed for shape-like inputs (Reshape etc.). */
  int64?: boolean;
}

function valueInfo(name: string, shape: (number | string)[]): Pb {
  const dims = new Pb();
  for (const d of shape) {
    dims.msg(1, typeof d === 'string' ? new Pb().str(2, d) : new Pb().int(1, d));
  }
  const tensorType = new Pb().int(1, 1).msg(2, dims);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

function attribute(name: string, v: Attr): Pb {
  const a = new Pb().str(1, name);
  if (typeof v === 'string') return a.str(4, v).int(20, 3);
  if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    return a.int(20, 7);
  }
  if (Number.isInteger(v)) return a.int(3, v).int(20, 2);
  return a.float(2, v).int(20, 1);
}

function tensor(init: Init): Pb {
  const t = new Pb();
  for (const d of init.dims) t.int(1, d);
  t.int(2, init.int64 ? 7 : 1);
  t.str(8, init.name);
  const n = init.data.length;
  const raw = new Uint8Array(n * (init.int64 ? 8 : 4));
  const view = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    if (init.int64) view.setBigInt64(i * 8, BigInt(init.data[i]), true);
    else view.setFloat32(i * 4, init.data[i], true);
  }
  return t.bytes(9, raw);
}

/**
 * Encodes a single-input (x) single-output (y) float32 model. Dimension 0 of
 * the declared shapes is symbolic ("N") to mirror the dynamic batch of real bundles.
 */
export function buildModel(spec: {
  nodes: NodeSpec[];
  inits?: Init[];
  inputShape: number[];
  outputShape: number[];
  opset?: number;
}): Uint8Array {
  const g = new Pb();
  spec.nodes.forEach((n, i) => {
    const node = new Pb();
    for (const inp of n.inputs) node.str(1, inp);
    for (const out of n.outputs) node.str(2, out);
    node.str(3, `n${i}`).str(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.msg(5, attribute(k, v));
    g.msg(1, node);
  });
  g.str(2, 'g');
  for (const init of spec.inits ?? []) g.msg(5, tensor(init));
  g.msg(11, valueInfo('x', ['N', ...spec.inputShape.slice(1)]));
  g.msg(12, valueInfo('y', ['N', ...spec.outputShape.slice(1)]));
  return new Pb()
    .int(1, 8)
    .str(2, 'instanas-test')
    .msg(7, g)
    .msg(8, new Pb().str(1, '').int(2, spec.opset ?? 13))
    .done();
}
