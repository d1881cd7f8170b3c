// Writes small IDX (MNIST-family) and CIFAR binary files for dataset and eval tests.
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/** IDX bytes: 0x0000, type 0x08 (uint8), ndim, big-endian sizes, data. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

export function writeIdx(file: string, dims: number[], data: Uint8Array, gzip = false): void {
  const bytes = idxBytes(dims, data);
  writeFileSync(gzip ? `${file}.gz` : file, gzip ? gzipSync(bytes) : bytes);
}

/** Deterministic bytes (LCG) so test data is the same on every run. */
export function pseudoBytes(n: number, seed: number, max = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 24) % max;
  }
  return out;
}

/** A Fashion-MNIST-style split (`prefix` 't10k' or 'train') of n 28x28 images in `dir`. */
export function writeFashionSplit(dir: string, prefix: string, n: number, seed: number, gzip = false): { images: Uint8Array; labels: Uint8Array } {
  const images = pseudoBytes(n * 784, seed);
  const labels = pseudoBytes(n, seed + 1, 10);
  writeIdx(`${dir}/${prefix}-images-idx3-ubyte`, [n, 28, 28], images, gzip);
  writeIdx(`${dir}/${prefix}-labels-idx1-ubyte`, [n], labels, gzip);
  return { images, labels };
}
