// Labelled image sets for evaluation, read exactly like the Python search reads
// them (search/instanas_search/data.py): Fashion-MNIST IDX files (plain or .gz)
// and CIFAR binary batches. Node-only (file system, zlib).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { InputSpec } from './manifest-types.js';
import { preprocess, type PixelImage } from './preprocess.js';

/** A labelled set held as uint8 pixels, planar [N, C, H, W] like the torch tensors. */
export interface LabeledImages {
  /** The spec it was loaded from, e.g. 'fashion-mnist:test'. */
  spec: string;
  root: string;
  count: number;
  channels: 1 | 3;
  height: number;
  width: number;
  pixels: Uint8Array;
  labels: Uint8Array;
  /** Class names of the dataset, indexed by label. */
  labelNames: string[];
}

export interface DatasetOptions {
  /** Folder holding the files; undefined = the dataset's default root (required for CIFAR). */
  root: string | undefined;
  /** Keep only the first `limit` images; undefined = all. */
  limit: number | undefined;
}

export const DEFAULT_DATASET_OPTIONS: Readonly<DatasetOptions> = Object.freeze({ root: undefined, limit: undefined });

export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';
export const FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const CIFAR10_LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const DATASETS = ['fashion-mnist', 'cifar10', 'cifar100'] as const;
const SPLITS = ['train', 'test'] as const;
export type DatasetName = (typeof DATASETS)[number];
export type SplitName = (typeof SPLITS)[number];

/** Parses 'dataset:split'; throws RangeError naming `data` otherwise. */
export function parseDataSpec(spec: string): { dataset: DatasetName; split: SplitName } {
  if (typeof spec !== 'string') throw new TypeError(`data: expected a string like 'fashion-mnist:test', got ${typeof spec}`);
  const [dataset, split, extra] = spec.split(':');
  if (!(DATASETS as readonly string[]).includes(dataset) || !(SPLITS as readonly string[]).includes(split ?? '') || extra !== undefined)
    throw new RangeError(`data: unknown data spec '${spec}' (expected <dataset>:<split> with dataset ${DATASETS.join('|')} and split ${SPLITS.join('|')})`);
  return { dataset: dataset as DatasetName, split: split as SplitName };
}

/** IDX (MNIST family): 0x0000, dtype 0x08 (uint8), ndim, big-endian uint32 sizes, raw bytes. */
export function parseIdx(bytes: Uint8Array, source: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new Error(`${source}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ndim = bytes[3];
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08 || ndim < 1)
    throw new Error(`${source}: not an unsigned-byte IDX file (magic ${Buffer.from(bytes.subarray(0, 4)).toString('hex')})`);
  const start = 4 + 4 * ndim;
  if (bytes.length < start) throw new Error(`${source}: truncated IDX header (${ndim} dimensions)`);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - start !== size)
    throw new Error(`${source}: expected ${size} bytes of data for shape [${dims.join(',')}], found ${bytes.length - start}`);
  return { dims, data: bytes.subarray(start) };
}

/** Reads an IDX file by its plain name, falling back to `<name>.gz` as Python does. */
export function readIdx(file: string, missingHint = ''): { dims: number[]; data: Uint8Array; source: string } {
  const gz = file.endsWith('.gz') ? file : `${file}.gz`;
  const plain = file.endsWith('.gz') ? file.slice(0, -3) : file;
  let bytes: Uint8Array;
  let source: string;
  if (existsSync(plain)) {
    source = plain;
    bytes = readFileSync(plain);
  } else if (existsSync(gz)) {
    source = gz;
    try {
      bytes = gunzipSync(readFileSync(gz));
    } catch (err) {
      throw new Error(`${gz}: cannot decompress (${(err as Error).message})`);
    }
  } else {
    throw new Error(`${plain} not found (nor .gz)${missingHint}`);
  }
  return { ...parseIdx(bytes, source), source };
}

/** CIFAR binary records: label byte(s), then 3072 bytes (R, G, B planes of 32x32). */
export function parseCifar(bytes: Uint8Array, source: string, labelBytes = 1, labelIndex = 0): { pixels: Uint8Array; labels: Uint8Array } {
  const rec = labelBytes + 3072;
  if (bytes.length === 0 || bytes.length % rec !== 0)
    throw new Error(`${source}: size ${bytes.length} is not a multiple of the ${rec}-byte CIFAR record`);
  const n = bytes.length / rec;
  const pixels = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = bytes[i * rec + labelIndex];
    pixels.set(bytes.subarray(i * rec + labelBytes, (i + 1) * rec), i * 3072);
  }
  return { pixels, labels };
}

function loadFashion(root: string, split: SplitName): Omit<LabeledImages, 'spec' | 'root'> {
  const prefix = split === 'test' ? 't10k' : 'train';
  const hint = `: install the data set (apt-get install dataset-fashion-mnist, files go to ${FASHION_MNIST_ROOT}) or use --data-root <folder with the IDX files>`;
  const x = readIdx(path.join(root, `${prefix}-images-idx3-ubyte`), hint);
  const y = readIdx(path.join(root, `${prefix}-labels-idx1-ubyte`), hint);
  if (x.dims.length !== 3) throw new Error(`${prefix}-images-idx3-ubyte: expected 3 dimensions [N,H,W], got [${x.dims.join(',')}]`);
  if (y.dims.length !== 1 || y.dims[0] !== x.dims[0])
    throw new Error(`${prefix}-labels-idx1-ubyte: expected [${x.dims[0]}] labels (one per image), got [${y.dims.join(',')}]`);
  return { count: x.dims[0], channels: 1, height: x.dims[1], width: x.dims[2], pixels: x.data, labels: y.data, labelNames: FASHION_LABELS };
}

function loadCifar(root: string, classes: 10 | 100, split: SplitName): Omit<LabeledImages, 'spec' | 'root'> {
  const files =
    classes === 10
      ? split === 'test' ? ['test_batch.bin'] : [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`)
      : [split === 'test' ? 'test.bin' : 'train.bin'];
  // CIFAR-100 records hold the coarse then the fine label; Python trains on the fine one.
  const [lb, li] = classes === 10 ? [1, 0] : [2, 1];
  const parts = files.map((f) => {
    const file = path.join(root, f);
    if (!existsSync(file))
      throw new Error(`${file} not found: --data-root must be the folder of the CIFAR-${classes} binary version (cifar-${classes}-batches-bin)`);
    return parseCifar(readFileSync(file), file, lb, li);
  });
  const count = parts.reduce((n, p) => n + p.labels.length, 0);
  const pixels = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3072);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  const meta = path.join(root, classes === 10 ? 'batches.meta.txt' : 'fine_label_names.txt');
  const labelNames = existsSync(meta)
    ? readFileSync(meta, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean)
    : classes === 10 ? CIFAR10_LABELS : Array.from({ length: 100 }, (_, i) => `class_${i}`);
  return { count, channels: 3, height: 32, width: 32, pixels, labels, labelNames };
}

