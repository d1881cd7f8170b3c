// The deploy files against the server they deploy. No Kubernetes API server exists here (none in Debian), so the
// manifests are checked for what a cluster would trip over: references between them, the probes, port and
// metrics path answered by a real server, the container's arguments accepted by the CLI's own parser; the
// Prometheus scrape config and the alerting/recording rules by Debian's real promtool.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { serve } from '../cli/commands/serve.js';
import { startTestServer, testImages, type TestServer } from './helpers/server-fixture.js';

const K8S = path.resolve('deploy/k8s');
type Doc = any; // parsed YAML: the assertions below are the schema
const docs: Record<string, Doc> = {}; // file -> its one manifest (a file with several documents fails below)
for (const f of readdirSync(K8S).filter((f) => f.endsWith('.yaml'))) {
  const all = parseAllDocuments(readFileSync(path.join(K8S, f), 'utf8'));
  for (const d of all) if (d.errors.length) throw new Error(`${f}: ${d.errors[0].message}`);
  if (all.length !== 1) throw new Error(`${f}: expected one YAML document, found ${all.length} (extend this test)`);
  docs[f] = all[0].toJS();
}
const byKind = (kind: string): Doc => Object.values(docs).find((d) => d.kind === kind);

describe('deploy/k8s', () => {
  const dep = byKind('Deployment');
  const container = dep.spec.template.spec.containers[0];
  const port = (name: string) => container.ports.find((p: Doc) => p.name === name)?.containerPort;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('lists every manifest in the kustomization, and the references between them hold', () => {
    const kust = byKind('Kustomization');
    expect([...kust.resources].sort()).toEqual(Object.keys(docs).filter((f) => docs[f].kind !== 'Kustomization').sort());
    const podLabels = dep.spec.template.metadata.labels;
    expect(podLabels).toMatchObject(dep.spec.selector.matchLabels);
    const svc = byKind('Service');
    expect(podLabels).toMatchObject(svc.spec.selector);
    for (const p of svc.spec.ports) expect(typeof p.targetPort === 'number' ? p.targetPort : port(p.targetPort), `service port ${p.name}`).toBeDefined();
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: dep.metadata.name });
    // A CPU utilisation target is a fraction of the container's CPU request: without one the HPA cannot act.
    if (hpa.spec.metrics.some((m: Doc) => m.resource?.name === 'cpu')) expect(container.resources.requests.cpu).toBeDefined();
    expect(dep.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(10_000); // the server drains for up to 10 s
  });

  it('runs the CLI with arguments its parser accepts, on the port the probes and the scrape annotation use', () => {
    expect(container.command.slice(-1)[0]).toBe('bin/instanas.js');
    const [cmd, ...rest] = container.args;
    expect(cmd).toBe(serve.name);
    const { values } = parseArgs({ args: rest, options: serve.options, allowPositionals: false, strict: true });
    expect(values.port, 'the port comes from PORT (below), not --port').toBeUndefined();
    const env = Object.fromEntries(container.env.filter((e: Doc) => 'value' in e).map((e: Doc) => [e.name, e.value]));
    expect(Number(env.PORT)).toBe(port('http'));
    const ann = dep.spec.template.metadata.annotations;
    expect(Number(ann['prometheus.io/port'])).toBe(port('http'));
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(container[probe].httpGet.port, probe).toBe('http');
  });

  it('probe paths and the metrics path are answered 200 by a running server', async () => {
    const paths = ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => container[p].httpGet.path);
    paths.push(dep.spec.template.metadata.annotations['prometheus.io/path']);
    for (const p of new Set(paths)) expect((await fetch(server.url + p)).status, p).toBe(200);
  });
});

describe('deploy/prometheus/scrape.yaml', () => {
  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find(existsSync);
  it.skipIf(!promtool)('passes promtool check config (Kubernetes discovery swapped for a static target)', () => {
    const cfg = parse(readFileSync('deploy/prometheus/scrape.yaml', 'utf8'));
    const job = cfg.scrape_configs.find((j: Doc) => j.job_name === 'instanas');
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    expect(job.metrics_path).toBe('/metrics');
    // Debian's prometheus 2.42 is built without Kubernetes service discovery ("field kubernetes_sd_configs not
    // found"), so the check runs on the same job with a static target; relabelling, timeouts and paths are checked.
    delete job.kubernetes_sd_configs;
    job.static_configs = [{ targets: ['127.0.0.1:8080'] }];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'instanas-prom-'));
    try {
      const file = path.join(dir, 'prometheus.yml');
      writeFileSync(file, JSON.stringify(cfg)); // JSON is YAML
      const r = spawnSync(promtool!, ['check', 'config', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/prometheus/rules.yaml', () => {
  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find(existsSync);
  const run = (...args: string[]) => spawnSync(promtool!, args, { encoding: 'utf8', cwd: path.resolve('deploy/prometheus') });
  it.skipIf(!promtool)('passes promtool check rules, and its unit tests (rules.test.yaml: synthetic series, expected alerts)', () => {
    const check = run('check', 'rules', 'rules.yaml');
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const t = run('test', 'rules', 'rules.test.yaml');
    expect(t.status, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toContain('SUCCESS');
    // Each alert of the file is exercised by at least one test case that expects it to fire.
    const alerts = [...readFileSync('deploy/prometheus/rules.yaml', 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    const tests = parse(readFileSync('deploy/prometheus/rules.test.yaml', 'utf8')).tests as Doc[];
    const fired = new Set(tests.flatMap((c) => (c.alert_rule_test ?? []).filter((a: Doc) => a.exp_alerts.length > 0).map((a: Doc) => a.alertname)));
    expect([...fired].sort()).toEqual([...alerts].sort());
  });

  it('names only metrics a running server exports', async () => {
    const server = await startTestServer();
    try {
      // One classification and one refused request, so the labelled series exist.
      const { png } = await testImages();
      expect((await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png })).status).toBe(200);
      expect((await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const exported = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
      const rules = readFileSync('deploy/prometheus/rules.yaml', 'utf8').replace(/#.*$/gm, '');
      const used = new Set([...rules.matchAll(/\b(instanas_[a-z_]+)/g)].map((m) => m[1]));
      expect(used.size).toBeGreaterThan(5);
      for (const name of used) expect(exported.has(name), `${name} is not on /metrics`).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
