/**
 * `Sequential`: a stack of layers — the chain case of `Model`. Layers are
 * added first; the graph (each layer applied to the previous one's output) is
 * made when the model is built, from the first layer's `inputShape` or from
 * the first data it sees.
 */
import { RecurrentWasmError, ShapeError, ValueError } from '../errors.js';
import { input, type Layer, type Shape, type SymbolicTensor } from '../layers/base.js';
import type { Tensor, TensorLike } from '../tensor.js';
import type { SequentialConfig } from './config.js';
import { inputTensor } from './data.js';
import { Graph } from './graph.js';
import { Model } from './model.js';

export type { CompileArgs, FitArgs, History } from './model.js';

export class Sequential extends Model {
  private readonly chain: Layer[] = [];

  constructor(layers: Layer[] = [], args: { name?: string; seed?: number } = {}) {
    super({ name: args.name ?? 'sequential', seed: args.seed });
    for (const l of layers) this.add(l);
  }

  override get layers(): Layer[] {
    return this.chain;
  }

  add(layer: Layer): void {
    if (!layer || typeof (layer as Layer).forward !== 'function') {
      throw new ValueError('Sequential.add: expected a layer (layers.dense(...), layers.lstm(...), ...)');
    }
    if (this.built) throw new ValueError(`${this.name}: cannot add layers after the model is built`);
    if (this.chain.includes(layer) || layer.built) throw new ValueError(`${layer.name}: a layer can belong to one model only`);
    this.chain.push(layer);
  }

  /**
   * Build the layers for one sample's shape (defaults to the first layer's
   * `inputShape`). `initialize: false` leaves the parameters at zero (loaders
   * that set every weight skip the initialisers, e.g. orthogonal QR).
   */
  override build(inputShape?: Shape, opts: { initialize?: boolean } = {}): void {
    if (this.built) return;
    this.alive();
    if (this.chain.length === 0) throw new ValueError(`${this.name}: no layers`);
    const first = this.chain[0];
    const shape = inputShape ?? first.inputShape;
    if (!shape) throw new ShapeError(`${this.name}: the first layer (${first.name}) needs inputShape, or pass data to fit/predict first`);
    const x = input({ shape, dtype: first.inputDType, name: `${this.name}_input` });
    let t: SymbolicTensor = x;
    for (const l of this.chain) {
      let out: SymbolicTensor | SymbolicTensor[];
      try {
        out = l.apply(t);
      } catch (e) {
        if (e instanceof RecurrentWasmError) throw e;
        throw new ShapeError(`${l.name}: ${(e as Error).message}`);
      }
      if (Array.isArray(out)) {
        throw new ValueError(
          `${this.name}: ${l.name} has ${out.length} outputs (returnState); a Sequential layer has one — use the functional API (model({ inputs, outputs }))`,
        );
      }
      t = out;
    }
    this.setGraph(new Graph([x], [t]), opts);
  }

  /** Outputs for every sample, as one tensor `[N, ...outputShape]`. */
  override predict(x: TensorLike, args: { batchSize?: number } = {}): Tensor {
    return super.predict(x, args) as Tensor;
  }

  /** The config that rebuilds this model (layers, shapes, compile settings). */
  override toConfig(): SequentialConfig {
    this.ensureBuilt();
    return {
      class: 'Sequential',
      name: this.name,
      inputShape: this.builtInputShape,
      layers: this.chain.map((l) => ({ className: l.className, config: JSON.parse(JSON.stringify(l.getConfig())) })),
      compile: this.compileConfig() as SequentialConfig['compile'],
    };
  }

  /** Before the graph exists: check `x` against the first layer, building the chain from its shape. */
  protected override firstInputTensor(x: TensorLike, what: string): Tensor {
    const first = this.chain[0];
    if (!first) throw new ValueError(`${this.name}: no layers`);
    return inputTensor(x, what, { ids: first.inputDType === 'int32', shape: null, layer: first.name }, (sample) => {
      this.build(first.inputShape ?? sample);
      return this.builtInputShape;
    });
  }
}
