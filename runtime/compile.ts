// Tier 2 of execution: one ONNX graph for one child path. The stem, every executed
// option (summed with Add when a cell runs several) and the head are stitched into a
// single model (stitch.ts) so that a path costs one session run instead of one per
// module. Environment-neutral (no node built-ins).
import type { Manifest } from './manifest-types.js';
import { encodeModel, type GraphProto } from './onnx/proto.js';
import type { Engine, Session, SessionOptions } from './engine.js';
import { cellRules, decodeCode, encodeCode } from './path.js';
import { moduleLoader, Stitcher, yieldSometimes, type ReadFile } from './stitch.js';

export { sumPrefix, type ReadFile } from './stitch.js';

/** Checks executed cells against the manifest (ranges, empty-selection rule); returns the path code. */
function checkCells(m: Manifest, cells: unknown): string {
  if (!Array.isArray(cells) || !cells.every((c) => Array.isArray(c)))
    throw new TypeError(`cells: expected an array of option-index arrays, got ${JSON.stringify(cells)}`);
  const code = encodeCode(cells as number[][], m.graph.cells.map((c) => c.options.length));
  cellRules(m).forEach((r, ci) => {
    if ((cells as number[][])[ci].length === 0 && !r.identityWhenEmpty)
      throw new RangeError(`cells[${ci}]: cell changes shape and cannot be empty`);
    if (new Set((cells as number[][])[ci]).size !== (cells as number[][])[ci].length)
      throw new RangeError(`cells[${ci}]: repeats an option`);
  });
  return code;
}

/**
 * Builds one ONNX model of the child network for `cells` (executed option indices
 * per cell, [] = identity): input `x`, output `y`, batch dimension as exported
 * (dynamic), opset per domain = the highest among the modules. The controller is
 * not included. Throws RangeError naming `cells` for a path the manifest does not
 * allow, and Error naming the file for a module that cannot be stitched.
 */
export async function compilePath(manifest: Manifest, readFile: ReadFile, cells: readonly (readonly number[])[]): Promise<Uint8Array> {
  const code = checkCells(manifest, cells);
  const load = moduleLoader(readFile);
  const g = manifest.graph;
  const specs = [g.stem, ...cells.flatMap((opts, ci) => opts.map((o) => g.cells[ci].options[o])), g.head];
  await Promise.all(specs.map(load)); // read in parallel, stitch in order

  const s = new Stitcher();
  const clock = { last: performance.now() };
  let h = s.add(g.stem, await load(g.stem), 'x');
  for (let ci = 0; ci < cells.length; ci++) {
    if (cells[ci].length === 0) continue; // identity cell: nothing to run
    const outs: string[] = [];
    for (const o of cells[ci]) {
      outs.push(s.add(g.cells[ci].options[o], await load(g.cells[ci].options[o]), h));
      await yieldSometimes(clock);
    }
    h = s.sum(ci, outs);
  }
  s.add(g.head, await load(g.head), h, 'y');

  const graph: GraphProto = {
    node: s.nodes,
    name: `${manifest.name} path ${code}`,
    initializer: s.inits,
    input: [{ ...s.input!, name: 'x' }],
    output: [{ ...s.output!, name: 'y' }],
    valueInfo: s.valueInfo,
    rest: [],
  };
  const opsetImport = [...s.opsets].map(([domain, version]) => ({ domain, version }));
  if (!s.opsets.has('') && !s.opsets.has('ai.onnx')) opsetImport.push({ domain: '', version: 13 }); // the Add nodes need the default domain
  return encodeModel({ irVersion: s.irVersion, opsetImport, graph, rest: [] });
}

/** What a compiled-path builder needs: the engine surface of BundleSource. */
export interface PathBuilderSource {
  manifest: Manifest;
  readFile: ReadFile;
  engine: Engine;
}

/**
 * `build(code)` for a PathCache: compiles the path, creates its session and runs it
 * once on zeros (batch 1) so that the first request it serves is not a cold start.
 */
export function pathBuilder(src: PathBuilderSource, session: SessionOptions = {}): (code: string) => Promise<Session> {
  const m = src.manifest;
  const counts = m.graph.cells.map((c) => c.options.length);
  return async (code) => {
    const bytes = await compilePath(m, src.readFile, decodeCode(code, counts));
    const s = await src.engine.createSession(bytes, session);
    const dims = [1, ...m.graph.stem.inputShape.slice(1)];
    try {
      await s.run({ x: { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims } });
    } catch (err) {
      await s.release();
      throw err;
    }
    return s;
  };
}
