/**
 * `Sequential`: a stack of layers with Keras' `compile` / `fit` / `evaluate`
 * / `predict`, composed of the parameter arena (`arena.ts`), data checks
 * (`data.ts`) and the training loop (`training.ts`).
 *
 * Memory: all parameters live in one wasm region, gradients and optimizer
 * state in regions of the same layout; each layer keeps its per-batch buffers
 * and reuses them (grown to the largest batch seen, never per step), so a long
 * training run keeps wasm memory and the JS heap flat. `dispose()` frees
 * everything now; a dropped model's regions are freed by a
 * `FinalizationRegistry` when it is garbage-collected.
 */
import { RecurrentWasmError, ShapeError, ValueError, fmtShape } from '../errors.js';
import { type Activation, Buffers, type Layer, type Shape, type StepInfo } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import type { WasmArray } from '../runtime/memory.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { Random } from '../util/random.js';
import { ParamArena } from './arena.js';
import type { ModelConfig } from './config.js';
import { type Data, indices, inputTensor, positiveInt, targetTensor } from './data.js';
import { type LossName, resolveLoss } from './losses.js';
import { type MetricName, makeMetric } from './metrics.js';
import { type SaveOptions, saveModel } from './model-file.js';
import { exportOnnx } from './onnx-export.js';
import { type OptimizerLike, resolveOptimizer } from './optimizers.js';
import { Session, type SessionOptions } from './session.js';
import { evaluateData, type FitArgs, fitData, fitPlan, type History, type Network, predictData, Training, trainBatch } from './training.js';

export type { FitArgs, History };

export interface CompileArgs {
  optimizer: OptimizerLike;
  loss: LossName;
  metrics?: MetricName[];
}

// Frees a dropped model's wasm memory. Absent in runtimes without
// FinalizationRegistry (Cloudflare Workers), where dispose() is the way.
const finalizer = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<() => void>((free) => free()) : null;

export class Sequential implements Network {
  readonly name: string;
  readonly layers: Layer[] = [];
  /** Set to true (e.g. from a callback) to stop `fit` after the current batch. */
  stopTraining = false;
  /**
   * Free-form string metadata saved with the model (`save()` stores each
   * entry as `user.<key>` in the safetensors header; `loadModel` restores it):
   * e.g. the tokenizer of a text model, the scaling of a forecasting model.
   */
  metadata: Record<string, string> = {};
  /** Incremented whenever the parameters change (sessions re-pack on change). */
  weightsVersion = 0;
  private store: ParamArena | null = null;
  private buffers: Buffers | null = null;
  private readonly initRng: Random;
  private training: Training | null = null;
  private inputShape: Shape | null = null;
  private disposed = false;
  private readonly token = {};

  constructor(layers: Layer[] = [], args: { name?: string; seed?: number } = {}) {
    this.name = args.name ?? 'sequential';
    this.initRng = new Random(args.seed ?? 0x5eed);
    for (const l of layers) this.add(l);
  }

  add(layer: Layer): void {
    if (!layer || typeof (layer as Layer).forward !== 'function') {
      throw new ValueError('Sequential.add: expected a layer (layers.dense(...), layers.lstm(...), ...)');
    }
    if (this.store) throw new ValueError(`${this.name}: cannot add layers after the model is built`);
    if (this.layers.includes(layer) || layer.built) throw new ValueError(`${layer.name}: a layer can belong to one model only`);
    this.layers.push(layer);
  }

  get built(): boolean {
    return this.store !== null;
  }

  /** True after `dispose()`: the model's memory is freed and every use of it (or of its sessions) throws. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Build the layers for one sample's shape (defaults to the first layer's
   * `inputShape`). `initialize: false` leaves the parameters at zero (loaders
   * that set every weight skip the initialisers, e.g. orthogonal QR).
   */
  build(inputShape?: Shape, opts: { initialize?: boolean } = {}): void {
    if (this.store) return;
    this.alive();
    if (this.layers.length === 0) throw new ValueError(`${this.name}: no layers`);
    let shape = inputShape ?? this.layers[0].inputShape;
    if (!shape) {
      throw new ShapeError(`${this.name}: the first layer (${this.layers[0].name}) needs inputShape, or pass data to fit/predict first`);
    }
    this.inputShape = [...shape];
    for (const l of this.layers) {
      try {
        shape = l.build(shape);
      } catch (e) {
        if (e instanceof RecurrentWasmError) throw e;
        throw new ShapeError(`${l.name}: ${(e as Error).message}`);
      }
    }
    const arena = new ParamArena(this.layers);
    this.store = arena;
    const bufs = new Buffers(runtime().heap);
    this.buffers = bufs;
    if (opts.initialize !== false) arena.initialize(this.initRng);
    arena.bind();
    const layers = [...this.layers];
    finalizer?.register(
      this,
      () => {
        for (const l of layers) l.dispose();
        bufs.freeAll();
        arena.free();
      },
      this.token,
    );
  }

