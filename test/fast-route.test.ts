// Which requests the server answers without express (server/fast-classify.ts). The answers of both ways are
// compared over HTTP in server.test.ts; this checks the dispatch itself, so a request meant for the fast route
// cannot silently fall through to express (both would still answer alike).
import { describe, expect, it } from 'vitest';
import { fastRoute } from '../server/fast-classify.js';

describe('fastRoute', () => {
  it('takes raw image uploads to /v1/classify, with or without ?model=', () => {
    expect(fastRoute('POST', '/v1/classify', 'image/png')).toEqual({ route: 'v1', model: undefined });
    expect(fastRoute('POST', '/v1/classify?model=fashion-mnist', 'image/jpeg')).toEqual({ route: 'v1', model: 'fashion-mnist' });
    expect(fastRoute('POST', '/v1/classify?model=..%2Fetc', 'image/webp')).toEqual({ route: 'v1', model: '../etc' }); // pickModel refuses it
  });

  it('takes v2 infer, JSON or binary, with the name URL-decoded as express decodes it', () => {
    expect(fastRoute('POST', '/v2/models/fashion-mnist/infer', 'application/json')).toEqual({ route: 'v2', model: 'fashion-mnist' });
    expect(fastRoute('POST', '/v2/models/fashion-mnist/infer', 'application/octet-stream')).toEqual({ route: 'v2', model: 'fashion-mnist' });
    expect(fastRoute('POST', '/v2/models/a%20b/infer', '')).toEqual({ route: 'v2', model: 'a b' });
    expect(fastRoute('POST', '/v2/models/..%2F..%2Fetc/infer', 'application/json')).toEqual({ route: 'v2', model: '../../etc' });
  });

  it('leaves everything else to express', () => {
    const express = [
      ['GET', '/v1/classify', 'image/png'],
      ['POST', '/v1/classify', 'multipart/form-data'],
      ['POST', '/v1/classify?model=a&model=b', 'image/png'],
      ['POST', '/v1/classify?other=1', 'image/png'],
      ['POST', '/v1/classify/', 'image/png'],
      ['GET', '/v2/models/fashion-mnist/infer', 'application/json'],
      ['POST', '/v2/models/fashion-mnist/infer?via=express', 'application/json'],
      ['POST', '/v2/models/fashion-mnist/infer/', 'application/json'],
      ['POST', '/V2/MODELS/fashion-mnist/INFER', 'application/json'],
      ['POST', '/v2/models/%E0%A4%A/infer', 'application/json'], // does not URL-decode: express's 400
      ['POST', '/v2/models/a/b/infer', 'application/json'],
      ['POST', '/v2/models//infer', 'application/json'],
      ['POST', '/v2/models/a#b/infer', 'application/json'],
      ['POST', '/v2/models/fashion-mnist', 'application/json'],
    ] as const;
    for (const [method, url, type] of express) expect(fastRoute(method, url, type), `${method} ${url} ${type}`).toBeNull();
  });
});
