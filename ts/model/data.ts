/**
 * Data going into a model: inputs and targets checked against the model
 * (shape, dtype, finite values, label ranges) with typed errors before any
 * kernel runs, and copied batch by batch into wasm memory.
 */
import { ShapeError, ValueError, fmtShape } from '../errors.js';
import type { Activation, Buffers, Shape } from '../layers/base.js';
import type { WasmArray } from '../runtime/memory.js';
import { Tensor, type TensorLike, tensor } from '../tensor.js';
import type { Random } from '../util/random.js';
import type { ResolvedLoss } from './losses.js';

/** Inputs and targets of a data set, checked: one tensor per model input and per output, `n` samples each. */
export interface Data {
  xs: Tensor[];
  ys: Tensor[];
  n: number;
}

/** What the input must be: ids or floats, and the sample shape (`null` dims free). */
export interface InputSpec {
  ids: boolean;
  /** Shape of one sample; null until the model is built (then taken from the data). */
  shape: Shape | null;
  /** The layer that reads it, for messages. */
  layer: string;
  /** What the messages call it (default 'x'). */
  label?: string;
}

/**
 * `x` as a tensor of the input's dtype with a batch dimension; `build` is
 * called with the sample shape when the model is not built yet (returns the
 * shape the model was built for).
 */
export function inputTensor(x: TensorLike, what: string, spec: InputSpec, build: (sample: number[]) => Shape): Tensor {
  const label = spec.label ?? 'x';
  let t: Tensor;
  try {
    t = tensor(x, undefined, spec.ids ? 'int32' : 'float32');
  } catch (e) {
    throw new ShapeError(`${what}: ${label}: ${(e as Error).message}`);
  }
  if (spec.ids && t.dtype !== 'int32') {
    const ints = Int32Array.from(t.data);
    for (let i = 0; i < t.data.length; i++) {
      if (ints[i] !== t.data[i])
        throw new ValueError(`${what}: ${label} must hold integer ids for ${spec.layer}; got ${t.data[i]} at ${i}`);
    }
    t = new Tensor(ints, t.shape);
  } else if (!spec.ids && t.dtype !== 'float32') {
    t = new Tensor(Float32Array.from(t.data), t.shape);
  }
  if (t.rank < 2) throw new ShapeError(`${what}: ${label} must have a batch dimension; got shape ${fmtShape(t.shape)}`);
  const want = spec.shape ?? build(t.shape.slice(1));
  const got = t.shape.slice(1);
  if (got.length !== want.length || want.some((d, i) => d !== null && d !== got[i])) {
    throw new ShapeError(
      `${what}: ${label} has samples of shape ${fmtShape(got)} but ${spec.layer} expects ${fmtShape(want.map((d) => d ?? -1))} (-1 = any)`,
    );
  }
  if (t.dtype === 'float32') {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new ValueError(`${what}: ${label} contains ${d[i]} at flat index ${i}`);
    }
  }
  return t;
}

/**
 * Targets for `x` under `loss`: class indices in range (sparse), or floats
 * of the model's output shape (`outShape`), finite, and in [0, 1] for
 * cross-entropies. A free time axis of the output is `x`'s when `x` is the
 * model's only input; with several inputs it is the target's own, and
 * `targetBatch` checks it against the output's before the loss runs.
 */
