// Node-only image decoding: sharp, with a fast path for plain 8-bit PNGs
// (png-node.ts gives the same pixels in a fraction of sharp's per-call cost).
// Decoding only (and EXIF orientation, as browsers do); resizing happens in
// preprocess.ts so node and browser agree bit for bit.
import sharp from 'sharp';
import { decodePng, isPng } from './png-node.js';
import type { PixelImage } from './preprocess.js';

/** Decodes a PNG/JPEG/WebP (any size) from a path or bytes into 8-bit interleaved pixels. */
export async function decodeImage(source: string | Uint8Array): Promise<PixelImage> {
  const name = typeof source === 'string' ? source : `<${source.length} bytes>`;
  try {
    if (typeof source !== 'string' && isPng(source)) {
      const fast = decodePng(source);
      if (fast !== 'unsupported') return fast;
    }
    return await decodeWithSharp(source);
  } catch (err) {
    const reason = String((err as Error).message ?? err).split('\n')[0].trim();
    throw new Error(`cannot decode image ${name}: ${reason}`);
  }
}

/** sharp alone (what decodeImage does for anything but the PNG fast path); exported so tests can compare the two. */
export async function decodeWithSharp(source: string | Uint8Array): Promise<PixelImage> {
  let img = sharp(typeof source === 'string' ? source : Buffer.from(source.buffer, source.byteOffset, source.length), {
    failOn: 'error',
  }).rotate();
  const meta = await img.metadata();
  // Always name the output space: sharp would otherwise expand grey to RGB, and
  // CMYK/16-bit spaces would be misread. Grey stays 1-2 channels, the rest becomes sRGB.
  const grey = meta.space === 'b-w' || meta.space === 'grey16';
  img = img.toColourspace(grey ? 'b-w' : 'srgb');
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = info.channels as PixelImage['channels'];
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels };
}
