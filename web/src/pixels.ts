// Browser image sources -> PixelImage (runtime/preprocess.ts does the rest, as in node).
import type { PixelImage } from '../../runtime/preprocess.js';

/** Test-set samples shipped by the build: raw 8-bit grey images, row-major. */
export interface Samples {
  count: number;
  width: number;
  height: number;
  labels: number[];
  pixels: Uint8Array;
}

export async function fetchSamples(): Promise<Samples> {
  const [meta, bin] = await Promise.all([fetch('samples.json'), fetch('samples.bin')]);
  if (!meta.ok || !bin.ok) throw new Error(`samples: HTTP ${meta.ok ? bin.status : meta.status}`);
  const m = (await meta.json()) as Omit<Samples, 'pixels'>;
  const pixels = new Uint8Array(await bin.arrayBuffer());
  if (pixels.length !== m.count * m.width * m.height)
    throw new Error(`samples.bin: ${pixels.length} bytes, samples.json says ${m.count}x${m.width}x${m.height}`);
  return { ...m, pixels };
}

export function samplePixels(s: Samples, i: number): PixelImage {
  if (!Number.isInteger(i) || i < 0 || i >= s.count) throw new RangeError(`i: sample index must be in [0, ${s.count}), got ${i}`);
  const size = s.width * s.height;
  return { data: s.pixels.subarray(i * size, (i + 1) * size), width: s.width, height: s.height, channels: 1 };
}

/** A canvas's 2D context, or an error saying why there is none (the browser refuses very large canvases). */
function context2d(c: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = c.getContext('2d');
  if (!ctx) throw new Error(`cannot draw a ${c.width}x${c.height} image: the browser gave no 2D canvas (too large, or out of memory)`);
  return ctx;
}

/** RGBA pixels of a canvas. */
export function canvasPixels(c: HTMLCanvasElement): PixelImage {
  const d = context2d(c).getImageData(0, 0, c.width, c.height);
  return { data: d.data, width: d.width, height: d.height, channels: 4 };
}

/**
 * Largest image the demo decodes: the server's default limit (server/options.ts maxPixels, 4096x4096). A 48 MP
 * photo needed ~200 MB per full-size copy on the page's thread and froze the tab for seconds, or crashed it.
 */
export const MAX_PIXELS = 4096 * 4096;

/** Decodes a picked or dropped file (EXIF orientation applied, as sharp does in node). */
export async function decodeBlob(blob: Blob): Promise<PixelImage> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    throw new Error(`cannot decode image (${blob.type || 'unknown type'}, ${blob.size} bytes)`);
  }
  const { width: w, height: h } = bmp;
  if (w * h > MAX_PIXELS) {
    bmp.close();
    throw new Error(`image is ${w}x${h} = ${w * h} pixels, more than the limit of ${MAX_PIXELS} (as the server's)`);
  }
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  try {
    context2d(c).drawImage(bmp, 0, 0);
  } finally {
    bmp.close();
  }
  return canvasPixels(c);
}

/** Paints pixels onto a canvas (scaled, no smoothing) so the user sees what is classified. */
export function paint(c: HTMLCanvasElement, img: PixelImage): void {
  const tmp = document.createElement('canvas');
  tmp.width = img.width;
  tmp.height = img.height;
  const n = img.width * img.height;
  // RGBA (a decoded file, a drawing) is already what ImageData holds: no per-pixel copy of a large photo.
  const id =
    img.channels === 4
      ? new ImageData(new Uint8ClampedArray(img.data.buffer as ArrayBuffer, img.data.byteOffset, n * 4), img.width, img.height)
      : new ImageData(img.width, img.height);
  for (let p = 0; img.channels !== 4 && p < n; p++) {
    const s = p * img.channels;
    const grey = img.channels < 3;
    id.data[p * 4] = img.data[s];
    id.data[p * 4 + 1] = grey ? img.data[s] : img.data[s + 1];
    id.data[p * 4 + 2] = grey ? img.data[s] : img.data[s + 2];
    id.data[p * 4 + 3] = img.channels === 2 ? img.data[s + 1] : 255; // RGBA took the branch above
  }
  context2d(tmp).putImageData(id, 0, 0);
  const ctx = context2d(c);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.imageSmoothingEnabled = img.width > c.width;
  const k = Math.min(c.width / img.width, c.height / img.height);
  ctx.drawImage(tmp, (c.width - img.width * k) / 2, (c.height - img.height * k) / 2, img.width * k, img.height * k);
}

/** PNG of pixels, for POSTing images that exist only as pixels (samples, drawings). */
export function pngOf(img: PixelImage): Promise<Blob> {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  paint(c, img);
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('cannot encode PNG'))), 'image/png'));
}