export function targetTensor(
  y: TensorLike,
  xt: Tensor,
  ids: boolean,
  outShape: Shape,
  loss: ResolvedLoss,
  what: string,
  label = 'y',
  single = true,
): Tensor {
  const n = xt.shape[0];
  let yt: Tensor;
  try {
    yt = tensor(y, undefined, loss.sparse ? 'int32' : 'float32');
  } catch (e) {
    throw new ShapeError(`${what}: ${label}: ${(e as Error).message}`);
  }
  if (yt.shape[0] !== n) throw new ShapeError(`${what}: x has ${n} samples but ${label} has ${yt.shape[0]}`);
  const T = single && (xt.rank >= 3 || ids) ? xt.shape[1] : null;
  const free = (i: number) => (single ? T : (yt.shape[1 + i] ?? null));
  const concrete = outShape.map((d, i) => (d === null ? free(i) : d));
  if (loss.sparse) {
    const want = concrete.slice(0, -1);
    let got = yt.shape.slice(1);
    if (got.length === want.length + 1 && got[got.length - 1] === 1) got = got.slice(0, -1);
    if (fmtShape(got as number[]) !== fmtShape(want as number[])) {
      throw new ShapeError(
        `${what}: sparse labels must have shape [N${want.map((d) => `, ${d}`).join('')}] (class indices); got ${fmtShape(yt.shape)}`,
      );
    }
    const classes = concrete[concrete.length - 1]!;
    const ints = yt.dtype === 'int32' ? (yt.data as Int32Array) : Int32Array.from(yt.data);
    for (let i = 0; i < ints.length; i++) {
      if (!(ints[i] >= 0 && ints[i] < classes) || ints[i] !== yt.data[i]) {
        throw new ValueError(`${what}: label ${yt.data[i]} at flat index ${i} is not a class index in [0, ${classes})`);
      }
    }
    return new Tensor(ints, yt.shape);
  }
  if (loss.canonical === 'distill') concrete[concrete.length - 1] = loss.targetWidth(concrete[concrete.length - 1]!);
  if (fmtShape(yt.shape.slice(1)) !== fmtShape(concrete as number[])) {
    throw new ShapeError(
      `${what}: ${label} must have samples of shape ${fmtShape(concrete as number[])} to match the model output; got ${fmtShape(yt.shape.slice(1))}`,
    );
  }
  const d = yt.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) throw new ValueError(`${what}: ${label} contains ${d[i]} at flat index ${i}`);
  }
  if (loss.canonical === 'bce' || loss.canonical === 'cce') {
    for (let i = 0; i < d.length; i++) {
      if (d[i] < 0 || d[i] > 1) throw new ValueError(`${what}: ${loss.name} labels must be in [0, 1]; got ${d[i]} at flat index ${i}`);
    }
  }
  return yt;
}

/** Copy the samples `order[start .. start+count)` of `x` into the buffer of input `i`. */
export function inputBatch(x: Tensor, i: number, order: Int32Array, start: number, count: number, bufs: Buffers): Activation {
  const sample = x.size / x.shape[0];
  const ids = x.dtype === 'int32';
  const input = bufs.get(`input${i}`, count * sample, ids ? 'i32' : 'f32');
  const dst = ids ? input.viewI32() : input.view();
  for (let r = 0; r < count; r++) {
    const s = order[start + r];
    dst.set(x.data.subarray(s * sample, (s + 1) * sample), r * sample);
  }
  return { buf: input, shape: [count, ...x.shape.slice(1)], lengths: null, lengthsBuf: null };
}

/** The targets of the same samples for output `k` (`out`), and row weights (padded steps get weight 0). */
export function targetBatch(
  y: Tensor,
  k: number,
  loss: ResolvedLoss,
  order: Int32Array,
  start: number,
  count: number,
  out: Activation,
  bufs: Buffers,
): { tb: WasmArray; weights: WasmArray | null; rows: number; n: number } {
  const rows = out.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = out.shape[out.shape.length - 1];
  const width = loss.targetWidth(n);
  const per = (rows / count) * width;
  if (y.size / y.shape[0] !== per) {
    // a free time axis the target's shape chose differs from the output's
    throw new ShapeError(
      `targets for output ${k} have samples of shape ${fmtShape(y.shape.slice(1))}; the output is ${fmtShape(out.shape.slice(1))}${loss.sparse ? ' (class indices: without the last axis)' : ''}`,
    );
  }
  const tb = bufs.get(`target${k}`, rows * width, loss.sparse ? 'i32' : 'f32');
  const dst = loss.sparse ? tb.viewI32() : tb.view();
  for (let i = 0; i < count; i++) {
    const s = order[start + i];
    dst.set(y.data.subarray(s * per, (s + 1) * per), i * per);
  }
  let weights: WasmArray | null = null;
  if (out.lengths && out.shape.length === 3) {
    const T = out.shape[1];
    weights = bufs.get(`weights${k}`, rows);
    const w = weights.view();
    for (let b = 0; b < count; b++) for (let t = 0; t < T; t++) w[b * T + t] = t < out.lengths[b] ? 1 : 0;
  }
  return { tb, weights, rows, n };
}

export function indices(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

export function shuffleInPlace(a: Int32Array, rng: Random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** The first `at` samples, and the rest. */
export function splitData(d: Data, at: number): [Data, Data] {
  const cut = (t: Tensor, a: number, b: number) => {
    const per = t.size / t.shape[0];
    return new Tensor(t.data.slice(a * per, b * per) as Float32Array | Int32Array, [b - a, ...t.shape.slice(1)]);
  };
  const part = (a: number, b: number): Data => ({ xs: d.xs.map((x) => cut(x, a, b)), ys: d.ys.map((y) => cut(y, a, b)), n: b - a });
  return [part(0, at), part(at, d.n)];
}

export function positiveInt(what: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ValueError(`${what} must be an integer ≥ ${min}; got ${v}`);
  return v;
}
