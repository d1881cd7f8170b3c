// Open Inference Protocol (KServe v2): server/model metadata, health, infer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import { mediaType, readBody } from '../body.js';
import { admission, holdWhile, holdWork, leaseModel, pickModel, type AppDeps } from '../context.js';
import { HttpError, badRequest } from '../errors.js';
import { INPUT_NAME, encodeOutputs, parseInferRequest, splitBinaryBody, type OutputTensor } from '../tensor.js';

const HEADER_LENGTH = 'inference-header-content-length';

/** Parsed body: plain JSON, or the binary extension's JSON header + tensor bytes. */
async function readInferBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<{ json: unknown; binary?: Buffer }> {
  const given = req.headers[HEADER_LENGTH];
  const headerLength = Array.isArray(given) ? given.join(', ') : given;
  const type = mediaType(req);
  if (headerLength === undefined && type !== 'application/json' && type !== '')
    throw new HttpError(415, `unsupported content type '${type.slice(0, 100)}': send application/json (or the binary extension)`);
  const body = await readBody(req, maxBytes, timeoutMs);
  if (headerLength !== undefined) return splitBinaryBody(body, headerLength);
  if (body.length === 0) throw badRequest('empty body: expected a JSON infer request');
  try {
    return { json: JSON.parse(body.toString('utf8')) };
  } catch (err) {
    throw badRequest(`invalid JSON body: ${(err as Error).message.slice(0, 200)}`);
  }
}

export function v2Router(deps: AppDeps): Router {
  const r = Router();
  const ready = () => !deps.state.draining && !deps.state.loading && deps.registry.ready;

  r.get('/', (_req, res) => {
    res.json({ name: 'instanas', version: deps.version, extensions: ['binary_tensor_data'] });
  });
  // Live unless a model's back end cannot recover (every worker of its pool dead, the replacement failed to load):
  // then only a restart helps, and Kubernetes restarts a pod whose liveness fails.
  r.get('/health/live', (_req, res) => {
    const failed = deps.registry.names().filter((n) => deps.registry.get(n)?.classifier.failed);
    if (failed.length) res.status(503).json({ live: false, failed });
    else res.json({ live: true });
  });
  r.get('/health/ready', (_req, res) => {
    res.status(ready() ? 200 : 503).json({ ready: ready() });
  });

  r.get('/models/:name', (req, res) => {
    const name = pickModel(deps, req.params.name);
    const e = deps.registry.get(name)!;
    const m = e.classifier.manifest;
    res.json({
      name,
      versions: [m.version],
      platform: 'instanas_onnx',
      inputs: [{ name: INPUT_NAME, datatype: 'FP32', shape: [-1, m.input.channels, m.input.height, m.input.width] }],
      outputs: [
        { name: 'logits', datatype: 'FP32', shape: [-1, m.labels.length] },
        { name: 'path', datatype: 'BYTES', shape: [-1] },
      ],
      parameters: { kind: m.kind, labels: m.labels, cells: m.graph.cells.length, bundle_sha256: e.bundleHash },
    });
  });

  r.get('/models/:name/ready', (req, res) => {
    const name = pickModel(deps, req.params.name);
    const ok = deps.registry.get(name)!.classifier.ready && !deps.state.draining;
    res.status(ok ? 200 : 503).json({ name, ready: ok });
  });

  r.post('/models/:name/infer', admission(deps), (req, res) => answerInfer(deps, pickModel(deps, req.params.name), req, res));
  return r;
}

/**
 * The answer to POST /v2/models/{name}/infer once the model name is resolved: reads and validates the body,
 * classifies each input (the back end's scheduler batches them) and writes the outputs, JSON or binary. Shared
 * by the express route above and the fast route (server/fast-classify.ts), so both answer alike; errors are
 * thrown for the caller's one error path.
 */
export async function answerInfer(deps: AppDeps, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { json, binary } = await readInferBody(req, deps.options.maxBodyBytes, deps.options.requestTimeoutMs);
  const { entry } = leaseModel(deps, name, res);
  const m = entry.classifier.manifest;
  const dims = [m.input.channels, m.input.height, m.input.width];
  const infer = parseInferRequest(json, dims, deps.options.maxBatch, binary);
  const size = infer.tensor.length / infer.batch;
  // One classify per input: the back end (a pool's scheduler) does the batching.
  // The answer goes as soon as every input succeeded or one failed (a full queue, a timeout), but the slot is held
  // until every input is done: released with the first failure, it would let the rest of the batch run unbounded.
  const results = await holdWork(res, () => {
    const each = Array.from({ length: infer.batch }, (_, i) => entry.classifier.classify(infer.tensor.slice(i * size, (i + 1) * size)));
    holdWhile(res, Promise.allSettled(each));
    return Promise.all(each);
  });
  deps.metrics.batchSize.observe({ model: name }, infer.batch);
  for (const x of results) deps.metrics.observeResult(name, x, undefined);
  const classes = m.labels.length;
  const outputs: OutputTensor[] = infer.outputs.map((o) =>
    o.name === 'logits'
      ? { name: 'logits', datatype: 'FP32', shape: [infer.batch, classes], data: results.flatMap((x) => x.logits), binary: o.binary }
      : { name: 'path', datatype: 'BYTES', shape: [infer.batch], data: results.map((x) => x.path.code), binary: o.binary },
  );
  const head = { model_name: name, model_version: m.version, ...(infer.id !== undefined ? { id: infer.id } : {}) };
  const { body, headerLength } = encodeOutputs(head, outputs);
  const headers: Record<string, string | number> =
    headerLength === undefined
      ? { 'Content-Type': 'application/json; charset=utf-8' }
      : { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(headerLength) };
  headers['Content-Length'] = body.length;
  res.writeHead(200, headers);
  res.end(body);
}
