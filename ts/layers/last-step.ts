/**
 * `layers.lastStep`: `[B, T, F]` → `[B, F]`, the output at each sample's last
 * real step (`T − 1`, or `lengths[b] − 1` when masked) — PyTorch's
 * `out[:, -1]` (for packed sequences, the output at each length). Unlike a
 * recurrent layer's `returnSequences: false`, a bidirectional layer's reverse
 * half here is its output *at* that step, as in PyTorch.
 *
 * In a session every step is the last so far: the layer passes each step's
 * output through.
 */
import { FormatError } from '../errors.js';
import type { WasmArray } from '../runtime/memory.js';
import {
  type Activation,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type OnnxBuilder,
  type OnnxValue,
  type Shape,
  type StepInfo,
  type StreamValue,
} from './base.js';

interface LastStepTape {
  B: number;
  T: number;
  F: number;
  lengths: Int32Array | null;
}

export class LastStep extends Layer {
  readonly className = 'LastStep';

  constructor(args: LayerArgs = {}) {
    super(args, 'last_step');
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, features] input');
    this.outputShape = [inputShape[1]];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T, F] = x.shape;
    const out = call.buffers.get('y', B * F);
    const src = x.buf.view();
    const dst = out.view();
    for (let b = 0; b < B; b++) {
      const t = x.lengths ? Math.max(x.lengths[b] - 1, 0) : T - 1;
      if (x.lengths && x.lengths[b] === 0) dst.fill(0, b * F, (b + 1) * F);
      else dst.set(src.subarray((b * T + t) * F, (b * T + t + 1) * F), b * F);
    }
    if (step.training) call.tape = { B, T, F, lengths: x.lengths } satisfies LastStepTape;
    return { buf: out, shape: [B, F], lengths: null, lengthsBuf: null };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { B, T, F, lengths } = call.take<LastStepTape>(this);
    if (!needDx) return null;
    const dx = call.buffers.get('dx', B * T * F);
    const d = dx.view();
    d.fill(0, 0, B * T * F);
    const g = dy.view();
    for (let b = 0; b < B; b++) {
      if (lengths && lengths[b] === 0) continue;
      const t = lengths ? lengths[b] - 1 : T - 1;
      d.set(g.subarray(b * F, (b + 1) * F), (b * T + t) * F);
    }
    return dx;
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name };
  }

  override stream(_ctx: unknown, x: StreamValue): StreamValue {
    return x;
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    if (x.lengths) throw new FormatError(`toOnnx: ${this.name}: lastStep after masking is not exported`);
    const [sl] = g.node('Slice', [x.name, g.ints('s', [-1]), g.ints('e', [2 ** 53 - 1]), g.ints('a', [1])]);
    const [out] = g.node('Squeeze', [sl, g.ints('a', [1])]);
    return { name: out, rank: 2, lengths: null };
  }
}

export const lastStepKind = {
  classNames: ['LastStep'],
  fromConfig: (_c, config) => new LastStep(config as LayerArgs),
  factories: { lastStep: (args: { name?: string } = {}) => new LastStep(args) },
} satisfies LayerKind;
