// Shared set-up for test/server*.test.ts: a temp models folder holding the tiny
// fixture under two names, a started server on 127.0.0.1:0, and test images.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { startServer, type RunningServer, type StartOptions } from '../../server/main.js';

export const FIXTURE = path.resolve('test/fixtures/tiny');
export const MODEL_A = 'tiny-a';
export const MODEL_B = 'tiny-b';

export interface TestServer extends RunningServer {
  modelsDir: string;
  stop(): Promise<void>;
}

/** Copies the fixture twice into a fresh temp models folder. */
export function makeModelsDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-server-'));
  for (const name of [MODEL_A, MODEL_B]) cpSync(FIXTURE, path.join(dir, name), { recursive: true });
  return dir;
}

export async function startTestServer(opts: Partial<StartOptions> = {}): Promise<TestServer> {
  const modelsDir = opts.modelsDir ?? makeModelsDir();
  const s = await startServer({ port: 0, host: '127.0.0.1', watchIntervalMs: 0, logger: pino({ level: 'silent' }), ...opts, modelsDir });
  await s.loaded;
  return {
    ...s,
    modelsDir,
    async stop() {
      await s.close();
      rmSync(modelsDir, { recursive: true, force: true });
    },
  };
}

/** A 28x28 grey gradient as PNG, JPEG and WebP bytes. */
export async function testImages(): Promise<Record<'png' | 'jpeg' | 'webp', Buffer>> {
  const px = Buffer.alloc(28 * 28);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 256;
  const base = () => sharp(px, { raw: { width: 28, height: 28, channels: 1 } });
  return { png: await base().png().toBuffer(), jpeg: await base().jpeg().toBuffer(), webp: await base().webp().toBuffer() };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A PNG signature + IHDR (valid CRC) declaring width x height 8-bit grey, a tiny IDAT and IEND: a decompression bomb header. */
export function pngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** JSON POST helper. */
export async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
