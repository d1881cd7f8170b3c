// Cross-language parity of a *fresh* export: the Python search exports the tiny space (random weights, controller
// spread so that the golden inputs take many paths), and the TypeScript runtime must reproduce torch's logits
// (1e-4) and paths on every golden input. The committed fixture is checked the same way in verify.test.ts; this
// test catches an exporter change that the committed files would not show.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';

const PYTHON = '/usr/bin/python3';
// CI installs python3-torch and python3-onnx (scripts/setup.sh); a machine without them skips this suite.
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'instanas-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!hasTorch)('fresh Python export -> TypeScript runtime', () => {
  it('gives torch logits within 1e-4 and the same paths', async () => {
    const out = path.join(tmp, 'tiny');
    execFileSync(PYTHON, ['-m', 'instanas_search', 'export', '--config', 'tiny', '--random', '--out', out], {
      cwd: path.resolve('search'),
      stdio: 'pipe',
      timeout: 120_000,
    });
    const golden = JSON.parse(readFileSync(path.join(out, 'golden.json'), 'utf8'));
    expect(new Set(golden.paths.map((p: { code: string }) => p.code)).size).toBeGreaterThan(1);
    const lines: string[] = [];
    const code = await main(['verify', '--model', out, '--json'], { out: (t) => lines.push(t), err: (t) => lines.push(t) });
    const j = JSON.parse(lines.join('\n'));
    expect(code).toBe(0);
    expect(j).toMatchObject({ ok: true, pathMismatches: [], tolerance: 1e-4 });
    expect(j.count).toBe(golden.paths.length);
    expect(j.maxLogitDiff).toBeLessThan(1e-4);
  }, 180_000);
});
