// GET /metrics: Prometheus text format.
import { Router } from 'express';
import type { AppDeps } from '../context.js';

export function metricsRouter(deps: AppDeps): Router {
  const r = Router();
  r.get('/metrics', async (_req, res) => {
    const text = await deps.metrics.registry.metrics();
    res.type(deps.metrics.registry.contentType).send(text);
  });
  return r;
}
