// The PNG fast path must give exactly sharp's pixels for what it accepts, hand
// everything else to sharp, and reject corrupt files with a message.
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeWithSharp } from '../runtime/image-node.js';
import { decodePng, readPngHeader } from '../runtime/png-node.js';

function randomPixels(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A reference encoder: row y uses filter filters[y % filters.length], so every filter type gets decoded. */
function encodePng(px: Uint8Array, w: number, h: number, ch: 1 | 2 | 3 | 4, filters: number[], extra: Buffer[] = []): Buffer {
  const stride = w * ch;
  const raw = Buffer.alloc((stride + 1) * h);
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : px[y * stride + x]);
  for (let y = 0; y < h; y++) {
    const f = filters[y % filters.length];
    raw[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const a = at(x - ch, y), b = at(x, y - 1), c = at(x - ch, y - 1);
      const p = a + b - c;
      const pred = [0, a, b, (a + b) >>> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][f];
      raw[y * (stride + 1) + 1 + x] = (px[y * stride + x] - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = { 1: 0, 2: 4, 3: 2, 4: 6 }[ch];
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

describe('PNG fast path', () => {
  it('reverses every filter type, in every supported colour type', () => {
    for (const ch of [1, 2, 3, 4] as const) {
      const [w, h] = [7, 11];
      const px = randomPixels(w * h * ch, ch);
      const out = decodePng(encodePng(px, w, h, ch, [0, 1, 2, 3, 4, 4, 3, 2, 1]));
      expect(out).not.toBe('unsupported');
      expect(out).toEqual({ data: px, width: w, height: h, channels: ch });
    }
  });

  it("gives sharp's own pixels for PNGs that sharp encodes (adaptive filters, every compression level)", async () => {
    for (const [ch, w, h] of [[1, 28, 28], [2, 9, 5], [3, 32, 17], [4, 13, 40]] as const) {
      const px = randomPixels(w * h * ch, 7 * ch);
      for (const compressionLevel of [0, 6, 9]) {
        const png = await sharp(px, { raw: { width: w, height: h, channels: ch } })
          .png({ compressionLevel, adaptiveFiltering: true })
          .toBuffer();
        const fast = decodePng(png);
        expect(fast, `ch ${ch} level ${compressionLevel}`).not.toBe('unsupported');
        expect(fast).toEqual(await decodeWithSharp(png));
      }
    }
  });

  it('leaves palette, 16-bit, interlaced and colour-managed PNGs to sharp, and decodeImage still decodes them', async () => {
    const px = randomPixels(20 * 10 * 3, 5);
    const rgb = sharp(px, { raw: { width: 20, height: 10, channels: 3 } });
    const cases = {
      palette: await rgb.clone().png({ palette: true }).toBuffer(),
      '16-bit': await rgb.clone().toColourspace('rgb16').png().toBuffer(),
      interlaced: await rgb.clone().png({ progressive: true }).toBuffer(),
      gamma: encodePng(px, 20, 10, 3, [0], [chunk('gAMA', Uint8Array.from([0, 0, 0xb1, 0x8f]))]),
    };
    for (const [name, png] of Object.entries(cases)) {
      expect(decodePng(png), name).toBe('unsupported');
      const img = await decodeImage(png);
      expect([img.width, img.height], name).toEqual([20, 10]);
    }
    // Inert chunks (text) do not send the image to sharp.
    expect(decodePng(encodePng(px, 20, 10, 3, [1], [chunk('tEXt', Buffer.from('Comment\0hello'))]))).not.toBe('unsupported');
  });

  it('rejects corrupt files with a message naming the problem', () => {
    const good = encodePng(randomPixels(8 * 8, 1), 8, 8, 1, [4]);
    const badCrc = Buffer.from(good);
    badCrc[40] ^= 0xff; // inside IDAT
    expect(() => decodePng(badCrc)).toThrow(/bad CRC/);
    expect(() => decodePng(good.subarray(0, good.length - 20))).toThrow(/truncated/);
    expect(() => decodePng(good.subarray(0, 20))).toThrow(/IHDR/);
    const badFilter = encodePng(randomPixels(8 * 8, 1), 8, 8, 1, [0]);
    // Rebuild with a filter byte of 7 in row 0.
    const raw = Buffer.alloc(9 * 8);
    raw[0] = 7;
    const ihdr = badFilter.subarray(16, 29);
    const sig = good.subarray(0, 8);
    const withBadFilter = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(withBadFilter)).toThrow(/filter type 7/);
    const short = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(10))), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(short)).toThrow(/header implies 72/);
    // A zlib stream that inflates to far more than the header declares is cut at the declared size.
    const bomb = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(5_000_000))), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(bomb)).toThrow(/image data is corrupt/);
    const garbage = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.from('not zlib at all')), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(garbage)).toThrow(/image data is corrupt/);
  });

  it('refuses a PNG over the pixel limit from its header, before inflating anything', async () => {
    // A tiny file declaring 20000x20000 RGBA: 1.6 GB once inflated. Its IDAT is not even zlib, so an
    // error naming the size proves the header was checked first.
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(20000, 0);
    ihdr.writeUInt32BE(20000, 4);
    ihdr[8] = 8;
    ihdr[9] = 6;
    const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const huge = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.from('not zlib')), chunk('IEND', new Uint8Array(0))]);
    const big = decodeImage(huge);
    await expect(big).rejects.toThrow(RangeError);
    await expect(big).rejects.toThrow(/^cannot decode image <\d+ bytes>: image is 20000x20000 = 400000000 pixels, more than the limit of 268402689$/);
    const small = encodePng(randomPixels(10 * 10, 3), 10, 10, 1, [0]);
    await expect(decodeImage(small, { maxPixels: 99 })).rejects.toThrow(/image is 10x10 = 100 pixels, more than the limit of 99/);
    expect((await decodeImage(small, { maxPixels: 100 })).width).toBe(10);
    // sharp's formats get the same check.
    const jpeg = await sharp(randomPixels(10 * 10 * 3, 4), { raw: { width: 10, height: 10, channels: 3 } }).jpeg().toBuffer();
    await expect(decodeImage(jpeg, { maxPixels: 99 })).rejects.toThrow(RangeError);
    await expect(decodeImage(jpeg, { maxPixels: 99 })).rejects.toThrow(/image is 10x10 = 100 pixels, more than the limit of 99/);
    await expect(decodeImage(small, { maxPixels: 0 })).rejects.toThrow(/^options\.maxPixels: /);
    // Without a limit (decodePng alone), a size no buffer can hold is "too large", not "corrupt".
    ihdr.writeUInt32BE(0xffffffff, 0);
    ihdr.writeUInt32BE(0xffffffff, 4);
    const absurd = Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.from('not zlib')), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(absurd)).toThrow(RangeError);
    expect(() => decodePng(absurd)).toThrow(/^PNG declares 4294967295x4294967295 pixels: too large to decode/);
  });

  it('reads the declared size from the header alone', () => {
    const png = encodePng(randomPixels(5 * 3, 1), 5, 3, 1, [0]);
    expect(readPngHeader(png)).toMatchObject({ width: 5, height: 3, bitDepth: 8, colourType: 0, interlace: 0 });
    expect(() => readPngHeader(Buffer.from('GIF89a....'))).toThrow(/signature/);
  });
});
