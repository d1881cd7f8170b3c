// Admission (503 when full), hot reload (admin call and manifest watcher) with
// requests in flight, and a broken new bundle that leaves the old one serving.
import http from 'node:http';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createClassifier } from '../server/backend.js';
import { startServer } from '../server/main.js';
import { ModelRegistry } from '../server/registry.js';
import { MODEL_A, MODEL_B, makeModelsDir, startTestServer, testImages, type TestServer } from './helpers/server-fixture.js';

let images: Awaited<ReturnType<typeof testImages>>;
beforeAll(async () => {
  images = await testImages();
});

const classify = (s: TestServer, model = MODEL_A) =>
  fetch(`${s.url}/v1/classify?model=${model}`, { method: 'POST', body: images.png, headers: { 'content-type': 'image/png' } });
const version = async (s: TestServer, model = MODEL_A) => ((await (await fetch(`${s.url}/v2/models/${model}`)).json()) as { versions: string[] }).versions[0];
const setVersion = (s: TestServer, model: string, v: string) => {
  const file = path.join(s.modelsDir, model, 'manifest.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/"version": "[^"]+"/, `"version": "${v}"`));
};
const metric = async (s: TestServer, re: RegExp) => re.exec(await (await fetch(`${s.url}/metrics`)).text());

describe('admission', () => {
  let s: TestServer;
  beforeAll(async () => (s = await startTestServer({ maxInFlight: 1 })));
  afterAll(() => s?.stop());

  it('answers 503 + Retry-After while the only slot is taken, and serves the held request', async () => {
    // Hold the slot with a request whose body is still arriving.
    const held = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${s.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': images.png.length } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(images.png.subarray(0, 10));
      const check = async () => {
        if (await metric(s, /^instanas_in_flight_requests 1$/m)) {
          const busy = await classify(s);
          expect(busy.status).toBe(503);
          expect(busy.headers.get('retry-after')).toBe('1');
          expect((await busy.json()).error).toMatch(/server busy: 1 inference requests in flight \(limit 1\)/);
          req.end(images.png.subarray(10));
        } else setTimeout(check, 10);
      };
      void check();
    });
    const r = await held;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).label).toEqual(expect.any(String));
    expect((await classify(s)).status).toBe(200);
    expect(await metric(s, /^instanas_rejected_requests_total\{reason="queue_full"\} 1$/m)).not.toBeNull();
  });
});

