/**
 * Merge layers (Keras' names and meaning): `add`, `subtract`, `multiply`,
 * `average`, `maximum`, `minimum` — element-wise over same-shaped inputs, one
 * core call forward and one backward (`crate/src/elementwise.rs`) — and
 * `concatenate` along any axis (strided row copies in the core).
 *
 * `axis` counts the batch dimension, as in Keras (`-1`, the default, is the
 * last). Masks: the output's per-sample lengths are the shortest of the
 * inputs' (Keras ANDs the masks; with post-padding that is the minimum);
 * concatenating along the time axis of masked sequences is refused.
 */
import { ShapeError, ValueError, fmtShape } from '../errors.js';
import { Merge as MergeOp } from '../runtime/contract.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import {
  type Activation,
  type KerasMapping,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type OnnxBuilder,
  type OnnxValue,
  type Shape,
  type StepInfo,
  type StreamContext,
  type StreamValue,
} from './base.js';

/** The most inputs one merge takes (the core's limit per call). */
const MAX_INPUTS = 16;

type MergeName = 'add' | 'subtract' | 'multiply' | 'average' | 'maximum' | 'minimum';

const OP: Readonly<Record<MergeName, MergeOp>> = {
  add: MergeOp.Add,
  subtract: MergeOp.Subtract,
  multiply: MergeOp.Multiply,
  average: MergeOp.Average,
  maximum: MergeOp.Maximum,
  minimum: MergeOp.Minimum,
};
const CLASS: Readonly<Record<MergeName, string>> = {
  add: 'Add',
  subtract: 'Subtract',
  multiply: 'Multiply',
  average: 'Average',
  maximum: 'Maximum',
  minimum: 'Minimum',
};
const ONNX_OP: Readonly<Record<MergeName, string>> = {
  add: 'Sum',
  subtract: 'Sub',
  multiply: 'Mul',
  average: 'Mean',
  maximum: 'Max',
  minimum: 'Min',
};

/** Each sample's shortest length over the inputs that carry lengths (null when none does). */
function shortest(xs: Activation[], call: LayerCall): Pick<Activation, 'lengths' | 'lengthsBuf'> {
  const masked = xs.filter((x) => x.lengths);
  if (masked.length === 0) return { lengths: null, lengthsBuf: null };
  if (masked.length === 1) return { lengths: masked[0].lengths, lengthsBuf: masked[0].lengthsBuf };
  const lengths = Int32Array.from(masked[0].lengths!);
  for (const x of masked.slice(1)) for (let b = 0; b < lengths.length; b++) lengths[b] = Math.min(lengths[b], x.lengths![b]);
  const lengthsBuf = call.buffers.get('lengths', lengths.length, 'i32');
  lengthsBuf.set(lengths);
  return { lengths, lengthsBuf };
}

/** Null-tolerant equality of two shapes, and their most specific common shape. */
function common(a: Shape, b: Shape): Shape | null {
  if (a.length !== b.length) return null;
  const out: Shape = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== null && b[i] !== null && a[i] !== b[i]) return null;
    out.push(a[i] ?? b[i]);
  }
  return out;
}

export interface MergeArgs extends LayerArgs {}

/** An element-wise merge of same-shaped inputs. */
export class Merge extends Layer {
  readonly className: string;

  constructor(
    readonly op: MergeName,
    args: MergeArgs = {},
  ) {
    super(args, op);
    if (!(op in OP)) throw new ValueError(`merge: unknown operation ${JSON.stringify(op)}`);
    this.className = CLASS[op];
  }

  override get arity(): [number, number] {
    return this.op === 'subtract' ? [2, 2] : [2, MAX_INPUTS];
  }

  build(): Shape {
    throw new ValueError(`${this.name} merges several inputs: apply it to a list of tensors`);
  }

  protected override buildAll(shapes: Shape[]): Shape[] {
    let out: Shape | null = shapes[0];
    for (const s of shapes.slice(1)) out = out && common(out, s);
    if (!out) {
      throw new ShapeError(
        `${this.name}: ${CLASS[this.op]} needs inputs of one shape; got ${shapes.map((s) => fmtShape(s.map((d) => d ?? -1))).join(', ')}`,
      );
    }
    this.outputShape = out;
    return [out];
  }

  forward(): Activation {
    throw new ValueError(`${this.name} merges several inputs`);
  }

  backward(): WasmArray | null {
    throw new ValueError(`${this.name} merges several inputs`);
  }

