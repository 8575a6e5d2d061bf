/**
 * `layers.conv1d`: a 1-D convolution over the steps of `[time, channels]`
 * inputs (Keras `Conv1D`, channels last), on the core's unfolded-window GEMM
 * — one wasm call per batch forward, one backward.
 *
 * Weights in PyTorch `nn.Conv1d` layout and names: `weight [filters,
 * channels/groups, kernelSize]`, `bias [filters]`; Keras stores the kernel
 * `[kernelSize, channels/groups, filters]` (transposed on import).
 * Initialisers follow Keras (glorotUniform over fans `K·channels/groups` and
 * `K·filters`, bias zeros).
 *
 * Padding as Keras: 'valid' (no padding), 'same' (`ceil(T/stride)` outputs,
 * the extra padding step at the end as TensorFlow), 'causal' (`d·(K−1)` zeros
 * before the first step: output `t` never sees a later input). As in Keras a
 * mask does not pass a convolution: padded steps are convolved as the zeros
 * they hold, and the output carries no lengths.
 */
import { ShapeError, ValueError } from '../errors.js';
import { CONV_DIMS_FIELDS, DenseAct } from '../runtime/contract.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import {
  type Activation,
  initMatrix,
  type KerasMapping,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type OnnxBuilder,
  type OnnxValue,
  type ParamSpec,
  type Regularizer,
  type Shape,
  type StepInfo,
} from './base.js';
import type { Initializer } from './initializers.js';

export type ConvPadding = 'valid' | 'same' | 'causal';
export type ConvActivation = 'linear' | 'relu' | 'tanh' | 'sigmoid';
const ACT_CODE: Readonly<Record<ConvActivation, DenseAct>> = {
  linear: DenseAct.Linear,
  relu: DenseAct.Relu,
  tanh: DenseAct.Tanh,
  sigmoid: DenseAct.Sigmoid,
};
const ONNX_ACT: Readonly<Record<ConvActivation, string | null>> = { linear: null, relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };

export interface Conv1dArgs extends LayerArgs {
  filters: number;
  kernelSize: number;
  strides?: number;
  padding?: ConvPadding;
  dilationRate?: number;
  groups?: number;
  activation?: ConvActivation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

type ConvWords = Record<(typeof CONV_DIMS_FIELDS)[number], number>;

/** Output steps and left padding for `T` input steps (Keras' and TensorFlow's rules). */
export function convSteps(T: number, k: number, stride: number, dilation: number, padding: ConvPadding): { out: number; padLeft: number } {
  const span = dilation * (k - 1) + 1;
  if (padding === 'valid') return { out: T >= span ? Math.floor((T - span) / stride) + 1 : 0, padLeft: 0 };
  if (padding === 'causal') return { out: Math.floor((T - 1) / stride) + 1, padLeft: span - 1 };
  const out = Math.ceil(T / stride);
  const total = Math.max((out - 1) * stride + span - T, 0);
  return { out, padLeft: Math.floor(total / 2) };
}

interface ConvTape {
  x: Activation;
  y: WasmArray;
  col: WasmArray;
  dims: WasmArray;
  act: DenseAct;
  B: number;
  T: number;
}

export class Conv1d extends Layer {
  readonly className = 'Conv1D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: ConvPadding;
  readonly dilationRate: number;
  readonly groups: number;
  readonly activation: ConvActivation;
  readonly useBias: boolean;
  private weight: ParamSpec | null = null;
  private bias: ParamSpec | null = null;
  private inC = 0;

