import { runtime } from './init.js';

/** Size of the wasm linear memory (bytes); it grows on demand and never shrinks. */
export function memoryStats(): { wasmBytes: number } {
  return { wasmBytes: runtime().heap.byteLength };
}
