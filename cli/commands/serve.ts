// instanas serve [--models <dir>] [--port N] [--host H] [--default-model NAME]
import { readFileSync } from 'node:fs';
import { startServer } from '../../server/main.js';
import { UsageError, flagNumber, type Command } from '../command.js';

/** package.json's version; it sits two levels above cli/commands (source) or three (dist). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'instanas') return pkg.version ?? 'unknown';
    } catch {
      /* try the next location */
    }
  }
  return 'unknown';
}

function port(value: unknown, cmd: Command): number {
  const raw = value ?? process.env.PORT ?? '8080';
  const n = flagNumber(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port (or PORT) must be an integer in 0..65535, got '${String(raw)}'`, cmd);
  return n;
}

/** Server limits settable from the command line (server/options.ts documents each and its default). */
const LIMITS = {
  'max-in-flight': 'maxInFlight',
  'request-timeout-ms': 'requestTimeoutMs',
  'max-body-bytes': 'maxBodyBytes',
  'max-pixels': 'maxPixels',
  'drain-timeout-ms': 'drainTimeoutMs',
} as const;

/** The limits given as flags, each a positive integer (the flag is named in the error). */
export function limits(values: Record<string, unknown>, cmd: Command): Partial<Record<(typeof LIMITS)[keyof typeof LIMITS], number>> {
  const out: Partial<Record<(typeof LIMITS)[keyof typeof LIMITS], number>> = {};
  for (const [flag, key] of Object.entries(LIMITS)) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    const n = flagNumber(raw);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${raw}'`, cmd);
    out[key] = n;
  }
  return out;
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve every bundle under a models folder over HTTP (v1 classify, KServe v2, /metrics)',
  usage:
    'serve [--models <dir>] [--port N] [--host H] [--default-model NAME] [--workers N (0: in-process)] [--inline-max-ms MS (0: never)] [--max-batch-size N]' +
    ' [--max-in-flight N] [--request-timeout-ms MS] [--max-body-bytes N] [--max-pixels N] [--drain-timeout-ms MS]',
  options: {
    models: { type: 'string' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'default-model': { type: 'string' },
    workers: { type: 'string' },
    'inline-max-ms': { type: 'string' },
    'max-batch-size': { type: 'string' },
    ...Object.fromEntries(Object.keys(LIMITS).map((k) => [k, { type: 'string' as const }])),
  },
  async run({ positionals, values }, io) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`, this);
    const workersRaw = values.workers as string | undefined;
    const workers = workersRaw === undefined ? undefined : flagNumber(workersRaw);
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 0))
      throw new UsageError(`--workers must be an integer >= 0, got '${workersRaw}'`, this);
    const inlineRaw = values['inline-max-ms'] as string | undefined;
    const inlineMaxMs = inlineRaw === undefined ? undefined : flagNumber(inlineRaw);
    if (inlineMaxMs !== undefined && !(inlineMaxMs >= 0))
      throw new UsageError(`--inline-max-ms must be a number >= 0, got '${inlineRaw}'`, this);
    const batchRaw = values['max-batch-size'] as string | undefined;
    const maxBatchSize = batchRaw === undefined ? undefined : flagNumber(batchRaw);
    if (maxBatchSize !== undefined && (!Number.isInteger(maxBatchSize) || maxBatchSize < 1))
      throw new UsageError(`--max-batch-size must be an integer >= 1, got '${batchRaw}'`, this);
    const s = await startServer({
      ...limits(values, this),
      classifier: { workers, inlineMaxMs, maxBatchSize },
      modelsDir: (values.models as string | undefined) ?? 'models',
      port: port(values.port, this),
      host: (values.host as string | undefined) ?? '0.0.0.0',
      defaultModel: values['default-model'] as string | undefined,
      adminToken: process.env.INSTANAS_ADMIN_TOKEN || undefined,
      version: packageVersion(),
    });
    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        s.deps.log.info({ signal }, 'shutting down');
        s.close().then(
          () => resolve(0),
          () => resolve(1),
        );
      };
      // A second signal while draining means "now": exit 1 without waiting, after writing out the buffered logs.
      let signals = 0;
      const onSignal = (signal: string) => {
        if (++signals === 1) return stop(signal);
        s.deps.log.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
        s.flushLogs();
        process.exit(1);
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      s.loaded.catch((err: unknown) => {
        io.err(`instanas: error: ${String((err as Error).message ?? err).split('\n')[0]}`);
        s.close().finally(() => resolve(1));
      });
    });
  },
};
