import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../runtime/image-node.js';
import type { InputSpec } from '../runtime/manifest-types.js';
import { preprocess, resizePlane } from '../runtime/preprocess.js';

const spec = (o: Partial<InputSpec>): InputSpec => ({
  height: 1,
  width: 1,
  channels: 1,
  layout: 'NCHW',
  dtype: 'float32',
  mean: [0],
  std: [1],
  resize: 'stretch-bilinear',
  colorConversion: 'luma-bt601',
  ...o,
});

const close = (a: ArrayLike<number>, b: number[], eps = 1e-5) => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(Math.abs(a[i] - v)).toBeLessThan(eps));
};

describe('resizePlane (stretch-bilinear)', () => {
  it('is the identity at the same size', () => {
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]);
    close(resizePlane(src, 3, 2, 3, 2), [1, 2, 3, 4, 5, 6]);
  });

  it('upsamples like torch bilinear (align_corners=False)', () => {
    close(resizePlane(Float32Array.from([0, 100]), 2, 1, 4, 1), [0, 25, 75, 100]);
    close(resizePlane(Float32Array.from([0, 100]), 1, 2, 1, 4), [0, 25, 75, 100]);
  });

  it('downsamples with an antialiasing triangle filter (PIL BILINEAR)', () => {
    // 4 -> 2: output 0 centred at 1.0 with taps 0,1,2 weighted .75,.75,.25
    close(resizePlane(Float32Array.from([0, 100, 200, 255]), 4, 1, 2, 1), [(75 + 50) / 1.75, (0.25 * 100 + 0.75 * 200 + 0.75 * 255) / 1.75], 1e-4);
    close(resizePlane(Float32Array.from([10, 20, 30, 40]), 2, 2, 1, 1), [25]);
  });
});

