// instanas inspect --model <bundle> [--json]: what a bundle holds, without running it.
import { loadManifest } from '../../runtime/manifest-node.js';
import type { Manifest, Shape } from '../../runtime/manifest-types.js';
import { UsageError, type Command } from '../command.js';
import { fixed, formatTable, si } from '../table.js';

export interface InspectReport {
  name: string;
  version: string;
  kind: string;
  description: string | null;
  labels: string[];
  input: Manifest['input'];
  controller: { file: string; macs: number; params: number; threshold: number; latencyMs: number | null } | null;
  cells: {
    index: number;
    inputShape: number[];
    outputShape: number[];
    /** Input height / output height: 1 keeps the resolution, 2 halves it. */
    stride: number;
    /** Whether an empty selection is the identity (shape kept) rather than the default option. */
    identityWhenEmpty: boolean;
    defaultOption: number;
    options: { index: number; id: string; op: string | null; macs: number; params: number; latencyMs: number | null }[];
  }[];
  stem: { macs: number; params: number; latencyMs: number | null };
  head: { macs: number; params: number; latencyMs: number | null };
  totals: {
    /** Stem + head + every option of every cell (controller excluded). */
    allModulesMacs: number;
    allModulesParams: number;
    /**
     * Stem + head + each cell's defaultOption: MobileNetV2's chain (the static baseline's) unless the search set
     * space.empty_option to another option (then the chain of that option).
     */
    chainMacs: number;
    controllerMacs: number;
  };
  latency: { unit: string; method: string; device: string; measuredAt: string | null; entries: number };
  accuracy: Manifest['accuracy'];
  provenance: Omit<Manifest['provenance'], 'config'>;
  golden: string | null;
}

const perInput = (s: Shape): number[] => s.slice(1);
const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((v, i) => i === 0 || v === b[i]);

export function inspectManifest(m: Manifest): InspectReport {
  const lat = (id: string): number | null => m.latency.table[id] ?? null;
  const g = m.graph;
  const cells = g.cells.map((c, index) => ({
    index,
    inputShape: perInput(c.inputShape),
    outputShape: perInput(c.outputShape),
    // Spatial shapes are [N,C,H,W]; 2-D shapes have no stride.
    stride: c.inputShape.length === 4 && c.outputShape.length === 4 ? c.inputShape[2] / c.outputShape[2] : 1,
    identityWhenEmpty: sameShape(c.inputShape, c.outputShape),
    defaultOption: c.defaultOption,
    options: c.options.map((o, oi) => ({ index: oi, id: o.id, op: o.op ?? null, macs: o.macs, params: o.params, latencyMs: lat(o.id) })),
  }));
  const fixedMacs = g.stem.macs + g.head.macs;
  const { config: _config, ...provenance } = m.provenance;
  return {
    name: m.name,
    version: m.version,
    kind: m.kind,
    description: m.description ?? null,
    labels: m.labels,
    input: m.input,
    controller: m.controller
      ? { file: m.controller.file, macs: m.controller.macs, params: m.controller.params, threshold: m.controller.threshold, latencyMs: lat('controller') }
      : null,
    cells,
    stem: { macs: g.stem.macs, params: g.stem.params, latencyMs: lat(g.stem.id) },
    head: { macs: g.head.macs, params: g.head.params, latencyMs: lat(g.head.id) },
    totals: {
      allModulesMacs: fixedMacs + g.cells.reduce((a, c) => a + c.options.reduce((b, o) => b + o.macs, 0), 0),
      allModulesParams: g.stem.params + g.head.params + g.cells.reduce((a, c) => a + c.options.reduce((b, o) => b + o.params, 0), 0),
      chainMacs: fixedMacs + g.cells.reduce((a, c) => a + c.options[c.defaultOption].macs, 0),
      controllerMacs: m.controller?.macs ?? 0,
    },
    latency: {
      unit: m.latency.unit,
      method: m.latency.method,
      device: m.latency.device,
      measuredAt: m.latency.measuredAt ?? null,
      entries: Object.keys(m.latency.table).length,
    },
    accuracy: m.accuracy,
    provenance,
    golden: m.golden ?? null,
  };
}

