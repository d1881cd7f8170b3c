// createApp(deps): the Express app, not listening. One router per resource, the
// JSON 404 and the error handler last.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { mountBase, requestContext, requestLog, type AppDeps } from './context.js';
import { notFound, toHttpError } from './errors.js';
import { adminRouter } from './routes/admin.js';
import { classifyRouter, sendJson } from './routes/classify.js';
import { metricsRouter } from './routes/metrics.js';
import { v2Router } from './routes/v2.js';
import { webRouter } from './routes/web.js';

/** Rejected-request reasons by status, for instanas_rejected_requests_total. */
const REASONS: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'timeout',
  413: 'too_large',
  415: 'unsupported_media_type',
  503: 'unavailable',
};

/**
 * The one error path: a JSON {"error"} with the status and headers of the HttpError the error maps to, counted by
 * reason and logged (5xx other than 503 with the error, the rest as a rejection). No stack trace reaches a client.
 */
export function sendError(deps: AppDeps, req: IncomingMessage & { id?: string }, res: ServerResponse, err: unknown): void {
  const h = toHttpError(err, deps.options.retryAfterS);
  const reason = h.reason ?? REASONS[h.status];
  if (reason) deps.metrics.rejected.inc({ reason });
  const log = requestLog(deps, req);
  if (h.status >= 500 && h.status !== 503) log.error({ err }, 'request failed');
  else log.info({ status: h.status, error: h.message }, 'request rejected');
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  for (const [k, v] of Object.entries(h.headers)) res.setHeader(k, v);
  sendJson(res, h.status, { error: h.message });
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps));
  // mountBase first in each mount: the metrics label of an error answer keeps the router's mount path.
  app.use('/v1', mountBase('/v1'), classifyRouter(deps));
  app.use('/v2', mountBase('/v2'), v2Router(deps));
  app.use('/admin', mountBase('/admin'), adminRouter(deps));
  app.use(mountBase(''), metricsRouter(deps));
  app.use(mountBase(''), webRouter(deps));
  app.use((req: Request, _res: Response, next: NextFunction) => next(notFound(`no route ${req.method} ${req.path.slice(0, 200)}`)));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => sendError(deps, req, res, err));
  return app;
}
