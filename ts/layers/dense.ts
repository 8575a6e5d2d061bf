/**
 * `layers.dense`: `y = act(x·Wᵀ + b)` on the last axis; on 3-D input it is
 * applied to every time step (rows = B·T). Weights in PyTorch `nn.Linear`
 * layout and names: `weight [units, F]`, `bias [units]`.
 *
 * Keras stores the kernel `[F, units]` (transposed on import); ONNX export
 * writes `MatMul` with `Wᵀ` + `Add` + the activation.
 */
import { ValueError } from '../errors.js';
import { DenseAct } from '../runtime/contract.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import {
  type Activation,
  type Int8Packer,
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
  type StreamContext,
  type StreamValue,
  type TorchMapping,
  transpose,
} from './base.js';
import type { Initializer } from './initializers.js';

export type DenseActivation = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'softmax';
const ACT_CODE: Readonly<Record<DenseActivation, DenseAct>> = {
  linear: DenseAct.Linear,
  relu: DenseAct.Relu,
  tanh: DenseAct.Tanh,
  sigmoid: DenseAct.Sigmoid,
  softmax: DenseAct.Softmax,
};
const ONNX_ACT: Readonly<Record<DenseActivation, string | null>> = {
  relu: 'Relu',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  softmax: 'Softmax',
  linear: null,
};

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: DenseActivation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

/** What a training forward keeps for backward. */
interface DenseTape {
  x: Activation;
  y: WasmArray;
  rows: number;
  act: number;
}

/** int8 weights of a dense layer: packed `W` and its per-row scales. */
interface DenseInt8 {
  q: number;
  scales: number;
}

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: DenseActivation;
  readonly useBias: boolean;
  private weight: ParamSpec | null = null;
  private bias: ParamSpec | null = null;
  private inF = 0;

  constructor(private readonly args: DenseArgs) {
    super(args, 'dense');
    if (!Number.isInteger(args.units) || args.units <= 0)
      throw new ValueError(`${this.name}: units must be a positive integer; got ${args.units}`);
    this.units = args.units;
    this.activation = args.activation ?? 'linear';
    if (!(this.activation in ACT_CODE)) {
      throw new ValueError(`${this.name}: unknown activation "${this.activation}" (linear, relu, tanh, sigmoid, softmax)`);
    }
    this.useBias = args.useBias ?? true;
  }

  override get outputActivation(): string {
    return this.activation;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [1, 2], 'a [features] or [time, features] input');
    const F = inputShape[inputShape.length - 1];
    if (F === null) throw new ValueError(`${this.name}: the feature dimension must be known`);
    this.inF = F;
    const U = this.units;
    // Keras kernel [F, U] → our weight [U, F]: element (f, u) at u·F + f
    const kInit = initMatrix(this.args.kernelInitializer ?? 'glorotUniform', F, U, { fanIn: F, fanOut: U }, (f, u) => u * F + f);
    this.weight = this.addParam('weight', [U, F], kInit, this.args.kernelRegularizer, true);
    if (this.useBias) {
      const bInit = initMatrix(this.args.biasInitializer ?? 'zeros', 1, U, { fanIn: F, fanOut: U }, (_r, u) => u);
      this.bias = this.addParam('bias', [U], bInit, this.args.biasRegularizer);
    }
    this.outputShape = [...inputShape.slice(0, -1), U];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const F = this.inF;
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const y = call.buffers.get('y', rows * this.units);
    const act =
      this.emitLogits && (this.activation === 'softmax' || this.activation === 'sigmoid') ? DenseAct.Linear : ACT_CODE[this.activation];
    const bias = this.bias ? this.paramPtr(this.bias) : 0;
    checkStatus(
      `${this.name} forward`,
      this.core().dense_forward(rows, F, this.units, x.buf.ptr, this.paramPtr(this.weight!), bias, y.ptr, act),
    );
    if (step.training) call.tape = { x, y, rows, act } satisfies DenseTape;
    return { buf: y, shape: [...x.shape.slice(0, -1), this.units], lengths: x.lengths, lengthsBuf: x.lengthsBuf };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { x, y, rows, act } = call.take<DenseTape>(this);
    const dx = needDx ? call.buffers.get('dx', rows * this.inF) : null;
    checkStatus(
      `${this.name} backward`,
      this.core().dense_backward(
        rows,
        this.inF,
        this.units,
        x.buf.ptr,
        this.paramPtr(this.weight!),
        y.ptr,
        dy.ptr,
        act,
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
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      inputShape: this.inputShape ?? undefined,
      trainable: this.trainable,
      kernelRegularizer,
      biasRegularizer,
    };
  }

  override stream(ctx: StreamContext, x: StreamValue): StreamValue {
    const out = ctx.alloc(ctx.batch * this.units);
    const q = ctx.int8 as DenseInt8 | null;
    const [inp, bias, i, o, act] = [x.buf.ptr, this.useBias ? ctx.param('bias') : 0, x.features, this.units, ACT_CODE[this.activation]];
    if (q) {
      const a16 = ctx.shared('q8act', this.core().q8_act_scratch_len(ctx.batch, i));
      ctx.record('DenseQ8', { inp, qw: q.q, sw: q.scales, bias, i, o, act, out: out.ptr, a16 });
    } else {
      ctx.record('Dense', { inp, w: ctx.param('weight'), bias, i, o, act, out: out.ptr });
    }
    return { buf: out, features: this.units };
  }

  override int8Weights(p: Int8Packer): DenseInt8 {
    const [q, scales] = p.pack('weight');
    return { q, scales };
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    const W = g.weight('weight'); // [out, in]
    const [out, inn] = W.shape;
    let [cur] = g.node('MatMul', [x.name, g.init(`${this.name}.weight_t`, [inn, out], transpose(out, inn, W.data))]);
    if (this.useBias) [cur] = g.node('Add', [cur, g.init(`${this.name}.bias`, [out], g.weight('bias').data)]);
    const act = ONNX_ACT[this.activation];
    if (act) [cur] = g.node(act, [cur], 1, act === 'Softmax' ? { axis: -1 } : {});
    return { ...x, name: cur };
  }
}

