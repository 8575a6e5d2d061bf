// A module Web Worker running the scenario off the main thread.
import * as lib from '/dist/index.js';
import { scenario } from '/test/runtimes/scenario.mjs';
self.onmessage = async (e) => {
  try {
    const bytes = new Uint8Array(await (await fetch('/model.safetensors')).arrayBuffer());
    self.postMessage(await scenario(lib, bytes, e.data?.simd ? { simd: e.data.simd } : undefined));
  } catch (err) {
    self.postMessage({ error: String(err?.stack || err) });
  }
};
