/**
 * Pooling over the steps of `[time, channels]` inputs, in the core:
 * `layers.maxPooling1d` / `averagePooling1d` (windows of `poolSize` steps
 * every `strides`, Keras 'valid' or 'same' padding; padding never wins a max
 * nor counts in an average, as Keras) and `globalMaxPooling1d` /
 * `globalAveragePooling1d` (over the whole sequence → `[channels]`).
 *
 * Masks: global pooling honours them — each sample is pooled over its valid
 * steps only (Keras does so for the average; we do it for the max as well,
 * since a padded zero winning a max is never what a masked model means).
 * Windowed pooling drops the mask, as Keras.
 */
import { ShapeError, ValueError } from '../errors.js';
import { POOL_DIMS_FIELDS, Pool } from '../runtime/contract.js';
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
} from './base.js';

export interface Pooling1dArgs extends LayerArgs {
  /** Steps per window (default 2). */
  poolSize?: number;
  /** Steps between windows (default `poolSize`). */
  strides?: number;
  padding?: 'valid' | 'same';
}

type PoolWords = Record<(typeof POOL_DIMS_FIELDS)[number], number>;

const KIND = { max: Pool.Max, average: Pool.Average } as const;
type Kind = keyof typeof KIND;

interface PoolTape {
  B: number;
  T: number;
  dims: WasmArray;
  arg: WasmArray | null;
}

/** Keras `MaxPooling1D` / `AveragePooling1D`. */
export class Pooling1d extends Layer {
  readonly className: string;
  readonly poolSize: number;
  readonly strides: number;
  readonly padding: 'valid' | 'same';
  private channels = 0;

  constructor(
    readonly kind: Kind,
    args: Pooling1dArgs,
  ) {
    super(args, kind === 'max' ? 'max_pooling1d' : 'average_pooling1d');
    this.className = kind === 'max' ? 'MaxPooling1D' : 'AveragePooling1D';
    const posInt = (what: string, v: number) => {
      if (!Number.isInteger(v) || v <= 0) throw new ValueError(`${this.name}: ${what} must be a positive integer; got ${String(v)}`);
      return v;
    };
    this.poolSize = posInt('poolSize', args.poolSize ?? 2);
    this.strides = posInt('strides', args.strides ?? this.poolSize);
    this.padding = args.padding ?? 'valid';
    if (this.padding !== 'valid' && this.padding !== 'same') {
      throw new ValueError(`${this.name}: padding must be 'valid' or 'same'; got ${JSON.stringify(this.padding)}`);
    }
  }

