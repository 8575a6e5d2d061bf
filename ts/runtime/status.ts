/** Kernel status codes (`crate/src/status.rs`, through the generated contract) → `KernelError`. */
import { KernelError } from '../errors.js';
import { STATUS_MESSAGES, Status } from './contract.js';

/** Throw a `KernelError` for a non-zero status. */
export function checkStatus(kernel: string, code: number): void {
  if (code !== Status.Ok) {
    throw new KernelError(`${kernel}: ${STATUS_MESSAGES[code] ?? `unknown status ${code}`} (code ${code})`, code);
  }
}
