// Image decoding and preprocessing off the event loop, for large images.
//
// Why: a 28x28 upload costs a few microseconds to decode on the server's thread, but a 1024x1024 photo costs tens
// of milliseconds and a 4096x4096 one over half a second (PNG inflate, and preprocess's full-size planes and
// resize), during which that thread answers nothing: every other request, health checks included, waits. The
// server sends images above a pixel count here (server/upload.ts); small ones stay inline, where a thread hop
// would cost more than the decode.
import type { Worker } from 'node:worker_threads';
import type { FromDecoder, ToDecoder } from './decode-worker-node.js';
import type { InputSpec } from './manifest-types.js';
import { spawnWorker } from './worker-spawn-node.js';

/** The image itself could not be decoded (decodeImage's error, its message kept): the client's fault, not ours. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    message: string,
    /** The image declares more pixels than allowed (decodeImage's RangeError). */
    readonly tooLarge: boolean,
  ) {
    super(message);
  }
}

interface Call {
  resolve(t: Float32Array): void;
  reject(e: Error): void;
}

/**
 * One worker thread, started on first use (a server that never sees a large image starts none) and again after
 * a crash. Requests run in arrival order in the worker; a crash fails the ones in flight with an error saying so.
 */
export class DecodePool {
  private worker: Worker | null = null;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private closed = false;
  private lastError: string | undefined;

  /**
   * The model input tensor of `bytes` (as preprocess(decodeImage(bytes)) gives it). Rejects with ImageDecodeError
   * when decodeImage refuses the image (its message), with Error when anything else fails (preprocess, the thread).
   */
  decode(bytes: Uint8Array, input: InputSpec, maxPixels: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    let w: Worker;
    try {
      w = this.worker ??= this.spawn();
    } catch (err) {
      return Promise.reject(err as Error); // e.g. the worker script is missing: a failure of ours, as a rejection
    }
    const id = this.nextId++;
    // Hand the bytes over without a copy when they own their buffer (a body of more than a few KiB does); a view
    // into a shared buffer (node's small-buffer pool) is copied.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    return new Promise<Float32Array>((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      w.postMessage({ id, bytes, input, maxPixels } satisfies ToDecoder, own ? [bytes.buffer as ArrayBuffer] : []);
    });
  }

  /** Requests waiting for the worker. */
  get pending(): number {
    return this.calls.size;
  }

  /** Ends the worker; requests still in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('decode pool is closed'));
    if (w) await w.terminate();
  }

  private spawn(): Worker {
    const w = spawnWorker(undefined, {}, 'decode-worker-node');
    w.unref(); // an idle decoder must not keep the process alive
    w.on('message', (m: FromDecoder) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      this.calls.delete(m.id);
      if ('tensor' in m) call.resolve(m.tensor);
      else call.reject(m.image ? new ImageDecodeError(m.error, m.range) : new Error(m.error));
    });
    w.on('error', (err: Error) => (this.lastError = err?.message ?? String(err)));
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null; // the next decode starts a new one
      this.failAll(new Error(`image decoder thread exited (${this.lastError ?? `code ${code}`}); try again`));
      this.lastError = undefined;
    });
    return w;
  }

  private failAll(err: Error): void {
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
  }
}
