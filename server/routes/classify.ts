// POST /v1/classify: one image (raw body or multipart) -> label, top-k, path, timings.
import type { ServerResponse } from 'node:http';
import { Router } from 'express';
import { readBody, mediaType } from '../body.js';
import { admission, holdWork, leaseModel, pickModel, type AppDeps } from '../context.js';
import { HttpError } from '../errors.js';
import { IMAGE_TYPES, imageToTensor, readMultipart } from '../upload.js';

const round = (v: number): number => Math.round(v * 1000) / 1000;

/** Writes a JSON body with its length; no express needed (the fast route shares this). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Leases the model, decodes the image and classifies it; the /v1/classify response body. */
export async function classifyBytes(deps: AppDeps, name: string, bytes: Uint8Array, res: ServerResponse): Promise<object> {
  const { options: o } = deps;
  const { entry } = leaseModel(deps, name, res);
  const t0 = performance.now();
  let decodeMs = 0;
  // Decoding counts as the request's work too: a large image's decode runs on the decoder thread, and a client
  // that hangs up must not free its slot while that decode is queued there.
  const result = await holdWork(res, async () => {
    const tensor = await imageToTensor(bytes, entry.classifier.manifest.input, { maxPixels: o.maxPixels }, deps.decoder);
    decodeMs = performance.now() - t0;
    return entry.classifier.classify(tensor);
  });
  const totalMs = performance.now() - t0;
  deps.metrics.batchSize.observe({ model: name }, 1);
  deps.metrics.observeResult(name, result, decodeMs);
  const t = result.timings;
  return {
    label: result.label,
    index: result.index,
    probability: result.probability,
    topk: result.topk,
    path: { code: result.path.code, cells: result.path.cells, macs: result.path.macs },
    controllerMacs: result.controllerMacs,
    timings: { queueMs: round(t.queueMs), decodeMs: round(decodeMs), controllerMs: round(t.controllerMs), childMs: round(t.childMs), totalMs: round(totalMs) },
    model: { name, version: entry.classifier.manifest.version },
  };
}

export function classifyRouter(deps: AppDeps): Router {
  const r = Router();
  const { options: o } = deps;
  r.post('/classify', admission(deps), async (req, res) => {
    const name = pickModel(deps, req.query.model);
    const type = mediaType(req);
    let bytes: Buffer;
    if ((IMAGE_TYPES as readonly string[]).includes(type)) bytes = await readBody(req, o.maxBodyBytes, o.requestTimeoutMs);
    else if (type === 'multipart/form-data') bytes = await readMultipart(req, o.maxBodyBytes, o.requestTimeoutMs);
    else
      throw new HttpError(415, `unsupported content type '${type.slice(0, 100) || 'none'}': send ${IMAGE_TYPES.join(', ')} or multipart/form-data`);

    sendJson(res, 200, await classifyBytes(deps, name, bytes, res));
  });
  return r;
}
