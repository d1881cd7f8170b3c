// Routing decisions: controller probabilities -> executed options per cell, the
// compact path code, and the MAC count of a path. Pure; shared by node and browser.
import type { Manifest, Shape } from './manifest-types.js';

/** Base32 digits of the path code; digit value = bitmask of executed options. */
export const CODE_ALPHABET = '0123456789abcdefghijklmnopqrstuv';
const BITS_PER_CHAR = 5;

/** How each cell resolves a selection; derived once from the manifest. */
export interface CellRule {
  /** Number of options of the cell. */
  options: number;
  /** Runs when nothing is selected and the cell changes shape, and always in a static bundle. */
  defaultOption: number;
  /** Empty selection means identity (input shape == output shape, batch ignored). */
  identityWhenEmpty: boolean;
}

/** The executed child network of one input. */
export interface Path {
  /** One (or more, see charsPerCell) base32 digit per cell: bitmask of executed options. */
  code: string;
  /** Per cell, the executed option indices, ascending ([] = identity). */
  cells: number[][];
  /** Child-network MACs: stem + head + executed options (controller excluded). */
  macs: number;
}

const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((v, i) => i === 0 || v === b[i]);

export function cellRules(m: Manifest): CellRule[] {
  return m.graph.cells.map((c) => ({
    options: c.options.length,
    defaultOption: c.defaultOption,
    identityWhenEmpty: sameShape(c.inputShape, c.outputShape),
  }));
}

/**
 * Digits per cell. One base32 digit holds 5 options; bundles with more options
 * in any cell use the same wider width for every cell so codes stay fixed-width.
 */
export function charsPerCell(optionCounts: readonly number[]): number {
  const max = Math.max(1, ...optionCounts);
  return Math.ceil(max / BITS_PER_CHAR);
}

/** Encodes executed options per cell as the path code (most significant digit first). */
export function encodeCode(cells: readonly (readonly number[])[], optionCounts: readonly number[]): string {
  if (cells.length !== optionCounts.length)
    throw new RangeError(`cells: expected ${optionCounts.length} cells, got ${cells.length}`);
  const width = charsPerCell(optionCounts);
  let code = '';
  cells.forEach((opts, ci) => {
    let mask = 0;
    for (const o of opts) {
      if (!Number.isInteger(o) || o < 0 || o >= optionCounts[ci])
        throw new RangeError(`cells[${ci}]: option ${o} out of range (cell has ${optionCounts[ci]} options)`);
      mask |= 1 << o;
    }
    code += mask.toString(32).padStart(width, '0');
  });
  return code;
}

/** Inverse of encodeCode; throws RangeError naming `code` when it does not fit the cells. */
export function decodeCode(code: string, optionCounts: readonly number[]): number[][] {
  const width = charsPerCell(optionCounts);
  if (code.length !== width * optionCounts.length)
    throw new RangeError(`code: '${code}' must have ${width * optionCounts.length} characters (${width} per cell)`);
  return optionCounts.map((n, ci) => {
    const digits = code.slice(ci * width, (ci + 1) * width);
    let mask = 0;
    for (const ch of digits) {
      const v = CODE_ALPHABET.indexOf(ch);
      if (v < 0) throw new RangeError(`code: '${code}' has invalid character '${ch}' (alphabet ${CODE_ALPHABET})`);
      mask = mask * 32 + v;
    }
    if (mask >= 2 ** n) throw new RangeError(`code: '${code}' selects options beyond the ${n} of cell ${ci}`);
    const opts: number[] = [];
    for (let o = 0; o < n; o++) if (mask & (1 << o)) opts.push(o);
    return opts;
  });
}

/**
 * Executed options per cell from one input's controller probabilities (row-major
 * by cell, per-cell offsets = running sum of option counts). An option is selected
 * when prob >= threshold; an empty selection becomes identity ([]) or [defaultOption].
 */
export function selectCells(probs: ArrayLike<number>, rules: readonly CellRule[], threshold: number): number[][] {
  let offset = 0;
  return rules.map((r) => {
    const chosen: number[] = [];
    for (let o = 0; o < r.options; o++) if (probs[offset + o] >= threshold) chosen.push(o);
    offset += r.options;
    if (chosen.length === 0 && !r.identityWhenEmpty) chosen.push(r.defaultOption);
    return chosen;
  });
}

/** Static bundles run every cell's default option. */
export function staticCells(rules: readonly CellRule[]): number[][] {
  return rules.map((r) => [r.defaultOption]);
}

/** Child-network MACs of a path: stem + head + executed options. */
export function pathMacs(m: Manifest, cells: readonly (readonly number[])[]): number {
  let macs = m.graph.stem.macs + m.graph.head.macs;
  cells.forEach((opts, ci) => {
    for (const o of opts) macs += m.graph.cells[ci].options[o].macs;
  });
  return macs;
}

/** Builds the full Path record for executed cells. */
export function makePath(m: Manifest, cells: number[][]): Path {
  const counts = m.graph.cells.map((c) => c.options.length);
  return { code: encodeCode(cells, counts), cells, macs: pathMacs(m, cells) };
}
