// onnxruntime-node implementation of Engine (CPU execution provider).
import * as ort from 'onnxruntime-node';
import type { Engine, Session, SessionOptions, Tensor } from './engine.js';

class NodeSession implements Session {
  constructor(private readonly s: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.s.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const result = await this.s.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(result)) {
      if (t.type !== 'float32') throw new TypeError(`output '${name}' has type ${t.type}, expected float32`);
      out[name] = { data: t.data as Float32Array, dims: t.dims };
    }
    return out;
  }
  release(): Promise<void> {
    return this.s.release();
  }
}

/** Engine backed by onnxruntime-node. Sessions use full graph optimisation and sequential execution. */
export function createNodeEngine(): Engine {
  return {
    name: `onnxruntime-node ${ort.env.versions.common}`,
    async createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
      const s = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: opts.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
      return new NodeSession(s);
    },
  };
}
