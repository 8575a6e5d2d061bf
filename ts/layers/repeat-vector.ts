/**
 * `layers.repeatVector({ n })`: `[B, F]` → `[B, n, F]`, each sample's vector
 * repeated `n` times (Keras' `RepeatVector`, the encoder–decoder bridge). One
 * strided copy in the core; its gradient sums the `n` rows back.
 */
import { ValueError } from '../errors.js';
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

export interface RepeatVectorArgs extends LayerArgs {
  /** Times to repeat each vector. */
  n: number;
}

export class RepeatVector extends Layer {
  readonly className = 'RepeatVector';
  readonly n: number;

  constructor(args: RepeatVectorArgs) {
    super(args, 'repeat_vector');
    if (!Number.isInteger(args?.n) || args.n <= 0) throw new ValueError(`${this.name}: n must be a positive integer; got ${args?.n}`);
    this.n = args.n;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [1], 'a [features] input');
    this.outputShape = [this.n, inputShape[0]];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, F] = x.shape;
    const y = call.buffers.get('y', B * this.n * F);
    checkStatus(`${this.name} forward`, this.core().copy_rows(B * this.n, F, x.buf.ptr, F, this.n, y.ptr, F, 1, false));
    if (step.training) call.tape = { B, F } satisfies RepeatTape;
    return { buf: y, shape: [B, this.n, F], lengths: null, lengthsBuf: null };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { B, F } = call.take<RepeatTape>(this);
    if (!needDx) return null;
    const dx = call.buffers.get('dx', B * F);
    dx.view().fill(0, 0, B * F);
    checkStatus(`${this.name} backward`, this.core().copy_rows(B * this.n, F, dy.ptr, F, 1, dx.ptr, F, this.n, true));
    return dx;
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, n: this.n, inputShape: this.inputShape ?? undefined };
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    // [N, F] → [N, 1, F] → tiled n times along axis 1
    const [u] = g.node('Unsqueeze', [x.name, g.ints('axes', [1])]);
    const [y] = g.node('Tile', [u, g.ints('repeats', [1, this.n, 1])]);
    return { name: y, rank: 3, lengths: null };
  }
}

interface RepeatTape {
  B: number;
  F: number;
}

const keras: KerasMapping = {
  classNames: ['RepeatVector'],
  import: (k) => ({ layer: new RepeatVector({ name: k.name, n: Number(k.config.n) }), weights: {} }),
};

export const repeatVectorKind = {
  classNames: ['RepeatVector'],
  fromConfig: (_c: string, config: Record<string, unknown>) => new RepeatVector(config as unknown as RepeatVectorArgs),
  factories: { repeatVector: (args: RepeatVectorArgs) => new RepeatVector(args) },
  keras,
} satisfies LayerKind;
