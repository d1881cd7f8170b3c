// `instanas verify`: passes on the fixture's golden.json, fails (exit 1) on tampered copies.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import { CODE_ALPHABET } from '../runtime/path.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let tmp: string;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A copy of the fixture whose golden.json (or manifest) is changed by `edit`. */
function tampered(name: string, edit: (golden: any, manifest: any) => void): string {
  const dir = path.join(tmp, name);
  cpSync(FIXTURE, dir, { recursive: true });
  const g = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  edit(g, m);
  writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(g));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

describe.skipIf(!existsSync(path.join(FIXTURE, 'golden.json')))('instanas verify', () => {
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-verify-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('passes on the fixture', async () => {
    const r = await run('verify', '--model', FIXTURE, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, pathMismatches: [], tolerance: 1e-4 });
    expect(j.count).toBeGreaterThan(0);
    expect(j.maxLogitDiff).toBeLessThan(1e-4);
  });

  // Each test runs the CLI once: loading the model dominates and the CI machine may be busy.
  let shifted: string;
  it('fails on a shifted logit (text report)', async () => {
    shifted = tampered('logit', (g) => (g.logits[3][2] += 0.01));
    const r = await run('verify', '--model', shifted);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^logits: +max \|diff\| 1\.00e-2/m);
    expect(r.out).toMatch(/^paths: +0 mismatches$/m);
    expect(r.out).toMatch(/^FAILED$/m);
  });

  it('the same golden passes with a looser --tolerance', async () => {
    const r = await run('verify', '--model', shifted, '--tolerance', '0.02');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK$/m);
  });

  it('fails on a changed path and lists it', async () => {
    const dir = tampered('path', (g) => {
      const c = g.paths[0].code as string;
      g.paths[0].code = (c[0] === CODE_ALPHABET[1] ? CODE_ALPHABET[2] : CODE_ALPHABET[1]) + c.slice(1);
    });
    const r = await run('verify', '--model', dir, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.pathMismatches.map((p: { index: number; mode: string }) => `${p.index}:${p.mode}`)).toEqual(['0:single', '0:batch']);
  });

  it('a bundle without golden, a malformed golden and a bad --tolerance are errors', async () => {
    const none = tampered('none', (_g, m) => delete m.golden);
    expect((await run('verify', '--model', none)).err).toMatch(/^instanas: error: .*manifest\.json: golden: not set, nothing to verify/);
    const bad = tampered('bad', (g) => (g.logits = g.logits.slice(1)));
    const r = await run('verify', '--model', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^instanas: error: \S+golden\.json: logits: must be \d+ arrays of numbers/);
    expect((await run('verify', '--model', FIXTURE, '--tolerance', '-1')).code).toBe(2);
  });
});
