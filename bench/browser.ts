// Benchmark (not a test): in-browser latency of the InstaNAS bundle vs the static
// baseline, batch 1, both in one page, interleaved per image. Prints mean/median
// per bundle and the ratio baseline/InstaNAS.
//
//   npx vite-node bench/browser.ts [-- --threads N --backend wasm --count 100 --rounds 3 --instanas DIR --baseline DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildWeb } from '../web/build.mjs';
import { hasChromium, launch } from '../test/browser/chromium.js';
import { serveStatic } from '../test/browser/static-server.js';
import type { TestHook } from '../web/src/test-hook.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    count: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    instanas: { type: 'string' },
    baseline: { type: 'string' },
  },
});
const count = Number(values.count);
const rounds = Number(values.rounds);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`--count: must be a positive integer, got ${values.count}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds: must be a positive integer, got ${values.rounds}`);
if (!hasChromium()) throw new Error('bench: /usr/bin/chromium is missing (apt-get install -y chromium)');

const stats = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
};

const out = mkdtempSync(path.join(os.tmpdir(), 'instanas-bench-web-'));
const built = await buildWeb({ out, samples: count, instanas: values.instanas, baseline: values.baseline });
const server = await serveStatic(out);
const browser = await launch();
try {
  const q = new URLSearchParams({ backend: values.backend! });
  if (values.threads) q.set('threads', values.threads);
  await browser.page.goto(`${server.url}?${q}`, { waitUntil: 'commit', timeout: 120_000 });
  await browser.page.waitForFunction(() => 'instanasReady' in window, null, { timeout: 120_000 });
  await browser.page.evaluate(() => (window as never as { instanasReady: Promise<void> }).instanasReady);
  const engine = await browser.page.evaluate(() => (window as never as { instanas: TestHook }).instanas.engine);
  // One untimed pass warms the JIT tiers and caches; then the measured rounds.
  await browser.page.evaluate((n) => (window as never as { instanas: TestHook }).instanas.timeModels(n, 1), count);
  const ms = await browser.page.evaluate(([n, r]) => (window as never as { instanas: TestHook }).instanas.timeModels(n, r), [count, rounds] as const);
  const insta = built.models.find((m) => m.role === 'instanas')!;
  const base = built.models.find((m) => m.role === 'baseline')!;
  console.log(`browser bench: chromium headless, ${engine}, ${count} Fashion-MNIST test images x ${rounds} rounds, batch 1, interleaved`);
  for (const m of [insta, base]) {
    const s = stats(ms[m.name]);
    console.log(`  ${m.role.padEnd(8)} ${m.name.padEnd(28)} mean ${s.mean.toFixed(3)} ms  median ${s.median.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  (${m.source})`);
  }
  const a = stats(ms[insta.name]);
  const b = stats(ms[base.name]);
  console.log(`  ratio baseline/instanas: mean ${(b.mean / a.mean).toFixed(3)}x, median ${(b.median / a.median).toFixed(3)}x`);
  if (browser.errors.length) console.log(`  console errors: ${browser.errors.join(' | ')}`);
} finally {
  await browser.close();
  await server.close();
  rmSync(out, { recursive: true, force: true });
}
