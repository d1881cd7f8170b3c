// Worker thread of DecodePool (decode-pool-node.ts): decodes an image and preprocesses it into the model's input
// tensor, away from the server's event loop. It runs the same code as a decode on the main thread (image-node.ts,
// preprocess.ts), so the tensor is the same bit for bit.
import { parentPort } from 'node:worker_threads';
import { decodeImage } from './image-node.js';
import type { InputSpec } from './manifest-types.js';
import { preprocess } from './preprocess.js';

export interface ToDecoder {
  id: number;
  bytes: Uint8Array;
  input: InputSpec;
  maxPixels: number;
}
export type FromDecoder = { id: number; tensor: Float32Array } | { id: number; error: string; range: boolean };

const port = parentPort;
port?.on('message', (m: ToDecoder) => {
  decodeImage(m.bytes, { maxPixels: m.maxPixels })
    .then((img) => {
      const tensor = preprocess(img, m.input);
      port.postMessage({ id: m.id, tensor } satisfies FromDecoder, [tensor.buffer as ArrayBuffer]);
    })
    .catch((err: unknown) => {
      const e = err as Error;
      port.postMessage({ id: m.id, error: String(e?.message ?? err), range: err instanceof RangeError } satisfies FromDecoder);
    });
});
