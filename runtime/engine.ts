// The inference back end, kept behind a small interface so routing code does not
// depend on onnxruntime-node: a browser build plugs in onnxruntime-web instead.

/** A dense float32 tensor, row-major. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface SessionOptions {
  /** Intra-op threads for this session (engines may ignore it). Default 1. */
  intraOpNumThreads?: number;
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph; returns every output as float32. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface Engine {
  /** Short description for logs, e.g. 'onnxruntime-node 1.30.0'. */
  readonly name: string;
  createSession(bytes: Uint8Array, opts?: SessionOptions): Promise<Session>;
}