  /** Output steps and left padding for `T` steps (TensorFlow's rules). */
  private steps(T: number): { out: number; padLeft: number } {
    const [p, s] = [this.poolSize, this.strides];
    if (this.padding === 'valid') return { out: T >= p ? Math.floor((T - p) / s) + 1 : 0, padLeft: 0 };
    const out = Math.ceil(T / s);
    return { out, padLeft: Math.floor(Math.max((out - 1) * s + p - T, 0) / 2) };
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, channels] input');
    const [T, C] = inputShape;
    if (C === null) throw new ValueError(`${this.name}: the channel dimension must be known`);
    this.channels = C;
    let out: number | null = null;
    if (T !== null) {
      out = this.steps(T).out;
      if (out === 0) throw new ShapeError(`${this.name}: ${T} steps are fewer than poolSize ${this.poolSize} ('valid' padding)`);
    }
    this.outputShape = [out, C];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T, C] = x.shape;
    const { out, padLeft } = this.steps(T);
    if (out === 0) throw new ShapeError(`${this.name}: ${T} steps are fewer than poolSize ${this.poolSize} ('valid' padding)`);
    const bufs = call.buffers;
    const words: PoolWords = {
      batch: B,
      steps: T,
      channels: C,
      pool: this.poolSize,
      stride: this.strides,
      pad_left: padLeft,
      out_steps: out,
    };
    const dims = bufs.get('dims', POOL_DIMS_FIELDS.length, 'i32').set(POOL_DIMS_FIELDS.map((f) => words[f]));
    const y = bufs.get('y', B * out * C);
    const arg = step.training && this.kind === 'max' ? bufs.get('arg', B * out * C, 'i32') : null;
    checkStatus(`${this.name} forward`, this.core().pool1d_forward(KIND[this.kind], dims.ptr, x.buf.ptr, y.ptr, arg ? arg.ptr : 0));
    if (step.training) call.tape = { B, T, dims, arg } satisfies PoolTape;
    return { buf: y, shape: [B, out, C], lengths: null, lengthsBuf: null };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { B, T, dims, arg } = call.take<PoolTape>(this);
    if (!needDx) return null;
    const dx = call.buffers.get('dx', B * T * this.channels);
    checkStatus(`${this.name} backward`, this.core().pool1d_backward(KIND[this.kind], dims.ptr, dy.ptr, arg ? arg.ptr : 0, dx.ptr));
    return dx;
  }

  getConfig(): Record<string, unknown> {
    return {
      name: this.name,
      poolSize: this.poolSize,
      strides: this.strides,
      padding: this.padding,
      inputShape: this.inputShape ?? undefined,
      trainable: this.trainable,
    };
  }

  /** `MaxPool` / `AveragePool` (padding excluded from averages) on the channels-first transpose. */
  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    const [cf] = g.node('Transpose', [x.name], 1, { perm: [0, 2, 1] });
    const attrs: Record<string, number | number[] | string> = { kernel_shape: [this.poolSize], strides: [this.strides] };
    if (this.padding === 'same') attrs.auto_pad = 'SAME_UPPER';
    if (this.kind === 'average') attrs.count_include_pad = 0;
    const [p] = g.node(this.kind === 'max' ? 'MaxPool' : 'AveragePool', [cf], 1, attrs);
    const [out] = g.node('Transpose', [p], 1, { perm: [0, 2, 1] });
    return { name: out, rank: 3, lengths: null };
  }
}

interface GlobalTape {
  x: Activation;
  arg: WasmArray | null;
}

/** Keras `GlobalMaxPooling1D` / `GlobalAveragePooling1D`: `[time, channels]` → `[channels]`, over each sample's valid steps. */
export class GlobalPooling1d extends Layer {
  readonly className: string;
  private channels = 0;

