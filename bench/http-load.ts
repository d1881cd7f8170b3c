// Closed-loop HTTP load benchmark of `instanas serve` (loopback, built dist) driven by wrk, not a Node client:
// on 2 cores the Node client of server-load.ts spent 84-111 us of CPU per request, wrk 23-38 us, and that CPU is
// taken from the server. One server process serves both bundles; per concurrency the two arms run back to back,
// order reversed on odd rounds so drift hits both. Per run: req/s, p50/p99 (wrk's), and CPU per request of the server's threads (main, the arm's
// inference worker, the rest) and of wrk, from /proc and bash's `times`. Linux only; needs wrk (apt-get install wrk).
//   npm run build && npx vite-node bench/http-load.ts [--models models] [--a fashion-mnist] [--b fashion-mnist-mobilenetv2]
//     [--concurrency 8,16,32,64] [--seconds 4] [--rounds 3] [--p99 25] [--images 200] [--serve "<extra args for instanas serve>"]
//     With concurrency 1 in the list, the raw runtime (InstaModel.classify of the same images' tensors, batch 1,
//     1 thread, in this process, while the server idles) runs after each arm's wrk run, and the server's overhead
//     at p50 (issue #5: HTTP, decode, queueing) is wrk's p50 minus the raw p50.
//     [--batch N]   N >= 1: POST /v2/models/<name>/infer, N preprocessed images per request in the binary tensor
//                   extension, instead of one PNG per POST /v1/classify (default 0); inf/s = req/s x N
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { preprocess } from '../runtime/preprocess.js';
import { INPUT_NAME } from '../server/tensor.js';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import type { InputSpec } from '../runtime/manifest-types.js';
import { FASHION, args, fmt, median, quantile, startServe } from './inputs.js';

const a = args({ models: 'models', a: 'fashion-mnist', b: 'fashion-mnist-mobilenetv2', concurrency: '8,16,32,64', seconds: 4, rounds: 3, p99: 25, images: 200, serve: '', batch: 0 });
const wrk = ['/usr/bin/wrk', ...(process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'wrk'))].find((p) => existsSync(p));
if (!wrk) {
  console.error('wrk not found (/usr/bin/wrk or on PATH): install the Debian package wrk (apt-get install wrk)');
  process.exit(2);
}
const conc = a.concurrency.split(',').map(Number);
const arms = [a.a, a.b];
const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; // clock ticks per second in /proc stat

type Wrk = { requests: number; duration_us: number; p50_us: number; p90_us: number; p99_us: number; max_us: number; non2xx: number; connect: number; read: number; write: number; timeout: number };
type Cpu = { main: number; worker: number; other: number; wrk: number }; // us of CPU per request
type Run = { round: number; c: number; arm: string; rps: number; p50: number; p99: number; non2xx: number; sockErrors: number; cpu: Cpu; rawP50?: number };

/** utime + stime in ticks per thread id of process `pid` */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // comm may hold spaces; f[0] is field 3 (state)
      out.set(tid, Number(f[11]) + Number(f[12])); // fields 14 and 15
    } catch {
      // thread exited between readdir and read (its time is lost: V8 helpers only, the pool's threads live on)
    }
  }
  return out;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-wrk-'));
let v2HeaderLength = 0; // the same for every request body of a run (the JSON header does not depend on the pixels)

/** v2 infer bodies with the binary tensor extension: per arm, request k = images k*N .. k*N+N-1 (mod count), preprocessed with that bundle's input spec. */
function writeV2Bodies(images: Uint8Array[]): void {
  const n = a.batch;
  const head = Buffer.from(JSON.stringify({
    inputs: [{ name: INPUT_NAME, datatype: 'FP32', shape: [n, 1, 28, 28], parameters: { binary_data_size: n * 784 * 4 } }],
    outputs: [{ name: 'logits', parameters: { binary_data: true } }, { name: 'path' }],
  }));
  v2HeaderLength = head.length;
  for (const arm of arms) {
    const input = (JSON.parse(readFileSync(path.join(a.models, arm, 'manifest.json'), 'utf8')) as { input: InputSpec }).input;
    if (input.channels !== 1 || input.height !== 28 || input.width !== 28) throw new Error(`--batch: ${arm} does not take 1x28x28 input`);
    mkdirSync(path.join(dir, arm));
    for (let k = 0; k < a.images; k++) {
      const t = Array.from({ length: n }, (_, j) => preprocess({ data: images[(k * n + j) % images.length], width: 28, height: 28, channels: 1 }, input));
      writeFileSync(path.join(dir, arm, `${k}.bin`), Buffer.concat([head, ...t.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength))]));
    }
  }
}
let child: ChildProcess | undefined;
let logDir: string | undefined;

