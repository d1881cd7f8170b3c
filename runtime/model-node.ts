// Node entry for loading a bundle folder: manifest from disk + onnxruntime-node.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNodeEngine } from './engine-node.js';
import { loadManifest } from './manifest-node.js';
import { InstaModel, type ModelOptions } from './model.js';

/** Loads and validates the bundle in `dir`, creates all sessions and warms up. */
export async function loadModel(dir: string, options: Partial<ModelOptions> = {}): Promise<InstaModel> {
  const manifest = await loadManifest(dir);
  const abs = path.resolve(dir);
  return InstaModel.create(
    {
      manifest,
      engine: createNodeEngine(),
      readFile: async (name) => new Uint8Array(await readFile(path.join(abs, name))),
    },
    options,
  );
}
