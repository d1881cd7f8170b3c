// Protobuf wire format (varint, 64-bit, length-delimited, 32-bit), just enough to
// read an ONNX file field by field and write it back. Fields the ONNX layer does
// not interpret are kept as raw bytes, so re-encoding never loses information.

export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/** One field occurrence: for VARINT the raw varint bytes, for LEN the payload, else the fixed bytes. */
export interface RawField {
  num: number;
  wire: number;
  data: Uint8Array;
}

/** Splits one message into its fields, in file order. `where` names the message in errors. */
export function readFields(buf: Uint8Array, where: string): RawField[] {
  const fields: RawField[] = [];
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error(`${where}: truncated varint at byte ${pos}`);
      const b = buf[pos++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    throw new Error(`${where}: varint longer than 10 bytes at byte ${pos}`);
  };
  while (pos < buf.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (num < 1) throw new Error(`${where}: invalid field number ${num} at byte ${pos}`);
    const start = pos;
    let end: number;
    if (wire === VARINT) {
      varint();
      end = pos;
    } else if (wire === I64) end = pos + 8;
    else if (wire === I32) end = pos + 4;
    else if (wire === LEN) {
      const len = varint();
      fields.push({ num, wire, data: sub(buf, pos, pos + len, where) });
      pos += len;
      continue;
    } else throw new Error(`${where}: unsupported wire type ${wire} (field ${num})`);
    fields.push({ num, wire, data: sub(buf, start, end, where) });
    pos = end;
  }
  return fields;
}

function sub(buf: Uint8Array, start: number, end: number, where: string): Uint8Array {
  if (end > buf.length) throw new Error(`${where}: field runs past the end (${end} > ${buf.length} bytes)`);
  return buf.subarray(start, end);
}

/** Value of a VARINT field as a JS number (ONNX versions, types and counts fit in 2^53). */
export function varintValue(f: RawField, where: string): number {
  if (f.wire !== VARINT) throw new Error(`${where}: field ${f.num} is not a varint (wire type ${f.wire})`);
  let v = 0;
  let mul = 1;
  for (const b of f.data) {
    v += (b & 0x7f) * mul;
    mul *= 128;
  }
  if (!Number.isSafeInteger(v)) throw new Error(`${where}: field ${f.num} value does not fit a safe integer`);
  return v;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function stringValue(f: RawField, where: string): string {
  if (f.wire !== LEN) throw new Error(`${where}: field ${f.num} is not a string (wire type ${f.wire})`);
  return decoder.decode(f.data);
}

/**
 * Builds one message. Nested messages stay Writers until the outermost finish(),
 * which allocates once and copies every payload once: encoding a model is then
 * one pass, not one allocation and copy per message and nesting level.
 */
export class Writer {
  /** This message's own small bytes (keys, varints, short strings). */
  private own: number[] = [];
  /** Large payloads and nested messages, each placed after own[0..at). */
  private parts: { at: number; part: Uint8Array | Writer }[] = [];
  /** Encoded length of this message. */
  size = 0;

  private varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a non-negative safe integer`);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      this.own.push(b);
      this.size++;
    } while (v > 0);
  }
  private key(num: number, wire: number): void {
    this.varint(num * 8 + wire);
  }
  private append(part: Uint8Array | Writer): void {
    if (part instanceof Uint8Array && part.length <= 32) {
      for (const b of part) this.own.push(b);
    } else this.parts.push({ at: this.own.length, part });
    this.size += part instanceof Uint8Array ? part.length : part.size;
  }
  int(num: number, v: number): this {
    this.key(num, VARINT);
    this.varint(v);
    return this;
  }
  bytes(num: number, data: Uint8Array | Writer): this {
    this.key(num, LEN);
    this.varint(data instanceof Uint8Array ? data.length : data.size);
    this.append(data);
    return this;
  }
  string(num: number, s: string): this {
    return this.bytes(num, encoder.encode(s));
  }
  /** Writes a field exactly as it was read. */
  raw(f: RawField): this {
    if (f.wire === LEN) return this.bytes(f.num, f.data);
    this.key(f.num, f.wire);
    this.append(f.data);
    return this;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    const end = this.writeTo(out, 0);
    if (end !== this.size) throw new Error(`Writer: wrote ${end} bytes, expected ${this.size}`);
    return out;
  }
  private writeTo(out: Uint8Array, pos: number): number {
    let i = 0;
    for (const { at, part } of this.parts) {
      for (; i < at; i++) out[pos++] = this.own[i];
      if (part instanceof Uint8Array) {
        out.set(part, pos);
        pos += part.length;
      } else pos = part.writeTo(out, pos);
    }
    for (; i < this.own.length; i++) out[pos++] = this.own[i];
    return pos;
  }
}
