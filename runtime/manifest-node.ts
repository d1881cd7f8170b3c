// Node-only bundle loading: reads manifest.json and the schema from disk.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest } from './manifest.js';
import type { Manifest } from './manifest-types.js';

// Works from runtime/*.ts (tests) and dist/runtime/*.js (build): walk up to the
// folder holding schema/, so exactly the file the Python exporter uses is read.
function findSchemaPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, 'schema', 'bundle-manifest.v1.schema.json');
    if (existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find schema/bundle-manifest.v1.schema.json above ' + fileURLToPath(import.meta.url));
}

let schemaCache: object | undefined;
/** The bundle manifest JSON schema, read once from the package's schema/ folder. */
export function loadSchema(): object {
  schemaCache ??= JSON.parse(readFileSync(findSchemaPath(), 'utf8')) as object;
  return schemaCache;
}

/** Reads and validates `<dir>/manifest.json`, checking that referenced files exist. */
export async function loadManifest(dir: string): Promise<Manifest> {
  const abs = path.resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new Error(`bundle directory not found: ${abs}`);
  }
  if (!isDir) throw new Error(`bundle path is not a directory: ${abs}`);
  const file = path.join(abs, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`bundle manifest not found: ${file}`);
  }
  return parseManifest(text, {
    schema: loadSchema(),
    source: file,
    fileExists: (name) => {
      try {
        return statSync(path.join(abs, name)).isFile();
      } catch {
        return false;
      }
    },
  });
}
