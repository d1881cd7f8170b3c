// The demo in a real browser (headless Debian chromium): builds web/ into a temp
// folder, serves it with the real server (startServer: COOP/COEP static files and
// /v1/classify), classifies the first 100 Fashion-MNIST test images IN THE PAGE
// (onnxruntime-web, wasm) and checks them against node (InstaModel on
// onnxruntime-node) on the same preprocessed tensors.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebEngine, resolveThreads } from '../runtime/engine-web.js';
import { loadModel } from '../runtime/model-node.js';
import { DEFAULT_OPTIONS, type ClassifyResult, type InstaModel } from '../runtime/model.js';
import { decodeCode } from '../runtime/path.js';
import { RoutedTier } from '../runtime/routed-tier.js';
import { preprocess } from '../runtime/preprocess.js';
import { buildWeb, readIdx, DEFAULT_BUILD_OPTIONS, type BuiltModel } from '../web/build.mjs';
import { pino } from 'pino';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../server/main.js';
import { hasChromium, launch, type Browser } from './browser/chromium.js';
import type { HookResult, TestHook } from '../web/src/test-hook.js';

const COUNT = 100;
const DATA = DEFAULT_BUILD_OPTIONS.data;
const hasData = existsSync(path.join(DATA, 't10k-images-idx3-ubyte.gz'));

