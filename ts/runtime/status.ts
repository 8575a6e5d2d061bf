/** Status codes returned by the kernels (mirrors `crate/src/abi.rs`). */
import { KernelError } from '../errors.js';

const MESSAGES: Record<number, string> = {
  1: 'invalid cell kind or dimensions',
  2: 'a size computation overflowed',
  3: 'a region lies outside wasm memory',
  4: 'an output region overlaps another region',
  5: 'a sequence length is outside [0, T]',
  6: 'a required region is missing',
  7: 'a region is not 4-byte aligned',
};

/** Throw a `KernelError` for a non-zero status. */
export function checkStatus(kernel: string, code: number): void {
  if (code !== 0) {
    throw new KernelError(`${kernel}: ${MESSAGES[code] ?? `unknown status ${code}`} (code ${code})`, code);
  }
}
