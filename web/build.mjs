// Builds the static demo into web/dist: app.js (esbuild), index.html, style.css,
// onnxruntime-web's wasm runtime copied from node_modules (never a CDN), the bundles
// it shows (models.json + models/<name>/) and the first Fashion-MNIST test images.
//
//   node web/build.mjs [--instanas DIR] [--baseline DIR] [--out DIR] [--data DIR] [--samples N]
//
// Defaults: --instanas models/fashion-mnist if it holds a manifest, else test/fixtures/tiny;
// --baseline models/fashion-mnist-mobilenetv2 if present, else a static stand-in derived
// from the InstaNAS bundle (its default option in every cell, no controller).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';

const WEB = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(WEB);
const ORT_DIST = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
// Two onnxruntime-web builds; the page imports one at run time (web/src/ort-loader.ts)
// and each loads its glue and wasm from its own folder:
// ort.wasm.min.mjs = wasm only (14 MB), ort.min.mjs = wasm + WebGPU via JSEP (28 MB).
const ORT_FILES = [
  'ort.wasm.min.mjs',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort.min.mjs',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
];

export const DEFAULT_BUILD_OPTIONS = Object.freeze({
  instanas: undefined,
  baseline: undefined,
  out: path.join(WEB, 'dist'),
  data: '/usr/share/datasets/fashion-mnist',
  samples: 100,
  minify: true,
});

const hasManifest = (dir) => existsSync(path.join(dir, 'manifest.json'));

function readManifest(dir) {
  const file = path.join(dir, 'manifest.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read bundle manifest ${file}: ${err.message.split('\n')[0]}`);
  }
}

/** Every file a manifest names (controller, stem, options, head, golden). */
function filesOf(m) {
  const files = [m.graph.stem.file, ...m.graph.cells.flatMap((c) => c.options.map((o) => o.file)), m.graph.head.file];
  if (m.controller) files.push(m.controller.file);
  // The manifest names its golden file, and the loader checks it exists.
  if (m.golden) files.push(m.golden);
  return [...new Set(files)];
}

function copyBundle(m, srcDir, outDir) {
  mkdirSync(outDir, { recursive: true });
  for (const f of filesOf(m)) copyFileSync(path.join(srcDir, f), path.join(outDir, f));
  writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(m, null, 1));
}

/** A static bundle from an InstaNAS one: same modules, no controller, defaults everywhere. */
function staticStandIn(m) {
  // hotPaths and the controller's latency entry belong to an InstaNAS bundle: the loader refuses them in a static one.
  const { controller: _controller, golden: _golden, hotPaths: _hot, ...rest } = m;
  const latency = m.latency && { ...m.latency, table: Object.fromEntries(Object.entries(m.latency.table ?? {}).filter(([k]) => k !== 'controller')) };
  return {
    ...rest,
    ...(latency ? { latency } : {}),
    name: `${m.name}-static`.slice(0, 64),
    kind: 'static',
    description: `stand-in baseline: ${m.name} with every cell's default option and no controller`,
    accuracy: null,
  };
}

/** Reads the first `count` images and labels of an IDX (gz) pair. */
export function readIdx(dataDir, count) {
  const images = gunzipSync(readFileSync(path.join(dataDir, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(path.join(dataDir, 't10k-labels-idx1-ubyte.gz')));
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049)
    throw new Error(`${dataDir}: t10k files are not IDX images/labels (bad magic)`);
  const n = Math.min(count, images.readUInt32BE(4));
  const rows = images.readUInt32BE(8);
  const cols = images.readUInt32BE(12);
  return {
    count: n,
    height: rows,
    width: cols,
    pixels: images.subarray(16, 16 + n * rows * cols),
    labels: Array.from(labels.subarray(8, 8 + n)),
  };
}

/** onnxruntime-web must stay out of app.js (the page imports a copied build at run time). */
const noOrtInBundle = {
  name: 'no-ort-in-bundle',
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-web(\/|$)/ }, (a) => ({
      errors: [{ text: `${a.importer}: imports onnxruntime-web at run time; use a type import and web/src/ort-loader.ts` }],
    }));
  },
};

export async function buildWeb(options = {}) {
  const o = { ...DEFAULT_BUILD_OPTIONS, ...options };
  const instanasDir = path.resolve(
    o.instanas ?? (hasManifest(path.join(ROOT, 'models', 'fashion-mnist')) ? path.join(ROOT, 'models/fashion-mnist') : path.join(ROOT, 'test/fixtures/tiny')),
  );
  const baselineDefault = path.join(ROOT, 'models', 'fashion-mnist-mobilenetv2');
  // baseline: a folder, undefined (the default bundle when present), or null (always the static stand-in).
  const baselineDir = o.baseline === null ? undefined : (o.baseline ?? (hasManifest(baselineDefault) ? baselineDefault : undefined));
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new RangeError(`samples: must be a positive integer, got ${o.samples}`);

  const out = path.resolve(o.out);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, 'ort'), { recursive: true });

  const insta = readManifest(instanasDir);
  if (insta.kind !== 'instanas') throw new Error(`${instanasDir}/manifest.json: kind is '${insta.kind}', expected 'instanas'`);
  const base = baselineDir ? readManifest(path.resolve(baselineDir)) : staticStandIn(insta);
  if (base.kind !== 'static') throw new Error(`${baselineDir}/manifest.json: kind is '${base.kind}', expected 'static'`);
  if (base.name === insta.name) throw new Error(`bundles: baseline and InstaNAS bundle are both named '${base.name}'`);
  copyBundle(insta, instanasDir, path.join(out, 'models', insta.name));
  copyBundle(base, baselineDir ? path.resolve(baselineDir) : instanasDir, path.join(out, 'models', base.name));
  const entry = (m, role, src) => ({ name: m.name, role, kind: m.kind, path: `models/${m.name}/`, source: path.relative(ROOT, src) || '.' });
  const models = [entry(insta, 'instanas', instanasDir), entry(base, 'baseline', baselineDir ?? `${instanasDir} (static stand-in)`)];
  writeFileSync(path.join(out, 'models.json'), JSON.stringify({ models }, null, 1));

  const s = readIdx(o.data, o.samples);
  writeFileSync(path.join(out, 'samples.bin'), s.pixels);
  writeFileSync(
    path.join(out, 'samples.json'),
    JSON.stringify({ source: 'Fashion-MNIST t10k', count: s.count, width: s.width, height: s.height, labels: s.labels }),
  );

  for (const f of ORT_FILES) copyFileSync(path.join(ORT_DIST, f), path.join(out, 'ort', f));
  for (const f of ['index.html', 'style.css']) copyFileSync(path.join(WEB, f), path.join(out, f));
  await build({
    entryPoints: [path.join(WEB, 'src', 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: o.minify,
    sourcemap: true,
    plugins: [noOrtInBundle],
    logLevel: 'warning',
  });
  return { out, models, samples: s.count };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      instanas: { type: 'string' },
      baseline: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      samples: { type: 'string' },
    },
  });
  const opts = { ...values, samples: values.samples === undefined ? undefined : Number(values.samples) };
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  buildWeb(opts).then(
    (r) => console.log(`web: built ${path.relative(ROOT, r.out) || '.'} (${r.models.map((m) => `${m.name} [${m.role}]`).join(', ')}; ${r.samples} samples)`),
    (err) => {
      console.error(`web build failed: ${err.message.split('\n')[0]}`);
      process.exit(1);
    },
  );
}