  override forwardAll(xs: Activation[], step: StepInfo, call: LayerCall): Activation[] {
    const shape = xs[0].shape;
    for (const x of xs.slice(1)) {
      if (fmtShape(x.shape) !== fmtShape(shape))
        throw new ShapeError(`${this.name}: inputs of shapes ${fmtShape(shape)} and ${fmtShape(x.shape)}`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const ptrs = call.buffers.get('ptrs', xs.length, 'i32');
    const y = call.buffers.get('y', n);
    ptrs.set(xs.map((x) => x.buf.ptr));
    checkStatus(`${this.name} forward`, this.core().merge_forward(OP[this.op], xs.length, n, ptrs.ptr, y.ptr));
    if (step.training) call.tape = { xs, n } satisfies MergeTape;
    return [{ buf: y, shape: [...shape], ...shortest(xs, call) }];
  }

  override backwardAll(dys: (WasmArray | null)[], needDx: boolean[], call: LayerCall): (WasmArray | null)[] {
    const { xs, n } = call.take<MergeTape>(this);
    const dy = dys[0];
    if (!dy) return xs.map(() => null);
    // every buffer first: an allocation may grow memory
    const dxs = xs.map((_, i) => (needDx[i] ? call.buffers.get(`dx${i}`, n) : null));
    const xp = call.buffers.get('ptrs', xs.length, 'i32');
    const dp = call.buffers.get('dptrs', xs.length, 'i32');
    xp.set(xs.map((x) => x.buf.ptr));
    dp.set(dxs.map((d) => (d ? d.ptr : 0)));
    checkStatus(`${this.name} backward`, this.core().merge_backward(OP[this.op], xs.length, n, xp.ptr, dy.ptr, dp.ptr));
    return dxs;
  }

  /** A `Merge` record over this step's values (up to four; the core's per-record limit). */
  override streamAll(ctx: StreamContext, xs: StreamValue[]): StreamValue[] {
    if (xs.some((x) => x.fixed)) throw new ValueError(`session: ${this.name} merges this step's values; it cannot read a fixed one`);
    if (xs.length > 4) throw new ValueError(`session: ${this.name} merges ${xs.length} values; a stream merges at most 4`);
    const F = xs[0].features;
    const out = ctx.alloc(ctx.batch * F);
    const [x0, x1, x2 = 0, x3 = 0] = xs.map((x) => x.buf.ptr);
    ctx.record('Merge', { op: OP[this.op], k: xs.length, n: F, x0, x1, x2, x3, out: out.ptr });
    return [{ buf: out, features: F }];
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name };
  }

  override toOnnxAll(g: OnnxBuilder, xs: OnnxValue[]): OnnxValue[] {
    const op = ONNX_OP[this.op];
    const [y] = g.node(
      op,
      xs.map((x) => x.name),
    );
    return [{ name: y, rank: xs[0].rank, lengths: xs.find((x) => x.lengths)?.lengths ?? null }];
  }
}

interface MergeTape {
  xs: Activation[];
  n: number;
}

export interface ConcatenateArgs extends LayerArgs {
  /** The axis to join along, counting the batch dimension (default -1, the last). */
  axis?: number;
}

/** `concatenate`: inputs joined along one axis (the others equal). */
export class Concatenate extends Layer {
  readonly className = 'Concatenate';
  readonly axis: number;
  /** The axis without the batch dimension, once built. */
  private at = 0;

