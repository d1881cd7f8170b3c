// Dataset reader on small IDX / CIFAR files written here (the real sets are not needed).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, normalizeBatch, parseCifar, parseDataSpec, parseIdx, readIdx } from '../runtime/dataset-node.js';
import type { InputSpec } from '../runtime/manifest-types.js';
import { preprocess } from '../runtime/preprocess.js';
import { idxBytes, pseudoBytes, writeFashionSplit, writeIdx } from './helpers/idx.js';

let tmp: string;
const grey: InputSpec = { height: 28, width: 28, channels: 1, layout: 'NCHW', dtype: 'float32', mean: [0.286], std: [0.353], resize: 'stretch-bilinear', colorConversion: 'luma-bt601' };

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-data-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('IDX files', () => {
  it('reads plain and .gz files with the same content', () => {
    const dir = path.join(tmp, 'fm');
    mkdirSync(dir);
    const test = writeFashionSplit(dir, 't10k', 7, 11, false);
    const train = writeFashionSplit(dir, 'train', 5, 21, true);
    const t = loadDataset('fashion-mnist:test', { root: dir });
    expect(t).toMatchObject({ count: 7, channels: 1, height: 28, width: 28, spec: 'fashion-mnist:test', root: dir });
    expect(Array.from(t.pixels)).toEqual(Array.from(test.images));
    expect(Array.from(t.labels)).toEqual(Array.from(test.labels));
    expect(t.labelNames[9]).toBe('Ankle boot');
    const tr = loadDataset('fashion-mnist:train', { root: dir, limit: 3 });
    expect(tr.count).toBe(3);
    expect(Array.from(tr.pixels)).toEqual(Array.from(train.images.subarray(0, 3 * 784)));
    expect(Array.from(tr.labels)).toEqual(Array.from(train.labels.subarray(0, 3)));
    // A limit above the set size keeps everything.
    expect(loadDataset('fashion-mnist:test', { root: dir, limit: 100 }).count).toBe(7);
  });

  it('parses the header big-endian and rejects broken files', () => {
    const data = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
    const parsed = parseIdx(idxBytes([2, 3], data), 'x');
    expect(parsed.dims).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
    expect(() => parseIdx(idxBytes([2, 4], data), 'bad.idx')).toThrow(/^bad\.idx: expected 8 bytes of data for shape \[2,4\], found 6$/);
    const float = idxBytes([2, 3], data);
    float[2] = 0x0d;
    expect(() => parseIdx(float, 'f.idx')).toThrow(/f\.idx: not an unsigned-byte IDX file \(magic 00000d02\)/);
    expect(() => parseIdx(new Uint8Array(2), 't.idx')).toThrow(/truncated IDX header/);
    writeFileSync(path.join(tmp, 'broken-gz.gz'), 'not gzip');
    expect(() => readIdx(path.join(tmp, 'broken-gz'))).toThrow(/broken-gz\.gz: cannot decompress/);
  });

  it('a missing file names it and says how to get the data', () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    let msg = '';
    try {
      loadDataset('fashion-mnist:test', { root: empty });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain(path.join(empty, 't10k-images-idx3-ubyte'));
    expect(msg).toContain('apt-get install dataset-fashion-mnist');
    expect(msg).toContain('--data-root');
    expect(msg).not.toContain('\n');
  });

  it('labels must match the image count', () => {
    const dir = path.join(tmp, 'mismatch');
    mkdirSync(dir);
    writeIdx(`${dir}/t10k-images-idx3-ubyte`, [2, 28, 28], new Uint8Array(2 * 784));
    writeIdx(`${dir}/t10k-labels-idx1-ubyte`, [3], new Uint8Array(3));
    expect(() => loadDataset('fashion-mnist:test', { root: dir })).toThrow(/t10k-labels-idx1-ubyte: expected \[2\] labels/);
  });
});

