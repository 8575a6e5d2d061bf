/**
 * `layers.dense`: `y = act(x·Wᵀ + b)` on the last axis; on 3-D input it is
 * applied to every time step (rows = B·T). Weights in PyTorch `nn.Linear`
 * layout and names: `weight [units, F]`, `bias [units]`.
 */
import { ValueError } from '../errors.js';
import type { Initializer } from '../model/initializers.js';
import { initMatrix, Layer, type Activation, type LayerArgs, type ParamSpec, type Regularizer, type Shape, type StepInfo } from './base.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';

export type DenseActivation = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'softmax';
const ACT_CODE: Record<DenseActivation, number> = { linear: 0, relu: 1, tanh: 2, sigmoid: 3, softmax: 4 };

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: DenseActivation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: DenseActivation;
  readonly useBias: boolean;
  /**
   * Set by the model when this layer's sigmoid/softmax is fused into the
   * loss: forward then emits logits while training and evaluating.
   */
  emitLogits = false;
  private weight: ParamSpec | null = null;
  private bias: ParamSpec | null = null;
  private inF = 0;
  private lastX: Activation | null = null;
  private lastY: WasmArray | null = null;
  private lastRows = 0;
  private lastAct = 0;

  constructor(private readonly args: DenseArgs) {
    super(args, 'dense');
    if (!Number.isInteger(args.units) || args.units <= 0)
      throw new ValueError(`${this.name}: units must be a positive integer; got ${args.units}`);
    this.units = args.units;
    this.activation = args.activation ?? 'linear';
    if (!(this.activation in ACT_CODE))
      throw new ValueError(`${this.name}: unknown activation "${this.activation}" (linear, relu, tanh, sigmoid, softmax)`);
    this.useBias = args.useBias ?? true;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [1, 2], 'a [features] or [time, features] input');
    const F = inputShape[inputShape.length - 1];
    if (F === null) throw new ValueError(`${this.name}: the feature dimension must be known`);
    this.inF = F;
    const U = this.units;
    // Keras kernel [F, U] → our weight [U, F]: element (f, u) at u·F + f
    this.weight = this.addParam(
      'weight',
      [U, F],
      initMatrix(this.args.kernelInitializer ?? 'glorotUniform', F, U, { fanIn: F, fanOut: U }, (f, u) => u * F + f),
      this.args.kernelRegularizer,
    );
    if (this.useBias) {
      this.bias = this.addParam(
        'bias',
        [U],
        initMatrix(this.args.biasInitializer ?? 'zeros', 1, U, { fanIn: F, fanOut: U }, (_r, u) => u),
        this.args.biasRegularizer,
      );
    }
    this.outputShape = [...inputShape.slice(0, -1), U];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo): Activation {
    const F = this.inF;
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const y = this.buf().get('y', rows * this.units);
    const act = this.emitLogits && (this.activation === 'softmax' || this.activation === 'sigmoid') ? 0 : ACT_CODE[this.activation];
    checkStatus(
      `${this.name} forward`,
      this.core().dense_forward(
        rows,
        F,
        this.units,
        x.buf.ptr,
        this.paramPtr(this.weight!),
        this.bias ? this.paramPtr(this.bias) : 0,
        y.ptr,
        act,
      ),
    );
    if (step.training) {
      this.lastX = x;
      this.lastY = y;
      this.lastRows = rows;
      this.lastAct = act;
    }
    return { buf: y, shape: [...x.shape.slice(0, -1), this.units], lengths: x.lengths, lengthsBuf: x.lengthsBuf };
  }

  backward(dy: WasmArray, needDx: boolean): WasmArray | null {
    const x = this.lastX;
    if (!x || !this.lastY) throw new ValueError(`${this.name}: backward without a training forward`);
    const rows = this.lastRows;
    const dx = needDx ? this.buf().get('dx', rows * this.inF) : null;
    checkStatus(
      `${this.name} backward`,
      this.core().dense_backward(
        rows,
        this.inF,
        this.units,
        x.buf.ptr,
        this.paramPtr(this.weight!),
        this.lastY.ptr,
        dy.ptr,
        this.lastAct,
        this.gradPtr(this.weight!),
        this.bias ? this.gradPtr(this.bias) : 0,
        dx ? dx.ptr : 0,
      ),
    );
    this.lastX = null;
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
}