  constructor(args: ConcatenateArgs = {}) {
    super(args, 'concatenate');
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis) || this.axis === 0)
      throw new ValueError(`${this.name}: axis must be a non-zero integer (0 is the batch); got ${this.axis}`);
  }

  override get arity(): [number, number] {
    return [2, 64];
  }

  build(): Shape {
    throw new ValueError(`${this.name} joins several inputs: apply it to a list of tensors`);
  }

  protected override buildAll(shapes: Shape[]): Shape[] {
    const rank = shapes[0].length;
    const at = this.axis < 0 ? rank + this.axis : this.axis - 1;
    if (at < 0 || at >= rank)
      throw new ShapeError(`${this.name}: axis ${this.axis} is outside inputs of rank ${rank + 1} (with the batch)`);
    const out: Shape = [...shapes[0]];
    for (const s of shapes.slice(1)) {
      const fits = s.length === rank && s.every((d, i) => i === at || d === null || out[i] === null || d === out[i]);
      if (!fits) {
        throw new ShapeError(
          `${this.name}: inputs must match except on axis ${this.axis}; got ${shapes.map((x) => fmtShape(x.map((d) => d ?? -1))).join(', ')}`,
        );
      }
      out[at] = out[at] === null || s[at] === null ? null : out[at]! + s[at]!;
      for (let i = 0; i < rank; i++) if (i !== at) out[i] ??= s[i];
    }
    this.at = at;
    this.outputShape = out;
    return [out];
  }

  forward(): Activation {
    throw new ValueError(`${this.name} joins several inputs`);
  }

  backward(): WasmArray | null {
    throw new ValueError(`${this.name} joins several inputs`);
  }

  /** `[outer, d_i, inner]` views of each input (with the batch), and the output's total `D`. */
  private blocks(xs: { shape: number[] }[]): { outer: number; inner: number; dims: number[]; D: number } {
    const a = this.at + 1; // with the batch
    const s0 = xs[0].shape;
    const outer = s0.slice(0, a).reduce((p, d) => p * d, 1);
    const inner = s0.slice(a + 1).reduce((p, d) => p * d, 1);
    for (const x of xs) {
      const same = x.shape.length === s0.length && x.shape.every((d, i) => i === a || d === s0[i]);
      if (!same)
        throw new ShapeError(`${this.name}: inputs of shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} differ off axis ${this.axis}`);
    }
    const dims = xs.map((x) => x.shape[a]);
    return { outer, inner, dims, D: dims.reduce((p, d) => p + d, 0) };
  }

  override forwardAll(xs: Activation[], step: StepInfo, call: LayerCall): Activation[] {
    const { outer, inner, dims, D } = this.blocks(xs);
    const timeAxis = this.at === 0 && xs[0].shape.length === 3;
    if (timeAxis && xs.some((x) => x.lengths)) throw new ValueError(`${this.name}: cannot join masked sequences along their time axis`);
    const y = call.buffers.get('y', outer * D * inner);
    let off = 0;
    xs.forEach((x, i) => {
      const len = dims[i] * inner;
      checkStatus(
        `${this.name} forward`,
        this.core().copy_rows(outer, len, x.buf.ptr, len, 1, y.ptr + off * inner * 4, D * inner, 1, false),
      );
      off += dims[i];
    });
    if (step.training) call.tape = { dims, outer, inner, D } satisfies ConcatTape;
    const shape = [...xs[0].shape];
    shape[this.at + 1] = D;
    return [{ buf: y, shape, ...(timeAxis ? { lengths: null, lengthsBuf: null } : shortest(xs, call)) }];
  }

  override backwardAll(dys: (WasmArray | null)[], needDx: boolean[], call: LayerCall): (WasmArray | null)[] {
    const { dims, outer, inner, D } = call.take<ConcatTape>(this);
    const dy = dys[0];
    if (!dy) return dims.map(() => null);
    const dxs = dims.map((d, i) => (needDx[i] ? call.buffers.get(`dx${i}`, outer * d * inner) : null));
    let off = 0;
    dims.forEach((d, i) => {
      const dx = dxs[i];
      const len = d * inner;
      if (dx)
        checkStatus(
          `${this.name} backward`,
          this.core().copy_rows(outer, len, dy.ptr + off * inner * 4, D * inner, 1, dx.ptr, len, 1, false),
        );
      off += d;
    });
    return dxs;
  }

  /** One `Rows` record per input, side by side along the features (the only axis a step has). */
  override streamAll(ctx: StreamContext, xs: StreamValue[]): StreamValue[] {
    if (xs.some((x) => x.fixed)) throw new ValueError(`session: ${this.name} joins this step's values; it cannot read a fixed one`);
    const rank = this.outputShape!.length;
    if (this.at !== rank - 1)
      throw new ValueError(`session: ${this.name} joins along axis ${this.axis}, not the features; it cannot be streamed`);
    const F = xs.reduce((a, x) => a + x.features, 0);
    const out = ctx.alloc(ctx.batch * F);
    let at = 0;
    for (const x of xs) {
      ctx.record('Rows', { len: x.features, src: x.buf.ptr, src_stride: x.features, dst: out.ptr + at * 4, dst_stride: F });
      at += x.features;
    }
    return [{ buf: out, features: F }];
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, axis: this.axis };
  }

  override toOnnxAll(g: OnnxBuilder, xs: OnnxValue[]): OnnxValue[] {
    const [y] = g.node(
      'Concat',
      xs.map((x) => x.name),
      1,
      { axis: this.axis },
    );
    return [{ name: y, rank: xs[0].rank, lengths: this.at === 0 ? null : (xs.find((x) => x.lengths)?.lengths ?? null) }];
  }
}

interface ConcatTape {
  dims: number[];
  outer: number;
  inner: number;
  D: number;
}

const MERGES = Object.keys(OP) as MergeName[];
const BY_CLASS = new Map(MERGES.map((m) => [CLASS[m], m]));

const keras: KerasMapping = {
  classNames: ['Concatenate', ...MERGES.map((m) => CLASS[m])],
  import(k) {
    if (k.className === 'Concatenate') return { layer: new Concatenate({ name: k.name, axis: Number(k.config.axis ?? -1) }), weights: {} };
    return { layer: new Merge(BY_CLASS.get(k.className)!, { name: k.name }), weights: {} };
  },
};

export const mergeKind = {
  classNames: ['Concatenate', ...MERGES.map((m) => CLASS[m])],
  fromConfig: (className: string, config: Record<string, unknown>) =>
    className === 'Concatenate' ? new Concatenate(config as ConcatenateArgs) : new Merge(BY_CLASS.get(className)!, config as MergeArgs),
  factories: {
    add: (args: MergeArgs = {}) => new Merge('add', args),
    subtract: (args: MergeArgs = {}) => new Merge('subtract', args),
    multiply: (args: MergeArgs = {}) => new Merge('multiply', args),
    average: (args: MergeArgs = {}) => new Merge('average', args),
    maximum: (args: MergeArgs = {}) => new Merge('maximum', args),
    minimum: (args: MergeArgs = {}) => new Merge('minimum', args),
    concatenate: (args: ConcatenateArgs = {}) => new Concatenate(args),
  },
  keras,
} satisfies LayerKind;
