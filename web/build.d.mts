// Types of web/build.mjs for TypeScript callers (test/browser.test.ts, bench/browser.ts).
export interface BuildOptions {
  /** InstaNAS bundle folder; default models/fashion-mnist if present, else test/fixtures/tiny. */
  instanas?: string;
  /** Static baseline bundle folder; default models/fashion-mnist-mobilenetv2 if present, else (and with null) a stand-in. */
  baseline?: string | null;
  /** Output folder; default web/dist (emptied first). */
  out?: string;
  /** Folder with the Fashion-MNIST t10k IDX gz files. */
  data?: string;
  /** Number of test images shipped as samples. Default 100. */
  samples?: number;
  minify?: boolean;
}
export interface BuiltModel {
  name: string;
  role: 'instanas' | 'baseline';
  kind: 'instanas' | 'static';
  path: string;
  source: string;
}
export declare const DEFAULT_BUILD_OPTIONS: Readonly<Required<Omit<BuildOptions, 'instanas' | 'baseline'>>>;
export declare function buildWeb(options?: BuildOptions): Promise<{ out: string; models: BuiltModel[]; samples: number }>;
export declare function readIdx(
  dataDir: string,
  count: number,
): { count: number; height: number; width: number; pixels: Uint8Array; labels: number[] };
