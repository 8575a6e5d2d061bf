/**
 * `Tensor`: a shape and a flat, row-major typed array. The currency of the
 * public API (inputs, targets, predictions, weights); the layers themselves
 * work on buffers in wasm memory.
 */
import { ShapeError, ValueError, fmtShape } from './errors.js';

export type DType = 'float32' | 'int32';
export type NestedArray = number | NestedArray[];
export type TensorLike = Tensor | NestedArray | Float32Array | Int32Array | Float64Array;

export class Tensor {
  readonly shape: number[];
  readonly data: Float32Array | Int32Array;
  readonly dtype: DType;

  constructor(data: Float32Array | Int32Array, shape: readonly number[]) {
    const size = shape.reduce((a, b) => a * b, 1);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`tensor: shape ${fmtShape([...shape])} has an invalid dimension ${d}`);
    }
    if (size !== data.length) {
      throw new ShapeError(`tensor: shape ${fmtShape([...shape])} needs ${size} values; got ${data.length}`);
    }
    this.shape = [...shape];
    this.data = data;
    this.dtype = data instanceof Int32Array ? 'int32' : 'float32';
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Nested JavaScript arrays with this tensor's shape. */
  array(): NestedArray {
    if (this.shape.length === 0) return this.data[0];
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = this.shape[dim];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) {
        out.push(dim === this.shape.length - 1 ? this.data[offset + i] : build(dim + 1, offset + i * stride));
      }
      return out;
    };
    return build(0, 0);
  }

  /** The same data viewed with another shape of equal size. */
  reshape(shape: number[]): Tensor {
    return new Tensor(this.data, shape);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)})`;
  }
}

function inferShape(v: NestedArray, path: string): number[] {
  if (typeof v === 'number') return [];
  if (!Array.isArray(v)) throw new ValueError(`tensor: expected a number or an array at ${path || 'the top'}; got ${typeof v}`);
  if (v.length === 0) return [0];
  return [v.length, ...inferShape(v[0], `${path}[0]`)];
}

function flatten(v: NestedArray, shape: number[], dim: number, out: number[], path: string): void {
  if (dim === shape.length) {
    if (typeof v !== 'number') throw new ShapeError(`tensor: ragged nested array at ${path}: expected a number`);
    out.push(v);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[dim]) {
    const got = Array.isArray(v) ? `length ${v.length}` : typeof v;
    throw new ShapeError(`tensor: ragged nested array at ${path || 'the top'}: expected length ${shape[dim]}, got ${got}`);
  }
  for (let i = 0; i < v.length; i++) flatten(v[i], shape, dim + 1, out, `${path}[${i}]`);
}

/**
 * Make a tensor from nested arrays or a typed array (with `shape`, or 1-D).
 * `dtype` defaults to int32 for an Int32Array, float32 otherwise.
 */
export function tensor(data: TensorLike, shape?: number[], dtype?: DType): Tensor {
  if (data instanceof Tensor) {
    if (shape && shape.reduce((a, b) => a * b, 1) !== data.size) {
      throw new ShapeError(`tensor: cannot view ${fmtShape(data.shape)} as ${fmtShape(shape)}`);
    }
    return shape ? data.reshape(shape) : data;
  }
  if (ArrayBuffer.isView(data)) {
    const kind = dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
    const arr =
      kind === 'int32'
        ? data instanceof Int32Array
          ? data
          : Int32Array.from(data as Float32Array)
        : data instanceof Float32Array
          ? data
          : Float32Array.from(data as ArrayLike<number>);
    return new Tensor(arr, shape ?? [arr.length]);
  }
  const inferred = inferShape(data as NestedArray, '');
  const flat: number[] = [];
  flatten(data as NestedArray, inferred, 0, flat, '');
  const kind = dtype ?? 'float32';
  const arr = kind === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat);
  if (kind === 'int32' && flat.some((x) => !Number.isInteger(x))) throw new ValueError('tensor: int32 tensor from non-integer values');
  if (shape) {
    if (shape.reduce((a, b) => a * b, 1) !== arr.length) {
      throw new ShapeError(`tensor: nested array of shape ${fmtShape(inferred)} cannot take shape ${fmtShape(shape)}`);
    }
    return new Tensor(arr, shape);
  }
  return new Tensor(arr, inferred);
}
