/**
 * `layers.dropout`: inverted dropout while training (kept units scaled by
 * 1/(1−rate)), identity otherwise — and so in sessions and ONNX graphs.
 * Masks come from the model's seeded RNG.
 */
import { ValueError } from '../errors.js';
import type { WasmArray } from '../runtime/memory.js';
import {
  type Activation,
  type KerasMapping,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type OnnxValue,
  type Shape,
  type StepInfo,
  type StreamValue,
} from './base.js';

export interface DropoutArgs extends LayerArgs {
  rate: number;
}

export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly rate: number;

  constructor(args: DropoutArgs) {
    super(args, 'dropout');
    if (!(args.rate >= 0 && args.rate < 1)) throw new ValueError(`${this.name}: rate must be in [0, 1); got ${args.rate}`);
    this.rate = args.rate;
  }

  build(inputShape: Shape): Shape {
    this.outputShape = [...inputShape];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    if (!step.training || this.rate === 0) {
      if (step.training) call.tape = null;
      return x;
    }
    const n = x.shape.reduce((a, b) => a * b, 1);
    const keep = 1 / (1 - this.rate);
    // both buffers first: an allocation may grow memory and detach earlier views
    const mask = call.buffers.get('mask', n);
    const y = call.buffers.get('y', n);
    const m = mask.view();
    for (let i = 0; i < n; i++) m[i] = step.rng.next() < this.rate ? 0 : keep;
    const yv = y.view();
    const xv = x.buf.view();
    for (let i = 0; i < n; i++) yv[i] = xv[i] * m[i];
    call.tape = n;
    return { ...x, buf: y };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const n = call.tape as number | null;
    call.tape = null;
    if (!needDx) return null;
    if (n === null) return dy;
    const m = call.buffers.get('mask', n).view();
    const v = dy.view();
    for (let i = 0; i < n; i++) v[i] *= m[i];
    return dy;
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, rate: this.rate, inputShape: this.inputShape ?? undefined };
  }

  override stream(_ctx: unknown, x: StreamValue): StreamValue {
    return x;
  }

  override toOnnx(_g: unknown, x: OnnxValue): OnnxValue {
    return x;
  }
}

const keras: KerasMapping = {
  classNames: ['Dropout'],
  import: (k) => ({ layer: new Dropout({ name: k.name, rate: Number(k.config.rate) }), weights: {} }),
};

export const dropoutKind = {
  classNames: ['Dropout'],
  fromConfig: (_c, config) => new Dropout(config as unknown as DropoutArgs),
  factories: { dropout: (args: DropoutArgs) => new Dropout(args) },
  keras,
} satisfies LayerKind;
