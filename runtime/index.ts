// Public API for node: everything in browser.ts plus file, image and onnxruntime-node helpers.
export * from './browser.js';
export { loadManifest, loadSchema } from './manifest-node.js';
export { createNodeEngine } from './engine-node.js';
export { decodeImage } from './image-node.js';
export { loadModel } from './model-node.js';
export { classifyImage } from './classify-node.js';
