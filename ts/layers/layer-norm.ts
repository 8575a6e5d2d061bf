/**
 * `layers.layerNormalization`: normalise the last axis, then scale (`weight`,
 * γ) and shift (`bias`, β) — PyTorch `nn.LayerNorm` names; Keras epsilon 1e-3.
 */
import { ValueError } from '../errors.js';
import type { WasmArray } from '../runtime/memory.js';
import { f32Bits } from '../runtime/program.js';
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
  type Shape,
  type StepInfo,
  type StreamContext,
  type StreamValue,
} from './base.js';

export interface LayerNormArgs extends LayerArgs {
  epsilon?: number;
}

/** What a training forward keeps for backward: its input and the rows' (μ, 1/σ). */
interface LayerNormTape {
  x: Activation;
  rows: number;
  stats: WasmArray;
}

export class LayerNormalization extends Layer {
  readonly className = 'LayerNormalization';
  readonly epsilon: number;
  private gamma: ParamSpec | null = null;
  private beta: ParamSpec | null = null;
  private n = 0;

  constructor(args: LayerNormArgs = {}) {
    super(args, 'layer_normalization');
    this.epsilon = args.epsilon ?? 1e-3;
    if (!(this.epsilon > 0)) throw new ValueError(`${this.name}: epsilon must be > 0`);
  }

  build(inputShape: Shape): Shape {
    const F = inputShape[inputShape.length - 1];
    if (F === null || F === undefined) throw new ValueError(`${this.name}: the last dimension must be known`);
    this.n = F;
    this.gamma = this.addParam(
      'weight',
      [F],
      initMatrix('ones', 1, F, { fanIn: F, fanOut: F }, (_r, c) => c),
    );
    this.beta = this.addParam(
      'bias',
      [F],
      initMatrix('zeros', 1, F, { fanIn: F, fanOut: F }, (_r, c) => c),
    );
    this.outputShape = [...inputShape];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const y = call.buffers.get('y', rows * this.n);
    const stats = call.buffers.get('stats', rows * 2);
    checkStatus(
      `${this.name} forward`,
      this.core().layernorm_forward(
        rows,
        this.n,
        x.buf.ptr,
        this.paramPtr(this.gamma!),
        this.paramPtr(this.beta!),
        this.epsilon,
        y.ptr,
        stats.ptr,
      ),
    );
    if (step.training) call.tape = { x, rows, stats } satisfies LayerNormTape;
    return { ...x, buf: y };
  }

  backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    const { x, rows, stats } = call.take<LayerNormTape>(this);
    const dx = needDx ? call.buffers.get('dx', rows * this.n) : null;
    checkStatus(
      `${this.name} backward`,
      this.core().layernorm_backward(
        rows,
        this.n,
        x.buf.ptr,
        this.paramPtr(this.gamma!),
        stats.ptr,
        dy.ptr,
        this.gradPtr(this.gamma!),
        this.gradPtr(this.beta!),
        dx ? dx.ptr : 0,
      ),
    );
    return dx;
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name, epsilon: this.epsilon, inputShape: this.inputShape ?? undefined };
  }

  override stream(ctx: StreamContext, x: StreamValue): StreamValue {
    const F = x.features;
    const out = ctx.alloc(ctx.batch * F);
    const stats = ctx.alloc(ctx.batch * 2);
    ctx.record('LNorm', {
      inp: x.buf.ptr,
      gamma: ctx.param('weight'),
      beta: ctx.param('bias'),
      n: F,
      eps: f32Bits(this.epsilon),
      stats: stats.ptr,
      out: out.ptr,
    });
    return { buf: out, features: F };
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    const [s, b] = [g.weight('weight'), g.weight('bias')];
    const scale = g.init(`${this.name}.weight`, s.shape, s.data);
    const shift = g.init(`${this.name}.bias`, b.shape, b.data);
    const [out] = g.node('LayerNormalization', [x.name, scale, shift], 1, { axis: -1, epsilon: this.epsilon });
    return { ...x, name: out };
  }
}

/** Keras `LayerNormalization` over the last axis: `gamma`, `beta` (absent with `scale` / `center` false). */
const keras: KerasMapping = {
  classNames: ['LayerNormalization'],
  import(k) {
    const c = k.config;
    const axis = c.axis;
    const last = axis === -1 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === (k.inputShape?.length ?? 0)));
    if (!last) throw k.error('only normalisation over the last axis is supported');
    const layer = new LayerNormalization({ name: k.name, epsilon: Number(c.epsilon ?? 1e-3) });
    const F = k.weight(c.scale === false ? 'beta' : 'gamma').shape[0];
    const weights = {
      [`${k.name}.weight`]: c.scale === false ? new Float32Array(F).fill(1) : k.weight('gamma').data,
      [`${k.name}.bias`]: c.center === false ? new Float32Array(F) : k.weight('beta').data,
    };
    return { layer, weights };
  },
};

export const layerNormKind = {
  classNames: ['LayerNormalization'],
  fromConfig: (_c, config) => new LayerNormalization(config as LayerNormArgs),
  factories: { layerNormalization: (args: LayerNormArgs = {}) => new LayerNormalization(args) },
  keras,
} satisfies LayerKind;