  compile(args: CompileArgs): void {
    this.alive();
    if (!args || typeof args !== 'object') throw new ValueError('compile: expected { optimizer, loss, metrics? }');
    const last = this.layers[this.layers.length - 1];
    const loss = resolveLoss(args.loss, last?.outputActivation ?? null);
    const training = new Training(loss, resolveOptimizer(args.optimizer), [...(args.metrics ?? [])]);
    for (const m of training.metricNames) makeMetric(m, training.task); // validate names now
    this.training = training;
    for (const l of this.layers) l.emitLogits = false;
    if (loss.fused && last) last.emitLogits = true;
    this.store?.dropSlots();
  }

  get isCompiled(): boolean {
    return this.training !== null;
  }

  /** Number of parameters. */
  countParams(): number {
    return this.layers.reduce((a, l) => a + l.countParams(), 0);
  }

  /** A Keras-style table of layers, output shapes and parameter counts (also printed). */
  summary(print: (s: string) => void = console.log): string {
    this.ensureBuilt();
    const rows = [['Layer (type)', 'Output shape', 'Params']];
    for (const l of this.layers) {
      const shape = fmtShape(['None', ...(l.outputShape ?? [])].map((d) => d ?? 'None') as never);
      rows.push([`${l.name} (${l.className})`, shape, String(l.countParams())]);
    }
    const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('   ');
    const sep = '─'.repeat(w[0] + w[1] + w[2] + 6);
    const out = [
      `Model: "${this.name}"`,
      sep,
      line(rows[0]),
      sep,
      ...rows.slice(1).map(line),
      sep,
      `Total params: ${this.countParams()}`,
    ].join('\n');
    print(out);
    return out;
  }

  /** Reset the carried state of stateful layers. */
  resetStates(): void {
    for (const l of this.layers) l.resetStates();
  }

  // ---------------------------------------------------------------- weights

  /** Every parameter by `layerName.paramName` (PyTorch layouts), as tensors. */
  getWeights(): Record<string, Tensor> {
    const arena = this.arena;
    return arena.tensors(arena.params, (d, s) => new Tensor(d, s));
  }

  /** The input shape without the batch dimension (`null` for free dimensions); the model must be built. */
  get builtInputShape(): (number | null)[] {
    this.ensureBuilt();
    return [...this.inputShape!];
  }

