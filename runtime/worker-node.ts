// Worker thread of the pool (pool-node.ts): loads one InstaModel and runs the
// batches it is sent. onnxruntime-node's run() blocks its thread in native
// code, so running it here keeps the main event loop free for I/O.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { loadModel } from './model-node.js';
import type { ModelOptions } from './model.js';
import { transferables, type BatchOutput } from './results.js';

/** A worker's cumulative compiled-path cache counters (runtime/path-cache.ts), sent with each result. */
export interface CacheCounts {
  hits: number;
  misses: number;
  compileErrors: number;
}

export interface WorkerInit {
  dir: string;
  model: Partial<ModelOptions>;
}

export type ToWorker =
  | { type: 'run'; id: number; data: Float32Array; dims: number[] }
  /** Test only: makes the worker die when the next batch arrives ('throw' = uncaught error, 'exit' = process.exit). */
  | { type: 'crash-on-next-run'; how: 'throw' | 'exit' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; engine: string }
  /**
   * out: the batch's results as typed arrays (their buffers transferred, not cloned); the pool builds the
   * result objects (runtime/results.ts). cache: this worker's cumulative compiled-path cache counters (null
   * with tier 'modules').
   */
  | { type: 'result'; id: number; out: BatchOutput; cache: CacheCounts | null }
  | { type: 'error'; id: number; message: string };

async function main(port: MessagePort, init: WorkerInit): Promise<void> {
  // A load failure is thrown: the pool sees it as the worker's 'error' event.
  const model = await loadModel(init.dir, init.model);
  let crash: 'throw' | 'exit' | undefined;
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'crash-on-next-run') crash = msg.how;
    else if (msg.type === 'close') void model.release().finally(() => port.close());
    else if (msg.type === 'run') {
      if (crash === 'exit') process.exit(7); // in a worker this ends only the thread
      if (crash === 'throw') throw new Error('crash requested by test');
      model.classifyBatch(msg.data, msg.dims).then(
        (out) => {
          const c = model.cacheStats();
          const cache: CacheCounts | null = c ? { hits: c.hits, misses: c.misses, compileErrors: c.compileErrors } : null;
          port.postMessage({ type: 'result', id: msg.id, out, cache } satisfies FromWorker, transferables(out));
        },
        // Bad input or an ORT failure fails this batch only; the worker stays up.
        (err: unknown) => port.postMessage({ type: 'error', id: msg.id, message: (err as Error)?.message ?? String(err) } satisfies FromWorker),
      );
    }
  });
  port.postMessage({ type: 'ready', engine: model.engineName } satisfies FromWorker);
}

if (parentPort) await main(parentPort, workerData as WorkerInit);