describe('preprocess', () => {
  it('grey input at the input size (the table fast path) gives the general path\'s float32 values exactly', () => {
    // Every byte value, in a 16x16 image; the same pixels with an opaque alpha channel take the colour/alpha path.
    const grey = Uint8Array.from({ length: 256 }, (_, i) => (i * 37) % 256);
    const withAlpha = new Uint8Array(512);
    grey.forEach((v, i) => ((withAlpha[2 * i] = v), (withAlpha[2 * i + 1] = 255)));
    for (const s of [spec({ width: 16, height: 16, mean: [0.2860], std: [0.3530] }), spec({ width: 16, height: 16, channels: 3, mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] })]) {
      const fast = preprocess({ data: grey, width: 16, height: 16, channels: 1 }, s);
      const general = preprocess({ data: withAlpha, width: 16, height: 16, channels: 2 }, s);
      expect(fast.length).toBe(256 * s.channels);
      expect(Array.from(fast)).toEqual(Array.from(general));
    }
  });

  it('colour and alpha images at the input size keep the general arithmetic exactly', () => {
    // Reference: the general path's arithmetic written out (luma of the colour, times alpha, stored as float32,
    // then normalised); the fast path must not round differently.
    const px = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 53 + 7) % 256);
    const img = { data: px, width: 3, height: 2, channels: 4 as const };
    const s = spec({ width: 3, height: 2, mean: [0.5], std: [0.25] });
    const out = preprocess(img, s);
    const want = Array.from({ length: 6 }, (_, p) => {
      const [r, g, b, al] = px.subarray(p * 4, p * 4 + 4);
      const y = Math.fround((0.299 * r + 0.587 * g + 0.114 * b) * (al / 255));
      return Math.fround((y / 255 - 0.5) / 0.25);
    });
    expect(Array.from(out)).toEqual(want);
    const rgb = preprocess(img, spec({ width: 3, height: 2, channels: 3, colorConversion: 'rgb', mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] }));
    const wantRgb = [0, 1, 2].flatMap((ch) =>
      Array.from({ length: 6 }, (_, p) => Math.fround((Math.fround(px[p * 4 + ch] * (px[p * 4 + 3] / 255)) / 255 - [0.1, 0.2, 0.3][ch]) / [0.5, 0.6, 0.7][ch])),
    );
    expect(Array.from(rgb)).toEqual(wantRgb);
    // RGB without alpha at the input size: luma, stored as float32, normalised.
    const px3 = Uint8Array.from({ length: 6 * 3 }, (_, i) => (i * 91 + 13) % 256);
    const out3 = preprocess({ data: px3, width: 3, height: 2, channels: 3 }, s);
    expect(Array.from(out3)).toEqual(
      Array.from({ length: 6 }, (_, p) => Math.fround((Math.fround(0.299 * px3[p * 3] + 0.587 * px3[p * 3 + 1] + 0.114 * px3[p * 3 + 2]) / 255 - 0.5) / 0.25)),
    );
  });

  it('resizing row by row from the pixels gives the full-plane version bit for bit (every channel count, down and up, one axis or both)', () => {
    // The plane version as it was before session 11: a full-size float32 plane per output channel, then resizePlane.
    const planesFirst = (img: { data: Uint8Array; width: number; height: number; channels: number }, s: InputSpec): Float32Array => {
      const { width: W, height: H, channels: c, data } = img;
      const n = W * H;
      const planes = Array.from({ length: s.channels }, () => new Float32Array(n));
      for (let p = 0; p < n; p++) {
        const a = c === 2 || c === 4 ? data[p * c + c - 1] / 255 : 1;
        const [r, g, b] = c >= 3 ? [data[p * c], data[p * c + 1], data[p * c + 2]] : [data[p * c], data[p * c], data[p * c]];
        if (s.channels === 1 || s.colorConversion === 'luma-bt601') planes.forEach((pl) => (pl[p] = (c >= 3 ? 0.299 * r + 0.587 * g + 0.114 * b : r) * a));
        else [r, g, b].forEach((v, ch) => (planes[ch][p] = v * a));
      }
      const hw = s.height * s.width;
      const out = new Float32Array(s.channels * hw);
      const pick = (v: number[], ch: number) => (v.length === 1 ? v[0] : v[ch]);
      planes.forEach((pl, ch) => {
        const resized = resizePlane(pl, W, H, s.width, s.height);
        for (let k = 0; k < hw; k++) out[ch * hw + k] = (resized[k] / 255 - pick(s.mean, ch)) / pick(s.std, ch);
      });
      return out;
    };
    const outs = [
      { mean: [0.286], std: [0.353] },
      { channels: 3 as const, mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] },
      { channels: 3 as const, colorConversion: 'rgb' as const, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    ];
    let checked = 0;
    for (const [W, H] of [[97, 61], [28, 61], [97, 28], [13, 9], [200, 3]]) {
      for (const c of [1, 2, 3, 4] as const) {
        const data = Uint8Array.from({ length: W * H * c }, (_, i) => (i * 97 + 31 + (i >> 5)) % 256);
        for (const o of outs) {
          const s = spec({ width: 28, height: 28, ...o });
          const got = preprocess({ data, width: W, height: H, channels: c }, s);
          const want = planesFirst({ data, width: W, height: H, channels: c }, s);
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${W}x${H}x${c} -> ${s.channels} ${s.colorConversion}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(60);
  });

  it('every channel count at the input size gives the general arithmetic bit for bit (planes stored as float32, then normalised)', () => {
    // The general path written out without its resize (which is a copy at the same size): per pixel, luma or
    // the channel, times alpha, stored in a float32 plane; then (v / 255 - mean) / std stored as float32.
    const reference = (img: { data: Uint8Array; channels: number }, s: InputSpec): number[] => {
      const n = img.data.length / img.channels;
      const c = img.channels;
      const planes = Array.from({ length: s.channels }, () => new Float32Array(n));
      for (let p = 0; p < n; p++) {
        const a = c === 2 || c === 4 ? img.data[p * c + c - 1] / 255 : 1;
        const [r, g, b] = c >= 3 ? [img.data[p * c], img.data[p * c + 1], img.data[p * c + 2]] : [img.data[p * c], img.data[p * c], img.data[p * c]];
        if (s.channels === 1 || s.colorConversion === 'luma-bt601') planes.forEach((pl) => (pl[p] = (c >= 3 ? 0.299 * r + 0.587 * g + 0.114 * b : r) * a));
        else [r, g, b].forEach((v, ch) => (planes[ch][p] = v * a));
      }
      const pick = (v: number[], ch: number) => (v.length === 1 ? v[0] : v[ch]);
      return planes.flatMap((pl, ch) => Array.from(Float32Array.from(pl, (v) => (v / 255 - pick(s.mean, ch)) / pick(s.std, ch))));
    };
    const specs = [
      spec({ width: 8, height: 4, mean: [0.286], std: [0.353] }),
      spec({ width: 8, height: 4, channels: 3, mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] }),
      spec({ width: 8, height: 4, channels: 3, colorConversion: 'rgb', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
    ];
    for (const c of [1, 2, 3, 4] as const) {
      const data = Uint8Array.from({ length: 32 * c }, (_, i) => (i * 97 + 31) % 256);
      for (const s of specs) expect(Array.from(preprocess({ data, width: 8, height: 4, channels: c }, s)), `channels ${c}, ${s.channels} out, ${s.colorConversion}`).toEqual(reference({ data, channels: c }, s));
    }
  });

  it('converts colour to BT.601 luma and normalises', () => {
    const img = { data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]), width: 4, height: 1, channels: 3 as const };
    const out = preprocess(img, spec({ width: 4, mean: [0.5], std: [0.25] }));
    const y = [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30];
    close(out, y.map((v) => (v / 255 - 0.5) / 0.25));
  });

  it('composites alpha on black', () => {
    const img = { data: Uint8Array.from([200, 200, 200, 0, 200, 200, 200, 255, 100, 100, 100, 51]), width: 3, height: 1, channels: 4 as const };
    close(preprocess(img, spec({ width: 3 })), [0, 200 / 255, (100 * 0.2) / 255]);
    const grey = { data: Uint8Array.from([255, 128]), width: 1, height: 1, channels: 2 as const };
    close(preprocess(grey, spec({})), [128 / 255]);
  });

  it('keeps grey exactly and resizes a known tiny image', () => {
    // 2x2 grey -> 4x4: corners keep their values, interior interpolates.
    const img = { data: Uint8Array.from([0, 255, 255, 0]), width: 2, height: 2, channels: 1 as const };
    const out = preprocess(img, spec({ width: 4, height: 4 }));
    expect(out).toHaveLength(16);
    close([out[0], out[3], out[12], out[15]], [0, 1, 1, 0]);
    // (1,0): edge row, horizontal 0.75*0 + 0.25*255; (1,1): then vertical .75/.25 of rows 0 and 1.
    close([out[1], out[5]], [0.25, (0.75 * 63.75 + 0.25 * 191.25) / 255]);
  });

  it('produces planar RGB with per-channel mean/std', () => {
    const img = { data: Uint8Array.from([255, 0, 51, 0, 255, 51]), width: 2, height: 1, channels: 3 as const };
    const out = preprocess(img, spec({ channels: 3, width: 2, colorConversion: 'rgb', mean: [0, 0.5, 0.2], std: [1, 0.5, 0.1] }));
    close(out, [1, 0, -1, 1, 0, 0]);
  });

  it('names the bad argument', () => {
    expect(() => preprocess({ data: new Uint8Array(3), width: 2, height: 2, channels: 1 }, spec({}))).toThrow(/^image\.data: length 3/);
    expect(() => preprocess({ data: [1] as any, width: 1, height: 1, channels: 1 }, spec({}))).toThrow(TypeError);
    expect(() => preprocess({ data: new Uint8Array(0), width: 0, height: 1, channels: 1 }, spec({}))).toThrow(/^image: width/);
  });
});

