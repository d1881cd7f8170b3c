// Server settings: one typed interface, defaults in one frozen object.
import { MAX_TIMEOUT_MS } from '../runtime/scheduler.js';

export interface ServerOptions {
  /** Largest accepted request body (image or JSON), bytes. Default 8 MiB. */
  maxBodyBytes: number;
  /** Largest decoded image, width*height, checked from the header before decoding. Default 4096*4096. */
  maxPixels: number;
  /** Largest batch (dim 0) of a v2 infer request. Default 64. */
  maxBatch: number;
  /** Inference requests admitted at once; past it the server answers 503 + Retry-After. Default 64. */
  maxInFlight: number;
  /** Seconds sent in Retry-After with a 503. Default 1. */
  retryAfterS: number;
  /**
   * Deadline for an inference request's body to arrive (JSON 408 after it); node's own
   * request timeout, the backstop for other routes, is this plus 5 s. Default 30 s.
   */
  requestTimeoutMs: number;
  /** How long a SIGTERM drain waits for in-flight requests before cutting connections. Default 10 s. */
  drainTimeoutMs: number;
  /** Polling interval of the manifest.json mtime watcher; 0 disables it. Default 2000. */
  watchIntervalMs: number;
  /** Bearer token for /admin; when unset, /admin only accepts loopback clients. */
  adminToken: string | undefined;
  /** Folder with the browser demo's built files. Default web/dist under the cwd. */
  webDir: string;
}

export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  maxBodyBytes: 8 * 1024 * 1024,
  maxPixels: 4096 * 4096,
  maxBatch: 64,
  maxInFlight: 64,
  retryAfterS: 1,
  requestTimeoutMs: 30_000,
  drainTimeoutMs: 10_000,
  watchIntervalMs: 2000,
  adminToken: undefined,
  webDir: 'web/dist',
});

/** Merges partial options over the defaults, checking numeric fields. */
export function resolveOptions(partial: Partial<ServerOptions> = {}): Readonly<ServerOptions> {
  const o: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...partial };
  for (const k of ['maxBodyBytes', 'maxPixels', 'maxBatch', 'maxInFlight', 'retryAfterS', 'requestTimeoutMs', 'drainTimeoutMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`options.${k}: must be a positive integer, got ${o[k]}`);
  }
  // Timers hold at most 2^31-1 ms; node fires a longer one after 1 ms (every body would time out at once). node's
  // own request timeout is requestTimeoutMs + 5 s.
  if (o.requestTimeoutMs > MAX_TIMEOUT_MS - 5000) throw new RangeError(`options.requestTimeoutMs: must be at most ${MAX_TIMEOUT_MS - 5000}, got ${o.requestTimeoutMs}`);
  if (o.drainTimeoutMs > MAX_TIMEOUT_MS) throw new RangeError(`options.drainTimeoutMs: must be at most ${MAX_TIMEOUT_MS}, got ${o.drainTimeoutMs}`);
  if (!Number.isInteger(o.watchIntervalMs) || o.watchIntervalMs < 0)
    throw new RangeError(`options.watchIntervalMs: must be a non-negative integer, got ${o.watchIntervalMs}`);
  return Object.freeze(o);
}
