// A tiny static file server for the browser test and benchmark, sending the same
// cross-origin isolation headers as the real server (COOP/COEP), so
// SharedArrayBuffer and wasm threads are available to the page.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

export const ISOLATION_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

/** Serves `root` on 127.0.0.1 (random port); resolves with the base URL and a close function. */
export async function serveStatic(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const abs = path.resolve(root);
  const server: Server = createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(abs, urlPath.endsWith('/') ? `${urlPath}index.html` : urlPath);
    let ok = false;
    try {
      ok = file.startsWith(abs + path.sep) && statSync(file).isFile();
    } catch {
      ok = false;
    }
    if (req.method !== 'GET' || !ok) {
      res.writeHead(404, { 'content-type': 'text/plain', ...ISOLATION_HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      ...ISOLATION_HEADERS,
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
