// A small PNG decoder for the common case of a classification upload: 8-bit,
// non-interlaced grey, grey+alpha, RGB or RGBA, no colour management. sharp costs
// about 1 ms per 28x28 PNG (pipeline set-up dominates); this costs tens of
// microseconds. Anything outside that subset (palette, 16-bit, interlaced, an ICC
// profile, gamma, transparency key, EXIF orientation, ...) returns 'unsupported'
// and the caller decodes with sharp, so output never depends on which decoder ran.
import { constants as bufferConstants } from 'node:buffer';
import { crc32, inflateSync } from 'node:zlib';
import type { PixelImage } from './preprocess.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Colour type -> channels, for the colour types this decoder handles (3 = palette is not one). */
const CHANNELS: Record<number, PixelImage['channels']> = { 0: 1, 4: 2, 2: 3, 6: 4 };
/**
 * Chunks that do not change the pixels: text, time, physical size, the sRGB
 * intent (our output is sRGB anyway). Any other ancillary chunk may (iCCP, gAMA,
 * cHRM, sBIT, tRNS, eXIf orientation), so its presence hands the image to sharp.
 */
const INERT = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs', 'sRGB']);

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace: number;
}

export const isPng = (b: Uint8Array): boolean => b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);

const u32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const typeAt = (b: Uint8Array, o: number): string => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

/** Reads the IHDR chunk only (no decoding): the declared size, for limits checked before any inflate. */
export function readPngHeader(b: Uint8Array): PngHeader {
  if (!isPng(b)) throw new Error('not a PNG (bad signature)');
  if (b.length < 33 || typeAt(b, 12) !== 'IHDR' || u32(b, 8) !== 13) throw new Error('PNG header (IHDR) is missing or truncated');
  return { width: u32(b, 16), height: u32(b, 20), bitDepth: b[24], colourType: b[25], interlace: b[28] };
}

/**
 * Decodes `b` when it is in the supported subset; returns 'unsupported' when it is a
 * valid-looking PNG this decoder leaves to sharp; throws Error (message says what is
 * wrong) when the file is corrupt: bad CRC, truncated chunk, bad zlib stream, bad
 * filter byte, too little or too much pixel data; RangeError when the declared size is
 * more than one buffer can hold. No pixel limit here: decodeImage checks its own first.
 */
export function decodePng(b: Uint8Array): PixelImage | 'unsupported' {
  const h = readPngHeader(b);
  const channels = CHANNELS[h.colourType];
  if (h.width < 1 || h.height < 1) throw new Error(`PNG declares an invalid size ${h.width}x${h.height}`);
  if (h.bitDepth !== 8 || channels === undefined || h.interlace !== 0 || b[26] !== 0 || b[27] !== 0) return 'unsupported';
  const idat: Uint8Array[] = [];
  let o = 8;
  let ended = false;
  while (!ended) {
    if (o + 12 > b.length) throw new Error(`PNG is truncated at byte ${o} (no IEND chunk)`);
    const len = u32(b, o);
    const type = typeAt(b, o + 4);
    if (len > b.length - o - 12) throw new Error(`PNG chunk ${JSON.stringify(type)} at byte ${o} is truncated`);
    if (crc32(b.subarray(o + 4, o + 8 + len)) !== u32(b, o + 8 + len))
      throw new Error(`PNG chunk ${JSON.stringify(type)} at byte ${o} has a bad CRC`);
    if (type === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    else if (type === 'IEND') ended = true;
    else if (type !== 'IHDR' && !INERT.has(type)) return 'unsupported';
    o += 12 + len;
  }
  if (idat.length === 0) throw new Error('PNG has no image data (IDAT)');
  const stride = h.width * channels;
  const expected = (stride + 1) * h.height;
  // zlib refuses a maxOutputLength above the largest buffer with its own RangeError, which would read as "corrupt".
  if (expected + 1 > bufferConstants.MAX_LENGTH)
    throw new RangeError(`PNG declares ${h.width}x${h.height} pixels: too large to decode (${expected} bytes of image data, a buffer holds at most ${bufferConstants.MAX_LENGTH})`);
  let raw: Buffer;
  try {
    // maxOutputLength stops a zlib bomb: we never inflate more than the header declares.
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (err) {
    throw new Error(`PNG image data is corrupt (${(err as Error).message})`);
  }
  if (raw.length !== expected) throw new Error(`PNG image data has ${raw.length} bytes, the header implies ${expected}`);
  return { data: unfilter(raw, stride, h.height, channels), width: h.width, height: h.height, channels };
}

/** Reverses the per-row PNG filters (None, Sub, Up, Average, Paeth): filtered rows in, packed pixel rows out. */
function unfilter(raw: Uint8Array, stride: number, rows: number, bpp: number): Uint8Array {
  const out = new Uint8Array(stride * rows);
  for (let y = 0; y < rows; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride; // previous output row; y = 0 reads zeros
    switch (f) {
      case 0:
        out.set(raw.subarray(src, src + stride), dst);
        break;
      case 1:
        for (let x = 0; x < stride; x++) out[dst + x] = raw[src + x] + (x >= bpp ? out[dst + x - bpp] : 0);
        break;
      case 2:
        for (let x = 0; x < stride; x++) out[dst + x] = raw[src + x] + (y > 0 ? out[up + x] : 0);
        break;
      case 3:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? out[dst + x - bpp] : 0;
          const b = y > 0 ? out[up + x] : 0;
          out[dst + x] = raw[src + x] + ((a + b) >>> 1);
        }
        break;
      case 4:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? out[dst + x - bpp] : 0;
          const b = y > 0 ? out[up + x] : 0;
          const c = x >= bpp && y > 0 ? out[up + x - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out[dst + x] = raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        throw new Error(`PNG row ${y} has an unknown filter type ${f}`);
    }
  }
  return out;
}