describe('engine-web options', () => {
  it('rejects bad arguments with errors naming them', async () => {
    const ort = await import('onnxruntime-web');
    expect(() => createWebEngine({} as never)).toThrow(/^ort: /);
    expect(() => createWebEngine(ort, { backend: 'webgl' as never })).toThrow(/^backend: /);
    expect(() => createWebEngine(ort, { wasmPaths: 'ort' })).toThrow(TypeError);
    expect(() => resolveThreads(0)).toThrow(/^numThreads: /);
    expect(() => resolveThreads(1.5)).toThrow(RangeError);
  });
  it('uses one thread without cross-origin isolation (no SharedArrayBuffer)', () => {
    expect((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated).not.toBe(true);
    expect(resolveThreads(4)).toBe(1);
  });
});

describe.skipIf(!hasChromium() || !hasData)('demo page in chromium (onnxruntime-web) vs node', () => {
  let out: string;
  let models: BuiltModel[];
  let server: RunningServer;
  let browser: Browser;
  const node: Record<string, InstaModel> = {};
  // Runs fn in the page with window.instanas (fn is serialised: it may use only h and a).
  const hook = <R, A = undefined>(fn: (h: TestHook, a: A) => R | Promise<R>, arg?: A): Promise<R> =>
    browser.page.evaluate(
      ([src, a]) => (0, eval)(`(${src})`)((window as never as { instanas: unknown }).instanas, a),
      [fn.toString(), arg] as [string, unknown],
    ) as Promise<R>;

  // Timeouts are generous for loaded CI machines; on an idle 2-core box the whole file takes well under a minute.
  beforeAll(async () => {
    out = mkdtempSync(path.join(os.tmpdir(), 'instanas-web-'));
    // The shipped bundles (models/fashion-mnist and its static baseline), as users get them; the tiny fixture
    // only on a checkout without models/. Both trained bundles keep |logits| < 10 (label smoothing), where an
    // absolute 1e-4 between wasm and node is a meaningful bound.
    ({ models } = await buildWeb({ out, samples: COUNT, minify: false }));
    for (const m of models) node[m.name] = await loadModel(path.join(out, m.path));
    const insta = models.find((m) => m.role === 'instanas')!;
    server = await startServer({
      modelsDir: path.join(out, 'models'),
      webDir: out,
      port: 0,
      host: '127.0.0.1',
      defaultModel: insta.name,
      logger: pino({ level: 'silent' }),
    });
    await server.loaded;
    browser = await launch();
    // Backend and threads at their defaults: no GPU here, so detection must settle on wasm;
    // threads follow onnxruntime-web's rule (1 on a 2-core box; ?threads=2 also passes,
    // but spinning wasm threads make a loaded 2-core CI machine crawl).
    await browser.page.goto(server.url + '/', { waitUntil: 'commit', timeout: 120_000 });
    await browser.page.waitForFunction(() => 'instanasReady' in window, null, { timeout: 120_000 });
    await browser.page.evaluate(() => (window as never as { instanasReady: Promise<void> }).instanasReady);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await Promise.all(Object.values(node).map((m) => m.release()));
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('runs cross-origin isolated, picks wasm when no GPU is offered, loads both bundles', async () => {
    const info = await hook((h) => ({ iso: h.crossOriginIsolated, engine: h.engine, backend: h.backend, available: h.available, models: h.models }));
    expect(info.iso).toBe(true);
    if (!info.available.includes('webgpu')) {
      expect(info.backend).toBe('wasm');
      const cores = await browser.page.evaluate(() => navigator.hardwareConcurrency);
      const threads = Math.min(4, Math.ceil(cores / 2));
      expect(info.engine).toBe(`onnxruntime-web 1.30.0 (wasm, simd, ${threads} thread${threads > 1 ? 's' : ''})`);
      expect(await browser.page.textContent('#status')).toContain('WebGPU not available');
    }
    expect(info.models.map((m) => m.name).sort()).toEqual(models.map((m) => m.name).sort());
    expect(info.models.map((m) => m.kind).sort()).toEqual(['instanas', 'static']);
  }, 60_000);

  it(`matches node on the first ${COUNT} Fashion-MNIST test images (top-1, path code, logits 1e-4)`, async () => {
    const idx = readIdx(DATA, COUNT);
    const size = idx.width * idx.height;
    for (const m of models) {
      const nm = node[m.name];
      const tensors = Array.from({ length: COUNT }, (_, i) =>
        preprocess({ data: idx.pixels.subarray(i * size, (i + 1) * size), width: idx.width, height: idx.height, channels: 1 }, nm.manifest.input),
      );
      // The page's own sample pipeline yields the very same tensors.
      for (const i of [0, 1, COUNT - 1]) expect(await hook((h, a: { n: string; i: number }) => h.sampleTensor(a.n, a.i), { n: m.name, i }), `${m.name} sample ${i}`).toEqual(Array.from(tensors[i]));
      const name = m.name;
      const web: HookResult[] = await hook((h, a: { name: string; t: number[][] }) => h.classifyTensors(a.name, a.t), {
        name,
        t: tensors.map((t) => Array.from(t)),
      });
      expect(web).toHaveLength(COUNT);
      const codes = new Set<string>();
      for (let i = 0; i < COUNT; i++) {
        const [r] = await nm.classify(tensors[i], [1, ...nm.inputDims]);
        expect(web[i].index, `${name} image ${i} top-1`).toBe(r.index);
        expect(web[i].code, `${name} image ${i} path`).toBe(r.path.code);
        expect(web[i].macs, `${name} image ${i} macs`).toBe(r.path.macs);
        const diff = Math.max(...r.logits.map((v, k) => Math.abs(v - web[i].logits[k])));
        expect(diff, `${name} image ${i} logits`).toBeLessThan(1e-4);
        codes.add(r.path.code);
      }
      if (m.kind === 'static') expect(codes.size).toBe(1);
    }
  }, 180_000);

  it('runs a mixed-path batch on the routed graph in onnxruntime-web (options with zero rows included), matching node row by row', async () => {
    const m = models.find((x) => x.role === 'instanas')!;
    const nm = node[m.name];
    const plan = RoutedTier.plan(nm.manifest, { ...DEFAULT_OPTIONS });
    expect(plan, 'the shipped InstaNAS bundle has a routed graph').not.toBeNull();
    const idx = readIdx(DATA, COUNT);
    const size = idx.width * idx.height;
    const all = Array.from({ length: COUNT }, (_, i) =>
      preprocess({ data: idx.pixels.subarray(i * size, (i + 1) * size), width: idx.width, height: idx.height, channels: 1 }, nm.manifest.input),
    );
    const allRef: ClassifyResult[] = [];
    for (const t of all) allRef.push((await nm.classify(t, [1, ...nm.inputDims]))[0]); // node, one image at a time
    // The batch: images on the two most common covered paths, in image order (mixed paths; the routed options
    // that only other paths use get zero rows), plus up to two images on uncovered paths (tiers 1-2).
    const byCode = new Map<string, number[]>();
    allRef.forEach((r, i) => byCode.set(r.path.code, [...(byCode.get(r.path.code) ?? []), i]));
    const top = [...byCode].filter(([c]) => plan!.codes.includes(c)).sort((x, y) => y[1].length - x[1].length);
    expect(top.length).toBeGreaterThanOrEqual(2);
    const rows = [...top[0][1].slice(0, 6), ...top[1][1].slice(0, 6)].sort((x, y) => x - y);
    rows.push(...allRef.flatMap((r, i) => (plan!.codes.includes(r.path.code) ? [] : [i])).slice(0, 2));
    const n = rows.length;
    const tensors = rows.map((i) => all[i]);
    const ref = rows.map((i) => allRef[i]);
    const counts = nm.manifest.graph.cells.map((c) => c.options.length);
    const chosen = ref.map((r) => decodeCode(r.path.code, counts));
    const covered = ref.filter((r) => plan!.codes.includes(r.path.code));
    const zeroRow = plan!.cells.some((c, k) => c.kind === 'routed' && c.options.some((o) => chosen.every((p) => !p[k].includes(o))));
    expect(zeroRow, 'some routed option has no row in this batch').toBe(true);

    const web = await hook((h, a: { name: string; t: number[][] }) => h.classifyBatch(a.name, a.t), { name: m.name, t: tensors.map((t) => Array.from(t)) });
    expect(web).toHaveLength(n);
    expect(web.filter((r) => r.tier === 'routed').length).toBe(covered.length);
    for (let i = 0; i < n; i++) {
      expect(web[i].code, `row ${i} path`).toBe(ref[i].path.code);
      expect(web[i].index, `row ${i} top-1`).toBe(ref[i].index);
      const diff = Math.max(...ref[i].logits.map((v, k) => Math.abs(v - web[i].logits[k])));
      expect(diff, `row ${i} logits`).toBeLessThan(1e-4);
    }
  }, 120_000);

  it('is keyboard usable: tab order reaches the controls, Enter steps samples', async () => {
    const { page } = browser;
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ''));
    }
    const controls = ['prev', 'next', 'pick', 'clear', 'sw-baseline', 'sw-server'];
    expect(order.filter((id) => controls.includes(id))).toEqual(controls);
    const before = await page.textContent('#sample-info');
    await page.focus('#next');
    await page.keyboard.press('Enter');
    await hook((h) => h.idle());
    expect(await page.textContent('#sample-info')).not.toBe(before);
    expect(await page.textContent('#sample-info')).toMatch(/^Sample 2 \/ 100/);
  }, 60_000);

  it('shows all three side by side: browser InstaNAS, browser baseline, server /v1/classify', async () => {
    const { page } = browser;
    await page.click('#sw-baseline');
    await hook((h) => h.idle());
    await page.click('#sw-server');
    await hook((h) => h.idle());
    await hook((h) => h.showSample(4));
    expect(await page.isVisible('#card-baseline')).toBe(true);
    expect(await page.isVisible('#card-server')).toBe(true);
    // The server decodes a PNG of the same pixels: same decision as the page.
    const text = (card: string, f: string) => page.textContent(`#card-${card} [data-f="${f}"]`);
    expect(await text('server', 'label')).toBe(await text('instanas', 'label'));
    expect(await text('server', 'code')).toBe(await text('instanas', 'code'));
    expect(await page.locator('#chart rect.bar.server').count()).toBeGreaterThan(0);
  }, 60_000);

  it('renders the path grid and chart, fits a phone, no console errors; saves screenshots', async () => {
    const { page } = browser;
    expect(await page.textContent('#card-instanas [data-f="label"]')).not.toBe('–');
    expect(await page.textContent('#card-baseline [data-f="label"]')).not.toBe('–');
    expect(await page.locator('#grid rect.on').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart rect.bar.baseline').count()).toBeGreaterThan(0);
    mkdirSync('artifacts', { recursive: true });
    await page.screenshot({ path: 'artifacts/browser.png', fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'horizontal overflow on a phone-sized screen (px)').toBeLessThanOrEqual(0);
    await page.screenshot({ path: 'artifacts/browser-phone.png', fullPage: true });
    expect(browser.errors).toEqual([]);
  }, 60_000);

  it('refuses a file over the pixel limit with a message on the card (a huge photo froze the tab), then takes the next', async () => {
    const { page } = browser;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-big-'));
    try {
      const big = path.join(dir, 'big.png');
      await sharp({ create: { width: 4097, height: 4096, channels: 3, background: { r: 40, g: 80, b: 120 } } }).png().toFile(big);
      await page.setInputFiles('#file', big);
      await page.waitForFunction(() => document.querySelector('#card-instanas')?.classList.contains('error'), undefined, { timeout: 30_000 });
      expect(await page.textContent('#card-instanas [data-f="conf"]')).toMatch(/image is 4097x4096 = 16781312 pixels, more than the limit of 16777216/);
      const small = path.join(dir, 'small.png');
      await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toFile(small);
      for (let i = 0; i < 2; i++) {
        // The same file twice: each pick classifies again (the input is cleared after each pick).
        await page.evaluate(() => (document.querySelector('#caption')!.textContent = ''));
        await page.setInputFiles('#file', small);
        await page.waitForFunction(() => document.querySelector('#caption')?.textContent === 'small.png', undefined, { timeout: 30_000 });
      }
      await hook((h) => h.idle());
      expect(await page.textContent('#card-instanas [data-f="label"]')).not.toBe('unavailable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
