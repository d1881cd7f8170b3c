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
/** The v2 infer path (a fragment mark ends a path for express, so it is not part of a name here either). */
const V2_INFER = /^\/v2\/models\/([^/#]+)\/infer$/;
/** Metrics label of v2 infer: express's route template. */
const V2_ROUTE = '/v2/models/:name/infer';

/** The model name of `?model=<name>` (undefined when absent); null when the query is anything else. */
function modelParam(search: string): string | undefined | null {
  if (search === '') return undefined;
  const q = new URLSearchParams(search);
  const keys = [...q.keys()];
  if (keys.length !== 1 || keys[0] !== 'model') return null;
  return q.get('model')!;
}

/** Which fast route answers a request, and its model name as sent (undefined: the default model). */
export type FastRoute = { route: 'v1'; model: string | undefined } | { route: 'v2'; model: string };

/**
 * The fast route for a request (method, raw URL, media type of its body), or null for express. Pure, so the
 * dispatch is tested on its own; the answers of both ways are compared over HTTP (test/server.test.ts).
 */
export function fastRoute(method: string | undefined, url: string, type: string): FastRoute | null {
  if (method !== 'POST') return null;
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  if (pathname === ROUTE) {
    const model = modelParam(q < 0 ? '' : url.slice(q + 1));
    return model !== null && (IMAGE_TYPES as readonly string[]).includes(type) ? { route: 'v1', model } : null;
  }
  const v2 = q < 0 ? V2_INFER.exec(pathname) : null;
  if (!v2) return null;
  try {
    return { route: 'v2', model: decodeURIComponent(v2[1]) }; // as express decodes route parameters
  } catch {
    return null; // express answers a malformed escape with a 400
  }
}

/** A request listener: the fast routes for plain image uploads to /v1/classify and for v2 infer, express for the rest. */
export function withFastClassify(deps: AppDeps, app: Express): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const fast = fastRoute(req.method, req.url ?? '', mediaType(req));
    if (!fast) {
      app(req, res);
      return;
    }
    beginRequest(deps, req, res, () => (fast.route === 'v1' ? ROUTE : V2_ROUTE));
    void (async () => {
      try {
        admit(deps, res);
        const name = pickModel(deps, fast.model);
        if (fast.route === 'v2') await answerInfer(deps, name, req, res);
        else sendJson(res, 200, await classifyBytes(deps, name, await readBody(req, deps.options.maxBodyBytes, deps.options.requestTimeoutMs), res));
      } catch (err) {
        sendError(deps, req, res, err);
      }
    })();
  };
}