  constructor(private readonly args: Conv1dArgs) {
    super(args, 'conv1d');
    const posInt = (k: keyof Conv1dArgs, v: unknown) => {
      if (!Number.isInteger(v) || (v as number) <= 0)
        throw new ValueError(`${this.name}: ${k} must be a positive integer; got ${String(v)}`);
      return v as number;
    };
    this.filters = posInt('filters', args.filters);
    this.kernelSize = posInt('kernelSize', args.kernelSize);
    this.strides = posInt('strides', args.strides ?? 1);
    this.dilationRate = posInt('dilationRate', args.dilationRate ?? 1);
    this.groups = posInt('groups', args.groups ?? 1);
    this.padding = args.padding ?? 'valid';
    if (!['valid', 'same', 'causal'].includes(this.padding)) {
      throw new ValueError(`${this.name}: padding must be 'valid', 'same' or 'causal'; got ${JSON.stringify(this.padding)}`);
    }
    this.activation = args.activation ?? 'linear';
    if (!(this.activation in ACT_CODE)) {
      throw new ValueError(`${this.name}: unknown activation ${JSON.stringify(this.activation)} (linear, relu, tanh, sigmoid)`);
    }
    this.useBias = args.useBias ?? true;
    if (this.filters % this.groups !== 0)
      throw new ValueError(`${this.name}: filters (${this.filters}) must be a multiple of groups (${this.groups})`);
  }

  override get outputActivation(): string {
    return this.activation;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, channels] input');
    const [T, C] = inputShape;
    if (C === null) throw new ValueError(`${this.name}: the channel dimension must be known`);
    if (C % this.groups !== 0) throw new ShapeError(`${this.name}: input channels (${C}) must be a multiple of groups (${this.groups})`);
    this.inC = C;
    const [K, Cg, F] = [this.kernelSize, C / this.groups, this.filters];
    // Keras kernel [K, C/G, F] as rows (k, c) × columns f → ours [F, C/G, K]
    const kInit = initMatrix(this.args.kernelInitializer ?? 'glorotUniform', K * Cg, F, { fanIn: K * Cg, fanOut: K * F }, (r, f) => {
      const [k, c] = [Math.floor(r / Cg), r % Cg];
      return (f * Cg + c) * K + k;
    });
    this.weight = this.addParam('weight', [F, Cg, K], kInit, this.args.kernelRegularizer, true);
    if (this.useBias) {
      this.bias = this.addParam(
        'bias',
        [F],
        initMatrix(this.args.biasInitializer ?? 'zeros', 1, F, { fanIn: K * Cg, fanOut: K * F }, (_r, f) => f),
        this.args.biasRegularizer,
      );
    }
    let Tout: number | null = null;
    if (T !== null) {
      Tout = convSteps(T, K, this.strides, this.dilationRate, this.padding).out;
      if (Tout === 0)
        throw new ShapeError(
          `${this.name}: ${T} steps are fewer than the kernel's span ${this.dilationRate * (K - 1) + 1} ('valid' padding)`,
        );
    }
    this.outputShape = [Tout, F];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T] = x.shape;
    const { out: Tout, padLeft } = convSteps(T, this.kernelSize, this.strides, this.dilationRate, this.padding);
    if (Tout === 0) throw new ShapeError(`${this.name}: ${T} steps are fewer than the kernel's span ('valid' padding)`);
    const bufs = call.buffers;
    const words: ConvWords = {
      batch: B,
      steps: T,
      in_channels: this.inC,
      out_channels: this.filters,
      kernel: this.kernelSize,
      stride: this.strides,
      dilation: this.dilationRate,
      pad_left: padLeft,
      groups: this.groups,
      out_steps: Tout,
    };
    const dims = bufs.get('dims', CONV_DIMS_FIELDS.length, 'i32').set(CONV_DIMS_FIELDS.map((f) => words[f]));
    const core = this.core();
    const y = bufs.get('y', B * Tout * this.filters);
    const col = bufs.get('col', core.conv1d_workspace_len(dims.ptr));
    const act = this.emitLogits && this.activation === 'sigmoid' ? DenseAct.Linear : ACT_CODE[this.activation];
    checkStatus(
      `${this.name} forward`,
      core.conv1d_forward(dims.ptr, x.buf.ptr, this.paramPtr(this.weight!), this.bias ? this.paramPtr(this.bias) : 0, y.ptr, col.ptr, act),
    );
    if (step.training) call.tape = { x, y, col, dims, act, B, T } satisfies ConvTape;
    return { buf: y, shape: [B, Tout, this.filters], lengths: null, lengthsBuf: null };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { x, y, col, dims, act, B, T } = call.take<ConvTape>(this);
    const dx = needDx ? call.buffers.get('dx', B * T * this.inC) : null;
    checkStatus(
      `${this.name} backward`,
      this.core().conv1d_backward(
        dims.ptr,
        x.buf.ptr,
        this.paramPtr(this.weight!),
        y.ptr,
        dy.ptr,
        act,
        col.ptr,
        this.gradPtr(this.weight!),
        this.bias ? this.gradPtr(this.bias) : 0,
        dx ? dx.ptr : 0,
      ),
    );
    return dx;
  }

  getConfig(): Record<string, unknown> {
    const { kernelRegularizer, biasRegularizer } = this.args;
    return {
      name: this.name,
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dilationRate: this.dilationRate,
      groups: this.groups,
      activation: this.activation,
      useBias: this.useBias,
      inputShape: this.inputShape ?? undefined,
      trainable: this.trainable,
      kernelRegularizer,
      biasRegularizer,
    };
  }

  /** `Conv` on the channels-first transpose (ONNX's layout), weights as ours; 'same' as `SAME_UPPER`, 'causal' as left pads. */
  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    const W = g.weight('weight');
    const [K, d] = [this.kernelSize, this.dilationRate];
    const [cf] = g.node('Transpose', [x.name], 1, { perm: [0, 2, 1] });
    const inputs = [cf, g.init(`${this.name}.weight`, W.shape, W.data)];
    if (this.useBias) inputs.push(g.init(`${this.name}.bias`, [this.filters], g.weight('bias').data));
    const attrs: Record<string, number | number[] | string> = {
      kernel_shape: [K],
      strides: [this.strides],
      dilations: [d],
      group: this.groups,
    };
    if (this.padding === 'same') attrs.auto_pad = 'SAME_UPPER';
    else attrs.pads = this.padding === 'causal' ? [d * (K - 1), 0] : [0, 0];
    let [cur] = g.node('Conv', inputs, 1, attrs);
    [cur] = g.node('Transpose', [cur], 1, { perm: [0, 2, 1] });
    const act = ONNX_ACT[this.activation];
    if (act) [cur] = g.node(act, [cur]);
    return { name: cur, rank: 3, lengths: null };
  }
}

