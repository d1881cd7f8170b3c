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
