// Public API of the HTTP server (used by `instanas serve`, tests and benchmarks).
export { createApp } from './app.js';
export { startServer, type StartOptions, type RunningServer } from './main.js';
export { adapt, createClassifier, inProcessRunner, type BackendResult, type BackendStats, type Classifier, type Runner } from './backend.js';
export { ModelRegistry, discoverBundles, type ClassifierFactory, type ModelEntry } from './registry.js';
export { Metrics, PathLabeler, LATENCY_BUCKETS } from './metrics.js';
export { DEFAULT_SERVER_OPTIONS, resolveOptions, type ServerOptions } from './options.js';
export type { AppDeps } from './context.js';
