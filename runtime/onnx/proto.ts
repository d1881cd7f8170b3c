// The ONNX messages (onnx.proto3 field numbers) that stitching graphs needs, as
// plain objects: names and structure are decoded, everything else (types, tensor
// payloads, attribute values, doc strings) stays in `rest` as raw fields and is
// written back untouched. Tensor payloads are views into the input, not copies.
import { LEN, Writer, readFields, stringValue, varintValue, type RawField } from './wire.js';

export interface OperatorSetId {
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetId[];
  graph: GraphProto;
  /** producer_name, doc_string, metadata_props, functions (25), ... */
  rest: RawField[];
}

export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  /** doc_string, quantization_annotation (14), sparse_initializer (15), ... */
  rest: RawField[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProto[];
  rest: RawField[];
}

export interface AttributeProto {
  name: string;
  /** Subgraphs (If/Loop/Scan bodies): they can name outer values, so they are decoded too. */
  g: GraphProto | undefined;
  graphs: GraphProto[];
  rest: RawField[];
}

/** Only the name is decoded; dims, data type and payload stay raw. */
export interface TensorProto {
  name: string;
  rest: RawField[];
}

export interface ValueInfoProto {
  name: string;
  rest: RawField[];
}

/** Decodes fields into `out`; `on` returns false for fields it does not handle (kept in rest). */
function decodeWith<T extends { rest: RawField[] }>(buf: Uint8Array, where: string, out: T, on: (f: RawField) => boolean): T {
  for (const f of readFields(buf, where)) if (!on(f)) out.rest.push(f);
  return out;
}

const isLen = (f: RawField) => f.wire === LEN;

export function decodeModel(buf: Uint8Array, where = 'model'): ModelProto {
  let graph: GraphProto | undefined;
  const m = { irVersion: 0, opsetImport: [] as OperatorSetId[], rest: [] as RawField[] };
  decodeWith(buf, where, m, (f) => {
    if (f.num === 1) m.irVersion = varintValue(f, `${where}.ir_version`);
    else if (f.num === 7 && isLen(f)) graph = decodeGraph(f.data, `${where}.graph`);
    else if (f.num === 8 && isLen(f)) m.opsetImport.push(decodeOpset(f.data, `${where}.opset_import`));
    else return false;
    return true;
  });
  if (!graph) throw new Error(`${where}: has no graph (not an ONNX model?)`);
  return { ...m, graph };
}

function decodeOpset(buf: Uint8Array, where: string): OperatorSetId {
  const o: OperatorSetId = { domain: '', version: 0 };
  for (const f of readFields(buf, where)) {
    if (f.num === 1) o.domain = stringValue(f, `${where}.domain`);
    else if (f.num === 2) o.version = varintValue(f, `${where}.version`);
  }
  return o;
}

export function decodeGraph(buf: Uint8Array, where = 'graph'): GraphProto {
  const g: GraphProto = { node: [], name: '', initializer: [], input: [], output: [], valueInfo: [], rest: [] };
  return decodeWith(buf, where, g, (f) => {
    if (!isLen(f)) return false;
    if (f.num === 1) g.node.push(decodeNode(f.data, `${where}.node[${g.node.length}]`));
    else if (f.num === 2) g.name = stringValue(f, `${where}.name`);
    else if (f.num === 5) g.initializer.push(decodeNamed(f.data, `${where}.initializer`, 8));
    else if (f.num === 11) g.input.push(decodeNamed(f.data, `${where}.input`, 1));
    else if (f.num === 12) g.output.push(decodeNamed(f.data, `${where}.output`, 1));
    else if (f.num === 13) g.valueInfo.push(decodeNamed(f.data, `${where}.value_info`, 1));
    else return false;
    return true;
  });
}

function decodeNode(buf: Uint8Array, where: string): NodeProto {
  const n: NodeProto = { input: [], output: [], name: '', opType: '', domain: '', attribute: [], rest: [] };
  return decodeWith(buf, where, n, (f) => {
    if (!isLen(f)) return false;
    if (f.num === 1) n.input.push(stringValue(f, `${where}.input`));
    else if (f.num === 2) n.output.push(stringValue(f, `${where}.output`));
    else if (f.num === 3) n.name = stringValue(f, `${where}.name`);
    else if (f.num === 4) n.opType = stringValue(f, `${where}.op_type`);
    else if (f.num === 7) n.domain = stringValue(f, `${where}.domain`);
    else if (f.num === 5) n.attribute.push(decodeAttribute(f.data, `${where}.attribute`));
    else return false;
    return true;
  });
}

function decodeAttribute(buf: Uint8Array, where: string): AttributeProto {
  const a: AttributeProto = { name: '', g: undefined, graphs: [], rest: [] };
  return decodeWith(buf, where, a, (f) => {
    if (!isLen(f)) return false;
    if (f.num === 1) a.name = stringValue(f, `${where}.name`);
    else if (f.num === 6) a.g = decodeGraph(f.data, `${where}.g`);
    else if (f.num === 11) a.graphs.push(decodeGraph(f.data, `${where}.graphs`));
    else return false;
    return true;
  });
}

/** TensorProto (name = field 8) and ValueInfoProto (name = field 1) share this shape. */
function decodeNamed(buf: Uint8Array, where: string, nameField: number): { name: string; rest: RawField[] } {
  const t = { name: '', rest: [] as RawField[] };
  return decodeWith(buf, where, t, (f) => {
    if (f.num !== nameField || !isLen(f)) return false;
    t.name = stringValue(f, `${where}.name`);
    return true;
  });
}

// ---- encoding: known fields first (by field number), then the untouched rest ----

const withRest = (w: Writer, rest: readonly RawField[]): Writer => {
  for (const f of rest) w.raw(f);
  return w;
};

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer().int(1, m.irVersion).bytes(7, graphWriter(m.graph));
  for (const o of m.opsetImport) w.bytes(8, new Writer().string(1, o.domain).int(2, o.version));
  return withRest(w, m.rest).finish();
}

export function encodeGraph(g: GraphProto): Uint8Array {
  return graphWriter(g).finish();
}

function graphWriter(g: GraphProto): Writer {
  const w = new Writer();
  for (const n of g.node) w.bytes(1, encodeNode(n));
  if (g.name) w.string(2, g.name);
  for (const t of g.initializer) w.bytes(5, encodeNamed(t, 8));
  for (const v of g.input) w.bytes(11, encodeNamed(v, 1));
  for (const v of g.output) w.bytes(12, encodeNamed(v, 1));
  for (const v of g.valueInfo) w.bytes(13, encodeNamed(v, 1));
  return withRest(w, g.rest);
}

function encodeNode(n: NodeProto): Writer {
  const w = new Writer();
  for (const s of n.input) w.string(1, s);
  for (const s of n.output) w.string(2, s);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attribute) w.bytes(5, encodeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return withRest(w, n.rest);
}

function encodeAttribute(a: AttributeProto): Writer {
  const w = new Writer().string(1, a.name);
  if (a.g) w.bytes(6, graphWriter(a.g));
  for (const g of a.graphs) w.bytes(11, graphWriter(g));
  return withRest(w, a.rest);
}

/** Encodes a TensorProto (nameField 8) or ValueInfoProto (nameField 1); an empty name is omitted. */
function encodeNamed(t: { name: string; rest: readonly RawField[] }, nameField: number): Writer {
  const w = new Writer();
  if (t.name) w.string(nameField, t.name);
  return withRest(w, t.rest);
}
