// Pixels -> normalised NCHW float tensor, following manifest.input. Pure code so
// node (sharp only decodes) and the browser produce identical tensors.
import type { InputSpec } from './manifest-types.js';

/** Decoded 8-bit pixels, interleaved: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
export interface PixelImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * Separable resampling weights for one axis, PIL-style bilinear: a triangle filter
 * widened by the scale when downsampling (antialiasing), pixel centres at +0.5,
 * taps outside the image dropped and the rest renormalised. When upsampling this
 * equals torch's bilinear interpolate with align_corners=False.
 */
function axisWeights(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; w: Float64Array; taps: number } {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      w[i * taps + j - lo] = v;
      sum += v;
    }
    for (let j = lo; j < hi; j++) w[i * taps + j - lo] /= sum || 1;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, w, taps };
}

/** Resizes one float plane (inW x inH) to outW x outH: horizontal pass, then vertical. */
export function resizePlane(src: Float32Array, inW: number, inH: number, outW: number, outH: number): Float32Array {
  let cur = src;
  if (outW !== inW) {
    const aw = axisWeights(inW, outW);
    const tmp = new Float32Array(outW * inH);
    for (let y = 0; y < inH; y++) horizontalRow(cur, y * inW, aw, tmp, y * outW, outW);
    cur = tmp;
  }
  if (outH !== inH) cur = verticalPass(cur, outW, inH, outH);
  return cur === src ? Float32Array.from(src) : cur;
}

type AxisWeights = ReturnType<typeof axisWeights>;

/** One row of the horizontal pass: src[from .. from + inW) -> dst[to .. to + outW). */
function horizontalRow(src: Float32Array, from: number, aw: AxisWeights, dst: Float32Array, to: number, outW: number): void {
  const { start, count, w, taps } = aw;
  for (let x = 0; x < outW; x++) {
    const s0 = from + start[x];
    const w0 = x * taps;
    const n = count[x];
    let acc = 0;
    for (let k = 0; k < n; k++) acc += src[s0 + k] * w[w0 + k];
    dst[to + x] = acc;
  }
}

/** The vertical pass of a plane `width` wide, inH -> outH rows. */
function verticalPass(cur: Float32Array, width: number, inH: number, outH: number): Float32Array {
  const { start, count, w, taps } = axisWeights(inH, outH);
  const tmp = new Float32Array(width * outH);
  for (let y = 0; y < outH; y++) {
    for (let k = 0; k < count[y]; k++) {
      const wk = w[y * taps + k];
      const row = (start[y] + k) * width;
      for (let x = 0; x < width; x++) tmp[y * width + x] += cur[row + x] * wk;
    }
  }
  return tmp;
}

function checkImage(img: PixelImage): void {
  const { width, height, channels, data } = img;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray))
    throw new TypeError('image.data: expected Uint8Array or Uint8ClampedArray');
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1)
    throw new RangeError(`image: width and height must be positive integers, got ${width}x${height}`);
  if (![1, 2, 3, 4].includes(channels)) throw new RangeError(`image.channels: must be 1-4, got ${channels}`);
  if (data.length !== width * height * channels)
    throw new RangeError(`image.data: length ${data.length} != ${width}x${height}x${channels}`);
}

/**
 * Converts decoded pixels to a [1, C, H, W] tensor (returned flat): alpha is
 * composited on black, colour becomes BT.601 luma for 'luma-bt601', the image is
 * stretched to input.height x input.width, scaled to [0,1] and normalised.
 */
