// Environment-neutral API (no node built-ins): what a browser build may import.
// Pair it with an Engine built on onnxruntime-web and a BundleSource that fetches files.
export type { Engine, Session, SessionOptions, Tensor } from './engine.js';
export type { Manifest, ModuleSpec, CellSpec, InputSpec, ControllerSpec, Shape } from './manifest-types.js';
export { BundleError, validateManifest, parseManifest, modulesOf, type ValidateOptions } from './manifest.js';
export {
  CODE_ALPHABET,
  cellRules,
  charsPerCell,
  encodeCode,
  decodeCode,
  selectCells,
  staticCells,
  pathMacs,
  makePath,
  type CellRule,
  type Path,
} from './path.js';
export { preprocess, resizePlane, type PixelImage } from './preprocess.js';
export {
  InstaModel,
  DEFAULT_OPTIONS,
  type ModelOptions,
  type BundleSource,
  type ClassifyOptions,
  type ClassifyResult,
  type Prediction,
  type Timings,
} from './model.js';
// onnxruntime-web engine; the caller passes the ort module (engine-web.ts has no run-time imports).
export {
  createWebEngine,
  availableBackends,
  resolveThreads,
  DEFAULT_WEB_OPTIONS,
  type OrtWeb,
  type WebBackend,
  type WebEngineOptions,
} from './engine-web.js';
// Tier 2: compiled child paths (one ONNX graph per frequently used path).
export { compilePath, pathBuilder, sumPrefix, type ReadFile, type PathBuilderSource } from './compile.js';
export { PathCache, DEFAULT_PATH_CACHE_OPTIONS, type PathCacheOptions, type PathCacheStats, type Releasable } from './path-cache.js';
export type { Tier, TierMode } from './model.js';