  constructor(
    readonly kind: Kind,
    args: LayerArgs = {},
  ) {
    super(args, kind === 'max' ? 'global_max_pooling1d' : 'global_average_pooling1d');
    this.className = kind === 'max' ? 'GlobalMaxPooling1D' : 'GlobalAveragePooling1D';
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, channels] input');
    const C = inputShape[1];
    if (C === null) throw new ValueError(`${this.name}: the channel dimension must be known`);
    this.channels = C;
    this.outputShape = [C];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T, C] = x.shape;
    const y = call.buffers.get('y', B * C);
    const arg = step.training && this.kind === 'max' ? call.buffers.get('arg', B * C, 'i32') : null;
    checkStatus(
      `${this.name} forward`,
      this.core().global_pool_forward(KIND[this.kind], B, T, C, x.lengthsBuf ? x.lengthsBuf.ptr : 0, x.buf.ptr, y.ptr, arg ? arg.ptr : 0),
    );
    if (step.training) call.tape = { x, arg } satisfies GlobalTape;
    return { buf: y, shape: [B, C], lengths: null, lengthsBuf: null };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { x, arg } = call.take<GlobalTape>(this);
    if (!needDx) return null;
    const [B, T] = x.shape;
    const dx = call.buffers.get('dx', B * T * this.channels);
    checkStatus(
      `${this.name} backward`,
      this.core().global_pool_backward(
        KIND[this.kind],
        B,
        T,
        this.channels,
        x.lengthsBuf ? x.lengthsBuf.ptr : 0,
        dy.ptr,
        arg ? arg.ptr : 0,
        dx.ptr,
      ),
    );
    return dx;
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, inputShape: this.inputShape ?? undefined, trainable: this.trainable };
  }

  /** `ReduceMax` / `ReduceMean` over time; with lengths, a masked mean (valid steps only) or a max with padding at −∞. */
  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    // opset 17: ReduceMax and ReduceMean take their axes as an attribute, ReduceSum as an input
    const axes = g.ints('axes', [1]);
    if (!x.lengths) {
      const [out] = g.node(this.kind === 'max' ? 'ReduceMax' : 'ReduceMean', [x.name], 1, { axes: [1], keepdims: 0 });
      return { name: out, rank: 2, lengths: null };
    }
    // valid[b, t] = t < length[b], as [B, T, 1]
    const [valid3] = g.node('Unsqueeze', [g.validSteps(x.name, x.lengths), g.ints('axes', [2])]);
    const [len64] = g.node('Cast', [x.lengths], 1, { to: g.dtype('int64') });
    const [lenCol] = g.node('Unsqueeze', [len64, g.ints('axes', [1])]);
    if (this.kind === 'max') {
      const [neg] = g.node('Where', [valid3, x.name, g.init(g.name('neg_inf'), [], [-3.4e38])]);
      const [mx] = g.node('ReduceMax', [neg], 1, { axes: [1], keepdims: 0 });
      // an empty sample pools to 0
      const [any] = g.node('Greater', [len64, g.init(g.name('zero'), [], [0], 'int64')]);
      const [anyCol] = g.node('Unsqueeze', [any, g.ints('axes', [1])]);
      const [out] = g.node('Where', [anyCol, mx, g.init(g.name('zero_f'), [], [0])]);
      return { name: out, rank: 2, lengths: null };
    }
    const [vf] = g.node('Cast', [valid3], 1, { to: g.dtype('float') });
    const [masked] = g.node('Mul', [x.name, vf]);
    const [sum] = g.node('ReduceSum', [masked, axes], 1, { keepdims: 0 });
    const [lf] = g.node('Cast', [lenCol], 1, { to: g.dtype('float') });
    const [den] = g.node('Max', [lf, g.init(g.name('one_f'), [], [1])]);
    const [out] = g.node('Div', [sum, den]);
    return { name: out, rank: 2, lengths: null };
  }
}

const kerasPool: KerasMapping = {
  classNames: ['MaxPooling1D', 'AveragePooling1D', 'GlobalMaxPooling1D', 'GlobalAveragePooling1D'],
  import(k) {
    const c = k.config;
    if (c.data_format !== undefined && c.data_format !== 'channels_last')
      throw k.error(`data_format ${JSON.stringify(c.data_format)} is not supported`);
    const kind: Kind = k.className.includes('Max') ? 'max' : 'average';
    if (k.className.startsWith('Global')) {
      if (c.keepdims === true) throw k.error('keepdims: true is not supported');
      return { layer: new GlobalPooling1d(kind, { name: k.name }), weights: {} };
    }
    const one = (v: unknown) => (Array.isArray(v) ? v[0] : v) as number;
    const layer = new Pooling1d(kind, {
      name: k.name,
      poolSize: one(c.pool_size ?? 2),
      strides: c.strides === null || c.strides === undefined ? undefined : one(c.strides),
      padding: String(c.padding ?? 'valid') as 'valid' | 'same',
    });
    return { layer, weights: {} };
  },
};

export const poolingKind = {
  classNames: ['MaxPooling1D', 'AveragePooling1D', 'GlobalMaxPooling1D', 'GlobalAveragePooling1D'],
  fromConfig: (className, config) => {
    const kind: Kind = className.includes('Max') ? 'max' : 'average';
    return className.startsWith('Global') ? new GlobalPooling1d(kind, config as LayerArgs) : new Pooling1d(kind, config as Pooling1dArgs);
  },
  factories: {
    maxPooling1d: (args: Pooling1dArgs = {}) => new Pooling1d('max', args),
    averagePooling1d: (args: Pooling1dArgs = {}) => new Pooling1d('average', args),
    globalMaxPooling1d: (args: LayerArgs = {}) => new GlobalPooling1d('max', args),
    globalAveragePooling1d: (args: LayerArgs = {}) => new GlobalPooling1d('average', args),
  },
  keras: kerasPool,
} satisfies LayerKind;
