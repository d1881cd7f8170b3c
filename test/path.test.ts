import { describe, expect, it } from 'vitest';
import {
  CODE_ALPHABET,
  charsPerCell,
  decodeCode,
  encodeCode,
  makePath,
  pathMacs,
  selectCells,
  staticCells,
  type CellRule,
} from '../runtime/path.js';
import { writeSyntheticBundle } from './helpers/synthetic-bundle.js';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';

describe('path code', () => {
  it('writes one base32 digit per cell, bit i = option i', () => {
    expect(encodeCode([[0], [], [0, 1, 2, 3, 4], [1, 3]], [5, 5, 5, 5])).toBe('10va');
    expect(decodeCode('10va', [5, 5, 5, 5])).toEqual([[0], [], [0, 1, 2, 3, 4], [1, 3]]);
    expect(CODE_ALPHABET).toHaveLength(32);
  });

  it('round-trips every mask for 1..5 options', () => {
    for (let n = 1; n <= 5; n++) {
      for (let mask = 0; mask < 2 ** n; mask++) {
        const opts = [...Array(n).keys()].filter((o) => mask & (1 << o));
        const code = encodeCode([opts], [n]);
        expect(code).toBe(CODE_ALPHABET[mask]);
        expect(decodeCode(code, [n])).toEqual([opts]);
      }
    }
  });

  it('uses two digits per cell for all cells once any cell has more than 5 options', () => {
    expect(charsPerCell([3, 6])).toBe(2);
    expect(charsPerCell([5, 5])).toBe(1);
    expect(charsPerCell([30])).toBe(6);
    const counts = [3, 10];
    const cells = [[1], [0, 5, 9]];
    const code = encodeCode(cells, counts);
    expect(code).toBe('02' + (1 + 32 + 512).toString(32).padStart(2, '0'));
    expect(decodeCode(code, counts)).toEqual(cells);
    const wide = [[0, 29], [7]];
    expect(decodeCode(encodeCode(wide, [30, 8]), [30, 8])).toEqual(wide);
  });

  it('rejects codes that do not fit, naming the argument', () => {
    expect(() => decodeCode('1', [5, 5])).toThrow(/^code: '1' must have 2 characters/);
    expect(() => decodeCode('1w', [5, 5])).toThrow(/^code: .*invalid character 'w'/);
    expect(() => decodeCode('18', [5, 3])).toThrow(/^code: .*beyond the 3 of cell 1/);
    expect(() => encodeCode([[5]], [5])).toThrow(RangeError);
    expect(() => encodeCode([[0]], [5, 5])).toThrow(/^cells: expected 2 cells/);
  });
});

describe('selection rules', () => {
  const rules: CellRule[] = [
    { options: 3, defaultOption: 0, identityWhenEmpty: true },
    { options: 2, defaultOption: 1, identityWhenEmpty: false },
    { options: 4, defaultOption: 2, identityWhenEmpty: true },
  ];

  it('selects options with prob >= threshold, offsets by previous cells', () => {
    const probs = [0.5, 0.49, 0.9, /* cell 1 */ 0.6, 0.7, /* cell 2 */ 0, 1, 0.2, 0.5];
    expect(selectCells(probs, rules, 0.5)).toEqual([[0, 2], [0, 1], [1, 3]]);
  });

  it('empty selection: identity when shapes agree, else the default option', () => {
    const probs = new Float32Array(9).fill(0.1);
    expect(selectCells(probs, rules, 0.5)).toEqual([[], [1], []]);
  });

  it('handles cells with different option counts', () => {
    const r: CellRule[] = [
      { options: 1, defaultOption: 0, identityWhenEmpty: true },
      { options: 5, defaultOption: 3, identityWhenEmpty: false },
    ];
    expect(selectCells([0.9, 0, 0, 0, 0, 0.8], r, 0.5)).toEqual([[0], [4]]);
  });

  it('static bundles run every default option', () => {
    expect(staticCells(rules)).toEqual([[0], [1], [2]]);
  });
});

describe('macs', () => {
  it('sums stem, head and executed options', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-path-'));
    try {
      const m = writeSyntheticBundle(tmp);
      // stem 32 + head 6 + c0 options 10,20,30 + c1 1000,2000 + c2 100000,200000
      expect(pathMacs(m, [[], [1], []])).toBe(32 + 6 + 2000);
      expect(pathMacs(m, [[0, 2], [0], [0, 1]])).toBe(32 + 6 + 10 + 30 + 1000 + 300000);
      expect(makePath(m, [[0, 2], [0], [1]])).toEqual({ code: '512', cells: [[0, 2], [0], [1]], macs: 32 + 6 + 40 + 1000 + 200000 });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