export function formatInspect(r: InspectReport): string {
  const ms = (v: number | null) => fixed(v, 4);
  const i = r.input;
  const rows: (string | number)[][] = [['stem', '', '', '', '', 'stem', si(r.stem.macs), si(r.stem.params), ms(r.stem.latencyMs)]];
  for (const c of r.cells) {
    c.options.forEach((o, k) =>
      rows.push([
        k === 0 ? `cell ${c.index}` : '',
        k === 0 ? `${c.inputShape.join('x')} -> ${c.outputShape.join('x')}` : '',
        k === 0 ? c.stride : '',
        k === 0 ? (c.identityWhenEmpty ? 'identity' : `option ${c.defaultOption}`) : '',
        `${o.index}${o.index === c.defaultOption ? '*' : ''}`,
        o.op ?? o.id,
        si(o.macs),
        si(o.params),
        ms(o.latencyMs),
      ]),
    );
  }
  rows.push(['head', '', '', '', '', 'head', si(r.head.macs), si(r.head.params), ms(r.head.latencyMs)]);
  const a = r.accuracy;
  const p = r.provenance;
  return [
    `name:        ${r.name} ${r.version} (${r.kind})${r.description ? ` - ${r.description}` : ''}`,
    `labels:      ${r.labels.length}: ${r.labels.join(', ')}`,
    `input:       ${i.channels}x${i.height}x${i.width} ${i.layout} ${i.dtype}, mean [${i.mean.join(', ')}], std [${i.std.join(', ')}], ${i.resize}, ${i.colorConversion}`,
    `controller:  ${r.controller ? `${r.controller.file}, ${si(r.controller.macs)} MACs, ${si(r.controller.params)} params, threshold ${r.controller.threshold}, ${ms(r.controller.latencyMs)} ms` : 'none (static bundle)'}`,
    '',
    formatTable(['cell', 'shape in -> out', 'stride', 'empty', 'opt', 'op', 'macs', 'params', 'latency ms'], rows, [2, 6, 7, 8]),
    '(* = default option; empty = what an empty selection runs)',
    '',
    `totals:      all modules ${si(r.totals.allModulesMacs)} MACs, ${si(r.totals.allModulesParams)} params; default chain ${si(r.totals.chainMacs)} MACs; controller ${si(r.totals.controllerMacs)} MACs`,
    `latency:     ${r.latency.method} on ${r.latency.device}${r.latency.measuredAt ? ` at ${r.latency.measuredAt}` : ''} (${r.latency.entries} entries, ${r.latency.unit})`,
    `accuracy:    ${a ? `${(a.top1 * 100).toFixed(2)}% top-1 on ${a.dataset}:${a.split} (${a.count} images)${a.meanMacs !== undefined ? `, mean ${si(a.meanMacs)} MACs` : ''}${a.distinctPaths !== undefined ? `, ${a.distinctPaths} paths` : ''}${a.measuredWith ? `, ${a.measuredWith}` : ''}` : 'not measured'}`,
    `provenance:  ${p.data}; seed ${p.seed}; commit ${p.gitCommit}; created ${p.createdAt}${p.torch ? `; torch ${p.torch}` : ''}${p.wallTimeSeconds !== undefined ? `; ${p.wallTimeSeconds} s` : ''}${p.hardware ? `; ${p.hardware}` : ''}`,
    `command:     ${p.command}`,
    `golden:      ${r.golden ?? 'none'}`,
  ].join('\n');
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: "show a bundle's cells, options, MACs, latency table, accuracy and provenance",
  usage: 'inspect --model <bundleDir> [--json]',
  options: {
    model: { type: 'string', short: 'm' },
    json: { type: 'boolean' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length !== 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, this);
    const dir = values.model;
    if (typeof dir !== 'string' || dir === '') throw new UsageError('--model <bundleDir> is required', this);
    const report = inspectManifest(await loadManifest(dir));
    io.out(values.json ? JSON.stringify(report, null, 2) : formatInspect(report));
    return 0;
  },
};
