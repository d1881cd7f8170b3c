// preprocess() of large images: full-size planes (session 10's code, a78f01f's dist) vs the horizontal pass row by
// row from the pixels (HEAD's dist); same decoded pixels, interleaved, 5 rounds per size; medians in ms. Outputs
// are compared bit for bit.
//   node preprocess-rows-ab.mjs <old repo dir> <new repo dir>
const [oldDir, newDir] = process.argv.slice(2);
const { preprocess: oldPre } = await import(`${oldDir}/dist/runtime/preprocess.js`);
const { preprocess: newPre } = await import(`${newDir}/dist/runtime/preprocess.js`);
const spec = { height: 28, width: 28, channels: 1, layout: 'NCHW', dtype: 'float32', mean: [0.286], std: [0.353], resize: 'stretch-bilinear', colorConversion: 'luma-bt601' };
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [w, h, c] of [[1024, 1024, 3], [4096, 4096, 3], [4096, 4096, 1], [1200, 900, 4]]) {
  const data = new Uint8Array(w * h * c);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 12)) & 255;
  const img = { data, width: w, height: h, channels: c };
  const t = { old: [], new: [] };
  let same = true;
  for (let r = 0; r < 5; r++) {
    const outs = {};
    for (const [k, f] of r % 2 ? [['new', newPre], ['old', oldPre]] : [['old', oldPre], ['new', newPre]]) {
      const t0 = performance.now();
      outs[k] = f(img, spec);
      t[k].push(performance.now() - t0);
    }
    same &&= Buffer.from(outs.old.buffer).equals(Buffer.from(outs.new.buffer));
  }
  console.log(`${w}x${h}x${c}: planes ${med(t.old).toFixed(1)} ms, rows ${med(t.new).toFixed(1)} ms (${(med(t.old) / med(t.new)).toFixed(2)}x), bit-identical ${same}`);
}
