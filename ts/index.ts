/**
 * recurrent-wasm: recurrent neural networks for JavaScript and TypeScript on a
 * Rust → WebAssembly SIMD core.
 */
export { init, isInitialized, type InitOptions, type RuntimeInfo, type SimdChoice } from './runtime/init.js';
export { hasRelaxedSimd, hasSimd128 } from './runtime/features.js';
export { RecurrentWasmError, ShapeError, ValueError, InitError, KernelError } from './errors.js';
export { matmul } from './ops/gemm.js';
export {
  RecurrentKernel,
  type CellType,
  type RecurrentConfig,
  type ForwardInput,
  type ForwardOutput,
  type BackwardInput,
  type BackwardOutput,
  type NamedTensor,
} from './ops/recurrent.js';
export { Random } from './util/random.js';
export { memoryStats } from './runtime/stats.js';
