// Self and inclusive CPU time per request from a node --cpu-prof profile of `instanas serve`, counted from the first
// request on (start-up excluded). Session 11: the server under wrk C64 (InstaNAS, one PNG per request), 29,501 requests.
//   node cpuprofile-per-request.mjs <file.cpuprofile> <requests>
// self/inclusive time restricted to samples after the first request (steady state), per request in us
import fs from 'node:fs';
const [file, nreq] = [process.argv[2], Number(process.argv[3])];
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n) => { const cf = n.callFrame; return `${cf.functionName || '(anon)'} ${cf.url.replace(/.*\//, '')}:${cf.lineNumber}`; };
const stack = (id) => { const s = []; while (id !== undefined) { s.push(byId.get(id)); id = parent.get(id); } return s; };
let started = false; const self = new Map(), incl = new Map(); let total = 0, idle = 0;
for (let i = 0; i < p.samples.length; i++) {
  const st = stack(p.samples[i]); const dt = p.timeDeltas[i + 1] ?? 0;
  if (!started) { if (st.some((n) => n.callFrame.url.includes('fast-classify'))) started = true; else continue; }
  total += dt; if (key(st[0]).startsWith('(idle)')) { idle += dt; continue; }
  self.set(key(st[0]), (self.get(key(st[0])) ?? 0) + dt);
  const seen = new Set(); for (const n of st) { const k = key(n); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + dt); } }
}
const us = (t) => (t / nreq).toFixed(1).padStart(6);
console.log(`window ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s, busy per request ${us(total - idle)} us`);
console.log('--- self (us/request)'); for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(us(t), k);
console.log('--- inclusive'); for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 70)) console.log(us(t), k);
