// The two classification requests, answered without express's router: POST /v1/classify with a raw image
// body, and POST /v2/models/{name}/infer (the Open Inference Protocol, JSON or binary tensors).
//
// Why: they are the requests every classification takes, and express's per-request
// machinery (router layers, request/response decoration, res.json) measured
// ~0.1-0.2 ms of the ~0.65 ms the server added to a 0.13 ms model (docs/PERFORMANCE.md).
// The same steps and helpers as the express routes run here (request id and access
// log, admission, model choice, body limits, decoding, metrics, the one error
// path), so the answers are the same; anything else (multipart, other paths or
// methods, a repeated or odd query, a v2 model name that does not URL-decode) goes to express untouched.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express } from 'express';
import { sendError } from './app.js';
import { readBody, mediaType } from './body.js';
import { admit, beginRequest, pickModel, type AppDeps } from './context.js';
import { classifyBytes, sendJson } from './routes/classify.js';
import { answerInfer } from './routes/v2.js';
import { IMAGE_TYPES } from './upload.js';

const ROUTE = '/v1/classify';
/** The v2 infer path; its metrics label is express's route template. */
const V2_INFER = /^\/v2\/models\/([^/]+)\/infer$/;
const V2_ROUTE = '/v2/models/:name/infer';

/** The model name of `?model=<name>` (undefined when absent); null when the query is anything else. */
function modelParam(search: string): string | undefined | null {
  if (search === '') return undefined;
  const q = new URLSearchParams(search);
  const keys = [...q.keys()];
  if (keys.length !== 1 || keys[0] !== 'model') return null;
  return q.get('model')!;
}

/** A request listener: the fast route for plain image uploads to /v1/classify, express for everything else. */
export function withFastClassify(deps: AppDeps, app: Express): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const v2 = req.method === 'POST' && q < 0 ? V2_INFER.exec(pathname) : null;
    if (v2) {
      let name: string;
      try {
        name = decodeURIComponent(v2[1]); // as express decodes route parameters
      } catch {
        app(req, res); // express answers a malformed escape with its own 400
        return;
      }
      beginRequest(deps, req, res, () => V2_ROUTE);
      void (async () => {
        try {
          admit(deps, res);
          await answerInfer(deps, pickModel(deps, name), req, res);
        } catch (err) {
          sendError(deps, req, res, err);
        }
      })();
      return;
    }
    const model = modelParam(q < 0 ? '' : url.slice(q + 1));
    if (req.method !== 'POST' || pathname !== ROUTE || model === null || !(IMAGE_TYPES as readonly string[]).includes(mediaType(req))) {
      app(req, res);
      return;
    }
    beginRequest(deps, req, res, () => ROUTE);
    void (async () => {
      try {
        admit(deps, res);
        const name = pickModel(deps, model);
        const bytes = await readBody(req, deps.options.maxBodyBytes, deps.options.requestTimeoutMs);
        sendJson(res, 200, await classifyBytes(deps, name, bytes, res));
      } catch (err) {
        sendError(deps, req, res, err);
      }
    })();
  };
}
