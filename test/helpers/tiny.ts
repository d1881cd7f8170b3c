// The shared tiny fixture (test/fixtures/tiny) as the TypeScript suites read it: the bundle folder, its golden
// inputs/paths/logits (written by the Python exporter), a file reader, and an element-wise distance.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';

export const FIXTURE = path.resolve('test/fixtures/tiny');

export interface Golden {
  inputShape: number[];
  inputs: number[][];
  paths: { code: string; cells: number[][] }[];
  logits: number[][];
}
export const golden = JSON.parse(readFileSync(path.join(FIXTURE, 'golden.json'), 'utf8')) as Golden;

/** Reads a file of the fixture bundle by its manifest name. */
export const readBundle = (name: string): Promise<Uint8Array> => readFile(path.join(FIXTURE, name)).then((b) => new Uint8Array(b));

/** Largest absolute element difference; the lengths must match. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
