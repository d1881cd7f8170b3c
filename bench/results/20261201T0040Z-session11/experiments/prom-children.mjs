// Session 11: the 9 metric updates of a /v1/classify request, with labels each time vs with prom-client children
// resolved once. Result in prom-children.txt: not worth the change (0.65 of 9.9 us in the slow window).
import client from 'prom-client';
const r = new client.Registry();
const B = [0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1];
const h1 = new client.Histogram({ name: 'a', help: 'a', labelNames: ['route','method','status'], buckets: B, registers: [r] });
const h2 = new client.Histogram({ name: 'b', help: 'b', labelNames: ['model','stage'], buckets: B, registers: [r] });
const h3 = new client.Histogram({ name: 'c', help: 'c', labelNames: ['model'], buckets: [1,2,4,8,16,32,64,128], registers: [r] });
const h4 = new client.Histogram({ name: 'd', help: 'd', labelNames: ['model'], buckets: client.exponentialBuckets(1e5, 2, 16), registers: [r] });
const c1 = new client.Counter({ name: 'e', help: 'e', labelNames: ['model','path'], registers: [r] });
const c2 = new client.Counter({ name: 'f', help: 'f', labelNames: ['model','tier'], registers: [r] });
const model = 'fashion-mnist';
function plain() {
  h1.observe({ route: '/v1/classify', method: 'POST', status: '200' }, 0.0012);
  h3.observe({ model }, 1);
  h2.observe({ model, stage: 'queue' }, 0.0001); h2.observe({ model, stage: 'decode' }, 0.00002); h2.observe({ model, stage: 'controller' }, 0.00002); h2.observe({ model, stage: 'child' }, 0.0001);
  h4.observe({ model }, 2310000); c1.inc({ model, path: '22020020002002002' }); c2.inc({ model, tier: 'routed' });
}
const ch = { h1: h1.labels('/v1/classify','POST','200'), h3: h3.labels(model), q: h2.labels(model,'queue'), d: h2.labels(model,'decode'), c: h2.labels(model,'controller'), k: h2.labels(model,'child'), h4: h4.labels(model), c1: c1.labels(model,'22020020002002002'), c2: c2.labels(model,'routed') };
function cached() { ch.h1.observe(0.0012); ch.h3.observe(1); ch.q.observe(0.0001); ch.d.observe(0.00002); ch.c.observe(0.00002); ch.k.observe(0.0001); ch.h4.observe(2310000); ch.c1.inc(); ch.c2.inc(); }
const t = { plain: [], cached: [] };
for (let r2 = 0; r2 < 10; r2++) for (const [k, f] of [['plain', plain], ['cached', cached]]) { const t0 = process.hrtime.bigint(); for (let i = 0; i < 100000; i++) f(); t[k].push(Number(process.hrtime.bigint() - t0) / 1e5 / 1000); }
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
console.log('per request (9 ops): plain', med(t.plain).toFixed(2), 'us; cached children', med(t.cached).toFixed(2), 'us');
const big = { a: 1 }; const s = JSON.stringify;
