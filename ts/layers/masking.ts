/**
 * `layers.masking({ maskValue })`: for float sequences `[B, T, F]`, a step
 * whose features all equal `maskValue` is padding; the mask reaches the
 * layers after it (recurrent layers, losses, attention) as per-sample
 * lengths, as Keras' `Masking` does. As with `embedding({ maskZero })`,
 * padding must come after the real steps (post-padding). Masked steps are
 * zeroed in the output (Keras multiplies them by the mask).
 */
import { FormatError, ValueError } from '../errors.js';
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

export interface MaskingArgs extends LayerArgs {
  /** The value that marks a padded step (default 0). */
  maskValue?: number;
}

export class Masking extends Layer {
  readonly className = 'Masking';
  readonly maskValue: number;

  constructor(args: MaskingArgs = {}) {
    super(args, 'masking');
    this.maskValue = args.maskValue ?? 0;
    if (!Number.isFinite(this.maskValue)) throw new ValueError(`${this.name}: maskValue must be a finite number; got ${args.maskValue}`);
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, features] input');
    this.outputShape = [...inputShape];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T, F] = x.shape;
    const lengthsBuf = call.buffers.get('lengths', B, 'i32');
    const y = call.buffers.get('y', B * T * F);
    const v = x.buf.view();
    const mv = this.maskValue;
    const masked = (b: number, t: number) => {
      for (let f = 0; f < F; f++) if (v[(b * T + t) * F + f] !== mv) return false;
      return true;
    };
    const lengths = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      let len = 0;
      while (len < T && !masked(b, len)) len++;
      for (let t = len; t < T; t++) {
        if (!masked(b, t)) {
          throw new ValueError(
            `${this.name}: masking needs padding after the real steps (post-padding); sample ${b} has a real step ${t} after padding at step ${len}`,
          );
        }
      }
      lengths[b] = Math.min(len, x.lengths ? x.lengths[b] : T);
    }
    lengthsBuf.set(lengths);
    this.copyReal(x.buf, y, B, T, F, lengths);
    if (step.training) call.tape = { B, T, F, lengths } satisfies MaskingTape;
    return { buf: y, shape: [B, T, F], lengths, lengthsBuf };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { B, T, F, lengths } = call.take<MaskingTape>(this);
    if (!needDx) return null;
    const dx = call.buffers.get('dx', B * T * F);
    this.copyReal(dy, dx, B, T, F, lengths);
    return dx;
  }

  /** Each sample's first `lengths[b]` steps of `src` to `dst`, the rest zero. */
  private copyReal(src: WasmArray, dst: WasmArray, B: number, T: number, F: number, lengths: Int32Array): void {
    dst.view().fill(0, 0, B * T * F);
    for (let b = 0; b < B; b++) {
      const len = lengths[b] * F;
      if (len > 0)
        checkStatus(`${this.name}`, this.core().copy_rows(1, len, src.ptr + b * T * F * 4, len, 1, dst.ptr + b * T * F * 4, len, 1, false));
    }
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, maskValue: this.maskValue, inputShape: this.inputShape ?? undefined };
  }

  /** Lengths: the steps with a feature other than `maskValue` (post-padding), at most the input's; padded steps zeroed. */
  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    if (x.rank !== 3) throw new FormatError(`toOnnx: ${this.name}: needs a [batch, time, features] input`);
    const [ne] = g.node('Not', [g.node('Equal', [x.name, g.init(g.name('mask_value'), [], [this.maskValue])])[0]]);
    const [anyF] = g.node('ReduceMax', [g.node('Cast', [ne], 1, { to: g.dtype('float') })[0]], 1, { axes: [2], keepdims: 0 });
    let [lengths] = g.node('ReduceSum', [g.node('Cast', [anyF], 1, { to: g.dtype('int32') })[0], g.ints('axes', [1])], 1, { keepdims: 0 });
    if (x.lengths) [lengths] = g.node('Min', [lengths, x.lengths]);
    const [valid] = g.node('Cast', [g.validSteps(x.name, lengths)], 1, { to: g.dtype('float') });
    const [out] = g.node('Mul', [x.name, g.node('Unsqueeze', [valid, g.ints('axes', [2])])[0]]);
    return { name: out, rank: 3, lengths };
  }
}

interface MaskingTape {
  B: number;
  T: number;
  F: number;
  lengths: Int32Array;
}

const keras: KerasMapping = {
  classNames: ['Masking'],
  import: (k) => ({ layer: new Masking({ name: k.name, maskValue: Number(k.config.mask_value ?? 0) }), weights: {} }),
};

export const maskingKind = {
  classNames: ['Masking'],
  fromConfig: (_c: string, config: Record<string, unknown>) => new Masking(config as MaskingArgs),
  factories: { masking: (args: MaskingArgs = {}) => new Masking(args) },
  keras,
} satisfies LayerKind;
