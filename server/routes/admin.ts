// POST /admin/models/:name/reload: load the bundle again, then swap atomically.
import { Router, type NextFunction, type Request, type Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { pickModel, type AppDeps } from '../context.js';
import { HttpError } from '../errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function authorize(deps: AppDeps) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const token = deps.options.adminToken;
    if (token === undefined) {
      // No token configured: only this machine may call /admin.
      if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) return next(new HttpError(403, 'admin endpoints accept loopback clients only (set an admin token to allow others)'));
      return next();
    }
    const given = Buffer.from(req.get('authorization') ?? '');
    const want = Buffer.from(`Bearer ${token}`);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return next(new HttpError(401, 'admin token missing or wrong'));
    next();
  };
}

export function adminRouter(deps: AppDeps): Router {
  const r = Router();
  r.use(authorize(deps));
  r.post('/models/:name/reload', async (req, res) => {
    const name = pickModel(deps, req.params.name);
    try {
      const e = await deps.registry.reload(name);
      res.json({ model: name, version: e.classifier.manifest.version, bundle_sha256: e.bundleHash, reloaded: true });
    } catch (err) {
      throw new HttpError(500, (err as Error).message);
    }
  });
  return r;
}
