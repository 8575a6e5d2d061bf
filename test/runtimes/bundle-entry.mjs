// Bundled with esbuild as an app would be (the package imported by name).
import * as lib from 'recurrent-wasm';
import { scenario } from './scenario.mjs';
const simd = new URLSearchParams(location.search).get('simd') ?? undefined;
(async () => {
  try {
    const bytes = new Uint8Array(await (await fetch('/model.safetensors')).arrayBuffer());
    window.__result = await scenario(lib, bytes, simd ? { simd } : undefined);
  } catch (e) {
    window.__result = { error: String(e?.stack || e) };
  }
})();
