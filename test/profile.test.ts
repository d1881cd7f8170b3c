// `instanas profile` on a temp copy of the tiny fixture: the latency table it writes
// must keep the manifest valid and cover every module and the controller.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import { profileBundle, writeLatency } from '../cli/commands/profile.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import type { Engine } from '../runtime/engine.js';
import { modulesOf } from '../runtime/manifest.js';
import { loadManifest } from '../runtime/manifest-node.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
let tmp: string;
let bundle: string;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.skipIf(!existsSync(path.join(FIXTURE, 'manifest.json')))('instanas profile', () => {
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-profile-'));
    bundle = path.join(tmp, 'tiny');
    cpSync(FIXTURE, bundle, { recursive: true });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('--write replaces the latency table; the manifest still validates', async () => {
    const before = await loadManifest(bundle);
    const out = path.join(tmp, 'latency.json');
    const r = await run('profile', '--model', bundle, '--runs', '5', '--warmup', '1', '--write', '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote latency table \(28 entries\)/m);
    const m = await loadManifest(bundle);
    const ids = [...modulesOf(m).map(([, mod]) => mod.id), 'controller'];
    expect(Object.keys(m.latency.table).sort()).toEqual(ids.sort());
    for (const id of ids) expect(m.latency.table[id], id).toBeGreaterThan(0);
    expect(m.latency.unit).toBe('ms');
    expect(m.latency.method).toMatch(/^onnxruntime-node 1\.30\.0, batch 1, 1 intra-op thread, median of 5 runs after 1 warm-up, interleaved$/);
    expect(m.latency.device).toMatch(/\(\d+ cores\)$/);
    expect(Number.isNaN(Date.parse(m.latency.measuredAt!))).toBe(false);
    // Everything but latency is untouched.
    expect({ ...m, latency: null }).toEqual({ ...before, latency: null });
    // The --out file is what the Python search reads: unit/method/device/table at the top level.
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file.table).toEqual(m.latency.table);
    expect(file).toMatchObject({ unit: 'ms', method: m.latency.method, device: m.latency.device });
    expect(Object.keys(file.details).sort()).toEqual([...ids, '(identity)'].sort());
    // The per-run overhead: measured on an Identity graph, written beside the table, below the slowest module.
    expect(m.latency.overheadMs).toBeGreaterThan(0);
    expect(file.overheadMs).toBe(m.latency.overheadMs);
    expect(m.latency.overheadMs!).toBeLessThan(Math.max(...Object.values(m.latency.table)));
    // The fixture itself was not modified.
    expect((await loadManifest(FIXTURE)).latency.method).toBe(before.latency.method);
  });

  it('--json prints the table without writing', async () => {
    const r = await run('profile', '--model', bundle, '--runs', '2', '--warmup', '0', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j.latency.table)).toHaveLength(28);
    expect(j.details.stem.p10).toBeLessThanOrEqual(j.details.stem.p90);
  });

  it('--batch N times batches of N and writes per-image entries', async () => {
    const r = await run('profile', '--model', bundle, '--runs', '3', '--warmup', '1', '--batch', '3', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.latency.method).toMatch(/, batch 3 \(ms per image: a run \/ 3\), 1 intra-op thread, median of 3 runs after 1 warm-up/);
    const m = await loadManifest(bundle);
    const ids = [...modulesOf(m).map(([, mod]) => mod.id), 'controller'];
    expect(Object.keys(j.latency.table).sort()).toEqual(ids.sort());
    for (const id of ids) expect(j.latency.table[id], id).toBeGreaterThan(0);
    expect(j.details.stem.p10).toBeLessThanOrEqual(j.details.stem.p90);
    // Every timed run gets a batch of 3: the engine below records each run's batch dimension.
    const batches = new Set<number>();
    const node = createNodeEngine();
    const recording: Engine = {
      name: node.name,
      async createSession(bytes, o) {
        const s = await node.createSession(bytes, o);
        return {
          inputNames: s.inputNames,
          outputNames: s.outputNames,
          run: (feeds) => (Object.values(feeds).forEach((t) => batches.add(t.dims[0])), s.run(feeds)),
          release: () => s.release(),
        };
      },
    };
    await profileBundle(bundle, m, { runs: 2, warmup: 0, batch: 3 }, recording);
    expect([...batches]).toEqual([3]);
  });

  it('an invalid table is refused before anything is written', async () => {
    const text = readFileSync(path.join(bundle, 'manifest.json'), 'utf8');
    expect(() => writeLatency(bundle, { unit: 'ms', method: 'x', device: 'y', measuredAt: 'now', table: { stem: -1 } })).toThrow(
      /manifest\.json: \/latency\/table\/stem: must be >= 0/,
    );
    expect(readFileSync(path.join(bundle, 'manifest.json'), 'utf8')).toBe(text);
  });

  it.each([
    [['--runs', '0'], /--runs must be a positive integer/],
    [['--warmup=-1'], /--warmup must be a non-negative integer, got '-1'/],
    [['--warmup', '1.5'], /--warmup must be a non-negative integer/],
    [['--threads', 'two'], /--threads must be a positive integer/],
    [['--batch', '0'], /--batch must be a positive integer/],
  ])('usage error %j exits 2', async (args, msg) => {
    const r = await run('profile', '--model', bundle, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
  });
});
