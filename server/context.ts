// What the routers share (AppDeps) and the cross-cutting middleware: request id,
// access log + duration metric, and admission control for inference routes.
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { HttpError, notFound } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ServerOptions } from './options.js';
import type { Lease, ModelRegistry } from './registry.js';

export interface AppDeps {
  registry: ModelRegistry;
  metrics: Metrics;
  log: Logger;
  options: Readonly<ServerOptions>;
  /** Model used when a request names none; undefined = fashion-mnist if loaded, else the first. */
  defaultModel?: string;
  /** Set on SIGTERM: readiness turns false while in-flight requests finish. */
  state: { draining: boolean; loading: boolean; pending: Set<string>; inFlight?: number };
  version: string;
}

const ID_RE = /^[\w.:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

export function requestContext(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get('x-request-id');
    req.id = given && ID_RE.test(given) ? given : randomUUID();
    req.log = deps.log.child({ reqId: req.id });
    res.setHeader('x-request-id', req.id);
    const t0 = performance.now();
    res.on('finish', () => {
      const ms = performance.now() - t0;
      // Route templates, never raw paths, keep the label set bounded.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      deps.metrics.httpDuration.observe({ route, method: req.method, status: String(res.statusCode) }, ms / 1000);
      req.log.info({ method: req.method, url: req.originalUrl.slice(0, 300), status: res.statusCode, ms: Math.round(ms * 100) / 100 }, 'request');
    });
    next();
  };
}

/**
 * Bounded admission for inference: taken before the body is read, released when
 * the response ends or the client goes away. Past maxInFlight: 503 + Retry-After.
 */
export function admission(deps: AppDeps) {
  let inFlight = 0;
  const publish = () => {
    deps.state.inFlight = inFlight; // read by the classifiers' idle-inline check (server/backend.ts)
    deps.metrics.inFlight.set(inFlight);
  };
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (inFlight >= deps.options.maxInFlight) {
      const msg = `server busy: ${inFlight} inference requests in flight (limit ${deps.options.maxInFlight})`;
      next(new HttpError(503, msg, { 'Retry-After': String(deps.options.retryAfterS) }, 'queue_full'));
      return;
    }
    inFlight++;
    publish();
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      inFlight--;
      publish();
    };
    res.on('finish', release);
    res.on('close', release);
    next();
  };
}

/** The model a request names, or the default; 404 for names that are not loaded. */
export function pickModel(deps: AppDeps, name: unknown): string {
  const names = deps.registry.names();
  const retry = { 'Retry-After': String(deps.options.retryAfterS) };
  if (name === undefined || name === '') {
    const d = deps.defaultModel ?? (names.includes('fashion-mnist') ? 'fashion-mnist' : names[0]);
    if (d === undefined || !names.includes(d)) throw new HttpError(503, 'models are still loading', retry, 'loading');
    return d;
  }
  if (typeof name !== 'string') throw new HttpError(400, 'model: must be given once, as a string');
  if (deps.state.pending.has(name)) throw new HttpError(503, `model '${name}' is still loading`, retry, 'loading');
  if (!names.includes(name)) throw notFound(`unknown model '${name.slice(0, 100)}'; loaded: ${names.join(', ')}`);
  return name;
}

/** A lease on the named model (see ModelRegistry.acquire), released when the response ends. */
export function leaseModel(deps: AppDeps, name: string, res: Response): Lease {
  const lease = deps.registry.acquire(name);
  if (!lease) throw notFound(`unknown model '${name.slice(0, 100)}'`);
  res.on('close', lease.release);
  res.on('finish', lease.release);
  return lease;
}
