// PathCache (runtime/path-cache.ts) on its own, then wired into InstaModel with real
// onnxruntime sessions: LRU eviction and release, background compiles, failures.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine, Session } from '../runtime/engine.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import { InstaModel, type ModelOptions } from '../runtime/model.js';
import { PathCache } from '../runtime/path-cache.js';

const FIXTURE = path.resolve('test/fixtures/tiny');
const golden = JSON.parse(readFileSync(path.join(FIXTURE, 'golden.json'), 'utf8')) as {
  inputShape: number[];
  inputs: number[][];
  paths: { code: string; cells: number[][] }[];
};
const dims = [1, ...golden.inputShape.slice(1)];
const input = (i: number) => Float32Array.from(golden.inputs[i]);
const codes = [...new Set(golden.paths.map((p) => p.code))];

/** A cache entry that records its release. */
class Item {
  released = 0;
  constructor(readonly code: string) {}
  async release() {
    this.released++;
  }
}

describe('PathCache', () => {
  it('compiles a path after compileAfter misses, in the background, then hits', async () => {
    const built: Item[] = [];
    const cache = new PathCache(async (code) => (built.push(new Item(code)), built.at(-1)!), { compileAfter: 2 });
    expect(cache.get('a')).toBeUndefined();
    await cache.idle();
    expect(built).toHaveLength(0);
    expect(cache.get('a')).toBeUndefined(); // second miss queues it; the request itself is not delayed
    await cache.idle();
    expect(cache.get('a')).toBe(built[0]);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, compiles: 1, entries: 1, queued: 0 });
  });

  it('touch() counts a request served by another tier: no hit, miss or compile, but the count protects the entry', async () => {
    const cache = new PathCache(async (code) => new Item(code), { maxEntries: 1, compileAfter: 1 });
    cache.get('a');
    await cache.idle();
    for (let i = 0; i < 5; i++) cache.touch('a'); // e.g. five rows of 'a' ran in the routed graph
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 1, compiles: 1 });
    for (let i = 0; i < 4; i++) cache.get('b'); // 4 requests: fewer than a's 6, so b does not displace a
    await cache.idle();
    expect(cache.stats()).toMatchObject({ compiles: 1, evictions: 0 });
    expect(cache.peek('a')).toBeDefined();
    cache.touch('c'); // never compiles by itself
    await cache.idle();
    expect(cache.stats().compiles).toBe(1);
  });

  it('evicts the least frequent entry, admits only a path more frequent than it, and releases the evicted one', async () => {
    const cache = new PathCache(async (code) => new Item(code), { maxEntries: 2, compileAfter: 1 });
    for (const c of ['a', 'b']) cache.get(c);
    await cache.idle();
    const a = cache.get('a')!;
    const b = cache.get('b')!; // b is now the most recent, but a (3 requests) stays more frequent than b (2)
    cache.get('a');
    cache.get('c'); // c (1 request) is rarer than the coldest entry (b, 2): not compiled
    await cache.idle();
    expect(cache.stats()).toMatchObject({ compiles: 2, rejected: 1, evictions: 0 });
    cache.get('c');
    cache.get('c'); // c (3) now beats b (2): compiled, and b (least frequent) is evicted
    await cache.idle();
    expect(b.released).toBe(1);
    expect(a.released).toBe(0);
    expect(cache.stats()).toMatchObject({ compiles: 3, evictions: 1, entries: 2 });
    await cache.close();
    expect(a.released).toBe(1);
  });

  it('does not thrash when a long tail of rare paths surrounds a few hot ones', async () => {
    const cache = new PathCache(async (code) => new Item(code), { maxEntries: 4, compileAfter: 2, agingPeriod: 256 });
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let hotHits = 0;
    for (let i = 0; i < 4000; i++) {
      const hot = rand() < 0.7;
      const code = hot ? `hot${Math.floor(rand() * 4)}` : `cold${Math.floor(rand() * 600)}`;
      if (cache.get(code) && hot) hotHits++;
      if (i % 50 === 0) await cache.idle();
    }
    await cache.idle();
    const st = cache.stats();
    // An LRU compiling every path seen twice would compile hundreds of cold paths here.
    expect(st.compiles).toBeLessThanOrEqual(8);
    expect(st.evictions).toBeLessThanOrEqual(4);
    expect(hotHits).toBeGreaterThan(0.95 * 0.7 * 4000 * 0.97);
    await cache.close();
  });

  it('lets a newly popular path displace one that was popular long ago (aging)', async () => {
    const cache = new PathCache(async (code) => new Item(code), { maxEntries: 1, compileAfter: 2, agingPeriod: 64 });
    for (let i = 0; i < 500; i++) cache.get('old');
    await cache.idle();
    expect(cache.get('old')).toBeDefined();
    let compiledNew = -1;
    for (let i = 0; i < 500 && compiledNew < 0; i++) {
      if (cache.get('new')) compiledNew = i;
      await cache.idle();
    }
    expect(compiledNew).toBeGreaterThan(0);
    expect(compiledNew).toBeLessThan(200); // not the 500 requests a count without aging would need
    expect(cache.stats().evictions).toBe(1);
  });

  it('builds one path at a time', async () => {
    let running = 0;
    let most = 0;
    const cache = new PathCache(
      async (code) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return new Item(code);
      },
      { compileAfter: 1 },
    );
    for (const c of ['a', 'b', 'c', 'd']) cache.get(c);
    await cache.idle();
    expect(most).toBe(1);
    expect(cache.stats().compiles).toBe(4);
  });

  it('defers the release of an evicted session until its request ends', async () => {
    const cache = new PathCache(async (code) => new Item(code), { maxEntries: 1, compileAfter: 1 });
    const a = (await cache.use('a', async (s) => s, true))!;
    const during = await cache.use('a', async (s) => {
      for (let i = 0; i < 3; i++) cache.get('b'); // more frequent than 'a' (2 requests)
      await cache.idle(); // 'b' is compiled and evicts 'a' while 'a' is in use
      return s.released;
    });
    expect(during).toBe(0);
    expect(a.released).toBe(1);
    expect(cache.stats().evictions).toBe(1);
  });

  it('counts a failed compile once and does not retry it', async () => {
    let calls = 0;
    const cache = new PathCache<Item>(async () => (calls++, Promise.reject(new Error('broken'))), { compileAfter: 1 });
    for (let i = 0; i < 3; i++) {
      expect(cache.get('a')).toBeUndefined();
      await cache.idle();
    }
    expect(calls).toBe(1);
    expect(cache.stats()).toMatchObject({ compileErrors: 1, compiles: 0, misses: 3 });
    expect(cache.lastError?.message).toBe('broken');
    // Compile-and-wait (tier 'compiled') does not retry it either: the caller runs tier 1.
    expect(await cache.use('a', async () => 1, true)).toBeUndefined();
    expect(calls).toBe(1);
  });

  it("compile-and-wait (tier 'compiled') compiles a failing path once; later requests fall back at once", async () => {
    let calls = 0;
    const cache = new PathCache<Item>(async () => (calls++, Promise.reject(new Error('broken'))));
    await expect(cache.use('a', async () => 1, true)).rejects.toThrow('broken'); // the request that compiled learns why
    for (let i = 0; i < 3; i++) expect(await cache.use('a', async () => 1, true)).toBeUndefined();
    expect(calls).toBe(1);
    expect(cache.stats()).toMatchObject({ compileErrors: 1, compiles: 0, misses: 4 });
  });

  it('rejects bad options, naming them', () => {
    const build = async (c: string) => new Item(c);
    expect(() => new PathCache(build, { maxEntries: 0 })).toThrow(/options\.maxEntries/);
    expect(() => new PathCache(build, { compileAfter: 1.5 })).toThrow(RangeError);
    expect(() => new PathCache(build, { agingPeriod: 0 })).toThrow(/options\.agingPeriod/);
    expect(() => new PathCache(undefined as never)).toThrow(TypeError);
  });
});

