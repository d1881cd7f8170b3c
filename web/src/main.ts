// Demo page: classify a sample, a drawing or a picked/dropped image with the InstaNAS
// bundle in the browser, optionally next to the static baseline (browser) and the
// server's /v1/classify. Routing and preprocessing are the runtime's own code.
import { createWebEngine, type WebBackend } from '../../runtime/engine-web.js';
import type { InstaModel } from '../../runtime/model.js';
import { makePath, staticCells, cellRules } from '../../runtime/path.js';
import { preprocess, type PixelImage } from '../../runtime/preprocess.js';
import { chooseBackend } from './backend.js';
import { fetchEntries, loadBundle } from './bundles.js';
import { renderChart, type LatencyPoint } from './chart.js';
import { setupPad } from './draw.js';
import { renderGrid } from './grid.js';
import { decodeBlob, canvasPixels, fetchSamples, paint, pngOf, samplePixels } from './pixels.js';
import { classifyOnServer } from './server.js';
import { installTestHook } from './test-hook.js';
import { showBusy, showError, showMacs, showResult } from './view.js';

/** What the server's /v1/classify decodes (server/upload.ts IMAGE_TYPES). */
const SERVER_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html: missing #${id}`);
  return e as T;
};

interface Input {
  pixels: PixelImage;
  /** Original bytes for the server (files); samples and drawings are encoded on demand. */
  blob?: Blob;
  caption: string;
  /** Pixels come from the drawing pad itself (do not repaint it). */
  fromPad?: boolean;
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const want = (params.get('backend') ?? 'auto') as WebBackend | 'auto';
  if (!['auto', 'wasm', 'webgpu'].includes(want)) throw new RangeError(`backend: URL parameter must be auto, wasm or webgpu, got '${want}'`);
  const threads = params.has('threads') ? Number(params.get('threads')) : undefined;

  const status = $('status');
  status.textContent = 'Loading models…';
  const [entries, samples] = await Promise.all([fetchEntries(), fetchSamples()]);
  const instaEntry = entries.find((e) => e.role === 'instanas');
  const baseEntry = entries.find((e) => e.role === 'baseline');
  if (!instaEntry || !baseEntry) throw new Error("models.json: needs one 'instanas' and one 'baseline' entry");
  const choice = await chooseBackend(instaEntry.path, want, threads);
  const insta = choice.model;
  const base = await loadBundle(baseEntry.path, createWebEngine(choice.ort, { backend: choice.backend, numThreads: threads }));
  const models: Record<string, InstaModel> = { [insta.manifest.name]: insta, [base.manifest.name]: base };
  const baseMacs = makePath(base.manifest, staticCells(cellRules(base.manifest))).macs;

  const trial = choice.trial ? ` · measured ${Object.entries(choice.trial).map(([b, v]) => `${b} ${v!.toFixed(1)} ms`).join(' vs ')}` : '';
  status.textContent =
    `${choice.engineName} · ${crossOriginIsolated ? 'cross-origin isolated' : 'not isolated (1 thread)'}` +
    ` · WebGPU ${choice.available.includes('webgpu') ? 'available' : 'not available'}${trial}`;
  $('bundle-info').textContent = `InstaNAS: ${insta.manifest.name} (${instaEntry.source}) · baseline: ${base.manifest.name} (${baseEntry.source})`;

  const cards = { insta: $('card-instanas'), base: $('card-baseline'), server: $('card-server') };
  const swBase = $<HTMLInputElement>('sw-baseline');
  const swServer = $<HTMLInputElement>('sw-server');
  const grid = $('grid') as unknown as SVGSVGElement;
  const chart = $('chart') as unknown as SVGSVGElement;
  const preview = $<HTMLCanvasElement>('preview');
  const padCanvas = $<HTMLCanvasElement>('pad');
  const history: LatencyPoint[] = [];
  renderGrid(grid, insta.manifest, null);
  renderChart(chart, history);

  const classifyWith = async (m: InstaModel, pixels: PixelImage) => {
    const t0 = performance.now();
    const x = preprocess(pixels, m.manifest.input);
    const [r] = await m.classify(x, [1, ...m.inputDims]);
    return { r, ms: performance.now() - t0 };
  };

