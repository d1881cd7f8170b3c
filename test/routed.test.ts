// Tier 3: the routed graph (runtime/routed.ts) runs a batch whose rows took different paths in one
// session run; every row must get what tier 1 (module by module) and torch give for its own path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, golden, maxDiff, readBundle } from './helpers/tiny.js';
import type { Session } from '../runtime/engine.js';
import { createNodeEngine } from '../runtime/engine-node.js';
import { loadManifest } from '../runtime/manifest-node.js';
import type { Manifest } from '../runtime/manifest-types.js';
import { loadModel } from '../runtime/model-node.js';
import type { InstaModel } from '../runtime/model.js';
import { decodeModel } from '../runtime/onnx/proto.js';
import { cellRules, encodeCode } from '../runtime/path.js';
import { compileRouted, covers, planRouted, routedFeeds, type RoutedPlan } from '../runtime/routed.js';
import { sumPrefix } from '../runtime/stitch.js';

const per = golden.inputShape.slice(1);
const size = per.reduce((a, b) => a * b, 1);
const engine = createNodeEngine();
const codes = golden.paths.map((p) => p.code);

const batchOf = (rows: ArrayLike<number>[]) => {
  const x = new Float32Array(rows.length * size);
  rows.forEach((r, i) => x.set(r, i * size));
  return x;
};
/** Deterministic pseudo-random numbers (mulberry32), so a failure names a reproducible case. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('routed graph on test/fixtures/tiny', () => {
  let manifest: Manifest;
  let modules: InstaModel;
  const sessions: Session[] = [];
  const session = async (plan: RoutedPlan) => {
    const s = await engine.createSession(await compileRouted(manifest, readBundle, plan));
    sessions.push(s);
    return s;
  };
  beforeAll(async () => {
    manifest = await loadManifest(FIXTURE);
    modules = await loadModel(FIXTURE, { tier: 'modules' });
  });
  afterAll(async () => {
    await modules?.release();
    await Promise.all(sessions.map((s) => s.release()));
  });

  it('plans fixed cells where every covered path agrees and routed cells elsewhere', () => {
    const plan = planRouted(manifest, codes);
    plan.cells.forEach((c, ci) => {
      const sets = new Set(golden.paths.map((p) => p.cells[ci].join(',')));
      expect(c.kind, `cell ${ci}`).toBe(sets.size === 1 ? 'fixed' : 'routed');
      if (c.kind === 'routed') {
        expect([...c.options]).toEqual([...new Set(golden.paths.flatMap((p) => p.cells[ci]))].sort((a, b) => a - b));
        expect(c.identity).toBe(golden.paths.some((p) => p.cells[ci].length === 0));
        expect(c.multi).toBe(golden.paths.some((p) => p.cells[ci].length > 1));
      }
    });
    expect(plan.cells.some((c) => c.kind === 'routed' && c.multi), 'fixture routes a summed cell').toBe(true);
    expect(plan.cells.some((c) => c.kind === 'routed' && c.identity), 'fixture routes an identity cell').toBe(true);
    for (const p of golden.paths) expect(covers(plan, p.cells)).toBe(true);
    // An option no covered path runs in a routed cell, and a different set in a fixed cell: not covered.
    const ci = plan.cells.findIndex((c) => c.kind === 'routed' && c.options.length < 5);
    const outside = [0, 1, 2, 3, 4].find((o) => !(plan.cells[ci] as { options: readonly number[] }).options.includes(o))!;
    expect(covers(plan, golden.paths[0].cells.map((c, k) => (k === ci ? [outside] : c)))).toBe(false);

  });

  it('rejects an empty list and a path with an empty shape-changing cell, naming codes', () => {
    expect(() => planRouted(manifest, [])).toThrow(RangeError);
    const rules = cellRules(manifest);
    const bad = rules.findIndex((r) => !r.identityWhenEmpty);
    const cells = golden.paths[0].cells.map((c, k) => (k === bad ? [] : c));
    expect(() => planRouted(manifest, [codes[0], encodeCode(cells, rules.map((r) => r.options))])).toThrow(/codes\[1\]: cell/);
  });

  it('gives every row of a mixed batch its own path: torch (1e-4) and tier 1 (1e-5), in any order and with repeats', async () => {
    const s = await session(planRouted(manifest, codes));
    const orders = [
      golden.paths.map((_, i) => i),
      golden.paths.map((_, i) => golden.paths.length - 1 - i),
      [0, 0, 1, 2, 2, 2, 3, 4, 5, 5, 1, 3],
      [1], // one row: the other options run on zero rows
      [4, 2],
    ];
    for (const order of orders) {
      const x = batchOf(order.map((i) => golden.inputs[i]));
      const y = (await s.run(routedFeeds(planRouted(manifest, codes), { data: x, dims: [order.length, ...per] }, order.map((i) => golden.paths[i].cells)))).y;
      expect(y.dims).toEqual([order.length, golden.logits[0].length]);
      const k = golden.logits[0].length;
      for (const [r, i] of order.entries()) {
        const row = y.data.subarray(r * k, (r + 1) * k);
        const [ref] = await modules.classify(Float32Array.from(golden.inputs[i]), [1, ...per], { path: golden.paths[i].cells });
        expect(maxDiff(row, ref.logits), `order ${order} row ${r} vs tier 1`).toBeLessThan(1e-5);
        expect(maxDiff(row, golden.logits[i]), `order ${order} row ${r} vs torch`).toBeLessThan(1e-4);
      }
    }
  });

  // Random paths: with `maxPerCell` 1 every routed cell takes one pick per row (no sum in the graph).
  for (const [what, maxPerCell, seed] of [['summed options, identities', 5, 7], ['one option or none per cell', 1, 11]] as const)
    it(`matches tier 1 on random paths (${what}) and random inputs`, async () => {
      const rules = cellRules(manifest);
      const rand = rng(seed);
      const paths = Array.from({ length: 8 }, () =>
        rules.map((r) => {
          const opts = [0, 1, 2, 3, 4].filter(() => rand() < 0.35).slice(0, maxPerCell);
          return opts.length === 0 && !r.identityWhenEmpty ? [r.defaultOption] : opts;
        }),
      );
      const plan = planRouted(manifest, paths.map((p) => encodeCode(p, rules.map((r) => r.options))));
      expect(plan.cells.some((c) => c.kind === 'routed' && c.multi === maxPerCell > 1), 'the plan has the kind of cell under test').toBe(true);
      if (maxPerCell === 1) {
        // Two options in a cell where every covered path runs at most one: not covered, and refused by routedFeeds.
        const single = plan.cells.findIndex((c) => c.kind === 'routed' && c.options.length >= 2);
        expect(single, 'a routed cell with two options').toBeGreaterThanOrEqual(0);
        const two = paths[0].map((c, k) => (k === single ? [...(plan.cells[single] as { options: readonly number[] }).options.slice(0, 2)] : c));
        expect(covers(plan, two)).toBe(false);
        const x1 = new Float32Array(size);
        expect(() => routedFeeds(plan, { data: x1, dims: [1, ...per] }, [two])).toThrow(/rows\[0\]: path is not covered/);
      }
      const s = await session(plan);
      const n = 16;
      const rows = Array.from({ length: n }, () => paths[Math.floor(rand() * paths.length)]);
      const x = Float32Array.from({ length: n * size }, () => rand() * 4 - 2);
      const y = (await s.run(routedFeeds(plan, { data: x, dims: [n, ...per] }, rows))).y;
      const k = manifest.labels.length;
      for (let r = 0; r < n; r++) {
        const [ref] = await modules.classify(x.slice(r * size, (r + 1) * size), [1, ...per], { path: rows[r] });
        expect(maxDiff(y.data.subarray(r * k, (r + 1) * k), ref.logits), `row ${r} path ${ref.path.code}`).toBeLessThan(1e-5);
      }
    });

  it('holds only the covered modules, the routing nodes and no value_info', async () => {
    const plan = planRouted(manifest, codes);
    const g = decodeModel(await compileRouted(manifest, readBundle, plan)).graph;
    const ids = new Set(['stem', 'head']);
    plan.cells.forEach((c, ci) => c.options.forEach((o) => ids.add(manifest.graph.cells[ci].options[o].id)));
    const prefixes = [...[...ids].map((id) => `${id}/`), ...plan.cells.map((_, ci) => sumPrefix(ci))];
    for (const node of g.node) expect(prefixes.some((p) => node.name.startsWith(p)), `node '${node.name}'`).toBe(true);
    for (const id of ids) expect(g.node.some((node) => node.name.startsWith(`${id}/`)), id).toBe(true);
    expect(g.valueInfo).toEqual([]);
    expect(g.input[0].name).toBe('x');
  });
});

describe('InstaModel with the routed graph', () => {
  const inputs = batchOf(golden.inputs);
  const dims = [golden.inputs.length, ...per];

  it('runs a mixed batch of the controller’s own paths in the routed graph, with torch’s logits', async () => {
    const m = await loadModel(FIXTURE, { routed: codes });
    try {
      const res = await m.classify(inputs, dims);
      expect(new Set(res.map((r) => r.path.code)).size).toBeGreaterThan(1);
      res.forEach((r, i) => {
        expect(r.path.code).toBe(golden.paths[i].code);
        expect(r.tier).toBe('routed');
        expect(maxDiff(r.logits, golden.logits[i]), `row ${i}`).toBeLessThan(1e-4);
      });
      // One row alone has one path: its compiled graph, not the routed one.
      const [one] = await m.classify(Float32Array.from(golden.inputs[0]), [1, ...per]);
      expect(one.tier).not.toBe('routed');
    } finally {
      await m.release();
    }
  });

  it('sends rows outside the covered paths to tiers 1-2 and the rest to the routed graph', async () => {
    // A golden path that the plan of the other golden paths does not cover (an option or a fixed set of its own).
    const manifest = await loadManifest(FIXTURE);
    const others = (i: number) => codes.filter((c) => c !== codes[i]);
    const left = golden.paths.findIndex((p, i) => others(i).length > 1 && !covers(planRouted(manifest, others(i)), p.cells));
    expect(left, 'fixture has a path the others do not cover').toBeGreaterThanOrEqual(0);
    const m = await loadModel(FIXTURE, { routed: others(left) });
    try {
      const res = await m.classify(inputs, dims);
      res.forEach((r, i) => {
        if (i === left) expect(r.tier, `row ${i}`).not.toBe('routed');
        else expect(r.tier, `row ${i}`).toBe('routed');
        expect(maxDiff(r.logits, golden.logits[i]), `row ${i}`).toBeLessThan(1e-4);
      });
      // One covered path beside an uncovered one: the covered rows take their own path's graph, not the routed one.
      const other = golden.paths.findIndex((p, i) => i !== left && p.code !== golden.paths[left].code);
      const two = await m.classify(batchOf([golden.inputs[left], golden.inputs[other], golden.inputs[other]]), [3, ...per]);
      expect(two.map((r) => r.tier).some((t) => t === 'routed')).toBe(false);
      [left, other, other].forEach((g, i) => expect(maxDiff(two[i].logits, golden.logits[g]), `row ${i}`).toBeLessThan(1e-4));
    } finally {
      await m.release();
    }
  });

  it('is off with routed "off" or tier "modules", and rejects bad options naming options.routed', async () => {
    for (const opts of [{ routed: 'off' as const }, { tier: 'modules' as const }]) {
      const m = await loadModel(FIXTURE, opts);
      try {
        for (const r of await m.classify(inputs, dims)) expect(r.tier).not.toBe('routed');
      } finally {
        await m.release();
      }
    }
    await expect(loadModel(FIXTURE, { routed: 'all' as never })).rejects.toThrow(/options\.routed/);
    await expect(loadModel(FIXTURE, { routed: [codes[0], 'zz'] })).rejects.toThrow(/options\.routed: code/);
  });
});