/** Loads `spec` ('fashion-mnist:test', 'cifar10:test', ...) from disk. */
export function loadDataset(spec: string, options: Partial<DatasetOptions> = {}): LabeledImages {
  const opts: DatasetOptions = { ...DEFAULT_DATASET_OPTIONS, ...options };
  const { dataset, split } = parseDataSpec(spec);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw new RangeError(`options.limit: must be a positive integer, got ${opts.limit}`);
  let root = opts.root;
  if (root === undefined) {
    if (dataset !== 'fashion-mnist') throw new RangeError(`options.root: ${dataset} has no default location; pass --data-root <folder>`);
    root = FASHION_MNIST_ROOT;
  }
  const set = dataset === 'fashion-mnist' ? loadFashion(root, split) : loadCifar(root, dataset === 'cifar10' ? 10 : 100, split);
  const count = opts.limit === undefined ? set.count : Math.min(opts.limit, set.count);
  const size = set.channels * set.height * set.width;
  return { ...set, spec, root, count, pixels: set.pixels.subarray(0, count * size), labels: set.labels.subarray(0, count) };
}

/**
 * Images [start, start+n) as a normalised [n, C, H, W] tensor (flat). When the set
 * already has the model's input size this is exactly Python's
 * `(x.float() / 255 - mean) / std` in float32 (each step rounded with fround);
 * otherwise each image goes through the runtime's preprocess (resize, colour).
 */
export function normalizeBatch(set: LabeledImages, start: number, n: number, input: InputSpec): Float32Array {
  if (!Number.isInteger(start) || start < 0 || !Number.isInteger(n) || n < 1 || start + n > set.count)
    throw new RangeError(`start/n: images [${start}, ${start + n}) are outside the set of ${set.count}`);
  const hw = set.height * set.width;
  const size = set.channels * hw;
  const outSize = input.channels * input.height * input.width;
  const out = new Float32Array(n * outSize);
  if (set.channels === input.channels && set.height === input.height && set.width === input.width) {
    const f = Math.fround;
    for (let c = 0; c < set.channels; c++) {
      const m = f(input.mean.length === 1 ? input.mean[0] : input.mean[c]);
      const s = f(input.std.length === 1 ? input.std[0] : input.std[c]);
      // All 256 possible values, computed once per channel.
      const lut = Float32Array.from({ length: 256 }, (_, v) => f(f(f(v / 255) - m) / s));
      for (let i = 0; i < n; i++) {
        const src = (start + i) * size + c * hw;
        const dst = i * outSize + c * hw;
        for (let k = 0; k < hw; k++) out[dst + k] = lut[set.pixels[src + k]];
      }
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    // preprocess() takes interleaved pixels; the set is planar.
    const data = new Uint8Array(size);
    const base = (start + i) * size;
    for (let c = 0; c < set.channels; c++)
      for (let k = 0; k < hw; k++) data[k * set.channels + c] = set.pixels[base + c * hw + k];
    const img: PixelImage = { data, width: set.width, height: set.height, channels: set.channels };
    out.set(preprocess(img, input), i * outSize);
  }
  return out;
}
