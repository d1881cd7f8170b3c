// Loads one onnxruntime-web build from ./ort/ (copied from node_modules by build.mjs):
// the wasm-only build (14 MB wasm) unless WebGPU is wanted, which needs the JSEP
// build (28 MB wasm, also runs the wasm backend). Imported at run time, not bundled,
// so the unused build is never downloaded and ort's workers load from its own file.
import type { OrtWeb, WebBackend } from '../../runtime/engine-web.js';

export const ORT_BUILDS = Object.freeze({
  wasm: 'ort/ort.wasm.min.mjs',
  webgpu: 'ort/ort.min.mjs',
});

const loaded = new Map<string, Promise<OrtWeb>>();

/** The build that can run every backend in `backends`. */
export function loadOrt(backends: readonly WebBackend[]): Promise<OrtWeb> {
  const file = backends.includes('webgpu') ? ORT_BUILDS.webgpu : ORT_BUILDS.wasm;
  let p = loaded.get(file);
  if (!p) {
    p = import(/* @vite-ignore */ new URL(file, document.baseURI).href) as Promise<OrtWeb>;
    loaded.set(file, p);
  }
  return p;
}
