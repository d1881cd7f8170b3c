// Image uploads: a raw image body or multipart/form-data with exactly one file,
// both read into memory under the body-size limit, then decoded with sharp
// after a header-only size check (decompression bombs never get decoded).
import busboy from 'busboy';
import type { Request } from 'express';
import sharp from 'sharp';
import { ImageDecodeError } from '../runtime/decode-pool-node.js';
import { decodeImage } from '../runtime/image-node.js';
import { isPng, readPngHeader } from '../runtime/png-node.js';
import type { InputSpec } from '../runtime/manifest-types.js';
import { preprocess } from '../runtime/preprocess.js';
import { bodyTimeout } from './body.js';
import { HttpError, badRequest } from './errors.js';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
const FORMATS = new Set(['png', 'jpeg', 'webp']);

/** Reads one file part from a multipart request; rejects anything but exactly one file. */
export function readMultipart(req: Request, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes)
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 8, fieldSize: 1024, parts: 10, headerPairs: 50 } });
    } catch (err) {
      reject(badRequest(`invalid multipart request: ${(err as Error).message}`));
      return;
    }
    const chunks: Buffer[] = [];
    let files = 0;
    let failed: HttpError | undefined;
    const timer = setTimeout(() => fail(bodyTimeout(timeoutMs)), timeoutMs);
    const fail = (e: HttpError) => {
      clearTimeout(timer);
      failed ??= e;
      req.unpipe(bb);
      req.resume(); // drain the rest so the connection can answer
      reject(failed);
    };
    bb.on('file', (_field, stream) => {
      files++;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(new HttpError(413, `uploaded file exceeds the limit of ${maxBytes} bytes`)));
    });
    bb.on('filesLimit', () => fail(badRequest('multipart body must contain exactly one file')));
    bb.on('partsLimit', () => fail(badRequest('multipart body has too many parts')));
    bb.on('fieldsLimit', () => fail(badRequest('multipart body has too many fields')));
    bb.on('error', (err: Error) => fail(badRequest(`invalid multipart body: ${err.message}`)));
    bb.on('close', () => {
      clearTimeout(timer);
      if (failed) return;
      if (files !== 1) reject(badRequest('multipart body must contain exactly one file'));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => fail(badRequest(`request aborted: ${err.message}`)));
    // The whole body counts, as for a raw upload: busboy's file limit alone skips the bytes around the parts
    // (a preamble or epilogue of any length would be read and discarded without end).
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes && !failed) fail(new HttpError(413, `request body exceeds the limit of ${maxBytes} bytes`));
    });
    req.pipe(bb);
  });
}

export interface DecodeLimits {
  maxPixels: number;
}

/**
 * Longest side accepted, whatever maxPixels allows: the resize's taps per output pixel grow with the scale, so a
 * 16777216x1 image (within the default pixel limit) made preprocess allocate ~270 MB of filter weights on the
 * event loop. 16384 is WebP's own limit and keeps the weights under 300 KB.
 */
export const MAX_SIDE = 16384;

/**
 * Images with more pixels than this are decoded and preprocessed on another thread (runtime/decode-pool-node.ts)
 * when the caller passes a decoder: 256x256 costs a few ms on the server's thread, a 1024x1024 photo tens of ms,
 * 4096x4096 over half a second (bench/results/20261201T0040Z-session11/experiments/big-image-cost.mjs), which every
 * other request would wait out. Below it the thread hop would cost more than the decode.
 */
export const OFF_THREAD_PIXELS = 256 * 256;

/** Decodes and preprocesses on another thread (DecodePool.decode). */
export type Decoder = (bytes: Uint8Array, input: InputSpec, maxPixels: number) => Promise<Float32Array>;

/**
 * Checks the image header (format, declared size) without decoding pixels, then
 * decodes and preprocesses into the bundle's input tensor (with `offThread`, on another thread for large images).
 */
export async function imageToTensor(bytes: Uint8Array, input: InputSpec, limits: DecodeLimits, offThread?: Decoder): Promise<Float32Array> {
  if (bytes.length === 0) throw badRequest('empty body: expected an image');
  const { width: w, height: h } = isPng(bytes) ? pngSize(bytes) : await headerSize(bytes);
  if (w < 1 || h < 1) throw badRequest(`image declares an invalid size ${w}x${h}`);
  if (w * h > limits.maxPixels)
    throw new HttpError(413, `image is ${w}x${h} = ${w * h} pixels, more than the limit of ${limits.maxPixels}`);
  if (w > MAX_SIDE || h > MAX_SIDE) throw new HttpError(413, `image is ${w}x${h}: each side must be at most ${MAX_SIDE} pixels`);
  if (offThread && w * h > OFF_THREAD_PIXELS) {
    try {
      return await offThread(bytes, input, limits.maxPixels);
    } catch (err) {
      // The image's own failure is the client's 400, as inline; the decoder thread's is ours (500).
      if (err instanceof ImageDecodeError) throw badRequest(err.message);
      throw err;
    }
  }
  let pixels;
  try {
    pixels = await decodeImage(bytes, { maxPixels: limits.maxPixels });
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  return preprocess(pixels, input);
}

/** A PNG's declared size from its IHDR, read here (sharp's metadata() alone costs ~0.15 ms per call). */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  try {
    return readPngHeader(bytes);
  } catch (err) {
    throw badRequest(`cannot read image header: ${(err as Error).message}`);
  }
}

/** Any other format: sharp's metadata() reads only the header; nothing is decoded here. */
async function headerSize(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw badRequest(`cannot read image header: ${String((err as Error).message).split('\n')[0]}`);
  }
  if (!meta.format || !FORMATS.has(meta.format))
    throw new HttpError(415, `unsupported image format '${meta.format ?? 'unknown'}': send PNG, JPEG or WebP`);
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}
