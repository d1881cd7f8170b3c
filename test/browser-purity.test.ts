// The browser build must not pull node-only modules: only *-node.ts files and
// index.ts (the node entry) may import node:*, sharp or onnxruntime-node.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const RUNTIME = path.resolve('runtime');

describe('runtime/browser.ts', () => {
  it('environment-neutral files import no node-only module', () => {
    const neutral = readdirSync(RUNTIME).filter((f) => f.endsWith('.ts') && !f.endsWith('-node.ts') && f !== 'index.ts');
    expect(neutral).toContain('model.ts');
    for (const f of neutral) {
      const src = readFileSync(path.join(RUNTIME, f), 'utf8');
      expect(src, f).not.toMatch(/from ['"](node:|fs|path|sharp|onnxruntime-node)/);
    }
  });

  it('bundles for the browser platform', async () => {
    const r = await build({
      entryPoints: [path.join(RUNTIME, 'browser.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(r.errors).toEqual([]);
    expect(r.outputFiles[0].text).not.toMatch(/onnxruntime-node|require\(["']fs["']\)/);
  });
});