export function preprocess(img: PixelImage, input: InputSpec): Float32Array {
  checkImage(img);
  const { width: W, height: H, channels: c, data } = img;
  if (W === input.width && H === input.height) return c === 1 ? greyAtSize(data, input) : atSize(img, input);
  // Images to resize: the horizontal pass runs row by row straight from the pixels, so no full-size float plane is
  // made (a 4096x4096 photo needed 67 MB per channel and a second pass over it). Each row holds the values the
  // planes held (float32, the same arithmetic), so the output is the same bit for bit (tested against the plane
  // version).
  const outC = input.channels;
  const outW = input.width;
  const hasAlpha = c === 2 || c === 4;
  const colour = c >= 3;
  const luma = outC === 1 || input.colorConversion === 'luma-bt601';
  const aw = outW !== W ? axisWeights(W, outW) : null;
  const rows = Array.from({ length: outC }, () => new Float32Array(W));
  const narrow = Array.from({ length: outC }, () => new Float32Array(outW * H)); // after the horizontal pass
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * c;
      const a = hasAlpha ? data[i + c - 1] / 255 : 1;
      const r = data[i];
      const g = colour ? data[i + 1] : r;
      const b = colour ? data[i + 2] : r;
      if (luma) {
        // Grey sources skip the weighted sum so grey stays exactly grey.
        const v = (colour ? 0.299 * r + 0.587 * g + 0.114 * b : r) * a;
        for (let ch = 0; ch < outC; ch++) rows[ch][x] = v;
      } else {
        rows[0][x] = r * a;
        rows[1][x] = g * a;
        rows[2][x] = b * a;
      }
    }
    for (let ch = 0; ch < outC; ch++) {
      if (aw) horizontalRow(rows[ch], 0, aw, narrow[ch], y * outW, outW);
      else narrow[ch].set(rows[ch], y * W);
    }
  }
  const hw = input.height * outW;
  const out = new Float32Array(outC * hw);
  const { mean, std } = normalisation(input);
  narrow.forEach((plane, ch) => {
    const resized = input.height !== H ? verticalPass(plane, outW, H, input.height) : plane;
    for (let k = 0; k < hw; k++) out[ch * hw + k] = (resized[k] / 255 - mean[ch]) / std[ch];
  });
  return out;
}

/**
 * preprocess() for colour or alpha images already at the input size (nothing to resize): one pass into the
 * output, without per-plane buffers. Each plane value is rounded to float32 (Math.fround) before normalising,
 * as the general path stores it in a Float32Array plane, so the values are the same bit for bit.
 */
function atSize(img: PixelImage, input: InputSpec): Float32Array {
  const { channels: c, data } = img;
  const n = img.width * img.height;
  const outC = input.channels;
  const hasAlpha = c === 2 || c === 4;
  const colour = c >= 3;
  const { mean, std } = normalisation(input);
  const out = new Float32Array(outC * n);
  if (outC === 1 || input.colorConversion === 'luma-bt601') {
    for (let p = 0; p < n; p++) {
      const i = p * c;
      const a = hasAlpha ? data[i + c - 1] / 255 : 1;
      const y = Math.fround((colour ? 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2] : data[i]) * a);
      for (let ch = 0; ch < outC; ch++) out[ch * n + p] = (y / 255 - mean[ch]) / std[ch];
    }
    return out;
  }
  for (let p = 0; p < n; p++) {
    const i = p * c;
    const a = hasAlpha ? data[i + c - 1] / 255 : 1;
    for (let ch = 0; ch < 3; ch++) out[ch * n + p] = (Math.fround((colour ? data[i + ch] : data[i]) * a) / 255 - mean[ch]) / std[ch];
  }
  return out;
}

/** Per output channel mean and std (a one-element list applies to every channel). */
function normalisation(input: InputSpec): { mean: number[]; std: number[] } {
  const pick = (v: readonly number[], ch: number) => (v.length === 1 ? v[0] : v[ch]);
  return {
    mean: Array.from({ length: input.channels }, (_, ch) => pick(input.mean, ch)),
    std: Array.from({ length: input.channels }, (_, ch) => pick(input.std, ch)),
  };
}

/**
 * preprocess() for a grey upload already at the input size (28x28 Fashion-MNIST). Nothing to
 * resize or composite, so each output value depends on the byte alone: a 256-entry table per channel, computed
 * with the general path's arithmetic (the byte, as float32, / 255, minus mean, over std), gives the same float32
 * values without its per-plane buffers and copies. The tables are kept per input spec (a model's manifest.input
 * is one object for its lifetime): 7.7 -> 4.4 us per 28x28 image with them (session 10, docs/PERFORMANCE.md).
 */
function greyAtSize(data: Uint8Array | Uint8ClampedArray, input: InputSpec): Float32Array {
  const n = data.length;
  const out = new Float32Array(input.channels * n);
  const luts = greyTables(input);
  for (let ch = 0; ch < input.channels; ch++) {
    const lut = luts[ch];
    const base = ch * n;
    for (let k = 0; k < n; k++) out[base + k] = lut[data[k]];
  }
  return out;
}

const tables = new WeakMap<InputSpec, Float32Array[]>();

/** Per channel, the normalised float32 value of each byte; an input spec is not changed once a model holds it. */
function greyTables(input: InputSpec): Float32Array[] {
  let luts = tables.get(input);
  if (!luts) {
    const { mean, std } = normalisation(input);
    luts = mean.map((m, ch) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - m) / std[ch]));
    tables.set(input, luts);
  }
  return luts;
}
