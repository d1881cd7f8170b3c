// Node-only image decoding: sharp, with a fast path for plain 8-bit PNGs
// (png-node.ts gives the same pixels in a fraction of sharp's per-call cost).
// Decoding only (and EXIF orientation, as browsers do); resizing happens in
// preprocess.ts so node and browser agree bit for bit.
import sharp from 'sharp';
import { decodePng, isPng, readPngHeader } from './png-node.js';
import type { PixelImage } from './preprocess.js';

/** Default decodeImage pixel limit: sharp's own default (limitInputPixels, 0x3FFF x 0x3FFF). */
export const DEFAULT_MAX_PIXELS = 268_402_689;

/** The declared size against the limit, before any pixel is decoded (a small file can declare gigabytes). */
function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) throw new RangeError(`image is ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels}`);
}

/**
 * Decodes a PNG/JPEG/WebP from a path or bytes into 8-bit interleaved pixels. An image whose header
 * declares more than `options.maxPixels` (default DEFAULT_MAX_PIXELS) is refused with a RangeError before
 * decoding; any other failure is an Error. Both name the image.
 */
export async function decodeImage(source: string | Uint8Array, options: { maxPixels?: number } = {}): Promise<PixelImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1) throw new RangeError(`options.maxPixels: must be a positive integer, got ${maxPixels}`);
  const name = typeof source === 'string' ? source : `<${source.length} bytes>`;
  try {
    if (typeof source !== 'string' && isPng(source)) {
      const h = readPngHeader(source);
      checkPixels(h.width, h.height, maxPixels);
      const fast = decodePng(source);
      if (fast !== 'unsupported') return fast;
    }
    return await decodeWithSharp(source, maxPixels);
  } catch (err) {
    const reason = String((err as Error).message ?? err).split('\n')[0].trim();
    // A size refusal stays a RangeError: the caller can tell "too large" from "corrupt".
    throw new (err instanceof RangeError ? RangeError : Error)(`cannot decode image ${name}: ${reason}`);
  }
}

/** sharp alone (what decodeImage does for anything but the PNG fast path); exported so tests can compare the two. */
export async function decodeWithSharp(source: string | Uint8Array, maxPixels = DEFAULT_MAX_PIXELS): Promise<PixelImage> {
  // sharp's own limit is off because the check below is the same one, from the same header, with a message
  // that names the size; sharp's would throw first, from metadata(), saying only "exceeds pixel limit".
  let img = sharp(typeof source === 'string' ? source : Buffer.from(source.buffer, source.byteOffset, source.length), {
    failOn: 'error',
    limitInputPixels: false,
  }).rotate();
  const meta = await img.metadata();
  if (!meta.width || !meta.height) throw new Error('image header declares no size');
  checkPixels(meta.width, meta.height, maxPixels);
  // Always name the output space: sharp would otherwise expand grey to RGB, and
  // CMYK/16-bit spaces would be misread. Grey stays 1-2 channels, the rest becomes sRGB.
  const grey = meta.space === 'b-w' || meta.space === 'grey16';
  img = img.toColourspace(grey ? 'b-w' : 'srgb');
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = info.channels as PixelImage['channels'];
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels };
}