describe('data specs and options', () => {
  it.each(['mnist:test', 'fashion-mnist', 'fashion-mnist:val', 'cifar10:test:x', ''])('rejects %j naming data', (spec) => {
    expect(() => parseDataSpec(spec)).toThrow(/^data: unknown data spec/);
  });
  it('accepts the known specs', () => {
    expect(parseDataSpec('cifar10:train')).toEqual({ dataset: 'cifar10', split: 'train' });
  });
  it('CIFAR needs a root; limits must be positive integers', () => {
    expect(() => loadDataset('cifar10:test')).toThrow(/options\.root: cifar10 has no default location; pass --data-root/);
    expect(() => loadDataset('fashion-mnist:test', { limit: 0 })).toThrow(/options\.limit: must be a positive integer/);
  });
});

describe('CIFAR binary', () => {
  const record = (label: number, seed: number) => Uint8Array.from([label, ...pseudoBytes(3072, seed)]);

  it('reads records as planar RGB with their labels', () => {
    const dir = path.join(tmp, 'cifar');
    mkdirSync(dir);
    const recs = [record(3, 1), record(9, 2), record(0, 3)];
    writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.concat(recs));
    const set = loadDataset('cifar10:test', { root: dir });
    expect(set).toMatchObject({ count: 3, channels: 3, height: 32, width: 32 });
    expect(Array.from(set.labels)).toEqual([3, 9, 0]);
    expect(Array.from(set.pixels.subarray(3072, 6144))).toEqual(Array.from(recs[1].subarray(1)));
    expect(set.labelNames[0]).toBe('airplane');
    expect(() => loadDataset('cifar10:train', { root: dir })).toThrow(/data_batch_1\.bin not found: --data-root must be the folder of the CIFAR-10 binary version/);
  });

  it('CIFAR-100 uses the fine label (second byte) and rejects partial records', () => {
    const bytes = Uint8Array.from([1, 42, ...pseudoBytes(3072, 4)]);
    expect(Array.from(parseCifar(bytes, 'c100', 2, 1).labels)).toEqual([42]);
    expect(() => parseCifar(bytes.subarray(0, 100), 'part.bin')).toThrow(/part\.bin: size 100 is not a multiple of the 3073-byte CIFAR record/);
  });
});

describe('normalizeBatch', () => {
  const set = { spec: 's', root: '.', count: 2, channels: 1 as const, height: 28, width: 28, labelNames: [], labels: new Uint8Array(2), pixels: pseudoBytes(2 * 784, 5) };

  it('is (v/255 - mean)/std per pixel, in order, for a slice of the set', () => {
    const x = normalizeBatch(set, 1, 1, grey);
    expect(x.length).toBe(784);
    for (const k of [0, 1, 400, 783]) expect(x[k]).toBeCloseTo((set.pixels[784 + k] / 255 - 0.286) / 0.353, 6);
    const both = normalizeBatch(set, 0, 2, grey);
    expect(Array.from(both.subarray(784))).toEqual(Array.from(x));
    expect(() => normalizeBatch(set, 1, 2, grey)).toThrow(/start\/n: images \[1, 3\) are outside the set of 2/);
  });

  it('per-channel mean/std for colour; other sizes go through preprocess()', () => {
    const rgb = { ...set, count: 1, channels: 3 as const, height: 32, width: 32, pixels: pseudoBytes(3072, 6) };
    const spec: InputSpec = { ...grey, height: 32, width: 32, channels: 3, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3], colorConversion: 'rgb' };
    const x = normalizeBatch(rgb, 0, 1, spec);
    expect(x[1024 * 2 + 7]).toBeCloseTo((rgb.pixels[2048 + 7] / 255 - 0.6) / 0.3, 6);
    // 32x32 RGB into a 28x28 grey model: luma + resize, as for any image file.
    const interleaved = new Uint8Array(3072);
    for (let k = 0; k < 1024; k++) for (let c = 0; c < 3; c++) interleaved[k * 3 + c] = rgb.pixels[c * 1024 + k];
    expect(Array.from(normalizeBatch(rgb, 0, 1, grey))).toEqual(Array.from(preprocess({ data: interleaved, width: 32, height: 32, channels: 3 }, grey)));
  });
});
