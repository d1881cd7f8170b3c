// TypeScript view of schema/bundle-manifest.v1.schema.json. The schema file is
// the contract; these types only mirror it so the runtime can be type-checked.

/** NCHW (or NC) shape; entry 0 is the export batch size, ignored when comparing. */
export type Shape = number[];

export interface ModuleSpec {
  id: string;
  op?: string;
  file: string;
  inputShape: Shape;
  outputShape: Shape;
  /** Multiply-accumulates for one input. */
  macs: number;
  params: number;
}

export interface CellSpec {
  inputShape: Shape;
  outputShape: Shape;
  defaultOption: number;
  options: ModuleSpec[];
}

export interface InputSpec {
  height: number;
  width: number;
  channels: 1 | 3;
  layout: 'NCHW';
  dtype: 'float32';
  mean: number[];
  std: number[];
  resize: 'stretch-bilinear';
  colorConversion: 'luma-bt601' | 'rgb';
}

export interface ControllerSpec {
  file: string;
  inputShape: Shape;
  outputShape: Shape;
  threshold: number;
  macs: number;
  params: number;
}

export interface GraphSpec {
  combine: 'sum';
  emptySelection: 'identity-else-default';
  stem: ModuleSpec;
  cells: CellSpec[];
  head: ModuleSpec;
}

export interface AccuracySpec {
  dataset: string;
  split: string;
  top1: number;
  count: number;
  meanMacs?: number;
  distinctPaths?: number;
  measuredWith?: string;
}

export interface Manifest {
  schemaVersion: 1;
  name: string;
  version: string;
  kind: 'instanas' | 'static';
  description?: string;
  labels: string[];
  input: InputSpec;
  controller?: ControllerSpec;
  graph: GraphSpec;
  latency: {
    unit: 'ms';
    method: string;
    device: string;
    measuredAt?: string;
    /** Per-run overhead included once in every entry (instanas profile: Identity on the image). */
    overheadMs?: number;
    table: Record<string, number>;
  };
  accuracy: AccuracySpec | null;
  provenance: {
    data: string;
    seed: number;
    command: string;
    gitCommit: string;
    createdAt: string;
    config?: Record<string, unknown>;
    torch?: string;
    wallTimeSeconds?: number;
    /** Where the training ran (machine, CPUs, torch threads or CUDA device), as recorded at export. */
    hardware?: string;
  };
  golden?: string;
  /** The controller's most frequent paths on the validation split (most frequent first); compiled at load by tier 'auto'. */
  hotPaths?: { code: string; share: number }[];
}
