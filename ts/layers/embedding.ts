/**
 * `layers.embedding`: integer ids `[B, T]` → vectors `[B, T, E]`. PyTorch
 * `nn.Embedding` name and layout: `weight [inputDim, outputDim]`.
 *
 * `maskZero`: id 0 is padding. The mask reaches the recurrent layers as
 * per-sample lengths, so padding must come after the real steps
 * (post-padding); the loss then ignores padded steps.
 */
import { ValueError } from '../errors.js';
import type { Initializer } from '../model/initializers.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import { initMatrix, Layer, type Activation, type LayerArgs, type ParamSpec, type Regularizer, type Shape, type StepInfo } from './base.js';

export interface EmbeddingArgs extends LayerArgs {
  inputDim: number;
  outputDim: number;
  maskZero?: boolean;
  embeddingsInitializer?: Initializer;
  embeddingsRegularizer?: Regularizer;
  inputLength?: number;
}

export class Embedding extends Layer {
  readonly className = 'Embedding';
  readonly inputDType = 'int32';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly maskZero: boolean;
  private weight: ParamSpec | null = null;
  private lastIds: WasmArray | null = null;
  private lastRows = 0;

  constructor(private readonly args: EmbeddingArgs) {
    super({ ...args, inputShape: args.inputShape ?? (args.inputLength ? [args.inputLength] : undefined) }, 'embedding');
    for (const k of ['inputDim', 'outputDim'] as const) {
      if (!Number.isInteger(args[k]) || args[k] <= 0) throw new ValueError(`${this.name}: ${k} must be a positive integer; got ${args[k]}`);
    }
    this.inputDim = args.inputDim;
    this.outputDim = args.outputDim;
    this.maskZero = args.maskZero ?? false;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [1], 'integer ids of shape [time]');
    const V = this.inputDim;
    const E = this.outputDim;
    this.weight = this.addParam(
      'weight',
      [V, E],
      initMatrix(this.args.embeddingsInitializer ?? 'uniform', V, E, { fanIn: V, fanOut: E }, (v, e) => v * E + e),
      this.args.embeddingsRegularizer,
    );
    this.outputShape = [inputShape[0], E];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo): Activation {
    const [B, T] = x.shape;
    const rows = B * T;
    const ids = x.buf.viewI32().subarray(0, rows);
    for (let r = 0; r < rows; r++) {
      const id = ids[r];
      if (!(id >= 0 && id < this.inputDim)) {
        throw new ValueError(`${this.name}: id ${id} at [${Math.floor(r / T)}, ${r % T}] is outside [0, ${this.inputDim})`);
      }
    }
    let lengths: Int32Array | null = null;
    let lengthsBuf: WasmArray | null = null;
    if (this.maskZero) {
      lengths = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        let len = 0;
        while (len < T && ids[b * T + len] !== 0) len++;
        for (let t = len; t < T; t++) {
          if (ids[b * T + t] !== 0) {
            throw new ValueError(
              `${this.name}: maskZero needs padding after the real steps (post-padding); sample ${b} has id ${ids[b * T + t]} at step ${t} after padding at step ${len}`,
            );
          }
        }
        lengths[b] = len;
      }
      lengthsBuf = this.buf().get('lengths', B, 'i32');
      lengthsBuf.set(lengths);
    }
    const y = this.buf().get('y', rows * this.outputDim);
    checkStatus(
      `${this.name} forward`,
      this.core().embedding_forward(rows, this.inputDim, this.outputDim, x.buf.ptr, this.paramPtr(this.weight!), y.ptr),
    );
    if (step.training) {
      this.lastIds = x.buf;
      this.lastRows = rows;
    }
    return { buf: y, shape: [B, T, this.outputDim], lengths, lengthsBuf };
  }

  backward(dy: WasmArray): WasmArray | null {
    if (!this.lastIds) throw new ValueError(`${this.name}: backward without a training forward`);
    checkStatus(
      `${this.name} backward`,
      this.core().embedding_backward(this.lastRows, this.inputDim, this.outputDim, this.lastIds.ptr, dy.ptr, this.gradPtr(this.weight!)),
    );
    this.lastIds = null;
    return null;
  }

  getConfig(): Record<string, unknown> {
    return {
      name: this.name,
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      maskZero: this.maskZero,
      inputShape: this.inputShape ?? undefined,
      trainable: this.trainable,
      embeddingsRegularizer: this.args.embeddingsRegularizer,
    };
  }
}
