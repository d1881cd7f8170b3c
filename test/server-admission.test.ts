// Admission (maxInFlight) and model leases when clients go away: the slot of a request whose client disconnects
// stays taken until its inference settles, so disconnecting clients cannot queue work past the limit.
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, type Classifier } from '../server/backend.js';
import { MODEL_A, startTestServer, testImages, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
let open: () => void = () => undefined;
let gate = Promise.resolve();
let calls = 0;
const closeGate = () => (gate = new Promise<void>((r) => (open = r)));

/** The in-process classifier of the fixture, with each classify held at `gate`. */
async function gated(dir: string): Promise<Classifier> {
  const c = await createClassifier(dir, { workers: 0 });
  return {
    get manifest() {
      return c.manifest;
    },
    get ready() {
      return c.ready;
    },
    async classify(t) {
      calls++;
      if (t[0] === 42) throw new Error('refused input (test)'); // at once, while the others wait at the gate
      await gate;
      return c.classify(t);
    },
    stats: () => c.stats(),
    close: () => c.close(),
  };
}

/** POSTs `body`, resolving with the status; `abortWhen` resolving first destroys the request (the client goes away). */
function post(pathName: string, type: string, body: Buffer, abortWhen?: Promise<unknown>): Promise<number | 'aborted'> {
  return new Promise((resolve, reject) => {
    const r = http.request(`${s.url}${pathName}`, { method: 'POST', headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', (err) => (abortWhen ? resolve('aborted') : reject(err)));
    r.end(body);
    void abortWhen?.then(() => r.destroy());
  });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

beforeAll(async () => {
  s = await startTestServer({ maxInFlight: 1, factory: gated });
});
afterAll(() => s?.stop());

describe('admission when a client goes away', () => {
  it('keeps the slot and the model lease of a disconnected v1 request until its inference settles', async () => {
    const { png } = await testImages();
    closeGate();
    const before = calls;
    const aborted = post(`/v1/classify?model=${MODEL_A}`, 'image/png', png, until(() => calls > before));
    expect(await aborted).toBe('aborted');
    await new Promise((r) => setTimeout(r, 50)); // the server sees the socket close
    expect(s.deps.state.inFlight).toBe(1); // released at the disconnect, this was 0
    // The slot is still taken: the next request is refused as the limit says.
    expect(await post(`/v1/classify?model=${MODEL_A}`, 'image/png', png)).toBe(503);
    open();
    await until(() => s.deps.state.inFlight === 0);
    expect(await post(`/v1/classify?model=${MODEL_A}`, 'image/png', png)).toBe(200);
  });

  it('holds the slot for all of a v2 batch, then frees it', async () => {
    closeGate();
    const before = calls;
    const tensor = { inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 1, 28, 28], data: new Array(4 * 784).fill(0) }] };
    const aborted = post(`/v2/models/${MODEL_A}/infer`, 'application/json', Buffer.from(JSON.stringify(tensor)), until(() => calls >= before + 4));
    expect(await aborted).toBe('aborted');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.deps.state.inFlight).toBe(1);
    open();
    await until(() => s.deps.state.inFlight === 0);
  });
});

describe('admission covers the whole of a request', () => {
  it('holds the slot of a disconnected client while its large image is decoded off the server thread', async () => {
    const decoder = s.deps.decoder!;
    let decoding = 0;
    closeGate();
    const held = gate;
    s.deps.decoder = async (...a) => (decoding++, await held, decoder(...a));
    try {
      const px = Buffer.alloc(512 * 512 * 3, 7);
      const big = await sharp(px, { raw: { width: 512, height: 512, channels: 3 } }).png().toBuffer();
      expect(await post(`/v1/classify?model=${MODEL_A}`, 'image/png', big, until(() => decoding === 1))).toBe('aborted');
      await new Promise((r) => setTimeout(r, 50));
      expect(s.deps.state.inFlight).toBe(1); // the decode is the request's work as much as the inference
      open();
      await until(() => s.deps.state.inFlight === 0);
    } finally {
      s.deps.decoder = decoder;
      open();
    }
  });

  it('holds the slot of a v2 batch until every input is done, even when one fails at once', async () => {
    closeGate();
    const before = calls;
    const data = new Array(4 * 784).fill(0);
    data[0] = 42; // the first input is refused at once; the other three wait at the gate
    const tensor = { inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 1, 28, 28], data }] };
    const answered = post(`/v2/models/${MODEL_A}/infer`, 'application/json', Buffer.from(JSON.stringify(tensor)));
    await until(() => calls >= before + 4);
    expect(await answered).toBe(500); // answered before the rest of the batch ran
    expect(s.deps.state.inFlight).toBe(1);
    open();
    await until(() => s.deps.state.inFlight === 0);
  });
});

describe('liveness', () => {
  it('is 503 when a model cannot recover (its back end failed), naming it', async () => {
    let dead = false;
    const t = await startTestServer({
      factory: async (d) => {
        const c = await createClassifier(d, { workers: 0 });
        return Object.defineProperties(Object.create(c) as Classifier, { failed: { get: () => dead }, ready: { get: () => !dead } });
      },
    });
    try {
      expect(await (await fetch(`${t.url}/v2/health/live`)).json()).toEqual({ live: true });
      dead = true;
      const res = await fetch(`${t.url}/v2/health/live`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ live: false, failed: [MODEL_A, 'tiny-b'] });
      expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(503);
    } finally {
      dead = false;
      await t.stop();
    }
  });
});

describe('drain with busy keep-alive clients', () => {
  it('closes each kept-alive connection after its current answer, so close() does not wait for drainTimeoutMs', async () => {
    const t = await startTestServer({ drainTimeoutMs: 8000, factory: gated });
    const { png } = await testImages();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const statuses: number[] = [];
    let errors = 0;
    let stop = false;
    const lane = async () => {
      while (!stop) {
        const st = await new Promise<number | null>((resolve) => {
          const r = http.request(`${t.url}/v1/classify?model=${MODEL_A}`, { method: 'POST', agent, headers: { 'content-type': 'image/png' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          r.on('error', () => resolve(null)); // after the drain: no server to connect to
          r.end(png);
        });
        if (st === null) {
          errors++;
          await new Promise((r) => setTimeout(r, 20));
        } else statuses.push(st);
      }
    };
    const lanes = Array.from({ length: 4 }, lane);
    try {
      await until(() => statuses.length >= 20); // four connections kept busy
      // Each connection has a request in inference when the drain begins (in one process with the clients, the
      // connections would otherwise all look idle at that instant and close at once).
      closeGate();
      const before = calls;
      await until(() => calls >= before + 4);
      const t0 = performance.now();
      const stopped = t.stop();
      setTimeout(open, 100);
      await stopped;
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(3000); // before: 8 s, then the connections were cut (in-flight answers lost)
      expect(statuses.every((x) => x === 200)).toBe(true);
      expect(statuses.length).toBeGreaterThanOrEqual(20);
    } finally {
      stop = true;
      await Promise.all(lanes);
      agent.destroy();
    }
  }, 20_000);
});