/** Keras `Conv1D`: kernel `[K, C/G, F]` → our `weight [F, C/G, K]`; channels-last only. */
const keras: KerasMapping = {
  classNames: ['Conv1D'],
  import(k) {
    const c = k.config;
    if (c.data_format !== undefined && c.data_format !== 'channels_last')
      throw k.error(`data_format ${JSON.stringify(c.data_format)} is not supported`);
    const activation = k.activation(c.activation);
    if (!(activation in ACT_CODE)) throw k.error(`activation "${activation}" is not supported`);
    const one = (v: unknown, what: string): number => {
      const n = Array.isArray(v) ? v[0] : v;
      if (!Number.isInteger(n)) throw k.error(`${what} ${JSON.stringify(v)} is not an integer`);
      return n as number;
    };
    const useBias = c.use_bias !== false;
    const layer = new Conv1d({
      name: k.name,
      filters: one(c.filters, 'filters'),
      kernelSize: one(c.kernel_size, 'kernel_size'),
      strides: one(c.strides ?? 1, 'strides'),
      padding: String(c.padding ?? 'valid') as ConvPadding,
      dilationRate: one(c.dilation_rate ?? 1, 'dilation_rate'),
      groups: one(c.groups ?? 1, 'groups'),
      activation: activation as ConvActivation,
      useBias,
    });
    const kernel = k.weight('kernel');
    const [K, Cg, F] = kernel.shape;
    const w = new Float32Array(kernel.data.length);
    for (let kk = 0; kk < K; kk++)
      for (let ci = 0; ci < Cg; ci++) for (let f = 0; f < F; f++) w[(f * Cg + ci) * K + kk] = kernel.data[(kk * Cg + ci) * F + f];
    const weights: Record<string, Float32Array> = { [`${k.name}.weight`]: w };
    if (useBias) weights[`${k.name}.bias`] = k.weight('bias').data;
    return { layer, weights };
  },
};

export const conv1dKind = {
  classNames: ['Conv1D'],
  fromConfig: (_c, config) => new Conv1d(config as unknown as Conv1dArgs),
  factories: { conv1d: (args: Conv1dArgs) => new Conv1d(args) },
  keras,
} satisfies LayerKind;
