// HTTP server happy paths against a listening app (127.0.0.1, port 0) serving the
// tiny fixture under two names. Results are checked against the runtime used
// directly (same image) and against the torch golden logits (v2 infer).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyImage } from '../runtime/classify-node.js';
import { loadModel } from '../runtime/model-node.js';
import type { ClassifyResult } from '../runtime/model.js';
import { createClassifier } from '../server/backend.js';
import { FIXTURE, MODEL_A, MODEL_B, postJson, startTestServer, testImages, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
let images: Awaited<ReturnType<typeof testImages>>;
const direct: Record<string, ClassifyResult> = {};

let webDir: string;

beforeAll(async () => {
  webDir = mkdtempSync(path.join(os.tmpdir(), 'instanas-web-'));
  // In-process back end here, because this file checks the compiled-path cache counters that it reports;
  // the other server suites run the default worker-pool back end.
  s = await startTestServer({ webDir, factory: (d) => createClassifier(d, { workers: 0 }) });
  images = await testImages();
  const model = await loadModel(FIXTURE);
  for (const [k, bytes] of Object.entries(images)) direct[k] = await classifyImage(model, bytes);
  await model.release();
});
afterAll(async () => {
  await s?.stop();
  rmSync(webDir, { recursive: true, force: true });
});

const expectLikeDirect = (body: Record<string, unknown>, want: ClassifyResult) => {
  expect(body.label).toBe(want.label);
  expect(body.index).toBe(want.index);
  expect(body.path).toEqual({ code: want.path.code, cells: want.path.cells, macs: want.path.macs });
  expect((body.topk as { probability: number }[]).map((p) => p.probability)).toEqual(want.topk.map((p) => expect.closeTo(p.probability, 6)));
};

describe('POST /v1/classify', () => {
  it.each(['png', 'jpeg', 'webp'] as const)('classifies a raw %s body like the runtime does', async (kind) => {
    const res = await fetch(`${s.url}/v1/classify?model=${MODEL_B}`, { method: 'POST', headers: { 'content-type': `image/${kind}` }, body: images[kind] });
    expect(res.status).toBe(200);
    const body = await res.json();
    expectLikeDirect(body, direct[kind]);
    expect(body.model).toEqual({ name: MODEL_B, version: '0.0.1' });
    for (const k of ['queueMs', 'decodeMs', 'controllerMs', 'childMs', 'totalMs']) expect(body.timings[k]).toBeGreaterThanOrEqual(0);
    expect(body.timings.totalMs).toBeGreaterThanOrEqual(body.timings.decodeMs);
  });

  it('classifies a multipart upload with the default model (the first by name)', async () => {
    const form = new FormData();
    form.append('image', new Blob([images.png], { type: 'image/png' }), 'shirt.png');
    const res = await fetch(`${s.url}/v1/classify`, { method: 'POST', body: form, headers: { 'x-request-id': 'abc-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const body = await res.json();
    expectLikeDirect(body, direct.png);
    expect(body.model.name).toBe(MODEL_A);
  });

  it('answers a raw upload (fast route, no express) like a multipart one (express): same fields, headers, errors', async () => {
    const form = new FormData();
    form.append('image', new Blob([images.png], { type: 'image/png' }), 'x.png');
    const viaExpress = await fetch(`${s.url}/v1/classify?model=${MODEL_B}`, { method: 'POST', body: form });
    const viaFast = await fetch(`${s.url}/v1/classify?model=${MODEL_B}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.png });
    expect(viaFast.headers.get('content-type')).toBe(viaExpress.headers.get('content-type'));
    const [a, b] = [await viaExpress.json(), await viaFast.json()];
    expect(Object.keys(b)).toEqual(Object.keys(a));
    expect({ ...b, timings: null }).toEqual({ ...a, timings: null });
    // Errors take the same path: unknown model (404) and a '../' name, both JSON with a message.
    for (const model of ['nope', '..%2F..%2Fetc']) {
      const r = await fetch(`${s.url}/v1/classify?model=${model}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.png });
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await r.json()).error).toMatch(/unknown model/);
    }
    // A repeated query parameter is left to express, which refuses it.
    const twice = await fetch(`${s.url}/v1/classify?model=a&model=b`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.png });
    expect(twice.status).toBe(400);
  });

  it('classifies a large photo (decoded on the decoder thread) like the runtime does', async () => {
    const decoder = s.deps.decoder!;
    let offThread = 0;
    s.deps.decoder = (...a) => (offThread++, decoder(...a));
    const px = Buffer.alloc(1200 * 900 * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 37 + (i >> 9)) & 255;
    for (const fmt of ['png', 'jpeg'] as const) {
      const bytes = await sharp(px, { raw: { width: 1200, height: 900, channels: 3 } })[fmt]().toBuffer();
      const model = await loadModel(FIXTURE);
      const want = await classifyImage(model, bytes);
      await model.release();
      const res = await fetch(`${s.url}/v1/classify?model=${MODEL_B}`, { method: 'POST', headers: { 'content-type': `image/${fmt}` }, body: bytes });
      expect(res.status).toBe(200);
      expectLikeDirect(await res.json(), want);
    }
    s.deps.decoder = decoder;
    expect(offThread).toBe(2);
  });

  it('generates a request id when none (or an unsafe one) is sent', async () => {
    const res = await fetch(`${s.url}/v2/health/live`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('KServe v2', () => {
  const golden = JSON.parse(readFileSync(path.join(FIXTURE, 'golden.json'), 'utf8')) as {
    inputShape: number[];
    inputs: number[][];
    logits: number[][];
    paths: { code: string }[];
  };

  it('infers a JSON batch of 2 and matches the torch golden logits and paths', async () => {
    const [, c, h, w] = golden.inputShape;
    const res = await postJson(`${s.url}/v2/models/${MODEL_A}/infer`, {
      id: 'req-1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, c, h, w], data: [...golden.inputs[0], ...golden.inputs[1]] }],
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ model_name: MODEL_A, model_version: '0.0.1', id: 'req-1' });
    const [logits, paths] = body.outputs;
    expect(logits).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [2, 10] });
    expect(logits.data).toEqual([...golden.logits[0], ...golden.logits[1]].map((v) => expect.closeTo(v, 4)));
    expect(paths).toEqual({ name: 'path', datatype: 'BYTES', shape: [2], data: [golden.paths[0].code, golden.paths[1].code] });
  });

  it('accepts nested data and the binary tensor extension both ways', async () => {
    const [, c, h, w] = golden.inputShape;
    const x = Float32Array.from(golden.inputs[2]);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, c, h, w], parameters: { binary_data_size: x.byteLength } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }, { name: 'path' }],
    }));
    const res = await fetch(`${s.url}/v2/models/${MODEL_A}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(x.buffer)]),
    });
    expect(res.status).toBe(200);
    const buf = Buffer.from(await res.arrayBuffer());
    const n = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(buf.subarray(0, n).toString());
    expect(head.outputs[0]).toEqual({ name: 'logits', datatype: 'FP32', shape: [1, 10], parameters: { binary_data_size: 40 } });
    const logits = new Float32Array(buf.buffer.slice(buf.byteOffset + n, buf.byteOffset + n + 40));
    expect(Array.from(logits)).toEqual(golden.logits[2].map((v) => expect.closeTo(v, 4)));
    expect(head.outputs[1].data).toEqual([golden.paths[2].code]);

    const rows = Array.from({ length: h }, (_, y) => golden.inputs[2].slice(y * w, (y + 1) * w));
    const nested = await postJson(`${s.url}/v2/models/${MODEL_A}/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [c, h, w], data: [rows] }] });
    expect(nested.status).toBe(200);
    expect((await nested.json()).outputs[1].data).toEqual([golden.paths[2].code]);
  });

  it('answers infer on the fast route (no express) as express does: same status, headers and body, errors included', async () => {
    // A query string sends the same request through express; the bare path takes the fast route.
    const [, c, h, w] = golden.inputShape;
    const x = Float32Array.from(golden.inputs[1]);
    const header = Buffer.from(JSON.stringify({
      id: 'both',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, c, h, w], parameters: { binary_data_size: x.byteLength } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }, { name: 'path' }],
    }));
    const binary = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
    const json = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [c, h, w], data: golden.inputs[1] }] });
    const cases: [string, Record<string, string>, BodyInit][] = [
      [MODEL_A, binary, Buffer.concat([header, Buffer.from(x.buffer)])],
      [MODEL_B, { 'content-type': 'application/json' }, json],
      [MODEL_A, { 'content-type': 'text/plain' }, json], // 415
      ['..%2F..%2Fetc', { 'content-type': 'application/json' }, json], // 404, never a path outside the model folder
      [MODEL_A, { 'content-type': 'application/json' }, '{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1, 2, 2], "data": [1, 2, 3, 4]}]}'], // 400
    ];
    const seen = new Set<number>();
    for (const [i, [model, headers, body]] of cases.entries()) {
      const [fast, viaExpress] = await Promise.all(
        ['', '?via=express'].map((q) =>
          fetch(`${s.url}/v2/models/${model}/infer${q}`, { method: 'POST', headers: { ...headers, 'x-request-id': `case-${i}${q ? '-x' : ''}` }, body }),
        ),
      );
      expect([fast.headers.get('x-request-id'), viaExpress.headers.get('x-request-id')]).toEqual([`case-${i}`, `case-${i}-x`]);
      seen.add(fast.status);
      expect(fast.status).toBe(viaExpress.status);
      for (const k of ['content-type', 'content-length', 'inference-header-content-length']) expect(fast.headers.get(k), k).toBe(viaExpress.headers.get(k));
      expect(Buffer.from(await fast.arrayBuffer()).equals(Buffer.from(await viaExpress.arrayBuffer()))).toBe(true);
    }
    expect([...seen].sort()).toEqual([200, 400, 404, 415]);
    // Both ways count under one route label, errors included (express resets req.baseUrl before its error handler).
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    for (const status of [200, 400, 404, 415])
      expect(metrics).toMatch(new RegExp(`instanas_http_request_duration_seconds_count\\{route="/v2/models/:name/infer",method="POST",status="${status}"\\} [2-9]`));
    expect(metrics).not.toMatch(/route="\/models\/:name\/infer"/);
    // express matches paths regardless of case; the label is the route as mounted, not the URL's spelling.
    const upper = await fetch(`${s.url}/V2/models/${MODEL_A}/infer`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: json });
    expect(upper.status).toBe(415);
    expect(await (await fetch(`${s.url}/metrics`)).text()).not.toMatch(/route="\/V2/);
    // A name that does not URL-decode is left to express, which refuses it with a JSON 400.
    const bad = await fetch(`${s.url}/v2/models/%E0%A4%A/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toEqual(expect.any(String));
  });

  it('reports server and model metadata, liveness and readiness', async () => {
    expect(await (await fetch(`${s.url}/v2`)).json()).toMatchObject({ name: 'instanas', extensions: ['binary_tensor_data'] });
    expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${s.url}/v2/health/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true }]);
    const meta = await (await fetch(`${s.url}/v2/models/${MODEL_B}`)).json();
    expect(meta).toMatchObject({
      name: MODEL_B,
      versions: ['0.0.1'],
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1, 28, 28] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }, { name: 'path', datatype: 'BYTES', shape: [-1] }],
    });
    expect(meta.parameters.bundle_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await fetch(`${s.url}/v2/models/${MODEL_B}/ready`)).status).toBe(200);
  });
});

describe('GET /metrics and /', () => {
  it('exposes the server metrics, and promtool finds nothing to complain about', async () => {
    const res = await fetch(`${s.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of ['instanas_http_request_duration_seconds_bucket', 'instanas_stage_duration_seconds_bucket', 'instanas_batch_size_bucket',
      'instanas_request_macs_bucket', 'instanas_queue_depth', 'instanas_in_flight_requests', 'instanas_inferences_total', 'process_cpu_seconds_total'])
      expect(text).toContain(name);
    expect(text).toMatch(new RegExp(`instanas_model_info\\{model="${MODEL_A}",version="0.0.1",bundle_sha256="[0-9a-f]{64}"\\} 1`));
    expect(text).toMatch(/instanas_stage_duration_seconds_bucket\{le="0.0001",model="tiny-b",stage="decode"\}/);
    expect(text).toMatch(/instanas_batch_size_count\{model="tiny-a"\} [1-9]/);
    // The in-process back end reports its compiled-path cache: every classify above was a hit or a miss.
    const cache = (kind: string) => Number(new RegExp(`instanas_path_cache_${kind}_total\\{model="tiny-b"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
    expect(cache('hits') + cache('misses')).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/instanas_inferences_by_tier_total\{model="tiny-b",tier="(modules|compiled|routed)"\} [1-9]/);
    const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find(existsSync);
    if (!promtool) {
      console.warn('SKIPPED promtool check: promtool is not installed (apt-get install prometheus)');
      return;
    }
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serves a note until the demo is built, then the demo; both cross-origin isolated', async () => {
    const isolated = (res: Response) => {
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    };
    const before = await fetch(`${s.url}/`);
    isolated(before);
    expect((await before.json()).demo).toBe('not built');
    writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>demo</title>');
    writeFileSync(path.join(webDir, 'app.js'), 'console.log(1)');
    const page = await fetch(`${s.url}/`);
    isolated(page);
    expect(await page.text()).toContain('<title>demo</title>');
    const js = await fetch(`${s.url}/app.js`);
    isolated(js);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });
});

describe('structured logs', () => {
  it('logs every request (fast route and express, answered or refused) as JSON with its request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const t = await startTestServer({ logger: pino({ level: 'info' }, sink), factory: (d) => createClassifier(d, { workers: 0 }) });
    try {
      const ok = await fetch(`${t.url}/v1/classify`, { method: 'POST', body: images.png, headers: { 'content-type': 'image/png', 'x-request-id': 'log-ok-1' } });
      expect(ok.status).toBe(200);
      const bad = await fetch(`${t.url}/v1/classify?model=nope`, { method: 'POST', body: images.png, headers: { 'content-type': 'image/png', 'x-request-id': 'log-bad-2' } });
      expect(bad.status).toBe(404);
      const v2 = await fetch(`${t.url}/v2/health/ready`, { headers: { 'x-request-id': 'log-v2-3' } });
      expect(v2.status).toBe(200);
      await new Promise((r) => setTimeout(r, 50)); // 'finish' listeners log after the body is written
      const of = (id: string) => lines.filter((l) => l.reqId === id).map((l) => [l.msg, l.status]);
      expect(of('log-ok-1')).toEqual([['request', 200]]);
      expect(of('log-bad-2')).toEqual([['request rejected', 404], ['request', 404]]);
      expect(of('log-v2-3')).toEqual([['request', 200]]);
      const access = lines.find((l) => l.reqId === 'log-ok-1')!;
      expect(access).toMatchObject({ level: 30, method: 'POST', url: '/v1/classify' });
      expect(typeof access.ms).toBe('number');
    } finally {
      await t.stop();
    }
  });
});