describe('decodeImage (sharp)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-img-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const rgb = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);

  it('decodes PNG, WebP (lossless) and JPEG to raw pixels', async () => {
    const raw = { raw: { width: 2, height: 2, channels: 3 as const } };
    const png = await sharp(rgb, raw).png().toBuffer();
    const webp = await sharp(rgb, raw).webp({ lossless: true }).toBuffer();
    const jpeg = await sharp(rgb, raw).jpeg({ quality: 100 }).toBuffer();
    for (const bytes of [png, webp]) {
      const img = await decodeImage(new Uint8Array(bytes));
      expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
      expect(Array.from(img.data)).toEqual(Array.from(rgb));
    }
    const j = await decodeImage(new Uint8Array(jpeg));
    expect([j.width, j.height, j.channels]).toEqual([2, 2, 3]);
    const file = path.join(tmp, 'a.png');
    writeFileSync(file, png);
    expect((await decodeImage(file)).width).toBe(2);
  });

  it('keeps grey PNGs single-channel and alpha as a 4th channel', async () => {
    const g = await sharp(Buffer.from([0, 50, 100, 150]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const img = await decodeImage(new Uint8Array(g));
    expect(img.channels).toBe(1);
    expect(Array.from(img.data)).toEqual([0, 50, 100, 150]);
    const a = await sharp(Buffer.from([1, 2, 3, 4]), { raw: { width: 1, height: 1, channels: 4 } }).png().toBuffer();
    expect(Array.from((await decodeImage(new Uint8Array(a))).data)).toEqual([1, 2, 3, 4]);
  });

  it('decodes a large image', async () => {
    const big = await sharp({ create: { width: 1200, height: 900, channels: 3, background: { r: 10, g: 20, b: 30 } } }).jpeg().toBuffer();
    const img = await decodeImage(new Uint8Array(big));
    expect([img.width, img.height]).toEqual([1200, 900]);
    const out = preprocess(img, spec({ width: 28, height: 28 }));
    expect(out).toHaveLength(784);
  });

  it('turns a broken or missing file into a one-line Error naming it', async () => {
    const bad = path.join(tmp, 'broken.png');
    writeFileSync(bad, Buffer.from('\x89PNG\r\n\x1a\nnot really a png'));
    await expect(decodeImage(bad)).rejects.toThrow(new RegExp(`^cannot decode image ${bad.replace(/[.]/g, '\\.')}: [^\\n]+$`));
    await expect(decodeImage(path.join(tmp, 'missing.png'))).rejects.toThrow(/^cannot decode image .*missing\.png: /);
    await expect(decodeImage(new Uint8Array([1, 2, 3]))).rejects.toThrow(/^cannot decode image <3 bytes>: /);
  });
});
