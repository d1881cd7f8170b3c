// Open Inference Protocol (KServe v2) request/response tensors, JSON and the
// binary tensor data extension (Inference-Header-Content-Length).
import { badRequest } from './errors.js';

export const INPUT_NAME = 'x';
export const OUTPUT_NAMES = ['logits', 'path'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export interface InferRequest {
  id?: string;
  /** [N, C, H, W] flat. */
  tensor: Float32Array;
  batch: number;
  outputs: { name: OutputName; binary: boolean }[];
}

export interface OutputTensor {
  name: OutputName;
  datatype: 'FP32' | 'BYTES';
  shape: number[];
  data: number[] | string[];
  binary: boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
/**
 * A client's value for an error message, bounded and safe: JSON.stringify or String() on a deeply nested array
 * throws RangeError (call stack), which would turn a bad request into a 500.
 */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return describe(v);
}

/** Flattens `data` (flat, or nested exactly like `shape`) into out; depth is bounded by shape.length. */
function flatten(data: unknown, shape: number[], out: Float32Array): void {
  const total = out.length;
  if (Array.isArray(data) && data.length === total && (total === 0 || !Array.isArray(data[0]))) {
    for (let i = 0; i < total; i++) {
      const v = data[i];
      out[i] = typeof v === 'number' && Number.isFinite(v) ? v : notFinite(v, `inputs[0].data[${i}]`);
    }
    return;
  }
  let k = 0;
  const walk = (v: unknown, d: number, where: string): void => {
    if (!Array.isArray(v) || v.length !== shape[d])
      throw badRequest(`${where}: expected ${shape[d]} elements (shape [${shape.join(',')}]), got ${Array.isArray(v) ? v.length : describe(v)}`);
    if (d === shape.length - 1)
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        out[k++] = typeof x === 'number' && Number.isFinite(x) ? x : notFinite(x, `${where}[${i}]`);
      }
    else for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${where}[${i}]`);
  };
  walk(data, 0, 'inputs[0].data');
}

/**
 * The 400 for an element that is not a finite number (JSON has no NaN/Infinity literals, but 1e999 parses to
 * Infinity). Callers test the element inline and build `where` only on failure: building it for every element
 * made parseInferRequest about twice as slow on a 28x28 input (docs/PERFORMANCE.md, session 10).
 */
function notFinite(v: unknown, where: string): never {
  throw badRequest(`${where}: expected a finite number, got ${typeof v === 'number' ? v : describe(v)}`);
}

/**
 * Validates a parsed v2 infer request against the model input [C,H,W]; `binary` is
 * the data after the JSON header when the binary extension is used.
 */
export function parseInferRequest(body: unknown, inputDims: readonly number[], maxBatch: number, binary?: Buffer): InferRequest {
  if (!isObj(body)) throw badRequest(`request body must be a JSON object, got ${describe(body)}`);
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest('id: must be a string');
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1) throw badRequest(`inputs: expected an array with exactly one tensor '${INPUT_NAME}'`);
  const inp = inputs[0];
  if (!isObj(inp)) throw badRequest('inputs[0]: must be an object');
  if (inp.name !== INPUT_NAME) throw badRequest(`inputs[0].name: expected '${INPUT_NAME}', got ${show(inp.name)}`);
  if (inp.datatype !== 'FP32') throw badRequest(`inputs[0].datatype: expected 'FP32', got ${show(inp.datatype)}`);
  const shape = inp.shape;
  const want = `[N,${inputDims.join(',')}] or [${inputDims.join(',')}]`;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw badRequest(`inputs[0].shape: expected ${want}, got ${Array.isArray(shape) ? `[${shape.slice(0, 8).map(show).join(',')}${shape.length > 8 ? ',...' : ''}]` : show(shape)}`);
  const full = shape.length === inputDims.length ? [1, ...shape] : shape;
  if (full.length !== inputDims.length + 1 || inputDims.some((d, i) => full[i + 1] !== d))
    throw badRequest(`inputs[0].shape: expected ${want}, got [${shape.join(',')}]`);
  const batch = full[0];
  if (batch < 1 || batch > maxBatch) throw badRequest(`inputs[0].shape: batch ${batch} is outside 1..${maxBatch}`);
  const tensor = new Float32Array(full.reduce((a, b) => a * b, 1));

  const params = isObj(inp.parameters) ? inp.parameters : {};
  if (params.binary_data_size !== undefined) {
    if (!binary) throw badRequest('inputs[0].parameters.binary_data_size: set, but the request has no Inference-Header-Content-Length');
    if (params.binary_data_size !== tensor.length * 4)
      throw badRequest(`inputs[0].parameters.binary_data_size: expected ${tensor.length * 4} bytes for shape [${shape.join(',')}], got ${show(params.binary_data_size)}`);
    if (binary.length !== tensor.length * 4) throw badRequest(`binary data: expected ${tensor.length * 4} bytes after the JSON header, got ${binary.length}`);
    const view = new DataView(binary.buffer, binary.byteOffset, binary.length);
    for (let i = 0; i < tensor.length; i++) {
      const v = view.getFloat32(i * 4, true);
      tensor[i] = Number.isFinite(v) ? v : notFinite(v, `inputs[0] binary element ${i}`);
    }
  } else {
    if (inp.data === undefined) throw badRequest('inputs[0].data: missing');
    flatten(inp.data, shape as number[], tensor); // nesting follows the shape as sent
  }

  const defaultBinary = isObj(body.parameters) && body.parameters.binary_data_output === true;
  let outputs: InferRequest['outputs'] = OUTPUT_NAMES.map((name) => ({ name, binary: defaultBinary }));
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs) || body.outputs.length === 0) throw badRequest('outputs: must be a non-empty array');
    // Each output at most once: every entry is answered with a copy of the batch's tensor, so a long list of
    // repeats in an 8 MB body would otherwise make the answer gigabytes.
    if (body.outputs.length > OUTPUT_NAMES.length)
      throw badRequest(`outputs: at most ${OUTPUT_NAMES.length} entries (${OUTPUT_NAMES.join(', ')}), got ${body.outputs.length}`);
    const seen = new Set<unknown>();
    outputs = body.outputs.map((o, i) => {
      if (!isObj(o) || !OUTPUT_NAMES.includes(o.name as OutputName))
        throw badRequest(`outputs[${i}].name: expected one of ${OUTPUT_NAMES.join(', ')}`);
      if (seen.has(o.name)) throw badRequest(`outputs[${i}].name: '${o.name}' is requested twice`);
      seen.add(o.name);
      const p = isObj(o.parameters) ? o.parameters : {};
      return { name: o.name as OutputName, binary: typeof p.binary_data === 'boolean' ? p.binary_data : defaultBinary };
    });
  }
  return { id: body.id as string | undefined, tensor, batch, outputs };
}

/** Splits a binary-extension body into its JSON header and the tensor bytes after it. */
export function splitBinaryBody(body: Buffer, headerLength: string): { json: unknown; binary: Buffer } {
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0 || n > body.length)
    throw badRequest(`Inference-Header-Content-Length: expected an integer in 0..${body.length}, got '${headerLength}'`);
  let json: unknown;
  try {
    json = JSON.parse(body.subarray(0, n).toString('utf8'));
  } catch (err) {
    throw badRequest(`invalid JSON header: ${(err as Error).message}`);
  }
  return { json, binary: body.subarray(n) };
}

/** Encodes outputs: JSON only, or JSON header + binary data (returns the header length). */
export function encodeOutputs(head: Record<string, unknown>, outputs: OutputTensor[]): { body: Buffer; headerLength?: number } {
  const chunks: Buffer[] = [];
  const json = outputs.map((o) => {
    const meta = { name: o.name, datatype: o.datatype, shape: o.shape };
    if (!o.binary) return { ...meta, data: o.data };
    let bytes: Buffer;
    if (o.datatype === 'FP32') bytes = Buffer.from(Float32Array.from(o.data as number[]).buffer);
    else bytes = Buffer.concat((o.data as string[]).flatMap((s) => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }));
    chunks.push(bytes);
    return { ...meta, parameters: { binary_data_size: bytes.length } };
  });
  const header = Buffer.from(JSON.stringify({ ...head, outputs: json }));
  if (chunks.length === 0) return { body: header };
  return { body: Buffer.concat([header, ...chunks]), headerLength: header.length };
}

