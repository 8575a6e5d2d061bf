/**
 * Weight initialisers (Keras definitions), seeded through the model's
 * `Random`. Fans are those of the Keras weight shapes: for a recurrent
 * `kernel [I, G·H]` fan_in = I and fan_out = G·H, even though we store the
 * PyTorch transpose `W_ih [G·H, I]`.
 */
import { ValueError } from '../errors.js';
import type { Random } from '../util/random.js';

export type InitializerName =
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heUniform'
  | 'heNormal'
  | 'lecunUniform'
  | 'orthogonal'
  | 'zeros'
  | 'ones'
  | 'uniform'
  | 'randomNormal';

/** An initialiser with its options. */
export interface InitializerSpec {
  name: InitializerName;
  scale?: number;
  limit?: number;
  stddev?: number;
  gain?: number;
}

export type Initializer = InitializerName | InitializerSpec;

export interface Fans {
  fanIn: number;
  fanOut: number;
}

/** Truncated normal (|z| < 2σ, resampled) with standard deviation `sd`. */
function truncatedNormal(rng: Random, sd: number): number {
  for (;;) {
    const z = rng.normal();
    if (Math.abs(z) < 2) return z * sd;
  }
}

// The standard deviation of a unit normal truncated at ±2 (Keras' variance-scaling correction).
const TRUNC_SD = 0.8796256610342398;

/**
 * Fill `out` (length rows·cols of the Keras-shaped weight, written in *our*
 * layout by `place(kerasRow, kerasCol, value)`) with the initialiser.
 */
export function initialize(
  init: Initializer,
  rows: number,
  cols: number,
  fans: Fans,
  rng: Random,
  place: (r: number, c: number, v: number) => void,
): void {
  const spec: InitializerSpec = typeof init === 'string' ? { name: init } : init;
  const { fanIn, fanOut } = fans;
  if (spec.name === 'orthogonal') {
    const q = orthogonal(rows, cols, rng);
    const g = spec.gain ?? 1;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) place(r, c, g * q[r * cols + c]);
    return;
  }
  const draw = sampler(spec, fanIn, fanOut, rng);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) place(r, c, draw());
}

/** One value of an element-wise initialiser per call. */
function sampler(spec: InitializerSpec, fanIn: number, fanOut: number, rng: Random): () => number {
  switch (spec.name) {
    case 'zeros':
      return () => 0;
    case 'ones':
      return () => 1;
    case 'uniform': {
      const lim = spec.limit ?? 0.05;
      return () => rng.uniform(-lim, lim);
    }
    case 'randomNormal': {
      const sd = spec.stddev ?? 0.05;
      return () => rng.normal() * sd;
    }
    case 'glorotUniform': {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      return () => rng.uniform(-lim, lim);
    }
    case 'glorotNormal': {
      const sd = Math.sqrt(2 / (fanIn + fanOut)) / TRUNC_SD;
      return () => truncatedNormal(rng, sd);
    }
    case 'heUniform': {
      const lim = Math.sqrt(6 / fanIn);
      return () => rng.uniform(-lim, lim);
    }
    case 'heNormal': {
      const sd = Math.sqrt(2 / fanIn) / TRUNC_SD;
      return () => truncatedNormal(rng, sd);
    }
    case 'lecunUniform': {
      const lim = Math.sqrt(3 / fanIn);
      return () => rng.uniform(-lim, lim);
    }
    default:
      throw new ValueError(`unknown initializer "${(spec as { name: string }).name}"`);
  }
}

/**
 * A `rows × cols` matrix with orthonormal rows (rows ≤ cols) or columns, as
 * Keras' Orthogonal: QR of a normal matrix, signs fixed by diag(R).
 * Modified Gram–Schmidt in float64.
 */
export function orthogonal(rows: number, cols: number, rng: Random): Float64Array {
  const tall = rows >= cols;
  const m = tall ? rows : cols; // long side
  const k = tall ? cols : rows; // vectors to orthonormalise, each of length m
  const v = new Float64Array(k * m);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  for (let i = 0; i < k; i++) {
    const vi = v.subarray(i * m, (i + 1) * m);
    for (let j = 0; j < i; j++) {
      const vj = v.subarray(j * m, (j + 1) * m);
      let d = 0;
      for (let t = 0; t < m; t++) d += vi[t] * vj[t];
      for (let t = 0; t < m; t++) vi[t] -= d * vj[t];
    }
    let nrm = 0;
    for (let t = 0; t < m; t++) nrm += vi[t] * vi[t];
    nrm = Math.sqrt(nrm);
    for (let t = 0; t < m; t++) vi[t] /= nrm;
  }
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < k; i++)
    for (let t = 0; t < m; t++) {
      if (tall) out[t * cols + i] = v[i * m + t];
      else out[i * cols + t] = v[i * m + t];
    }
  return out;
}
