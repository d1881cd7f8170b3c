// The CLI is tested twice: in-process through main() (fast, every branch) and
// as a real process through bin/instanas.js after `tsc`, to check the shim, exit
// codes and that errors are one line without a stack.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import { limits, serve } from '../cli/commands/serve.js';
import { resolveOptions } from '../server/options.js';
import { writeSyntheticBundle } from './helpers/synthetic-bundle.js';

const ROOT = path.resolve('.');
let tmp: string;
let bundle: string;
let png: string;
let broken: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-cli-'));
  const fixture = path.join(ROOT, 'test/fixtures/tiny');
  bundle = existsSync(path.join(fixture, 'manifest.json')) ? fixture : path.join(tmp, 'bundle');
  if (bundle !== fixture) writeSyntheticBundle(bundle);
  png = path.join(tmp, 'shirt.png');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 120, g: 60, b: 200 } } })
    .png()
    .toFile(png);
  broken = path.join(tmp, 'broken.png');
  writeFileSync(broken, Buffer.from('\x89PNG\r\n\x1a\ntruncated'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('cli main()', () => {
  it('classifies an image (text)', async () => {
    const r = await run('classify', png, '--model', bundle);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^label: +\S/m);
    expect(r.out).toMatch(/^path: +[0-9a-v]+ \(cell 0: /m);
    expect(r.out).toMatch(/^macs: +[\d,]+ child \+ [\d,]+ controller$/m);
    expect(r.out).toMatch(/^timings: +preprocess [\d.]+ ms, controller [\d.]+ ms, child [\d.]+ ms, total [\d.]+ ms$/m);
  });

  it('classifies an image (--json, --threads)', async () => {
    const r = await run('classify', png, '--model', bundle, '--json', '--threads', '2');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ image: png, label: expect.any(String), path: { code: expect.any(String), cells: expect.any(Array) } });
    expect(j.timings).toMatchObject({ preprocessMs: expect.any(Number), controllerMs: expect.any(Number), childMs: expect.any(Number) });
  });

  it('reports a broken image, a missing image and a bad bundle in one line with exit 1', async () => {
    for (const args of [
      ['classify', broken, '--model', bundle],
      ['classify', path.join(tmp, 'missing.png'), '--model', bundle],
      ['classify', png, '--model', path.join(tmp, 'nope')],
    ]) {
      const r = await run(...args);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^instanas: error: [^\n]+$/);
    }
  });

  it.each([
    [['classify', 'a.png', '--model', 'm', '--bogus'], /Unknown option '--bogus'/],
    [['classify', '--model', 'm'], /expected exactly one <image>/],
    [['classify', 'a.png'], /--model <bundleDir> is required/],
    [['classify', 'a.png', '--model', 'm', '--threads', '0'], /--threads must be a positive integer/],
    [['serve', '--max-batch-size', '0'], /--max-batch-size must be an integer >= 1, got '0'/],
    [['serve', '--workers=-1'], /--workers must be an integer >= 0, got '-1'/],
    [['serve', '--max-in-flight', '0'], /--max-in-flight must be a positive integer, got '0'/],
    [['serve', '--workers', ''], /--workers must be an integer >= 0, got ''/], // Number('') is 0: it ran in-process
    [['serve', '--inline-max-ms', ' '], /--inline-max-ms must be a number >= 0, got ' '/],
    [['profile', '--model', 'm', '--warmup', ''], /--warmup must be a non-negative integer, got ''/],
    [['serve', '--request-timeout-ms', 'soon'], /--request-timeout-ms must be a positive integer, got 'soon'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /^usage: instanas/],
  ])('usage error %j exits 2', async (argv, msg) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err).toMatch(/usage: instanas/);
  });

  it('refuses server timeouts a timer cannot hold (node fires a longer one after 1 ms)', () => {
    expect(() => resolveOptions({ requestTimeoutMs: 3_000_000_000 })).toThrow(/^options\.requestTimeoutMs: must be at most 2147478647/);
    expect(() => resolveOptions({ drainTimeoutMs: 2 ** 31 })).toThrow(/^options\.drainTimeoutMs: must be at most 2147483647/);
    expect(resolveOptions({ requestTimeoutMs: 2 ** 31 - 1 - 5000, drainTimeoutMs: 2 ** 31 - 1 }).drainTimeoutMs).toBe(2 ** 31 - 1);
  });

  it('serve passes its limit flags to the server options', () => {
    const argv = { 'max-in-flight': '8', 'request-timeout-ms': '5000', 'max-body-bytes': '1048576', 'max-pixels': '1000000', 'drain-timeout-ms': '2000' };
    expect(limits(argv, serve)).toEqual({ maxInFlight: 8, requestTimeoutMs: 5000, maxBodyBytes: 1048576, maxPixels: 1000000, drainTimeoutMs: 2000 });
    expect(limits({}, serve)).toEqual({});
  });

  it('prints help and version with exit 0', async () => {
    expect((await run('--help')).out).toMatch(/classify/);
    expect((await run('classify', '--help')).code).toBe(0);
    expect((await run('--version')).out).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('bin/instanas.js (compiled)', () => {
  beforeAll(() => {
    const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  });
  const bin = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/instanas.js'), ...args], { encoding: 'utf8' });

  it('classifies with exit 0', () => {
    const r = bin('classify', png, '--model', bundle, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).path.code).toMatch(/^[0-9a-v]+$/);
  });

  it('a broken PNG exits 1 with one line on stderr and no stack', () => {
    const r = bin('classify', broken, '--model', bundle);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^instanas: error: cannot decode image .*broken\.png: [^\n]+\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown flag exits 2 with usage', () => {
    const r = bin('classify', png, '--model', bundle, '--nope');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: instanas classify/);
  });
});
