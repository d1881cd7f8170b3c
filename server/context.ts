// What the routers share (AppDeps) and the cross-cutting middleware: request id,
// access log + duration metric, and admission control for inference routes.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { HttpError, notFound } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ServerOptions } from './options.js';
import type { Lease, ModelRegistry } from './registry.js';
import type { Decoder } from './upload.js';

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
  /** Decodes large images on another thread (server/upload.ts); absent: every image is decoded inline. */
  decoder?: Decoder;
}

const ID_RE = /^[\w.:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

/** A logger whose lines carry the request's id; made on demand (error paths), not for every request. */
export function requestLog(deps: AppDeps, req: IncomingMessage & { id?: string }): Logger {
  return req.id ? deps.log.child({ reqId: req.id }) : deps.log;
}

/**
 * Request id (x-request-id when well-formed, else a UUID) and on finish the duration histogram and the access
 * log line (with reqId). Shared by the express middleware and the fast classify route.
 */
export function beginRequest(deps: AppDeps, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && ID_RE.test(given) ? given : randomUUID();
  const r = req as Request;
  r.id = id;
  res.setHeader('x-request-id', id);
  // While draining, a request that arrives on a kept-alive connection is answered with Connection: close, so each
  // connection serves at most one more request; else a client that keeps its connection busy would hold the drain
  // open until its timeout (server.close() only closes idle connections). Not tracked per request: a Set of open
  // responses doubled the garbage collector's time per request under load (it keeps them reachable from old space).
  if (deps.state.draining) res.shouldKeepAlive = false;
  const t0 = performance.now();
  res.on('finish', () => {
    const ms = performance.now() - t0;
    deps.metrics.httpDuration.observe({ route: route(), method: req.method ?? '', status: String(res.statusCode) }, ms / 1000);
    deps.log.info({ reqId: id, method: req.method, url: (r.originalUrl ?? req.url ?? '').slice(0, 300), status: res.statusCode, ms: Math.round(ms * 100) / 100 }, 'request');
  });
}

/** Where mountBase() keeps the mount path of the router a request is in. */
const MOUNT = Symbol('mount');
type Mounted = Request & { [MOUNT]?: string };

/**
 * Middleware placed before each mounted router (server/app.ts): records its mount path, as written there. Not
 * req.baseUrl: express resets it once a router hands an error on (an error answer's label would lose the mount:
 * '/models/:name/infer'), and it is the URL's own text, while express matches paths without regard to case
 * ('/V2/...' would add label values).
 */
export function mountBase(mount: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    (req as Mounted)[MOUNT] = mount;
    next();
  };
}

export function requestContext(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // Route templates, never raw paths, keep the label set bounded.
    beginRequest(deps, req, res, () => (req.route ? `${(req as Mounted)[MOUNT] ?? req.baseUrl}${String(req.route.path)}` : 'unmatched'));
    next();
  };
}

/**
 * Bounded admission for inference: taken before the body is read, released when
 * the response ends or the client goes away. Past maxInFlight: 503 + Retry-After.
 */
export function admission(deps: AppDeps) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    try {
      admit(deps, res);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Takes one of the maxInFlight inference slots until `res` ends (finish or close); throws the 503 past it.
 * The count lives in deps.state so every inference route, express or not, shares it (and the classifiers'
 * idle-inline check reads it).
 */
export function admit(deps: AppDeps, res: ServerResponse): void {
  const inFlight = deps.state.inFlight ?? 0;
  if (inFlight >= deps.options.maxInFlight) {
    const msg = `server busy: ${inFlight} inference requests in flight (limit ${deps.options.maxInFlight})`;
    throw new HttpError(503, msg, { 'Retry-After': String(deps.options.retryAfterS) }, 'queue_full');
  }
  deps.state.inFlight = inFlight + 1;
  deps.metrics.inFlight.set(deps.state.inFlight);
  onEnd(res, () => {
    deps.state.inFlight = (deps.state.inFlight ?? 1) - 1;
    deps.metrics.inFlight.set(deps.state.inFlight);
  });
}

// Inference started for a response (holdWork), settled or not: a field on the response, not a WeakMap (one
// WeakMap entry per request is work for every garbage collection).
const WORK = Symbol('work');
type WithWork = ServerResponse & { [WORK]?: Promise<unknown> };

/**
 * Registers inference work done for `res`: its admission slot and model lease stay taken until the work settles,
 * even when the client goes away first. Released at a client's disconnect instead, the slot would let a client
 * that sends a batch and drops the connection, again and again, queue unbounded work past maxInFlight.
 * Refuses to start work for a client already gone (nobody would read the answer). Returns `p`.
 */
export function holdWork<T>(res: ServerResponse, start: () => Promise<T>): Promise<T> {
  if (res.destroyed) throw new HttpError(499, 'client closed the connection before inference', {}, 'client_closed');
  const p = start();
  holdWhile(res, p);
  return p;
}

/** The slot and lease of `res` stay taken until `done` settles too (holdWork for work already started). */
export function holdWhile(res: ServerResponse, done: Promise<unknown>): void {
  const r = res as WithWork;
  r[WORK] = r[WORK] ? Promise.allSettled([r[WORK], done]) : done;
}

/**
 * Runs `fn` once, when `res` has ended (finished, or closed by the client) and the work held for it (holdWork,
 * holdWhile) has settled: an answer can go out before all its work is done (a v2 batch failing on one input).
 */
function onEnd(res: ServerResponse, fn: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  const ended = () => {
    if (done) return; // 'close' follows every 'finish'
    const w = (res as WithWork)[WORK];
    if (w) w.then(once, once);
    else once();
  };
  res.on('finish', ended);
  res.on('close', ended);
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
export function leaseModel(deps: AppDeps, name: string, res: ServerResponse): Lease {
  const lease = deps.registry.acquire(name);
  if (!lease) throw notFound(`unknown model '${name.slice(0, 100)}'`);
  onEnd(res, lease.release);
  return lease;
}