/** The real node engine, recording which sessions get released. */
function trackedEngine(): { engine: Engine; created: Session[]; released: Set<Session> } {
  const inner = createNodeEngine();
  const created: Session[] = [];
  const released = new Set<Session>();
  const engine: Engine = {
    name: inner.name,
    async createSession(bytes, opts) {
      const s = await inner.createSession(bytes, opts);
      const tracked: Session = {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        run: (feeds) => s.run(feeds),
        release: () => (released.add(tracked), s.release()),
      };
      created.push(tracked);
      return tracked;
    },
  };
  return { engine, created, released };
}

async function model(dir: string, options: Partial<ModelOptions>, engine: Engine = createNodeEngine()) {
  const manifest = await loadManifest(dir);
  const readFileFn = async (name: string) => new Uint8Array(await readFile(path.join(dir, name)));
  return InstaModel.create({ manifest, engine, readFile: readFileFn }, options);
}

describe('InstaModel tiers', () => {
  const temp: string[] = [];
  afterAll(() => temp.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("'auto': tier 1 serves a path until its background compile lands, then tier 2 with the same logits", async () => {
    const m = await model(FIXTURE, { cache: { compileAfter: 2 } });
    const [first] = await m.classify(input(0), dims);
    const [second] = await m.classify(input(0), dims);
    expect([first.tier, second.tier]).toEqual(['modules', 'modules']);
    await m.cacheIdle();
    const [third] = await m.classify(input(0), dims);
    expect(third.tier).toBe('compiled');
    expect(third.path.code).toBe(first.path.code);
    third.logits.forEach((v, k) => expect(Math.abs(v - first.logits[k])).toBeLessThan(1e-5));
    expect(m.cacheStats()).toMatchObject({ hits: 1, misses: 2, compiles: 1, compileErrors: 0 });
    await m.release();
  });

  it('a caller awaiting classify() in a tight loop does not starve the background compile', async () => {
    // Session runs complete without an event-loop turn (direct mode); the compile waits on file I/O.
    const m = await model(FIXTURE, { precompile: 0, cache: { compileAfter: 2 } });
    const tiers: string[] = [];
    for (let i = 0; i < 300; i++) tiers.push((await m.classify(input(0), dims))[0].tier);
    expect(m.cacheStats()!.compiles).toBe(1);
    expect(tiers.filter((t) => t === 'compiled').length).toBeGreaterThan(250);
    await m.release();
  });

  it("compiles the bundle's hot paths at load: the first request of each runs compiled, with the same logits", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-hot-'));
    temp.push(dir);
    cpSync(FIXTURE, dir, { recursive: true });
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    const hot = golden.paths.slice(0, 4).map((p) => p.code);
    manifest.hotPaths = [...new Set(hot)].map((code, i) => ({ code, share: 0.4 - 0.1 * i }));
    writeFileSync(file, JSON.stringify(manifest));
    const m = await model(dir, { precompile: 2 });
    expect(m.cacheStats()).toMatchObject({ compiles: 2, hits: 0, misses: 0, entries: 2 });
    const ref = await model(FIXTURE, { tier: 'modules' });
    for (let i = 0; i < 4; i++) {
      const [r] = await m.classify(input(i), dims);
      const [want] = await ref.classify(input(i), dims);
      expect(r.path.code).toBe(want.path.code);
      expect(r.tier).toBe(manifest.hotPaths.slice(0, 2).some((h: { code: string }) => h.code === r.path.code) ? 'compiled' : 'modules');
      r.logits.forEach((v, k) => expect(Math.abs(v - want.logits[k])).toBeLessThan(1e-5));
    }
    await Promise.all([m.release(), ref.release()]);
    await expect(model(dir, { precompile: -1 })).rejects.toThrow(/options\.precompile/);
  });

  it('evicts with maxEntries 2: the evicted compiled session is released and counted', async () => {
    const t = trackedEngine();
    const m = await model(FIXTURE, { tier: 'compiled', cache: { maxEntries: 2 } }, t.engine);
    const before = t.created.length; // module sessions
    for (const code of codes.slice(0, 3)) expect((await m.classify(input(0), dims, { path: code }))[0].tier).toBe('compiled');
    const compiled = t.created.slice(before);
    expect(compiled).toHaveLength(3);
    expect(t.released.has(compiled[0])).toBe(true);
    expect(t.released.has(compiled[1]) || t.released.has(compiled[2])).toBe(false);
    expect(m.cacheStats()).toMatchObject({ compiles: 3, evictions: 1, entries: 2 });
    await m.release();
    expect(t.created.every((s) => t.released.has(s))).toBe(true);
  });

  it("'modules' never compiles", async () => {
    const m = await model(FIXTURE, { tier: 'modules' });
    for (let i = 0; i < 3; i++) expect((await m.classify(input(0), dims))[0].tier).toBe('modules');
    expect(m.cacheStats()).toBeNull();
    await m.release();
    await expect(model(FIXTURE, { tier: 'fast' as never })).rejects.toThrow(/options\.tier/);
  });

  it('a compile failure is counted and requests keep being served by tier 1', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-cache-'));
    temp.push(dir);
    cpSync(FIXTURE, dir, { recursive: true });
    const m = await model(dir, { cache: { compileAfter: 1 } });
    const [ok] = await m.classify(input(1), dims, { path: codes[1] });
    await m.cacheIdle();
    const [hit] = await m.classify(input(1), dims, { path: codes[1] });
    expect(hit.tier).toBe('compiled');
    // Corrupt the head after loading: tier 1 holds its session, a new compile reads the broken file.
    writeFileSync(path.join(dir, 'head.onnx'), Uint8Array.from([1, 2, 3]));
    const [miss] = await m.classify(input(0), dims, { path: codes[0] });
    await m.cacheIdle();
    const [again] = await m.classify(input(0), dims, { path: codes[0] });
    expect([miss.tier, again.tier]).toEqual(['modules', 'modules']);
    again.logits.forEach((v, k) => expect(v).toBe(miss.logits[k]));
    expect(m.cacheStats()).toMatchObject({ compiles: 1, compileErrors: 1 });
    expect(ok.tier).toBe('modules');
    await m.release();
  });
});
