// The floor of node:http on this machine: a server that reads a POST body and answers a fixed JSON of a
// /v1/classify answer's size. Session 11: wrk -t1 -c64 -d4s with the bench PNGs, server CPU from /proc:
// 55,587 requests, 13,900 req/s, 77 us of server CPU per request (the instanas server, same window: 242 us main thread).
// Bare node:http: read the POST body, answer a fixed JSON of the size of a /v1/classify answer.
import http from 'node:http';
const body = Buffer.from(JSON.stringify({ label: 'Ankle boot', index: 9, topk: [{ label: 'Ankle boot', index: 9, probability: 0.99 }, { label: 'Sneaker', index: 7, probability: 0.005 }, { label: 'Sandal', index: 5, probability: 0.003 }], path: { code: '22020020002002002', cells: [[1],[1],[],[1],[],[],[1],[],[],[],[1],[],[],[1],[],[],[1]], macs: 2300000 }, timings: { queueMs: 0.1, decodeMs: 0.05, controllerMs: 0.02, childMs: 0.1, totalMs: 0.3 }, model: { name: 'fashion-mnist', version: '1' } }));
const s = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
s.listen(18080, '127.0.0.1', () => console.log('up', body.length));
