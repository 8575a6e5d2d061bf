/**
 * `layers.timeDistributed({ layer })`: the same layer applied to every time
 * step of `[B, T, ...]` (Keras' `TimeDistributed`). The steps become rows of
 * one batch `[B·T, ...]` — a view, no copy, since data is batch-first — so
 * the wrapped layer runs once per batch, not once per step. Its parameters
 * are this layer's (named `<this>.<param>`), its mask passes through.
 */
import { ValueError } from '../errors.js';
import type { WasmArray } from '../runtime/memory.js';
import {
  type Activation,
  type Int8Packer,
  type KerasMapping,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type LayerRegistry,
  type OnnxBuilder,
  type OnnxValue,
  type ParamRegions,
  type Shape,
  type StepInfo,
  type StreamContext,
  type StreamValue,
} from './base.js';

export interface TimeDistributedArgs extends LayerArgs {
  /** The layer applied at every step (one input and one output). */
  layer: Layer;
}

export class TimeDistributed extends Layer {
  readonly className = 'TimeDistributed';
  readonly layer: Layer;

  constructor(args: TimeDistributedArgs) {
    super({ ...args, name: args?.name }, 'time_distributed');
    const l = args?.layer;
    if (!(l instanceof Layer) || l.built || l.nodes.length > 0)
      throw new ValueError(`${this.name}: "layer" must be a new layer (not built or applied elsewhere)`);
    const [lo, hi] = l.arity;
    if (lo !== 1 || hi !== 1) throw new ValueError(`${this.name}: the wrapped layer must take one input (${l.name} takes ${lo}–${hi})`);
    if (l.stateful) throw new ValueError(`${this.name}: a stateful layer cannot be applied per step`);
    this.layer = l;
  }

  override get inputDType(): 'float32' | 'int32' {
    return this.layer.inputDType;
  }

  build(inputShape: Shape): Shape {
    if (inputShape.length < 2)
      throw new ValueError(`${this.name}: expects [time, ...]; got a rank-${inputShape.length} input (without batch)`);
    const out = this.layer.build(inputShape.slice(1));
    this.params = this.layer.params;
    this.outputShape = [inputShape[0], ...out];
    return this.outputShape;
  }

  override bind(regions: ParamRegions): void {
    super.bind(regions);
    this.layer.bind(regions);
  }

  override paramsChanged(): void {
    this.layer.paramsChanged();
  }

  private callOf(call: LayerCall): LayerCall {
    return call.child('layer');
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const [B, T, ...rest] = x.shape;
    const y = this.layer.forward({ buf: x.buf, shape: [B * T, ...rest], lengths: null, lengthsBuf: null }, step, this.callOf(call));
    return { buf: y.buf, shape: [B, T, ...y.shape.slice(1)], lengths: x.lengths, lengthsBuf: x.lengthsBuf };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    return this.layer.backward(dy, needDx, this.callOf(call));
  }

  getConfig(): Record<string, unknown> {
    return {
      name: this.name,
      layer: { className: this.layer.className, config: this.layer.getConfig() },
      inputShape: this.inputShape ?? undefined,
    };
  }

  override dispose(): void {
    this.layer.dispose();
    super.dispose();
  }

  // a step of the sequence is one row of the wrapped layer
  override stream(ctx: StreamContext, x: StreamValue): StreamValue {
    return this.layer.stream(ctx, x);
  }

  override int8Weights(p: Int8Packer): unknown {
    return this.layer.int8Weights(p);
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    return this.layer.toOnnx(g, x);
  }
}

/** Keras `TimeDistributed(layer)`: the wrapped layer's mapping, under this layer's name (its weights are ours). */
const keras: KerasMapping = {
  classNames: ['TimeDistributed'],
  import(k) {
    const w = k.config.layer as { class_name?: string; config?: Record<string, unknown> } | undefined;
    const mapping = w?.class_name ? k.mapping(w.class_name) : undefined;
    if (!mapping) throw k.error(`the wrapped layer ${JSON.stringify(w?.class_name)} is not supported`);
    const r = mapping.import({ ...k, className: w!.class_name!, config: w!.config ?? {} });
    return { layer: new TimeDistributed({ name: k.name, layer: r.layer }), weights: r.weights };
  },
};

export const timeDistributedKind = {
  classNames: ['TimeDistributed'],
  fromConfig: (_c: string, config: Record<string, unknown>, registry: LayerRegistry) => {
    const { layer, ...rest } = config as { layer: { className: string; config: Record<string, unknown> } };
    return new TimeDistributed({ ...(rest as LayerArgs), layer: registry.fromConfig(layer) });
  },
  factories: { timeDistributed: (args: TimeDistributedArgs) => new TimeDistributed(args) },
  keras,
} satisfies LayerKind;
