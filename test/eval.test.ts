// `instanas eval` on the tiny fixture and a small IDX set written here; the report is
// checked against the runtime's own predictions for the same images.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import type { EvalReport } from '../cli/commands/eval.js';
import { loadModel } from '../runtime/model-node.js';
import type { ClassifyResult } from '../runtime/model.js';
import { writeFashionSplit } from './helpers/idx.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
const N = 30;
let tmp: string;
let labels: Uint8Array;
let images: Uint8Array;
let own: ClassifyResult[];

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.skipIf(!existsSync(path.join(FIXTURE, 'manifest.json')))('instanas eval', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-eval-'));
    ({ images, labels } = writeFashionSplit(tmp, 't10k', N, 7, true));
    // The runtime's own predictions, image by image, normalised independently of the reader.
    const model = await loadModel(FIXTURE);
    own = [];
    for (let i = 0; i < N; i++) {
      const x = Float32Array.from(images.subarray(i * 784, (i + 1) * 784), (v) => (v / 255 - 0.286) / 0.353);
      own.push((await model.classify(x, [1, 1, 28, 28]))[0]);
    }
    await model.release();
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const check = (r: EvalReport) => {
    expect(r.count).toBe(N);
    const matches = own.filter((p, i) => p.index === labels[i]).length;
    expect(r.correct).toBe(matches);
    expect(r.accuracy).toBeCloseTo(matches / N, 12);
    expect(r.paths.distinct).toBe(new Set(own.map((p) => p.path.code)).size);
    expect(r.perClass.reduce((a, c) => a + c.count, 0)).toBe(N);
    r.perClass.forEach((c) => expect(c.count).toBe(labels.filter((l) => l === c.index).length));
    expect(r.byCorrectness.correct.count + r.byCorrectness.wrong.count).toBe(N);
    const macs = own.map((p) => p.path.macs);
    expect(r.macs.mean).toBeCloseTo(macs.reduce((a, b) => a + b, 0) / N, 6);
    expect(r.macs.min).toBe(Math.min(...macs));
    expect(r.macs.max).toBe(Math.max(...macs));
    expect(r.macs.controller).toBe(own[0].controllerMacs);
    const top = r.paths.top[0];
    expect(top.count).toBe(own.filter((p) => p.path.code === top.code).length);
    expect(r.paths.top.every((p, i, a) => i === 0 || a[i - 1].count >= p.count)).toBe(true);
    const l = r.latency;
    expect(0 < l.p50Ms && l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.p99Ms <= l.maxMs).toBe(true);
    expect(r.model).toEqual({ name: 'tiny', version: '0.0.1', kind: 'instanas' });
  };

  it('--json - prints a report that agrees with the runtime (batch 1)', async () => {
    const r = await run('eval', '--model', FIXTURE, '--data', 'fashion-mnist:test', '--data-root', tmp, '--json', '-');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as EvalReport;
    expect(report.batch).toBe(1);
    check(report);
  });

  it('--batch, --limit and --json <file> (text on stdout)', async () => {
    const file = path.join(tmp, 'eval.json');
    const r = await run('eval', '-m', FIXTURE, '--data', 'fashion-mnist:test', '--data-root', tmp, '--batch', '8', '--json', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^accuracy: +[\d.]+% \(\d+\/30\)$/m);
    expect(r.out).toMatch(/^paths: +\d+ distinct$/m);
    expect(r.out).toContain('Ankle boot');
    const report = JSON.parse(readFileSync(file, 'utf8')) as EvalReport;
    expect(report.batch).toBe(8);
    check(report);
    const limited = JSON.parse((await run('eval', '-m', FIXTURE, '--data', 'fashion-mnist:test', '--data-root', tmp, '--limit', '5', '--json', '-')).out);
    expect(limited.count).toBe(5);
    expect(limited.correct).toBe(own.slice(0, 5).filter((p, i) => p.index === labels[i]).length);
  });

  it.each([
    [['--data', 'mnist:test'], 2, /--data: unknown data spec 'mnist:test'/],
    [['--data', 'fashion-mnist:test', '--limit', '0'], 2, /--limit must be a positive integer, got '0'/],
    [['--data', 'fashion-mnist:test', '--batch', 'x'], 2, /--batch must be a positive integer/],
    [[], 2, /--data <dataset:split> is required/],
    [['--data', 'fashion-mnist:train'], 1, /^instanas: error: .*train-images-idx3-ubyte not found \(nor \.gz\): .*apt-get install dataset-fashion-mnist.*--data-root[^\n]*$/],
  ])('errors %j exit %i in one line naming the flag', async (args, code, msg) => {
    const r = await run('eval', '--model', FIXTURE, '--data-root', tmp, ...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(msg);
    expect(r.err.split('\n')[0]).toMatch(/^instanas: /);
  });
});