/** One wrk run against `model`; bash's builtin `times` prints (second line) its children's user and system time: wrk's CPU. */
async function wrkRun(port: number, pid: number, c: number, seconds: number, model: string): Promise<Omit<Run, 'round' | 'c' | 'arm'>> {
  const target = a.batch > 0 ? [path.join(dir, model), String(a.images), `/v2/models/${encodeURIComponent(model)}/infer`, 'bin', String(v2HeaderLength)] : [dir, String(a.images), `/v1/classify?model=${encodeURIComponent(model)}`];
  const wrkArgs = ['-t1', `-c${c}`, `-d${seconds}s`, '-s', 'bench/wrk-post.lua', `http://127.0.0.1:${port}`, '--', ...target];
  const before = threadTicks(pid);
  const out = await new Promise<string>((resolve, reject) => {
    // $0 is wrk's path, "$@" its arguments: no shell quoting of the URL or paths
    const p = spawn('bash', ['-c', '"$0" "$@"; rc=$?; times; exit $rc', wrk!, ...wrkArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`wrk exited with ${code}:\n${s}`))));
  });
  const after = threadTicks(pid);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
  if (!line || times.length < 2) throw new Error(`unexpected wrk output:\n${out}`);
  const r = JSON.parse(line.slice(7)) as Wrk;
  const t = times[times.length - 1].slice(1).map(Number);
  const n = Math.max(1, r.requests);
  const us = (ticks: number) => (ticks * 1e6) / tck / n;
  const deltas = [...after].map(([tid, v]) => ({ tid, d: v - (before.get(tid) ?? 0) }));
  const rest = deltas.filter((x) => x.tid !== String(pid)).sort((x, y) => y.d - x.d);
  return {
    rps: r.requests / (r.duration_us / 1e6),
    p50: r.p50_us / 1000,
    p99: r.p99_us / 1000,
    non2xx: r.non2xx,
    sockErrors: r.connect + r.read + r.write + r.timeout,
    cpu: {
      main: us(deltas.find((x) => x.tid === String(pid))?.d ?? 0),
      worker: us(rest[0]?.d ?? 0), // the busiest non-main thread: the arm's inference worker (the other arm's idles)
      other: us(rest.slice(1).reduce((s, x) => s + x.d, 0)),
      wrk: ((t[0] * 60 + t[1] + t[2] * 60 + t[3]) * 1e6) / n,
    },
  };
}

const cpuText = (c: Cpu) => `main ${fmt(c.main, 0)} worker ${fmt(c.worker, 0)} other ${fmt(c.other, 0)} wrk ${fmt(c.wrk, 0)}`;

