import sharp from 'sharp';
import { decodeImage } from '/work/main/dist/runtime/image-node.js';
import { preprocess } from '/work/main/dist/runtime/preprocess.js';
const spec = { height: 28, width: 28, channels: 1, layout: 'NCHW', mean: [0.5], std: [0.5], resize: 'stretch-bilinear', colorConversion: 'luma-bt601' };
for (const [w, h] of [[1024, 1024], [4096, 4096], [16384, 1024]]) {
  const px = Buffer.alloc(w * h * 3); for (let i = 0; i < px.length; i++) px[i] = (i * 31) & 255;
  for (const fmt of ['png', 'jpeg']) {
    const bytes = await sharp(px, { raw: { width: w, height: h, channels: 3 } })[fmt]().toBuffer();
    const t0 = performance.now(); const img = await decodeImage(bytes); const t1 = performance.now(); preprocess(img, spec); const t2 = performance.now();
    console.log(`${w}x${h} ${fmt} (${(bytes.length / 1024).toFixed(0)} KiB): decode ${(t1 - t0).toFixed(0)} ms, preprocess ${(t2 - t1).toFixed(0)} ms (main thread: ${fmt === 'png' ? 'both' : 'preprocess'})`);
  }
}
