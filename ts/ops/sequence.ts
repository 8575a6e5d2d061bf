/** Plain-array operations on batch-first sequences `[B, T, F]` (rows `b·T + t`). */

/**
 * Each sample's first `lengths[b]` steps (all `T` without lengths) of `s`,
 * reversed, into `d`; the steps after them zero.
 */
export function flipSteps(s: Float32Array, d: Float32Array, B: number, T: number, F: number, lengths: ArrayLike<number> | null): void {
  d.fill(0, 0, B * T * F);
  for (let b = 0; b < B; b++) {
    const len = lengths ? lengths[b] : T;
    for (let t = 0; t < len; t++) d.set(s.subarray((b * T + t) * F, (b * T + t + 1) * F), (b * T + (len - 1 - t)) * F);
  }
}

/** A new array: each row's first `lens[r]` steps of `[b, T, F]` reversed, the steps after them zero. */
export function flipped(x: Float32Array, b: number, T: number, F: number, lens: ArrayLike<number>): Float32Array {
  const out = new Float32Array(b * T * F);
  flipSteps(x, out, b, T, F, lens);
  return out;
}
