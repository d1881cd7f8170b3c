// DecodePool: large images decoded and preprocessed on another thread give the main thread's tensor bit for bit,
// fail as decodeImage does, and a dead decoder thread fails its requests and is replaced.
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DecodePool, ImageDecodeError } from '../runtime/decode-pool-node.js';
import { decodeImage } from '../runtime/image-node.js';
import type { InputSpec } from '../runtime/manifest-types.js';
import { preprocess } from '../runtime/preprocess.js';
import { OFF_THREAD_PIXELS, imageToTensor } from '../server/upload.js';

const GREY: InputSpec = { height: 28, width: 28, channels: 1, layout: 'NCHW', dtype: 'float32', mean: [0.286], std: [0.353], resize: 'stretch-bilinear', colorConversion: 'luma-bt601' } as InputSpec;
const RGB: InputSpec = { ...GREY, channels: 3, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], colorConversion: 'rgb' } as InputSpec;

/** A w x h image with `channels` channels of a deterministic pattern, encoded as `format`. */
async function image(w: number, h: number, channels: 1 | 3 | 4, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const px = Buffer.alloc(w * h * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * 131 + (i >> 7)) & 255;
  return sharp(px, { raw: { width: w, height: h, channels } })[format]().toBuffer();
}

const pool = new DecodePool();
afterAll(() => pool.close());

describe('DecodePool', () => {
  it.each([
    ['RGB PNG', 600, 400, 3, 'png', GREY],
    ['RGBA PNG, to a 3-channel input', 300, 500, 4, 'png', RGB],
    ['grey PNG', 512, 512, 1, 'png', GREY],
    ['JPEG', 640, 480, 3, 'jpeg', GREY],
    ['WebP', 400, 300, 3, 'webp', RGB],
  ] as const)('%s: the same tensor as decoding on this thread', async (_name, w, h, ch, fmt, input) => {
    const bytes = await image(w, h, ch, fmt);
    const inline = preprocess(await decodeImage(bytes), input);
    const off = await pool.decode(Uint8Array.from(bytes), input, 1e8); // a copy: the pool may take over the buffer
    expect(off).toBeInstanceOf(Float32Array);
    expect(Buffer.from(off.buffer, off.byteOffset, off.byteLength).equals(Buffer.from(inline.buffer, inline.byteOffset, inline.byteLength))).toBe(true);
  });

  it('fails as decodeImage does, as ImageDecodeError: a corrupt file, a size over the limit', async () => {
    const png = await image(300, 300, 3, 'png');
    const bad = Buffer.from(png);
    for (let i = 60; i < bad.length - 12; i++) bad[i] ^= 0x5a;
    const corrupt = await pool.decode(bad, GREY, 1e8).catch((e: Error) => e);
    expect(corrupt).toBeInstanceOf(ImageDecodeError); // the image's fault: the server answers 400
    expect((corrupt as Error).message).toMatch(/^cannot decode image <\d+ bytes>: PNG/);
    const err = await pool.decode(png, GREY, 1000).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ImageDecodeError', tooLarge: true });
    expect((err as Error).message).toMatch(/image is 300x300 = 90000 pixels, more than the limit of 1000/);
    expect(pool.pending).toBe(0);
  });

  it('fails the requests of a decoder thread that dies, and starts a new one for the next', async () => {
    const p = new DecodePool();
    try {
      const big = await image(2048, 2048, 3, 'png');
      const first = p.decode(big, GREY, 1e8);
      await (p as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await expect(first).rejects.toThrow(/^image decoder thread exited .*; try again$/);
      const again = await p.decode(await image(300, 300, 3, 'png'), GREY, 1e8);
      expect(again).toHaveLength(28 * 28);
      await p.close();
      await expect(p.decode(big, GREY, 1e8)).rejects.toThrow(/decode pool is closed/);
    } finally {
      await p.close();
    }
  });
});

describe('imageToTensor', () => {
  it(`sends images over ${OFF_THREAD_PIXELS} pixels to the decoder, smaller ones stay inline; the tensors agree`, async () => {
    const calls: number[] = [];
    const decoder = (b: Uint8Array, input: InputSpec, max: number) => (calls.push(b.length), pool.decode(b, input, max));
    const small = await image(28, 28, 3, 'png');
    const large = await image(257, 256, 3, 'png');
    expect(await imageToTensor(small, GREY, { maxPixels: 1e8 }, decoder)).toEqual(preprocess(await decodeImage(small), GREY));
    expect(calls).toEqual([]);
    const off = await imageToTensor(Buffer.from(large), GREY, { maxPixels: 1e8 }, decoder);
    expect(calls).toEqual([large.length]);
    expect(off).toEqual(await imageToTensor(large, GREY, { maxPixels: 1e8 }));
    // A broken large image is still the client's 400, with decodeImage's message.
    const bad = Buffer.from(large);
    for (let i = 60; i < bad.length - 12; i++) bad[i] ^= 0x5a;
    await expect(imageToTensor(bad, GREY, { maxPixels: 1e8 }, decoder)).rejects.toMatchObject({ status: 400 });
  });
});