/** Keras `Dense`: kernel `[F, units]` → our `weight [units, F]`. */
const keras: KerasMapping = {
  classNames: ['Dense'],
  import(k) {
    const c = k.config;
    const activation = k.activation(c.activation);
    if (!(activation in ACT_CODE)) throw k.error(`activation "${activation}" is not supported`);
    const useBias = c.use_bias !== false;
    const layer = new Dense({ name: k.name, units: Number(c.units), activation: activation as DenseActivation, useBias });
    const kernel = k.weight('kernel');
    const weights: Record<string, Float32Array> = { [`${k.name}.weight`]: transpose(kernel.shape[0], kernel.shape[1], kernel.data) };
    if (useBias) weights[`${k.name}.bias`] = k.weight('bias').data;
    return { layer, weights };
  },
};

/** PyTorch `nn.Linear`: `weight [out, in]`, `bias [out]`, as ours. */
const torch: TorchMapping = {
  types: ['linear'],
  stage: 2,
  detect: (m) => {
    const w = m.tensors.get('weight');
    return w && w.shape.length === 2 && m.tensors.has('bias') && m.tensors.size === 2 ? 'linear' : null;
  },
  sizes: (m) => ({ in: m.tensors.get('weight')!.shape[1], out: m.tensors.get('weight')!.shape[0] }),
  import(t) {
    const w = t.module.tensors.get('weight');
    if (w?.shape.length !== 2) throw t.error(`"${t.module.prefix}.weight" must be [out, in]`);
    const [out, inn] = w.shape;
    const activation = (t.spec.activation as DenseActivation | undefined) ?? 'linear';
    return {
      layers: [new Dense({ name: t.name, units: out, activation })],
      weights: { [`${t.name}.weight`]: t.take('weight', [out, inn]), [`${t.name}.bias`]: t.take('bias', [out]) },
      inputSize: inn,
    };
  },
};

export const denseKind = {
  classNames: ['Dense'],
  fromConfig: (_c, config) => new Dense(config as unknown as DenseArgs),
  factories: { dense: (args: DenseArgs) => new Dense(args) },
  keras,
  torch,
} satisfies LayerKind;