describe('readiness', () => {
  it('is false (503) until every bundle is loaded and warmed, live meanwhile', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const dir = makeModelsDir();
    // The real back end, held back until the gate opens.
    const s = await startServer({ modelsDir: dir, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), factory: async (d) => (await gate, createClassifier(d)) });
    try {
      expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
      const before = await fetch(`${s.url}/v2/health/ready`);
      expect([before.status, await before.json()]).toEqual([503, { ready: false }]);
      const early = await classify({ ...s, modelsDir: dir, stop: s.close });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(await early.json()).toEqual({ error: `model '${MODEL_A}' is still loading` });
      open();
      await s.loaded;
      expect((await fetch(`${s.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      open();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000); // loads two bundles inside the test itself
});

describe('request timeout', () => {
  let s: TestServer;
  beforeAll(async () => (s = await startTestServer({ requestTimeoutMs: 400 })));
  afterAll(() => s?.stop());

  it('answers a body that stops arriving with a JSON 408 and closes the connection', async () => {
    const t0 = performance.now();
    const r = await new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
      const req = http.request(`${s.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': images.png.length } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(images.png.subarray(0, 10)); // and never the rest
    });
    expect(r.status).toBe(408);
    expect(r.connection).toBe('close');
    expect(JSON.parse(r.body)).toEqual({ error: 'request body not received within 400 ms' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(350);
    expect((await classify(s)).status).toBe(200);
  });
});

describe('reload', () => {
  let s: TestServer;
  beforeAll(async () => (s = await startTestServer()));
  afterAll(() => s?.stop());

  it('swaps in a new version while requests run; none fails', async () => {
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const worker = async () => {
      while (!stop) {
        const res = await classify(s);
        statuses.push(res.status);
        versions.add(((await res.json()) as { model: { version: string } }).model.version);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    setVersion(s, MODEL_A, '0.0.2');
    const admin = await fetch(`${s.url}/admin/models/${MODEL_A}/reload`, { method: 'POST' });
    const body = await admin.json();
    expect(admin.status).toBe(200);
    expect(body).toMatchObject({ model: MODEL_A, version: '0.0.2', reloaded: true });
    const afterSwap = statuses.length; // a pool takes a while to start: count requests from the swap on
    while (statuses.length < afterSwap + 20) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(workers);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    expect(versions.has('0.0.2')).toBe(true);
    expect(await version(s)).toBe('0.0.2');
    expect(await version(s, MODEL_B)).toBe('0.0.1');
    expect(await metric(s, /instanas_model_info\{model="tiny-a",version="0.0.2",bundle_sha256="[0-9a-f]{64}"\} 1/)).not.toBeNull();
    expect(await metric(s, /instanas_model_info\{model="tiny-a",version="0.0.1"/)).toBeNull();
  });

  it('a broken new bundle is refused, the error returned, and the old version keeps serving', async () => {
    const stem = path.join(s.modelsDir, MODEL_A, 'stem.onnx');
    const good = readFileSync(stem);
    writeFileSync(stem, Buffer.from('not an onnx model'));
    setVersion(s, MODEL_A, '0.0.3');
    const admin = await fetch(`${s.url}/admin/models/${MODEL_A}/reload`, { method: 'POST' });
    expect(admin.status).toBe(500);
    expect((await admin.json()).error).toMatch(/^reload of 'tiny-a' failed: (worker 0 failed to load \S+: )?cannot load ONNX file 'stem\.onnx'/);
    const res = await classify(s);
    expect(res.status).toBe(200);
    expect((await res.json()).model.version).toBe('0.0.2');

    writeFileSync(path.join(s.modelsDir, MODEL_A, 'manifest.json'), '{ broken');
    const again = await fetch(`${s.url}/admin/models/${MODEL_A}/reload`, { method: 'POST' });
    expect(again.status).toBe(500);
    expect((await again.json()).error).toMatch(/manifest\.json/);
    expect(await version(s)).toBe('0.0.2');
    writeFileSync(stem, good);
  });

  it('reloading an unknown model is a 404', async () => {
    expect((await fetch(`${s.url}/admin/models/..%2F${MODEL_A}/reload`, { method: 'POST' })).status).toBe(404);
  });
});

describe('manifest watcher and admin token', () => {
  let s: TestServer;
  beforeAll(async () => (s = await startTestServer({ watchIntervalMs: 50, adminToken: 'sesame' })));
  afterAll(() => s?.stop());

  it('reloads when manifest.json changes', async () => {
    await new Promise((r) => setTimeout(r, 100)); // let the watcher take its first stat
    setVersion(s, MODEL_B, '0.1.0');
    const t0 = Date.now();
    while ((await version(s, MODEL_B)) !== '0.1.0' && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(await version(s, MODEL_B)).toBe('0.1.0');
    expect((await classify(s, MODEL_B)).status).toBe(200);
  });

  it('requires the bearer token when one is configured', async () => {
    const url = `${s.url}/admin/models/${MODEL_B}/reload`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer wrong!' } })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer sesame' } })).status).toBe(200);
  });
});

describe('ModelRegistry.reload during a reload', () => {
  it('loads once more after the running load, so a change made meanwhile is not lost; later calls share that load', async () => {
    const dir = makeModelsDir();
    const gates: (() => void)[] = [];
    let loads = 0;
    const registry = new ModelRegistry(pino({ level: 'silent' }), async (d) => {
      loads++;
      const c = await createClassifier(d, { workers: 0 }); // reads the manifest now
      if (loads > 1) await new Promise<void>((r) => gates.push(r)); // reloads wait for the test
      return c;
    });
    const file = path.join(dir, MODEL_A, 'manifest.json');
    const bump = (v: string) => writeFileSync(file, readFileSync(file, 'utf8').replace(/"version": "[^"]+"/, `"version": "${v}"`));
    try {
      await registry.load(MODEL_A, path.join(dir, MODEL_A));
      bump('0.0.2');
      const first = registry.reload(MODEL_A); // reads 0.0.2, then waits at its gate
      while (gates.length < 1) await new Promise((r) => setTimeout(r, 5));
      bump('0.0.3'); // changed while the first reload runs
      const second = registry.reload(MODEL_A);
      const third = registry.reload(MODEL_A);
      expect(third).toBe(second); // queued once, shared
      gates[0]();
      expect((await first).classifier.manifest.version).toBe('0.0.2');
      while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
      gates[1]();
      expect((await second).classifier.manifest.version).toBe('0.0.3');
      expect(registry.get(MODEL_A)!.classifier.manifest.version).toBe('0.0.3');
      expect(loads).toBe(3); // the first load, and two reloads
    } finally {
      gates.forEach((g) => g());
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
