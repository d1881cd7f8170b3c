// startServer(): discover bundles, listen at once (liveness), load + warm every
// bundle (readiness turns true after), watch manifests; close() drains.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { destination, pino, type Logger } from 'pino';
import { DecodePool } from '../runtime/decode-pool-node.js';
import { createClassifier, type ClassifierOptions } from './backend.js';
import { createApp } from './app.js';
import { withFastClassify } from './fast-classify.js';
import type { AppDeps } from './context.js';
import { Metrics } from './metrics.js';
import { DEFAULT_SERVER_OPTIONS, resolveOptions, type ServerOptions } from './options.js';
import { ModelRegistry, discoverBundles, type ClassifierFactory } from './registry.js';

export interface StartOptions extends Partial<ServerOptions> {
  /** Folder whose subfolders with a manifest.json are served, by folder name. */
  modelsDir: string;
  /** 0 picks a free port. */
  port: number;
  host: string;
  defaultModel?: string;
  logger?: Logger;
  /** How a bundle folder becomes a Classifier; default createClassifier (server/backend.ts). */
  factory?: ClassifierFactory;
  /** Options for the default factory (createClassifier): workers, inlineMaxMs. Ignored with `factory`. */
  classifier?: Partial<Omit<ClassifierOptions, 'idle'>>;
  version?: string;
}

export interface RunningServer {
  server: Server;
  deps: AppDeps;
  url: string;
  port: number;
  /** Settles when every bundle is loaded and warmed; rejects with the first load error. */
  loaded: Promise<void>;
  /** Stops accepting, lets in-flight requests finish (up to drainTimeoutMs), releases the models. */
  close(): Promise<void>;
  /** Writes out the log lines still buffered (they are written in 4 KiB blocks); for a forced exit. */
  flushLogs(): void;
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const options = resolveOptions(Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k in DEFAULT_SERVER_OPTIONS)));
  // Asynchronous, buffered stdout: a synchronous write per request log line cost about twice the time of the
  // async write in a micro-benchmark, and an async write per line still costs a thread-pool hop and a wake-up
  // of the event loop per request. Lines are written once 4 KiB have gathered (~20 access lines) or after
  // 200 ms, whichever comes first; what is still buffered at shutdown is flushed in close().
  const dest = o.logger ? undefined : destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 200 });
  const log = o.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' }, dest);
  const bundles = discoverBundles(o.modelsDir);
  if (bundles.length === 0) throw new Error(`no bundles (subfolders with manifest.json) under ${o.modelsDir}`);
  if (o.defaultModel !== undefined && !bundles.some((b) => b.name === o.defaultModel))
    throw new Error(`--default-model '${o.defaultModel}' is not among the bundles: ${bundles.map((b) => b.name).join(', ')}`);

  const state: AppDeps['state'] = { draining: false, loading: true, pending: new Set(bundles.map((b) => b.name)), inFlight: 0 };
  const factory =
    o.factory ?? ((dir: string) => createClassifier(dir, { timeoutMs: options.requestTimeoutMs, ...o.classifier, idle: () => (state.inFlight ?? 0) <= 1 }));
  const registry = new ModelRegistry(log, factory);
  const metrics = new Metrics(() => registry.names().map((n) => registry.get(n)!));
  registry.onSwap = (e, old) => metrics.setModelInfo(e, old);
  const decodePool = new DecodePool(); // its thread starts with the first large image
  const deps: AppDeps = {
    registry,
    metrics,
    log,
    options,
    defaultModel: o.defaultModel,
    state,
    version: o.version ?? 'unknown',
    decoder: (bytes, input, maxPixels) => decodePool.decode(bytes, input, maxPixels),
  };
  const app = createApp(deps);

  // Plain image uploads to /v1/classify skip express's router (server/fast-classify.ts); the rest is the express app.
  const server = createServer(withFastClassify(deps, app));
  server.listen(o.port, o.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Inference routes answer a slow body with a JSON 408 themselves (server/body.ts); node's
  // own limits, a little later, are the backstop for every other route and for slow headers.
  server.requestTimeout = options.requestTimeoutMs + 5000;
  server.headersTimeout = Math.min(options.requestTimeoutMs, 60_000);
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  log.info({ host: o.host, port, models: bundles.map((b) => b.name) }, 'listening');

  const loaded = (async () => {
    // One at a time: loading warms every session, and parallel warm-ups would only contend for the cores.
    for (const b of bundles) {
      await registry.load(b.name, b.dir);
      deps.state.pending.delete(b.name);
    }
    deps.state.loading = false;
    registry.watch(options.watchIntervalMs);
    log.info({ models: registry.names() }, 'ready');
  })();
  loaded.catch(() => undefined); // the caller decides; avoid an unhandled rejection meanwhile

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      deps.state.draining = true;
      log.info('draining: no new connections, finishing in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A connection whose answer was already on its way when the drain began stays open after it, idle: close
      // those as they appear. Busy ones close after their next answer (beginRequest).
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const timer = setTimeout(() => server.closeAllConnections(), options.drainTimeoutMs);
      await closed;
      clearInterval(idle);
      clearTimeout(timer);
      try {
        await loaded.catch(() => undefined);
        await registry.close();
        await decodePool.close();
        log.info('stopped');
      } finally {
        flushLogs();
      }
    })());
  const flushLogs = () => {
    try {
      dest?.flushSync();
    } catch {
      /* stdout already closed: nothing left to save */
    }
  };

  return { server, deps, url: `http://${host}:${port}`, port, loaded, close, flushLogs };
}
