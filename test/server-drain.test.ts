// `instanas serve` as a real process (compiled with tsc, like test/cli.test.ts):
// SIGTERM stops accepting, lets the in-flight request finish, and exits 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/instanas.js';
import { makeModelsDir, testImages } from './helpers/server-fixture.js';

const ROOT = path.resolve('.');
let modelsDir: string;
let child: ChildProcess | undefined;

beforeAll(() => {
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  modelsDir = makeModelsDir();
}, 300_000); // tsc of the whole project: slow on a busy 2-core machine
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(modelsDir, { recursive: true, force: true });
});

async function runCli(...argv: string[]) {
  const err: string[] = [];
  const code = await main(argv, { out: () => undefined, err: (t) => err.push(t) });
  return { code, err: err.join('\n') };
}

describe('instanas serve', () => {
  it('refuses bad arguments and missing bundles', async () => {
    expect(await runCli('serve', '--port', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/--port \(or PORT\) must be an integer/) });
    const empty = mkdtempSync(path.join(os.tmpdir(), 'instanas-empty-'));
    expect(await runCli('serve', '--models', empty, '--port', '0')).toMatchObject({ code: 1, err: expect.stringMatching(/^instanas: error: no bundles/) });
    expect(await runCli('serve', '--models', path.join(empty, 'nope'))).toMatchObject({ code: 1, err: expect.stringMatching(/models directory not found/) });
    expect(await runCli('serve', '--models', modelsDir, '--port', '0', '--default-model', 'x')).toMatchObject({ code: 1, err: expect.stringMatching(/--default-model 'x' is not among/) });
    rmSync(empty, { recursive: true });
  });

  it('drains on SIGTERM: the in-flight request is answered, then exit 0', async () => {
    const png = (await testImages()).png;
    child = spawn(process.execPath, [path.join(ROOT, 'bin/instanas.js'), 'serve', '--models', modelsDir, '--port', '0', '--host', '127.0.0.1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const logs: { msg: string; port?: number }[] = [];
    const lines = createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      lines.on('line', (l) => {
        const rec = JSON.parse(l);
        logs.push(rec);
        if (rec.msg === 'ready') resolve(logs.find((r) => r.msg === 'listening')!.port!);
      });
      child!.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);

    // A request whose body is half sent when SIGTERM arrives.
    let bytesSent = 0;
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${url}/v1/classify`, { method: 'POST', agent: false, headers: { 'content-type': 'image/png', 'content-length': png.length } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(png.subarray(0, 10), () => (bytesSent = 10));
      const poll = async () => {
        const m = await (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
        if (!/^instanas_in_flight_requests 1$/m.test(m)) return setTimeout(poll, 10);
        child!.kill('SIGTERM');
        setTimeout(() => req.end(png.subarray(10)), 300);
      };
      void poll();
    });
    const r = await response;
    expect(bytesSent).toBe(10);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).path.code).toMatch(/^[0-9a-v]+$/);
    expect(await exited).toBe(0);
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'draining: no new connections, finishing in-flight requests', 'stopped']));
  });

  it('exits 1 at once on a second signal, with its log lines written out', async () => {
    const png = (await testImages()).png;
    const c = spawn(process.execPath, [path.join(ROOT, 'bin/instanas.js'), 'serve', '--models', modelsDir, '--port', '0', '--host', '127.0.0.1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
    const logs: { msg: string; port?: number }[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: c.stdout! }).on('line', (l) => {
        const rec = JSON.parse(l);
        logs.push(rec);
        if (rec.msg === 'ready') resolve(logs.find((r) => r.msg === 'listening')!.port!);
      });
      c.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    // A request that never finishes its body keeps the drain waiting (up to drainTimeoutMs, 10 s by default).
    const req = http.request(`http://127.0.0.1:${port}/v1/classify`, { method: 'POST', agent: false, headers: { 'content-type': 'image/png', 'content-length': png.length } });
    req.on('error', () => undefined);
    req.write(png.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    c.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(performance.now() - t0).toBeLessThan(8_000); // well before the drain would have ended
    await new Promise((r) => setTimeout(r, 100)); // the last lines of the pipe
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'second signal: exiting without waiting for in-flight requests']));
    req.destroy();
  });
});
