// HTTP errors: every failure a client sees is JSON {"error": "..."} with a status
// chosen here; anything unrecognised is a 500 with a generic message (no stack).

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Label for instanas_rejected_requests_total; default derived from the status. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Errors thrown by body-parser / raw-body carry `type` and `status`. */
const BODY_ERRORS: Record<string, (e: { limit?: number; message: string }) => HttpError> = {
  'entity.too.large': (e) => new HttpError(413, `request body exceeds the limit of ${e.limit} bytes`),
  'entity.parse.failed': (e) => new HttpError(400, `invalid JSON body: ${e.message}`),
  'encoding.unsupported': (e) => new HttpError(415, e.message),
  'charset.unsupported': (e) => new HttpError(415, e.message),
  'request.aborted': () => new HttpError(400, 'request aborted by the client'),
  'request.size.invalid': () => new HttpError(400, 'request body size does not match Content-Length'),
  'stream.encoding.set': () => new HttpError(500, 'internal error'),
};

/** Maps any thrown value to the HttpError sent to the client. */
export function toHttpError(err: unknown, retryAfterS: number): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { type?: string; name?: string; message?: string; limit?: number } | null;
  if (e && typeof e.type === 'string' && BODY_ERRORS[e.type]) return BODY_ERRORS[e.type]({ limit: e.limit, message: String(e.message) });
  // The worker pool's bounded queue (runtime/scheduler.ts) throws QueueFullError: matched by
  // name so the server does not depend on the pool module.
  if (e?.name === 'QueueFullError')
    return new HttpError(503, `inference queue is full: ${e.message}`, { 'Retry-After': String(retryAfterS) }, 'queue_full');
  if (e?.name === 'RequestTimeoutError') return new HttpError(504, `inference timed out: ${e.message}`, {}, 'timeout');
  // express's router throws a URIError for a route parameter that does not URL-decode (e.g. /v2/models/%E0%A4%A):
  // the client's mistake, not ours.
  if (err instanceof URIError) return badRequest(`malformed URL: ${String(e?.message).slice(0, 200)}`);
  return new HttpError(500, 'internal error');
}

export const badRequest = (msg: string): HttpError => new HttpError(400, msg);
export const notFound = (msg: string): HttpError => new HttpError(404, msg);
