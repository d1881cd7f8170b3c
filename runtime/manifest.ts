// Manifest validation, environment-neutral: the caller supplies the parsed JSON
// schema (node reads schema/ from disk; a browser build can import or fetch it)
// and, optionally, a file-existence check. Node file loading is in manifest-node.ts.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Manifest, ModuleSpec, Shape } from './manifest-types.js';
import { cellRules, decodeCode } from './path.js';

/** A bundle that cannot be used. The message is one line: source, JSON pointer, reason. */
export class BundleError extends Error {
  constructor(
    readonly source: string,
    readonly pointer: string,
    reason: string,
  ) {
    super(`Invalid bundle: ${source}: ${pointer || '/'}: ${reason}`);
    this.name = 'BundleError';
  }
}

export interface ValidateOptions {
  /** The parsed bundle-manifest.v1 JSON schema. */
  schema: object;
  /** Named in error messages, normally the manifest path or URL. */
  source: string;
  /** Returns whether the bundle holds this file; omitted = not checked (e.g. browser). */
  fileExists?: (file: string) => boolean;
}

// Compiling the schema is the slow part; cache per schema object.
const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    // allErrors off: we report one error, and the first failing keyword of each
    // branch is the informative one.
    fn = new Ajv({ allErrors: false, strict: false }).compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

function describe(e: ErrorObject): { pointer: string; reason: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        pointer: `${e.instancePath}/${String(p.additionalProperty)}`,
        reason: 'unknown property (not allowed by the schema)',
      };
    case 'enum':
      return {
        pointer: e.instancePath,
        reason: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { pointer: e.instancePath, reason: `must be ${JSON.stringify(p.allowedValue)}` };
    default:
      return { pointer: e.instancePath, reason: e.message ?? e.keyword };
  }
}

/** Picks the most specific error: the deepest instance path (oneOf branches report shallow ones too). */
function pickError(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject) => e.instancePath.split('/').length;
  const real = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const pool = real.length > 0 ? real : errors;
  return pool.reduce((best, e) => (depth(e) > depth(best) ? e : best));
}

const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((v, i) => i === 0 || v === b[i]);
const fmt = (s: Shape): string => `[${s.slice(1).join(',')}]`;

/**
 * Validates parsed manifest JSON against the schema and the rules the schema
 * cannot express. Throws a BundleError naming the source and the field.
 */
