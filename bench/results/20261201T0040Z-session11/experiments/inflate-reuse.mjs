// Session 11: can one zlib Inflate handle be reused across PNGs (its construction is ~half of inflateSync per
// 28x28 PNG in the profile)? No: node's processChunkSync closes the handle after Z_FINISH, and reset() then fails
// with ERR_INTERNAL_ASSERTION "zlib binding closed". Kept as it ran; output in inflate-reuse.txt.
// inflateSync per call vs one reused Inflate handle (_processChunk + reset), on the bench PNGs' IDAT streams.
import zlib from 'node:zlib';
import fs from 'node:fs';
const idats = [];
for (let k = 0; k < 200; k++) {
  const b = fs.readFileSync(`/tmp/bare/png/${k}.png`);
  let o = 8; while (o < b.length) { const len = b.readUInt32BE(o); const t = b.toString('latin1', o + 4, o + 8); if (t === 'IDAT') idats.push(b.subarray(o + 8, o + 8 + len)); o += 12 + len; }
}
const expected = 28 * 85;
let h = null;
function reuse(d) {
  h ??= new zlib.Inflate({ maxOutputLength: expected + 1 });
  try { return h._processChunk(d, zlib.constants.Z_FINISH); } finally { h.reset(); }
}
const plain = (d) => zlib.inflateSync(d, { maxOutputLength: expected + 1 });
for (let i = 0; i < 200; i++) if (!plain(idats[i]).equals(reuse(idats[i]))) throw new Error('differ ' + i);
const t = { plain: [], reuse: [] };
for (let r = 0; r < 20; r++) for (const [k, f] of r % 2 ? [['plain', plain], ['reuse', reuse]] : [['reuse', reuse], ['plain', plain]]) {
  const t0 = process.hrtime.bigint(); for (let i = 0; i < 20000; i++) f(idats[i % 200]); t[k].push(Number(process.hrtime.bigint() - t0) / 20000 / 1000);
}
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
console.log('idat bytes', idats[0].length, 'plain', med(t.plain).toFixed(2), 'us; reuse', med(t.reuse).toFixed(2), 'us');
// errors: a corrupt stream, then a good one on the same handle
try { reuse(Buffer.from([0x78, 0x9c, 1, 2, 3, 4, 5])); } catch (e) { console.log('corrupt ->', e.message); }
console.log('after error ok:', reuse(idats[0]).equals(plain(idats[0])));
try { reuse(Buffer.concat([idats[0], idats[0]])); console.log('trailing data: no error'); } catch (e) { console.log('trailing ->', e.message); }
try { plain(Buffer.concat([idats[0], idats[0]])); console.log('plain trailing: no error'); } catch (e) { console.log('plain trailing ->', e.message); }
try { reuse(idats[0].subarray(0, 20)); console.log('truncated: no error'); } catch (e) { console.log('truncated ->', e.message); }
try { plain(idats[0].subarray(0, 20)); console.log('plain truncated: no error'); } catch (e) { console.log('plain truncated ->', e.message); }
