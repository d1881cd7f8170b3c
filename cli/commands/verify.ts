// instanas verify --model <bundle> [--tolerance 1e-4] [--json]: replays golden.json (torch
// outputs written by the exporter) through the runtime; exit 1 when outside tolerance.
import { goldenPath, readGolden, verifyGolden, DEFAULT_VERIFY_OPTIONS, type VerifyReport } from '../../runtime/golden-node.js';
import path from 'node:path';
import { loadManifest } from '../../runtime/manifest-node.js';
import { loadModel } from '../../runtime/model-node.js';
import { UsageError, type Command } from '../command.js';

function formatVerify(r: VerifyReport, file: string): string {
  const lines = [
    `golden:      ${file} (${r.count} inputs, each alone and all as one batch)`,
    `logits:      max |diff| ${r.maxLogitDiff.toExponential(2)} (tolerance ${r.tolerance})`,
    `controller:  ${r.maxProbDiff === null ? 'none (static)' : `max |prob diff| ${r.maxProbDiff.toExponential(2)}`}`,
    `paths:       ${r.pathMismatches.length} mismatches`,
    ...r.pathMismatches.slice(0, 10).map((p) => `  input ${p.index} (${p.mode}): expected ${p.expected}, got ${p.got}`),
    `labels:      ${r.labelMismatches.length} argmax differences`,
    r.ok ? 'OK' : 'FAILED',
  ];
  return lines.join('\n');
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: "check the runtime against the bundle's golden torch outputs (exit 1 on mismatch)",
  usage: 'verify --model <bundleDir> [--tolerance 1e-4] [--json]',
  options: {
    model: { type: 'string', short: 'm' },
    tolerance: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length !== 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, this);
    const dir = values.model;
    if (typeof dir !== 'string' || dir === '') throw new UsageError('--model <bundleDir> is required', this);
    let tolerance = DEFAULT_VERIFY_OPTIONS.tolerance;
    if (values.tolerance !== undefined) {
      tolerance = Number(values.tolerance);
      if (values.tolerance === '' || !Number.isFinite(tolerance) || tolerance < 0)
        throw new UsageError(`--tolerance must be a non-negative number, got '${String(values.tolerance)}'`, this);
    }
    // Golden checks first: a bundle without (or with a broken) golden fails before any session is created.
    const manifest = await loadManifest(dir);
    const file = goldenPath(dir, manifest.golden);
    if (file === null) throw new Error(`${path.join(dir, 'manifest.json')}: golden: not set, nothing to verify (export with golden samples)`);
    const golden = readGolden(file);
    // warmup 0: golden inputs are few and timing is not measured here.
    const model = await loadModel(dir, { warmup: 0 });
    let report: VerifyReport;
    try {
      report = await verifyGolden(model, golden, { tolerance });
    } finally {
      await model.release();
    }
    io.out(values.json ? JSON.stringify({ golden: file, ...report }, null, 2) : formatVerify(report, file));
    return report.ok ? 0 : 1;
  },
};
