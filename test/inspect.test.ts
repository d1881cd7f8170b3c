// `instanas inspect` on the tiny fixture, checked against the raw manifest JSON.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import type { InspectReport } from '../cli/commands/inspect.js';
import type { Manifest } from '../runtime/manifest-types.js';

const FIXTURE = path.resolve('test/fixtures/tiny');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.skipIf(!existsSync(path.join(FIXTURE, 'manifest.json')))('instanas inspect', () => {
  const raw = () => JSON.parse(readFileSync(path.join(FIXTURE, 'manifest.json'), 'utf8')) as Manifest;

  it('text output names every cell, option op and the totals', async () => {
    const m = raw();
    const r = await run('inspect', '--model', FIXTURE);
    expect(r.code).toBe(0);
    for (let i = 0; i < m.graph.cells.length; i++) expect(r.out).toMatch(new RegExp(`^cell ${i} `, 'm'));
    for (const op of new Set(m.graph.cells.flatMap((c) => c.options.map((o) => o.op!)))) expect(r.out).toContain(op);
    expect(r.out).toMatch(/^name: +tiny 0\.0\.1 \(instanas\)/m);
    expect(r.out).toMatch(/^controller: +controller\.onnx, .*threshold 0\.5/m);
    expect(r.out).toMatch(/^totals: +all modules [\d.]+[kM]? MACs/m);
    expect(r.out).toMatch(/^accuracy: +not measured$/m);
    expect(r.out).toMatch(/^golden: +golden\.json$/m);
  });

  it('--json: shapes, derived strides, MAC totals and latency entries match the manifest', async () => {
    const m = raw();
    const r = await run('inspect', '--model', FIXTURE, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as InspectReport;
    expect(j.cells).toHaveLength(m.graph.cells.length);
    j.cells.forEach((c, i) => {
      const s = m.graph.cells[i];
      expect(c.inputShape).toEqual(s.inputShape.slice(1));
      expect(c.stride).toBe(s.inputShape[2] / s.outputShape[2]);
      expect(c.options.map((o) => o.latencyMs)).toEqual(s.options.map((o) => m.latency.table[o.id]));
    });
    // The fixture has stride-2 cells at 1 and 3, the rest keep the resolution.
    expect(j.cells.map((c) => c.stride)).toEqual([1, 2, 1, 2, 1]);
    expect(j.cells.map((c) => c.identityWhenEmpty)).toEqual([true, false, true, false, true]);
    const g = m.graph;
    const all = g.stem.macs + g.head.macs + g.cells.flatMap((c) => c.options).reduce((a, o) => a + o.macs, 0);
    const chain = g.stem.macs + g.head.macs + g.cells.reduce((a, c) => a + c.options[c.defaultOption].macs, 0);
    expect(j.totals).toMatchObject({ allModulesMacs: all, chainMacs: chain, controllerMacs: m.controller!.macs });
    expect(j.controller).toMatchObject({ threshold: m.controller!.threshold, params: m.controller!.params });
    expect(j.provenance.seed).toBe(m.provenance.seed);
    expect(j.provenance).not.toHaveProperty('config');
  });

  it('a missing bundle is a one-line error, no --model a usage error', async () => {
    const r = await run('inspect', '--model', path.join(FIXTURE, 'nope'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^instanas: error: bundle directory not found: \S+$/);
    expect((await run('inspect')).code).toBe(2);
  });
});
