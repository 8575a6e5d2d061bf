/**
 * Entry for Cloudflare Workers / workerd (the `workerd` export condition):
 * they forbid compiling WebAssembly from bytes at run time, so the module is
 * imported (wrangler and workerd turn `.wasm` imports into a
 * `WebAssembly.Module`) and handed to `init`. Await `ready` (or call `init()`)
 * before using the library.
 */
// @ts-expect-error -- a .wasm module import, resolved by the Workers runtime or bundler
import wasm from './recurrent_core_bg.wasm';
import { init } from './index.js';

export * from './index.js';

/** Resolves once the WebAssembly core is instantiated. */
export const ready = init({ module: wasm as WebAssembly.Module });
