/**
 * Matrix product on the SIMD core: the building block every layer uses, and
 * the "plain GEMM" the benchmarks quote as the machine's practical ceiling.
 */
import { runtime } from '../runtime/init.js';
import { checkStatus } from '../runtime/status.js';
import { WasmArray } from '../runtime/memory.js';
import { checkFinite, checkLength, checkPositiveInt, checkedProduct, type FloatLike } from './validate.js';

/**
 * `C [m, n] = A [m, k] · B [k, n]` (row-major), computed by the packed SIMD
 * SGEMM in wasm. Inputs are copied in once; the result is a new Float32Array.
 */
export function matmul(a: FloatLike, b: FloatLike, m: number, k: number, n: number): Float32Array {
  checkPositiveInt('matmul: m', m);
  checkPositiveInt('matmul: k', k);
  checkPositiveInt('matmul: n', n);
  checkLength('matmul: A', a, checkedProduct('matmul: A', m, k), `[${m}, ${k}]`);
  checkLength('matmul: B', b, checkedProduct('matmul: B', k, n), `[${k}, ${n}]`);
  checkedProduct('matmul: C', m, n);
  checkFinite('matmul: A', a);
  checkFinite('matmul: B', b);
  const { core, heap } = runtime();
  const wa = new WasmArray(heap, m * k);
  const wb = new WasmArray(heap, k * n);
  const wc = new WasmArray(heap, m * n);
  try {
    wa.set(a);
    wb.set(b);
    checkStatus('sgemm', core.sgemm(m, n, k, wa.ptr, k, 1, wb.ptr, n, 1, wc.ptr, n, false));
    return wc.toFloat32Array();
  } finally {
    wa.free();
    wb.free();
    wc.free();
  }
}