  let current: Input | null = null;
  let queue: Promise<void> = Promise.resolve();
  const run = (input: Input): Promise<void> => {
    current = input;
    // One classification at a time (sessions are not re-entrant); a failed one must not block the next.
    const job = queue.then(async () => {
      paint(preview, input.pixels);
      // The pad shows what is classified; drawing on it then edits that image.
      if (!input.fromPad) paint(padCanvas, input.pixels);
      $('caption').textContent = input.caption;
      const point: LatencyPoint = { instanas: 0 };
      const { r, ms } = await classifyWith(insta, input.pixels);
      point.instanas = ms;
      showResult(cards.insta, { ...r, ms, macs: r.path.macs + r.controllerMacs, code: r.path.code });
      renderGrid(grid, insta.manifest, r.path);
      $('path-code').textContent = `path ${r.path.code}`;
      showMacs($('macs'), r.path.macs + r.controllerMacs, baseMacs, base.manifest.name);
      cards.base.hidden = !swBase.checked;
      if (swBase.checked) {
        // Its own card: a failure here must not replace the InstaNAS result shown above.
        try {
          const b = await classifyWith(base, input.pixels);
          point.baseline = b.ms;
          showResult(cards.base, { ...b.r, ms: b.ms, macs: b.r.path.macs, code: b.r.path.code });
        } catch (err) {
          showError(cards.base, (err as Error).message);
        }
      }
      cards.server.hidden = !swServer.checked;
      if (swServer.checked) {
        showBusy(cards.server);
        try {
          // The server takes PNG, JPEG and WebP; anything else the browser decoded (GIF, BMP, ...) goes as PNG. The
          // InstaNAS bundle is named, so a server whose default model is another one still answers for this one.
          const blob = input.blob && SERVER_TYPES.includes(input.blob.type) ? input.blob : await pngOf(input.pixels);
          const s = await classifyOnServer(blob, `/v1/classify?model=${encodeURIComponent(insta.manifest.name)}`);
          point.server = s.roundTripMs;
          const top = s.topk[0] ?? { label: s.label, probability: NaN };
          showResult(cards.server, { label: s.label, probability: top.probability, topk: s.topk, ms: s.roundTripMs, macs: s.path.macs + (s.controllerMacs ?? 0), code: s.path.code, note: 'round trip' });
        } catch (err) {
          showError(cards.server, (err as Error).message);
        }
      }
      history.push(point);
      if (history.length > 30) history.shift();
      renderChart(chart, history);
    });
    queue = job.catch(() => undefined);
    return job;
  };
  const report = (p: Promise<void>) => p.catch((err: unknown) => showError(cards.insta, (err as Error).message));

  // Samples stepper.
  let idx = 0;
  const showSample = (i: number) => {
    idx = (i + samples.count) % samples.count;
    const truth = insta.manifest.labels[samples.labels[idx]] ?? String(samples.labels[idx]);
    $('sample-info').textContent = `Sample ${idx + 1} / ${samples.count} · true: ${truth}`;
    return report(run({ pixels: samplePixels(samples, idx), caption: `Fashion-MNIST test image ${idx + 1} (true label: ${truth})` }));
  };
  $('prev').addEventListener('click', () => showSample(idx - 1));
  $('next').addEventListener('click', () => showSample(idx + 1));

  // Drawing pad.
  const pad = setupPad(padCanvas, () => report(run({ pixels: canvasPixels(padCanvas), caption: 'your drawing', fromPad: true })));
  $('clear').addEventListener('click', () => pad.clear());

  // Picked or dropped files.
  const runFile = async (file: File) => {
    try {
      await run({ pixels: await decodeBlob(file), blob: file, caption: file.name });
    } catch (err) {
      showError(cards.insta, (err as Error).message);
    }
  };
  const fileInput = $<HTMLInputElement>('file');
  $('pick').addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    fileInput.value = ''; // so that picking the same file again fires 'change' again
    if (f) void runFile(f);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) void runFile(f);
  });

  // Switches re-run the current image so the cards line up.
  for (const sw of [swBase, swServer]) sw.addEventListener('change', () => current && report(run(current)));

  installTestHook({
    models,
    samples,
    engineName: choice.engineName,
    backend: choice.backend,
    available: choice.available,
    showSample,
    idle: () => queue,
    loadBatchModel: (name) => {
      const entry = name === insta.manifest.name ? instaEntry : base.manifest.name === name ? baseEntry : undefined;
      if (!entry) throw new RangeError(`model: unknown '${name}'`);
      return loadBundle(entry.path, createWebEngine(choice.ort, { backend: choice.backend, numThreads: threads }), { routed: 'hot' });
    },
  });
  await showSample(0);
}

const ready = start();
(window as unknown as { instanasReady: Promise<void> }).instanasReady = ready;
ready.catch((err: unknown) => {
  const s = document.getElementById('status');
  if (s) {
    s.textContent = `Could not start: ${(err as Error).message}`;
    s.classList.add('error');
  }
});
