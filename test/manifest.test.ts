import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, validateManifest } from '../runtime/manifest.js';
import { loadManifest, loadSchema } from '../runtime/manifest-node.js';
import { writeSyntheticBundle } from './helpers/synthetic-bundle.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let base: string;
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-manifest-'));
  base = path.join(tmp, 'base');
  // Prefer the real PyTorch-exported fixture; fall back to the synthetic bundle until it exists.
  if (existsSync(path.join(FIXTURE, 'manifest.json'))) cpSync(FIXTURE, base, { recursive: true });
  else writeSyntheticBundle(base);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Copies the base bundle, applies `edit` to its manifest JSON, and returns the new dir. */
function broken(edit: (m: any) => void): string {
  const dir = path.join(tmp, `case${n++}`);
  cpSync(base, dir, { recursive: true });
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
  return dir;
}

async function errorOf(dir: string): Promise<string> {
  try {
    await loadManifest(dir);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected loadManifest to throw');
}

describe('loadManifest', () => {
  it('accepts a valid bundle', async () => {
    const m = await loadManifest(base);
    expect(m.schemaVersion).toBe(1);
    expect(m.graph.cells.length).toBeGreaterThan(0);
  });

  it('names the file and the JSON pointer of a missing required property', async () => {
    const dir = broken((m) => delete m.graph.cells[0].options[1].file);
    const msg = await errorOf(dir);
    expect(msg).toBe(`Invalid bundle: ${path.join(dir, 'manifest.json')}: /graph/cells/0/options/1: must have required property 'file'`);
  });

  it.each([
    ['wrong type', (m: any) => (m.input.height = 'big'), '/input/height: must be integer'],
    ['unknown property', (m: any) => (m.graph.extra = 1), '/graph/extra: unknown property'],
    ['bad enum', (m: any) => (m.kind = 'dynamic'), `/kind: must be one of "instanas", "static"`],
    ['bad const', (m: any) => (m.schemaVersion = 2), '/schemaVersion: must be 1'],
    ['oneOf accuracy', (m: any) => (m.accuracy = { dataset: 'd', split: 's', top1: 2, count: 1 }), '/accuracy/top1: must be <= 1'],
    ['negative macs', (m: any) => (m.graph.head.macs = -1), '/graph/head/macs: must be >= 0'],
    ['bad file name', (m: any) => (m.graph.stem.file = '../x.onnx'), '/graph/stem/file: must match pattern'],
  ])('schema error: %s', async (_name, edit, expected) => {
    const msg = await errorOf(broken(edit));
    expect(msg).toMatch(/^Invalid bundle: .*manifest\.json: /);
    expect(msg).toContain(expected);
    expect(msg).not.toContain('\n');
  });

  it.each([
    [
      'controller outputShape != total options',
      (m: any) => (m.controller.outputShape = [1, 999]),
      '/controller/outputShape: must be [N,',
    ],
    ['labels != head outputs', (m: any) => m.labels.push('extra'), '/graph/head/outputShape: must be [N,'],
    ['missing ONNX file', (m: any) => (m.graph.head.file = 'nope.onnx'), "/graph/head/file: file 'nope.onnx' not found in the bundle"],
    ['missing controller file', (m: any) => (m.controller.file = 'nope.onnx'), '/controller/file: file'],
    ['defaultOption out of range', (m: any) => (m.graph.cells[0].defaultOption = 99), '/graph/cells/0/defaultOption: 99 is out of range'],
    [
      'cells do not chain',
      (m: any) => (m.graph.cells[0].outputShape = [1, 77, 1, 1]),
      '/graph/cells/0/options/0/outputShape',
    ],
    ['head does not chain', (m: any) => (m.graph.head.inputShape = [1, 77, 1, 1]), '/graph/head/inputShape'],
    ['stem vs input spec', (m: any) => (m.input.height += 1), '/controller/inputShape'],
    ['instanas without controller', (m: any) => delete m.controller, "/controller: is required when kind is 'instanas'"],
    ['static with controller', (m: any) => (m.kind = 'static'), "/controller: must be absent when kind is 'static'"],
    ['mean length', (m: any) => (m.input.mean = m.input.channels === 1 ? [0.1, 0.2] : [0.1, 0.2]), '/input/mean: must have 1 or'],
    ['duplicate ids', (m: any) => (m.graph.head.id = m.graph.stem.id), '/graph/head/id: duplicate module id'],
    ['hot path of another graph', (m: any) => (m.hotPaths = [{ code: 'zz', share: 0.5 }]), "/hotPaths/0/code: code: 'zz' must have"],
    [
      'hot path empties a shape-changing cell',
      (m: any) => (m.hotPaths = [{ code: '0'.repeat(m.graph.cells.length), share: 0.5 }]),
      'changes shape and cannot be empty',
    ],
  ])('semantic error: %s', async (_name, edit, expected) => {
    const msg = await errorOf(broken(edit));
    expect(msg).toMatch(/^Invalid bundle: .*manifest\.json: /);
    expect(msg).toContain(expected);
  });

  it('reports invalid JSON', async () => {
    const dir = broken(() => {});
    writeFileSync(path.join(dir, 'manifest.json'), '{ nope');
    expect(await errorOf(dir)).toMatch(/manifest\.json: \/: not valid JSON/);
  });

  it('names a missing directory or manifest', async () => {
    expect(await errorOf(path.join(tmp, 'nowhere'))).toBe(`bundle directory not found: ${path.join(tmp, 'nowhere')}`);
    const dir = broken(() => {});
    rmSync(path.join(dir, 'manifest.json'));
    expect(await errorOf(dir)).toBe(`bundle manifest not found: ${path.join(dir, 'manifest.json')}`);
  });

  it('validates without file checks when given a schema object (browser path)', () => {
    const json = JSON.parse(readFileSync(path.join(base, 'manifest.json'), 'utf8'));
    expect(validateManifest(json, { schema: loadSchema(), source: 'https://x/manifest.json' }).name).toBe(json.name);
    json.graph.head.file = 'absent.onnx';
    expect(() => validateManifest(json, { schema: loadSchema(), source: 'u' })).not.toThrow();
    delete json.labels;
    expect(() => validateManifest(json, { schema: loadSchema(), source: 'u' })).toThrow(BundleError);
  });
});
