/**
 * `layers.embedding`: integer ids `[B, T]` → vectors `[B, T, E]`. PyTorch
 * `nn.Embedding` name and layout: `weight [inputDim, outputDim]` (Keras'
 * `embeddings` has the same layout).
 *
 * `maskZero`: id 0 is padding. The mask reaches the recurrent layers as
 * per-sample lengths, so padding must come after the real steps
 * (post-padding); the loss then ignores padded steps. ONNX export computes
 * the same lengths from the ids (`sequence_lens` of the recurrent nodes).
 */
import { ValueError } from '../errors.js';
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
  type StreamContext,
  type StreamValue,
  type TorchMapping,
} from './base.js';
import type { Initializer } from './initializers.js';

export interface EmbeddingArgs extends LayerArgs {
  inputDim: number;
  outputDim: number;
  maskZero?: boolean;
  embeddingsInitializer?: Initializer;
  embeddingsRegularizer?: Regularizer;
  inputLength?: number;
}

/** What a training forward keeps for backward: the ids' buffer. */
interface EmbeddingTape {
  ids: WasmArray;
  rows: number;
}

export class Embedding extends Layer {
  readonly className = 'Embedding';
  override get inputDType(): 'int32' {
    return 'int32';
  }
  readonly inputDim: number;
  readonly outputDim: number;
  readonly maskZero: boolean;
  private weight: ParamSpec | null = null;

  constructor(private readonly args: EmbeddingArgs) {
    super({ ...args, inputShape: args.inputShape ?? (args.inputLength ? [args.inputLength] : undefined) }, 'embedding');
    for (const k of ['inputDim', 'outputDim'] as const) {
      if (!Number.isInteger(args[k]) || args[k] <= 0) throw new ValueError(`${this.name}: ${k} must be a positive integer; got ${args[k]}`);
    }
    this.inputDim = args.inputDim;
    this.outputDim = args.outputDim;
    this.maskZero = args.maskZero ?? false;
  }

  override get vocabularySize(): number {
    return this.inputDim;
  }

  override get masksPadding(): boolean {
    return this.maskZero;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [1], 'integer ids of shape [time]');
    const V = this.inputDim;
    const E = this.outputDim;
    const init = initMatrix(this.args.embeddingsInitializer ?? 'uniform', V, E, { fanIn: V, fanOut: E }, (v, e) => v * E + e);
    this.weight = this.addParam('weight', [V, E], init, this.args.embeddingsRegularizer);
    this.outputShape = [inputShape[0], E];
    return this.outputShape;
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
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
      lengthsBuf = call.buffers.get('lengths', B, 'i32');
      lengthsBuf.set(lengths);
    }
    const y = call.buffers.get('y', rows * this.outputDim);
    checkStatus(
      `${this.name} forward`,
      this.core().embedding_forward(rows, this.inputDim, this.outputDim, x.buf.ptr, this.paramPtr(this.weight!), y.ptr),
    );
    if (step.training) call.tape = { ids: x.buf, rows } satisfies EmbeddingTape;
    return { buf: y, shape: [B, T, this.outputDim], lengths, lengthsBuf };
  }

  backward(dy: WasmArray, _needDx: boolean, call: LayerCall): WasmArray | null {
    const { ids, rows } = call.take<EmbeddingTape>(this);
    checkStatus(
      `${this.name} backward`,
      this.core().embedding_backward(rows, this.inputDim, this.outputDim, ids.ptr, dy.ptr, this.gradPtr(this.weight!)),
    );
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

  override stream(ctx: StreamContext, x: StreamValue): StreamValue {
    const out = ctx.alloc(ctx.batch * this.outputDim);
    ctx.record('Embed', { ids: x.buf.ptr, table: ctx.param('weight'), v: this.inputDim, e: this.outputDim, out: out.ptr });
    return { buf: out, features: this.outputDim };
  }

  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    const W = g.weight('weight');
    const table = g.init(`${this.name}.weight`, W.shape, W.data);
    let lengths = x.lengths;
    if (this.maskZero) {
      // each sample's steps before its first 0 (padding comes last)
      const [eq] = g.node('Equal', [x.name, g.init(g.name('zero'), [], [0], 'int64')]);
      const [nz] = g.node('Not', [eq]);
      const [as32] = g.node('Cast', [nz], 1, { to: g.dtype('int32') });
      [lengths] = g.node('ReduceSum', [as32, g.ints('axes', [1])], 1, { keepdims: 0 });
    }
    const [out] = g.node('Gather', [table, x.name]);
    return { name: out, rank: 3, lengths };
  }
}

/** Keras `Embedding`: `embeddings [input_dim, output_dim]` as ours; `mask_zero` as `maskZero`. */
const keras: KerasMapping = {
  classNames: ['Embedding'],
  import(k) {
    const c = k.config;
    const layer = new Embedding({ name: k.name, inputDim: Number(c.input_dim), outputDim: Number(c.output_dim), maskZero: !!c.mask_zero });
    const len = c.input_length as number | null | undefined;
    return { layer, weights: { [`${k.name}.weight`]: k.weight('embeddings').data }, idsInput: [len ?? null] };
  },
};

/** PyTorch `nn.Embedding`: one `weight [num_embeddings, embedding_dim]`; first in the model. */
const torch: TorchMapping = {
  types: ['embedding'],
  stage: 0,
  detect: (m) => {
    const w = m.tensors.get('weight');
    return w && w.shape.length === 2 && m.tensors.size === 1 ? 'embedding' : null;
  },
  sizes: (m) => ({ in: 0, out: m.tensors.get('weight')!.shape[1] }),
  import(t) {
    if (!t.first) throw t.error('an embedding must come first');
    const w = t.module.tensors.get('weight');
    if (w?.shape.length !== 2) throw t.error(`"${t.module.prefix}.weight" must be [num_embeddings, embedding_dim]`);
    const layer = new Embedding({
      name: t.name,
      inputDim: w.shape[0],
      outputDim: w.shape[1],
      maskZero: t.spec.maskZero as boolean | undefined,
    });
    return { layers: [layer], weights: { [`${t.name}.weight`]: t.take('weight', w.shape) }, idsInput: true };
  },
};

export const embeddingKind = {
  classNames: ['Embedding'],
  fromConfig: (_c, config) => new Embedding(config as unknown as EmbeddingArgs),
  factories: { embedding: (args: EmbeddingArgs) => new Embedding(args) },
  keras,
  torch,
} satisfies LayerKind;
