// The demo's build: without a baseline bundle it makes a static stand-in from the InstaNAS bundle, which the
// runtime's loader must accept (it kept the InstaNAS-only hotPaths, and the page refused to start).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../runtime/manifest-node.js';
import { buildWeb } from '../web/build.mjs';

describe('web/build.mjs', () => {
  it('makes a static stand-in baseline that the loader accepts', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'instanas-web-build-'));
    try {
      const { models } = await buildWeb({ out, baseline: null, samples: 2, minify: false });
      const base = models.find((m: { role: string }) => m.role === 'baseline')!;
      const m = await loadManifest(path.join(out, base.path));
      expect(m.kind).toBe('static');
      expect(m.hotPaths).toBeUndefined();
      expect(m.controller).toBeUndefined();
      expect(Object.keys(m.latency.table)).not.toContain('controller');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
