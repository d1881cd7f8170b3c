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
/** image: the error is the image's (decodeImage refused it), else preprocess or the worker failed. */
export type FromDecoder = { id: number; tensor: Float32Array } | { id: number; error: string; range: boolean; image: boolean };

const port = parentPort;
port?.on('message', (m: ToDecoder) => {
  const fail = (err: unknown, image: boolean) =>
    port.postMessage({ id: m.id, error: String((err as Error)?.message ?? err), range: err instanceof RangeError, image } satisfies FromDecoder);
  decodeImage(m.bytes, { maxPixels: m.maxPixels }).then((img) => {
    try {
      const tensor = preprocess(img, m.input);
      port.postMessage({ id: m.id, tensor } satisfies FromDecoder, [tensor.buffer as ArrayBuffer]);
    } catch (err) {
      fail(err, false);
    }
  }, (err: unknown) => fail(err, true));
});