try {
  // Test images as 1-channel PNGs (random pixels when the dataset is absent), read by the wrk script.
  const idx = existsSync(FASHION) ? gunzipSync(readFileSync(FASHION)) : undefined;
  const pixels: Uint8Array[] = [];
  for (let i = 0; i < a.images; i++) {
    const px = idx ? idx.subarray(16 + i * 784, 16 + (i + 1) * 784) : Uint8Array.from({ length: 784 }, () => Math.floor(Math.random() * 256));
    pixels.push(px);
    const png = await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    if (i === 0 && png[25] !== 0) console.log(`note: sharp wrote PNG colour type ${png[25]}, not 0 (grey)`);
    writeFileSync(path.join(dir, `${i}.png`), png);
  }
  if (a.batch > 0) writeV2Bodies(pixels);

  // startServe spawns process.execPath (node) itself, no shell or npx: child.pid is the server's node process.
  const s = await startServe(['--models', a.models, ...a.serve.split(' ').filter(Boolean)]);
  child = s.child;
  logDir = path.dirname(s.logFile);
  const pid = child.pid!;

  for (const m of arms) await wrkRun(s.port, pid, Math.min(...conc), 1, m); // warm-up: JIT, ORT sessions, sockets
  // The raw runtime for the concurrency-1 overhead: each arm's model, on the same images' tensors.
  const raw = new Map<string, { model: InstaModel; tensors: Float32Array[] }>();
  if (conc.includes(1))
    for (const arm of arms) {
      const model = await loadModel(path.join(a.models, arm), { threads: 1 });
      const tensors = pixels.map((px) => preprocess({ data: px, width: 28, height: 28, channels: 1 }, model.manifest.input));
      raw.set(arm, { model, tensors });
    }
  const rawP50 = async (arm: string, count: number): Promise<number> => {
    const { model, tensors } = raw.get(arm)!;
    const dims = [1, ...model.inputDims];
    const lat: number[] = [];
    for (let i = 0; i < count + 100; i++) {
      const t0 = performance.now();
      await model.classify(tensors[i % tensors.length], dims);
      if (i >= 100) lat.push(performance.now() - t0); // the first 100 warm the paths this loop takes
    }
    return quantile(lat, 0.5);
  };
  const runs: Run[] = [];
  for (let round = 0; round < a.rounds; round++) {
    for (const c of conc) {
      for (const arm of round % 2 ? [...arms].reverse() : arms) {
        const r: Run = { round, c, arm, ...(await wrkRun(s.port, pid, c, a.seconds, arm)) };
        if (c === 1 && a.batch === 0) r.rawP50 = await rawP50(arm, Math.min(5000, Math.max(500, Math.round(r.rps * a.seconds))));
        runs.push(r);
        console.log(`round ${round} C ${String(c).padStart(3)} ${arm.padEnd(28)} ${fmt(r.rps, 1).padStart(8)} req/s${a.batch > 0 ? ` (${fmt(r.rps * a.batch, 0)} inf/s)` : ''}  p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  non-2xx ${r.non2xx}  sock-err ${r.sockErrors}  CPU us/req: ${cpuText(r.cpu)}`);
      }
    }
  }

  const sel = (c: number, arm: string) => runs.filter((r) => r.c === c && r.arm === arm);
  const med = (rs: Run[], f: (r: Run) => number) => median(rs.map(f));
  const medCpu = (rs: Run[]): Cpu => ({ main: med(rs, (r) => r.cpu.main), worker: med(rs, (r) => r.cpu.worker), other: med(rs, (r) => r.cpu.other), wrk: med(rs, (r) => r.cpu.wrk) });
  const summary = conc.map((c) => {
    const per = Object.fromEntries(arms.map((arm) => [arm, { rps: med(sel(c, arm), (r) => r.rps), p99: med(sel(c, arm), (r) => r.p99), cpu: medCpu(sel(c, arm)) }]));
    const ratios = [...Array(a.rounds).keys()].map((round) => sel(c, a.a).find((r) => r.round === round)!.rps / sel(c, a.b).find((r) => r.round === round)!.rps);
    return { c, per, ratios, ratio: median(ratios) };
  });
  console.log(`\nmedians over ${a.rounds} rounds of ${a.seconds} s (A = ${a.a}, B = ${a.b}; CPU in us per request; ${a.batch > 0 ? `v2 infer, ${a.batch} images per request` : 'v1 classify, one PNG per request'})`);
  for (const x of summary) {
    console.log(`C ${x.c}: A/B req/s per round ${x.ratios.map((v) => fmt(v)).join(' ')}  median ${fmt(x.ratio)}`);
    for (const arm of arms) console.log(`  ${arm.padEnd(28)} ${fmt(x.per[arm].rps, 1).padStart(8)} req/s  p99 ${fmt(x.per[arm].p99)} ms  ${cpuText(x.per[arm].cpu)}`);
    if (x.c !== 1 || a.batch > 0) continue;
    for (const arm of arms) {
      const rs = sel(1, arm);
      const over = rs.map((r) => r.p50 - r.rawP50!);
      console.log(`  server overhead at p50, ${arm}: ${fmt(median(over))} ms (wrk p50 ${fmt(med(rs, (r) => r.p50))} - raw runtime p50 ${fmt(med(rs, (r) => r.rawP50!))}; per round ${over.map((v) => fmt(v)).join(' ')})`);
    }
  }

  // Best under the bound: a concurrency counts only if its MEDIAN p99 meets it.
  const best = Object.fromEntries(arms.map((arm) => {
    const ok = summary.filter((x) => x.per[arm].p99 <= a.p99).sort((x, y) => y.per[arm].rps - x.per[arm].rps)[0];
    return [arm, ok ? { c: ok.c, rps: ok.per[arm].rps, p99: ok.per[arm].p99 } : null];
  }));
  console.log(`\nbest under p99 <= ${a.p99} ms:`);
  for (const arm of arms) { const b = best[arm]; console.log(`  ${arm.padEnd(28)} ${b ? `C ${b.c}: ${fmt(b.rps, 1)} req/s, p99 ${fmt(b.p99)} ms` : 'none'}`); }
  const [ba, bb] = [best[a.a], best[a.b]];
  console.log(`  ratio A/B: ${ba && bb ? fmt(ba.rps / bb.rps) : 'none (an arm never met the bound)'}`);

  const non2xx = runs.reduce((s, r) => s + r.non2xx, 0);
  const sockErrors = runs.reduce((s, r) => s + r.sockErrors, 0);
  console.log(`\nnon-2xx responses: ${non2xx}; socket errors (connect/read/write/timeout): ${sockErrors}`);
  if (non2xx || sockErrors) console.log('WARNING: some requests failed: these figures are NOT a valid result');
  console.log(`JSON ${JSON.stringify({ args: a, runs, summary, best, non2xx, sockErrors })}`);
  await Promise.all([...raw.values()].map((r) => r.model.release()));
} finally {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  rmSync(dir, { recursive: true, force: true });
  if (logDir) rmSync(logDir, { recursive: true, force: true });
}
