// Convenience for node callers (CLI, server): image file/bytes -> results with preprocess timing.
import { decodeImage } from './image-node.js';
import type { ClassifyResult, InstaModel } from './model.js';
import { preprocess } from './preprocess.js';

/** Decodes, preprocesses and classifies one image; timings include preprocessMs and it counts in totalMs. */
export async function classifyImage(model: InstaModel, image: string | Uint8Array): Promise<ClassifyResult> {
  const t0 = performance.now();
  const pixels = await decodeImage(image);
  const tensor = preprocess(pixels, model.manifest.input);
  const preprocessMs = performance.now() - t0;
  const [result] = await model.classify(tensor, [1, ...model.inputDims]);
  result.timings = { preprocessMs, ...result.timings, totalMs: result.timings.totalMs + preprocessMs };
  return result;
}
