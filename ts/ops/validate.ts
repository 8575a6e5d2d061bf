/** Argument checks shared by the ops: expected-vs-actual messages, before any kernel runs. */
import { ShapeError, ValueError } from '../errors.js';

export type FloatLike = Float32Array | Float64Array | readonly number[];

export function checkPositiveInt(what: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0x7fff_ffff) {
    throw new ValueError(`${what} must be an integer ≥ ${min}; got ${String(v)}`);
  }
  return v;
}

export function checkLength(what: string, a: { length: number } | undefined | null, expected: number, shape: string): void {
  if (a === undefined || a === null || typeof a.length !== 'number') {
    throw new ShapeError(`${what}: expected ${expected} numbers (${shape}); got ${a === null ? 'null' : typeof a}`);
  }
  if (a.length !== expected) {
    throw new ShapeError(`${what}: expected ${expected} numbers (${shape}); got ${a.length}`);
  }
}

/** Throw if any element is NaN or ±Infinity, naming the first one. */
export function checkFinite(what: string, a: ArrayLike<number>): void {
  for (let k = 0; k < a.length; k++) {
    const v = a[k];
    if (!Number.isFinite(v)) {
      throw new ValueError(`${what} contains ${Number.isNaN(v) ? 'NaN' : v} at index ${k}`);
    }
  }
}

/** A size product that must stay below 2^31 elements (wasm32 limit). */
export function checkedProduct(what: string, ...dims: number[]): number {
  let p = 1;
  for (const d of dims) {
    p *= d;
    if (p > 0x7fff_ffff) throw new ShapeError(`${what}: ${dims.join(' × ')} elements exceed the 2^31 limit`);
  }
  return p;
}
