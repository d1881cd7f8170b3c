// The server's /v1/classify: raw image bytes in, JSON with label/topk/path/timings out.
export interface ServerResult {
  label: string;
  topk: { label: string; probability: number; index?: number }[];
  path: { code: string; cells: number[][]; macs: number };
  controllerMacs?: number;
  timings: Record<string, number>;
  /** Round trip measured here (network + server). */
  roundTripMs: number;
}

export async function classifyOnServer(image: Blob, url = '/v1/classify'): Promise<ServerResult> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body: image, headers: { 'content-type': image.type || 'application/octet-stream' } });
  const text = await res.text();
  if (!res.ok) {
    let msg = text.slice(0, 200);
    try {
      const j = JSON.parse(text) as { error?: string | { message?: string } };
      msg = typeof j.error === 'string' ? j.error : (j.error?.message ?? msg);
    } catch {
      /* not JSON: keep the text */
    }
    throw new Error(`${url}: HTTP ${res.status} ${msg}`.trim());
  }
  const json = JSON.parse(text) as Omit<ServerResult, 'roundTripMs'>;
  if (typeof json.label !== 'string' || !json.path || typeof json.path.code !== 'string')
    throw new Error(`${url}: response lacks label or path.code`);
  return { ...json, roundTripMs: performance.now() - t0 };
}