  /** Each parameter's name and shape (no copies of the values). */
  weightShapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [key, { spec }] of this.arena.entries()) out[key] = [...spec.shape];
    return out;
  }

  /** Set parameters by name (all or some); shapes must match exactly. */
  setWeights(weights: Record<string, TensorLike>): void {
    this.arena.set(weights);
    this.paramsChanged();
  }

  /** All parameters as one flat array (model layout). */
  getWeightsFlat(): Float32Array {
    return this.arena.getFlat();
  }

  setWeightsFlat(w: Float32Array): void {
    this.arena.setFlat(w);
    this.paramsChanged();
  }

  /** @internal the parameter arena (built on first use). */
  get arena(): ParamArena {
    this.ensureBuilt();
    return this.store!;
  }

  /** @internal after writing parameters through the arena: re-pack what depends on them. */
  markWeightsChanged(): void {
    this.paramsChanged();
  }

  // ---------------------------------------------------------------- saving and streaming

  /** The model as a safetensors file (`loadModel` reads it back bit-exactly). */
  save(opts: SaveOptions = {}): Uint8Array {
    return saveModel(this, opts);
  }

  /** The model as an ONNX graph (opset 17) for onnxruntime and other ONNX tools. */
  toOnnx(): Uint8Array {
    this.ensureBuilt();
    return exportOnnx(this);
  }

  /** A streaming session: one time step per call, state carried (see `Session`). */
  session(opts: SessionOptions = {}): Session {
    this.ensureBuilt();
    return new Session(this, opts);
  }

  /** @internal byte pointer of a layer's f32 parameter (sessions). */
  paramPtr(layer: Layer, name: string): number {
    return this.arena.ptr(layer, name);
  }

  /** @internal the input shape for sessions. */
  streamInputShape(): (number | null)[] {
    return this.builtInputShape;
  }

  /** @internal an f32 model: no int8 weights. */
  int8(): null {
    return null;
  }

  /** The config that rebuilds this model (layers, shapes, compile settings). */
  toConfig(): ModelConfig {
    this.ensureBuilt();
    const t = this.training;
    return {
      class: 'Sequential',
      name: this.name,
      inputShape: this.inputShape!,
      layers: this.layers.map((l) => ({ className: l.className, config: JSON.parse(JSON.stringify(l.getConfig())) })),
      compile: t ? { loss: t.loss.name, metrics: [...t.metricNames], optimizer: t.optimizer.getConfig() } : null,
    };
  }

  /** @internal optimizer steps taken since `compile` (saved with the optimizer state). */
  get optimizerStep(): number {
    return this.training?.step ?? 0;
  }

  set optimizerStep(step: number) {
    if (!this.training) throw new ValueError(`${this.name}: the optimizer state needs a compiled model`);
    this.training.step = step;
  }

  // ---------------------------------------------------------------- training

  /** Loss and gradients (by parameter name) for one batch, without updating anything. */
  computeGradients(x: TensorLike, y: TensorLike): { loss: number; grads: Record<string, Tensor> } {
    const data = this.prepare(x, y, 'computeGradients');
    const { loss } = trainBatch(this, this.training!, data, indices(data.n), 0, data.n, new Random(0), false, []);
    const arena = this.arena;
    return { loss, grads: arena.tensors(arena.grads, (d, s) => new Tensor(d, s)) };
  }

  async fit(x: TensorLike, y: TensorLike, args: FitArgs = {}): Promise<History> {
    this.alive();
    const training = this.training;
    if (!training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before fit`);
    const data = this.prepare(x, y, 'fit');
    const plan = fitPlan(this, args);
    const val = args.validationData ? this.prepare(args.validationData[0], args.validationData[1], 'fit validationData') : null;
    return fitData(this, training, data, val, args, plan, this.initRng);
  }

  /** Loss and metrics over a data set (no updates). */
  evaluate(x: TensorLike, y: TensorLike, args: { batchSize?: number } = {}): Record<string, number> {
    this.alive();
    if (!this.training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before evaluate`);
    return evaluateData(this, this.training, this.prepare(x, y, 'evaluate'), positiveInt('evaluate: batchSize', args.batchSize ?? 32, 1));
  }

  /** Outputs for every sample, as one tensor `[N, ...outputShape]`. */
  predict(x: TensorLike, args: { batchSize?: number } = {}): Tensor {
    this.alive();
    const xt = this.inputTensor(x, 'predict');
    const batchSize = positiveInt('predict: batchSize', args.batchSize ?? 32, 1);
    // a fused loss's layer emits logits while training: predict wants its activation
    const saved = this.layers.map((l) => l.emitLogits);
    for (const l of this.layers) l.emitLogits = false;
    try {
      return predictData(this, xt, batchSize);
    } finally {
      for (const [i, l] of this.layers.entries()) l.emitLogits = saved[i];
    }
  }

  /** Free the model's wasm memory now. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer?.unregister(this.token);
    for (const l of this.layers) l.dispose();
    this.buffers?.freeAll();
    this.store?.free();
    this.store = null;
  }

  // ---------------------------------------------------------------- Network

  /** @internal */
  get bufs(): Buffers {
    this.ensureBuilt();
    return this.buffers!;
  }

  /** @internal */
  get stateful(): boolean {
    return this.layers.some((l) => l.stateful);
  }

  /** @internal */
  get callbackTarget(): Sequential {
    return this;
  }

  /** @internal the layers' forward, in order. */
  forward(x: Activation, step: StepInfo): Activation {
    let act = x;
    for (const l of this.layers) act = l.forward(act, step);
    return act;
  }

  /** @internal the layers' backward, in reverse; the first layer's input gradient is not computed. */
  backward(dy: WasmArray): void {
    let g: WasmArray | null = dy;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i].backward(g, i > 0);
  }

  /** @internal */
  paramsChanged(): void {
    this.weightsVersion++;
    for (const l of this.layers) l.paramsChanged();
  }

  // ---------------------------------------------------------------- internals

  private alive(): void {
    if (this.disposed) throw new ValueError(`${this.name}: used after dispose()`);
  }

  private ensureBuilt(): void {
    this.alive();
    if (!this.store) this.build();
  }

  /** Check and convert `x`; builds the model from its shape if needed. */
  private inputTensor(x: TensorLike, what: string) {
    const first = this.layers[0];
    if (!first) throw new ValueError(`${this.name}: no layers`);
    const spec = { ids: first.inputDType === 'int32', shape: this.store ? this.inputShape : null, layer: first.name };
    return inputTensor(x, what, spec, (sample) => {
      this.build(first.inputShape ?? sample);
      return this.inputShape!;
    });
  }

  private prepare(x: TensorLike, y: TensorLike, what: string): Data {
    if (!this.training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before ${what}`);
    const xt = this.inputTensor(x, what);
    const out = this.layers[this.layers.length - 1].outputShape!;
    const yt = targetTensor(y, xt, this.layers[0].inputDType === 'int32', out, this.training.loss, what);
    return { x: xt, y: yt, n: xt.shape[0] };
  }
}