export function validateManifest(json: unknown, opts: ValidateOptions): Manifest {
  const validate = compile(opts.schema);
  if (!validate(json)) {
    const { pointer, reason } = describe(pickError(validate.errors ?? []));
    throw new BundleError(opts.source, pointer, reason);
  }
  const m = json as Manifest;
  const fail = (pointer: string, reason: string): never => {
    throw new BundleError(opts.source, pointer, reason);
  };
  const { input, graph } = m;

  if (input.mean.length !== 1 && input.mean.length !== input.channels)
    fail('/input/mean', `must have 1 or ${input.channels} entries (input.channels)`);
  if (input.std.length !== 1 && input.std.length !== input.channels)
    fail('/input/std', `must have 1 or ${input.channels} entries (input.channels)`);
  const imageShape: Shape = [1, input.channels, input.height, input.width];

  const totalOptions = graph.cells.reduce((n, c) => n + c.options.length, 0);
  if (m.kind === 'instanas') {
    const c = m.controller;
    if (!c) fail('/controller', "is required when kind is 'instanas'");
    else {
      if (!sameShape(c.inputShape, imageShape))
        fail('/controller/inputShape', `must be [N,${imageShape.slice(1).join(',')}] (the input spec), got ${fmt(c.inputShape)}`);
      if (c.outputShape.length !== 2 || c.outputShape[1] !== totalOptions)
        fail('/controller/outputShape', `must be [N,${totalOptions}] (total options over all cells), got [${c.outputShape.join(',')}]`);
    }
  } else if (m.controller) {
    fail('/controller', "must be absent when kind is 'static'");
  }

  if (!sameShape(graph.stem.inputShape, imageShape))
    fail('/graph/stem/inputShape', `must be [N,${imageShape.slice(1).join(',')}] (the input spec), got ${fmt(graph.stem.inputShape)}`);

  // Shapes must chain stem -> cells -> head, and every option must fit its cell.
  let prev = graph.stem.outputShape;
  let prevName = '/graph/stem/outputShape';
  graph.cells.forEach((cell, ci) => {
    const at = `/graph/cells/${ci}`;
    if (!sameShape(cell.inputShape, prev))
      fail(`${at}/inputShape`, `${fmt(cell.inputShape)} does not match ${prevName} ${fmt(prev)}`);
    if (cell.defaultOption >= cell.options.length)
      fail(`${at}/defaultOption`, `${cell.defaultOption} is out of range (cell has ${cell.options.length} options)`);
    cell.options.forEach((o, oi) => {
      if (!sameShape(o.inputShape, cell.inputShape))
        fail(`${at}/options/${oi}/inputShape`, `${fmt(o.inputShape)} does not match the cell inputShape ${fmt(cell.inputShape)}`);
      if (!sameShape(o.outputShape, cell.outputShape))
        fail(`${at}/options/${oi}/outputShape`, `${fmt(o.outputShape)} does not match the cell outputShape ${fmt(cell.outputShape)}`);
    });
    prev = cell.outputShape;
    prevName = `${at}/outputShape`;
  });
  if (!sameShape(graph.head.inputShape, prev))
    fail('/graph/head/inputShape', `${fmt(graph.head.inputShape)} does not match ${prevName} ${fmt(prev)}`);
  const head = graph.head.outputShape;
  if (head.length !== 2 || head[1] !== m.labels.length)
    fail('/graph/head/outputShape', `must be [N,${m.labels.length}] (one logit per label), got [${head.join(',')}]`);

  // Module ids key latency.table, so they must be unique.
  const seen = new Map<string, string>();
  for (const [pointer, mod] of modulesOf(m)) {
    const other = seen.get(mod.id);
    if (other) fail(`${pointer}/id`, `duplicate module id '${mod.id}' (also at ${other})`);
    seen.set(mod.id, pointer);
  }

  // Hot paths are compiled at load: each must be a path this graph can run.
  if (m.hotPaths) {
    if (m.kind === 'static') fail('/hotPaths', "must be absent when kind is 'static' (a static bundle has one path)");
    const rules = cellRules(m);
    m.hotPaths.forEach((hp, i) => {
      let cells: number[][];
      try {
        cells = decodeCode(hp.code, rules.map((r) => r.options));
      } catch (err) {
        return fail(`/hotPaths/${i}/code`, (err as Error).message);
      }
      const bad = cells.findIndex((o, ci) => o.length === 0 && !rules[ci].identityWhenEmpty);
      if (bad >= 0) fail(`/hotPaths/${i}/code`, `cell ${bad} changes shape and cannot be empty`);
    });
  }

  if (opts.fileExists) {
    const files: [string, string][] = modulesOf(m).map(([p, mod]) => [`${p}/file`, mod.file]);
    if (m.controller) files.unshift(['/controller/file', m.controller.file]);
    if (m.golden) files.push(['/golden', m.golden]);
    for (const [pointer, file] of files) {
      if (!opts.fileExists(file)) fail(pointer, `file '${file}' not found in the bundle`);
    }
  }
  return m;
}

/** Every child-network module with its JSON pointer, in execution order. */
export function modulesOf(m: Manifest): [string, ModuleSpec][] {
  const out: [string, ModuleSpec][] = [['/graph/stem', m.graph.stem]];
  m.graph.cells.forEach((c, ci) => c.options.forEach((o, oi) => out.push([`/graph/cells/${ci}/options/${oi}`, o])));
  out.push(['/graph/head', m.graph.head]);
  return out;
}

/** Parses manifest text; a JSON syntax error becomes a BundleError too. */
export function parseManifest(text: string, opts: ValidateOptions): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BundleError(opts.source, '', `not valid JSON (${(err as Error).message})`);
  }
  return validateManifest(json, opts);
}
