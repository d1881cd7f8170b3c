// Malformed input: every case gets a 4xx JSON error naming the problem, no stack,
// and the server keeps serving (a good request follows each one).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_A, pngHeader, postJson, startTestServer, testImages, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
let images: Awaited<ReturnType<typeof testImages>>;
const SHAPE = [1, 1, 28, 28];
const zeros = (n: number) => new Array(n).fill(0);
const infer = (body: unknown) => postJson(`${s.url}/v2/models/${MODEL_A}/infer`, body);
const tensor = (over: Record<string, unknown> = {}) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: zeros(784), ...over }] });
const classify = (body: BodyInit, type?: string, query = '') =>
  fetch(`${s.url}/v1/classify${query}`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });

beforeAll(async () => {
  s = await startTestServer();
  images = await testImages();
});
afterAll(() => s?.stop());

/** The response is a JSON error with the status and message wanted, then a good request still works. */
async function expectError(res: Response, status: number, message: RegExp): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatch(message);
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
  const good = await classify(images.png, 'image/png');
  expect(good.status).toBe(200);
  await good.arrayBuffer();
}

describe('image uploads', () => {
  it('empty body', async () => expectError(await classify(new Uint8Array(0), 'image/png'), 400, /empty body/));
  it('truncated PNG', async () => expectError(await classify(images.png.subarray(0, images.png.length / 2), 'image/png'), 400, /image/));
  it('corrupt PNG (garbage after a valid header)', async () => {
    const bad = Buffer.from(images.png);
    for (let i = 40; i < bad.length - 12; i++) bad[i] ^= 0x5a;
    await expectError(await classify(bad, 'image/png'), 400, /image/);
  });
  it('truncated JPEG', async () => expectError(await classify(images.jpeg.subarray(0, images.jpeg.length / 2), 'image/jpeg'), 400, /image/));
  it('corrupt JPEG (not even a header)', async () => expectError(await classify(Buffer.from('\xff\xd8\xffgarbage'), 'image/jpeg'), 400, /image/));
  it('wrong content type', async () => expectError(await classify(images.png, 'text/plain'), 415, /unsupported content type 'text\/plain'/));
  it('no content type', async () => expectError(await classify(images.png), 415, /unsupported content type 'none'/));
  it('a GIF sent as image/png', async () => {
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    await expectError(await classify(gif, 'image/png'), 415, /unsupported image format 'gif'/);
  });
  it('a PNG declaring 100000x100000 pixels is refused from its header, quickly', async () => {
    const t0 = performance.now();
    const res = await classify(pngHeader(100000, 100000), 'image/png');
    expect(performance.now() - t0).toBeLessThan(2000);
    await expectError(res, 413, /100000x100000 = 10000000000 pixels, more than the limit/);
  });
  it('a PNG declaring 16777216x1 pixels (within the pixel limit) is refused for its side, quickly', async () => {
    const t0 = performance.now();
    const res = await classify(pngHeader(16777216, 1), 'image/png');
    expect(performance.now() - t0).toBeLessThan(2000);
    await expectError(res, 413, /image is 16777216x1: each side must be at most 16384 pixels/);
  });
  it('a body over 8 MiB', async () => expectError(await classify(Buffer.alloc(8 * 1024 * 1024 + 1), 'image/png'), 413, /exceeds the limit of 8388608 bytes/));
  it('multipart with two files, and with none', async () => {
    const two = new FormData();
    two.append('a', new Blob([images.png]), 'a.png');
    two.append('b', new Blob([images.png]), 'b.png');
    await expectError(await classify(two), 400, /exactly one file/);
    const none = new FormData();
    none.append('note', 'hello');
    await expectError(await classify(none), 400, /exactly one file/);
  });
  it('multipart over the body limit: declared, and streamed in an epilogue busboy skips', async () => {
    const part = Buffer.concat([Buffer.from('--x\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), images.png, Buffer.from('\r\n--x--\r\n')]);
    const big = Buffer.concat([part, Buffer.alloc(8 * 1024 * 1024, 0x61)]);
    await expectError(await classify(big, 'multipart/form-data; boundary=x'), 413, /request body of \d+ bytes exceeds the limit of 8388608 bytes/);
    // Chunked, so no Content-Length to check up front: the bytes are counted as they come.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = http.request(`${s.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x', 'transfer-encoding': 'chunked' } }, (out) => {
        let body = '';
        out.on('data', (c) => (body += c));
        out.on('end', () => resolve({ status: out.statusCode ?? 0, body }));
      });
      r.on('error', reject);
      r.write(part);
      for (let i = 0; i < 9; i++) r.write(Buffer.alloc(1024 * 1024, 0x61));
      r.end();
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toMatch(/request body exceeds the limit of 8388608 bytes/);
    const good = await classify(images.png, 'image/png');
    expect(good.status).toBe(200);
    await good.arrayBuffer();
  });
  it('multipart with a broken boundary', async () => expectError(await classify('--nope\r\n\r\nxx', 'multipart/form-data'), 400, /multipart/));
});

describe('model names', () => {
  it.each(['nope', '../tiny-a', '..%2Ftiny-a', '%2e%2e%2ftiny-a', 'tiny-a%00'])('?model=%s is unknown (404)', async (name) => {
    await expectError(await classify(images.png, 'image/png', `?model=${name}`), 404, /unknown model/);
  });
  it.each(['..%2Ftiny-a', 'nope', '..%2F..%2Fetc%2Fpasswd'])('/v2/models/%s/infer is unknown (404)', async (name) => {
    await expectError(await postJson(`${s.url}/v2/models/${name}/infer`, tensor()), 404, /unknown model/);
  });
  it('a raw ../ in the path is never resolved against the file system', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${s.url}/v2/models/../infer`, { method: 'POST', path: '/v2/models/../infer', headers: { 'content-type': 'application/json' } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(tensor()));
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error).toMatch(/unknown model '\.\.'/);
  });
  it('an unknown route', async () => expectError(await fetch(`${s.url}/v3/whatever`), 404, /no route GET \/v3\/whatever/));
});

describe('v2 infer tensors', () => {
  it.each([
    ['wrong spatial shape', tensor({ shape: [1, 1, 28, 27], data: zeros(756) }), /inputs\[0\]\.shape: expected \[N,1,28,28\]/],
    ['wrong rank', tensor({ shape: [784], data: zeros(784) }), /inputs\[0\]\.shape/],
    ['batch 0', tensor({ shape: [0, 1, 28, 28], data: [] }), /batch 0 is outside 1\.\.64/],
    ['batch over the limit', tensor({ shape: [65, 1, 28, 28], data: [] }), /batch 65 is outside 1\.\.64/],
    ['datatype INT32', tensor({ datatype: 'INT32' }), /datatype: expected 'FP32', got "INT32"/],
    ['data too short', tensor({ data: zeros(783) }), /expected 1 elements/],
    ['a string "NaN" element', tensor({ data: [...zeros(783), 'NaN'] }), /data\[783\]: expected a finite number, got string/],
    ['1e999 (Infinity)', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,28,28],"data":[1e999${',0'.repeat(783)}]}]}`, /got Infinity/],
    ['a NaN literal (invalid JSON)', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,28,28],"data":[NaN${',0'.repeat(783)}]}]}`, /invalid JSON body/],
    ['wrong input name', tensor({ name: 'input0' }), /inputs\[0\]\.name: expected 'x'/],
    ['no inputs', { inputs: [] }, /inputs: expected an array with exactly one/],
    ['a JSON array body', [1, 2], /must be a JSON object, got array/],
    ['null body', 'null', /must be a JSON object, got null/],
    ['unknown output', { ...tensor(), outputs: [{ name: 'probs' }] }, /outputs\[0\]\.name: expected one of logits, path/],
    ['deeply nested JSON', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,28,28],"data":${'['.repeat(100000)}${']'.repeat(100000)}}]}`, /data\[0\]\[0\]: expected 28 elements/],
    // Echoing a nested value in an error message must not overflow the stack (it answered 500 before).
    ['a deeply nested shape', `{"inputs":[{"name":"x","datatype":"FP32","shape":${'['.repeat(100000)}${']'.repeat(100000)}}]}`, /inputs\[0\]\.shape: expected \[N,1,28,28\] or \[1,28,28\], got \[an array of 1\]/],
    ['a deeply nested name', `{"inputs":[{"name":${'['.repeat(100000)}${']'.repeat(100000)},"datatype":"FP32"}]}`, /inputs\[0\]\.name: expected 'x', got an array of 1/],
    ['a deeply nested datatype', `{"inputs":[{"name":"x","datatype":${'['.repeat(100000)}${']'.repeat(100000)}}]}`, /datatype: expected 'FP32', got an array of 1/],
    ['a deeply nested binary_data_size', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,28,28],"parameters":{"binary_data_size":${'['.repeat(100000)}${']'.repeat(100000)}}}]}`, /binary_data_size: set, but the request has no Inference-Header-Content-Length/],
    ['an output asked for twice', { ...tensor(), outputs: [{ name: 'logits' }, { name: 'logits' }] }, /outputs\[1\]\.name: 'logits' is requested twice/],
    ['400,000 outputs (each answered with a copy of the tensor)', { ...tensor(), outputs: Array(400000).fill({ name: 'logits' }) }, /outputs: at most 2 entries \(logits, path\), got 400000/],
  ])('%s -> 400', async (_name, body, message) => expectError(await infer(body), 400, message));

  it('a deeply nested binary_data_size with the binary extension -> 400', async () => {
    const header = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,28,28],"parameters":{"binary_data_size":${'['.repeat(100000)}${']'.repeat(100000)}}}]}`;
    const res = await fetch(`${s.url}/v2/models/${MODEL_A}/infer`, {
      method: 'POST',
      body: Buffer.concat([Buffer.from(header), Buffer.alloc(784 * 4)]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
    });
    await expectError(res, 400, /binary_data_size: expected 3136 bytes for shape \[1,1,28,28\], got an array of 1/);
  });
  it('a JSON body over 8 MiB -> 413', async () => expectError(await infer(`{"pad":"${'x'.repeat(8 * 1024 * 1024)}"}`), 413, /exceeds the limit/));
  it('a non-JSON content type -> 415', async () => {
    const res = await fetch(`${s.url}/v2/models/${MODEL_A}/infer`, { method: 'POST', body: JSON.stringify(tensor()), headers: { 'content-type': 'text/plain' } });
    await expectError(res, 415, /unsupported content type 'text\/plain'/);
  });
  it('a bad Inference-Header-Content-Length -> 400', async () => {
    const res = await fetch(`${s.url}/v2/models/${MODEL_A}/infer`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '99' },
    });
    await expectError(res, 400, /Inference-Header-Content-Length: expected an integer in 0\.\.2/);
  });
  it('counts rejections by reason in /metrics', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const reason of ['invalid_input', 'not_found', 'too_large', 'unsupported_media_type'])
      expect(text).toMatch(new RegExp(`instanas_rejected_requests_total\\{reason="${reason}"\\} [1-9]`));
  });
});
