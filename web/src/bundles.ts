// Loads a bundle over HTTP: manifest validated with the same schema and code as
// node (parseManifest), ONNX files fetched by name, InstaModel from runtime/model.ts.
import type { Engine } from '../../runtime/engine.js';
import { parseManifest } from '../../runtime/manifest.js';
import { InstaModel, type ModelOptions } from '../../runtime/model.js';
import schema from '../../schema/bundle-manifest.v1.schema.json' with { type: 'json' };

/** One entry of the build's models.json. */
export interface BundleEntry {
  name: string;
  role: 'instanas' | 'baseline';
  kind: 'instanas' | 'static';
  /** URL of the bundle folder, relative to the page, ending in '/'. */
  path: string;
  source: string;
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res;
}

export async function fetchEntries(url = 'models.json'): Promise<BundleEntry[]> {
  const json = (await (await fetchOk(url)).json()) as { models?: BundleEntry[] };
  if (!Array.isArray(json.models) || json.models.length === 0) throw new Error(`${url}: field 'models' must be a non-empty array`);
  return json.models;
}

/** Fetches, validates and loads one bundle folder with `engine`. */
export async function loadBundle(base: string, engine: Engine, options: Partial<ModelOptions> = {}): Promise<InstaModel> {
  const source = new URL('manifest.json', new URL(base, location.href)).href;
  const manifest = parseManifest(await (await fetchOk(source)).text(), { schema, source });
  return InstaModel.create(
    {
      manifest,
      engine,
      readFile: async (name) => new Uint8Array(await (await fetchOk(new URL(name, source).href)).arrayBuffer()),
    },
    // The page classifies one image at a time, so the routed graph (mixed-path batches) would only cost
    // load time and memory.
    { routed: 'off', ...options },
  );
}
