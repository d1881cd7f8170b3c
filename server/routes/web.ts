// GET /: the browser demo from web/dist. onnxruntime-web's threaded WASM needs
// SharedArrayBuffer, hence cross-origin isolation headers on every static response.
import express, { Router, type Response } from 'express';
import path from 'node:path';
import type { AppDeps } from '../context.js';

const isolate = (res: Response): void => {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
};

export function webRouter(deps: AppDeps): Router {
  const r = Router();
  const dir = path.resolve(deps.options.webDir);
  // Mounted even when the folder is missing, so a demo built later is served without restart.
  r.use(express.static(dir, { index: 'index.html', fallthrough: true, setHeaders: isolate }));
  r.get('/', (_req, res) => {
    isolate(res);
    res.json({
      demo: 'not built',
      note: `the browser demo is not built (no ${path.join(deps.options.webDir, 'index.html')}); the API is at /v1/classify and /v2`,
    });
  });
  return r;
}
