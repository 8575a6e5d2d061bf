/**
 * `Sequential`: a stack of layers with Keras' `compile` / `fit` / `evaluate`
 * / `predict`.
 *
 * Memory: all parameters live in one wasm region, gradients and optimizer
 * state in regions of the same layout; each layer keeps its per-batch buffers
 * and reuses them (grown to the largest batch seen, never per step), so a long
 * training run keeps wasm memory and the JS heap flat. `dispose()` frees
 * everything now; a dropped model's regions are freed by a
 * `FinalizationRegistry` when it is garbage-collected.
 *
 * One training step: batch → input buffer (one copy) → each layer's forward
 * (one wasm call per layer) → loss with its gradient (one call; sigmoid or
 * softmax fused when they meet a cross-entropy) → each layer's backward in
 * reverse (one call per layer) → one optimizer call over the flat buffers.
 */
import { RecurrentWasmError, ShapeError, ValueError, fmtShape } from '../errors.js';
import { Buffers, type Activation, type Layer, type Shape, type StepInfo } from '../layers/base.js';
import { Dense } from '../layers/dense.js';
import { Embedding } from '../layers/embedding.js';
import { Recurrent } from '../layers/recurrent.js';
import { runtime } from '../runtime/init.js';
import { WasmArray } from '../runtime/memory.js';
import { Tensor, tensor, type TensorLike } from '../tensor.js';
import { Random } from '../util/random.js';
import type { Callback, Logs } from './callbacks.js';
import { resolveLoss, type LossName, type ResolvedLoss } from './losses.js';
import { makeMetric, type Metric, type MetricName, type TaskKind } from './metrics.js';
import { resolveOptimizer, type Optimizer, type OptimizerLike } from './optimizers.js';
import { saveModel, type ModelConfig, type SaveOptions } from '../io/model-file.js';
import { exportOnnx } from '../io/onnx/export.js';
import { Session, type SessionOptions } from './session.js';

export interface CompileArgs {
  optimizer: OptimizerLike;
  loss: LossName;
  metrics?: MetricName[];
}

export interface FitArgs {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Fraction of the data (taken from the end, before shuffling) held out for validation. */
  validationSplit?: number;
  validationData?: [TensorLike, TensorLike];
  callbacks?: Callback[];
  /** Seeds shuffling and dropout; the same seed gives bit-identical training in the same runtime. */
  seed?: number;
  /** What to do when the loss becomes NaN or infinite (default 'throw'). */
  onNanLoss?: 'throw' | 'skip' | 'stop';
  /** Print one line per epoch (default 0). */
  verbose?: 0 | 1;
  initialEpoch?: number;
  /** Yield to the event loop at least this often (ms) so pages stay responsive (default 50). */
  yieldEveryMs?: number;
}

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

interface Data {
  x: Tensor;
  y: Tensor;
  n: number;
}

interface Store {
  params: WasmArray;
  grads: WasmArray;
  s1: WasmArray | null;
  s2: WasmArray | null;
  hyper: WasmArray;
  status: WasmArray;
  total: number;
}

// Frees a dropped model's wasm memory. Absent in runtimes without
// FinalizationRegistry (Cloudflare Workers), where dispose() is the way.
const finalizer = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<() => void>((free) => free()) : null;

export class Sequential {
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
  private store: Store | null = null;
  private readonly initRng: Random;
  private loss: ResolvedLoss | null = null;
  private optimizer: Optimizer | null = null;
  private metricNames: MetricName[] = [];
  private step = 0;
  /** Incremented whenever the parameters change (sessions re-pack on change). */
  weightsVersion = 0;
  private bufs: Buffers | null = null;
  private inputShape: Shape | null = null;
  private disposed = false;
  private readonly token = {};

  constructor(layers: Layer[] = [], args: { name?: string; seed?: number } = {}) {
    this.name = args.name ?? 'sequential';
    this.initRng = new Random(args.seed ?? 0x5eed);
    for (const l of layers) this.add(l);
  }

  add(layer: Layer): void {
    if (!layer || typeof (layer as Layer).forward !== 'function')
      throw new ValueError('Sequential.add: expected a layer (layers.dense(...), layers.lstm(...), ...)');
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
    let total = 0;
    for (const l of this.layers) {
      try {
        shape = l.build(shape);
      } catch (e) {
        if (e instanceof RecurrentWasmError) throw e;
        throw new ShapeError(`${l.name}: ${(e as Error).message}`);
      }
      for (const p of l.params) {
        p.offset = total;
        total += p.shape.reduce((a, b) => a * b, 1);
      }
    }
    const { heap } = runtime();
    const params = new WasmArray(heap, total);
    const grads = new WasmArray(heap, total);
    this.store = { params, grads, s1: null, s2: null, hyper: new WasmArray(heap, 12), status: new WasmArray(heap, 1, 'i32'), total };
    this.bufs = new Buffers(heap);
    // Initialise every parameter before binding any layer: binding allocates
    // (packed weights), which can grow memory and detach a view taken earlier.
    if (opts.initialize !== false) {
      const view = params.view();
      for (const l of this.layers) for (const p of l.params) p.init(this.initRng, (i, v) => (view[p.offset + i] = v));
    }
    for (const l of this.layers) l.bind({ params: params.ptr, grads: grads.ptr });
    const store = this.store;
    const bufs = this.bufs;
    const layers = [...this.layers];
    finalizer?.register(
      this,
      () => {
        for (const l of layers) l.dispose();
        bufs.freeAll();
        for (const w of [store.params, store.grads, store.s1, store.s2, store.hyper, store.status]) w?.free();
      },
      this.token,
    );
  }

  compile(args: CompileArgs): void {
    this.alive();
    if (!args || typeof args !== 'object') throw new ValueError('compile: expected { optimizer, loss, metrics? }');
    const last = this.layers[this.layers.length - 1];
    const lastAct = last instanceof Dense ? last.activation : null;
    this.loss = resolveLoss(args.loss, lastAct);
    this.optimizer = resolveOptimizer(args.optimizer);
    this.metricNames = [...(args.metrics ?? [])];
    const task = this.task();
    for (const m of this.metricNames) makeMetric(m, task); // validate names now
    for (const l of this.layers) if (l instanceof Dense) l.emitLogits = false;
    if (this.loss.fused && last instanceof Dense) last.emitLogits = true;
    this.step = 0;
    if (this.store) {
      for (const w of [this.store.s1, this.store.s2]) w?.free();
      this.store.s1 = this.store.s2 = null;
    }
  }

  get isCompiled(): boolean {
    return this.loss !== null;
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
      rows.push([
        `${l.name} (${l.className})`,
        fmtShape(['None', ...(l.outputShape ?? [])].map((d) => d ?? 'None') as never),
        String(l.countParams()),
      ]);
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
    this.ensureBuilt();
    const v = this.store!.params.view();
    const out: Record<string, Tensor> = {};
    for (const l of this.layers)
      for (const p of l.params) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        out[`${l.name}.${p.name}`] = new Tensor(v.slice(p.offset, p.offset + n), p.shape);
      }
    return out;
  }

  /** The input shape without the batch dimension (`null` for free dimensions); the model must be built. */
  get builtInputShape(): (number | null)[] {
    this.ensureBuilt();
    return [...this.inputShape!];
  }

  /** Each parameter's name and shape (no copies of the values). */
  weightShapes(): Record<string, number[]> {
    this.ensureBuilt();
    const out: Record<string, number[]> = {};
    for (const l of this.layers) for (const p of l.params) out[`${l.name}.${p.name}`] = [...p.shape];
    return out;
  }

  /** Set parameters by name (all or some); shapes must match exactly. */
  setWeights(weights: Record<string, TensorLike>): void {
    this.ensureBuilt();
    const known = new Map<string, { offset: number; shape: number[] }>();
    for (const l of this.layers) for (const p of l.params) known.set(`${l.name}.${p.name}`, p);
    const staged: [string, number, Float32Array][] = [];
    for (const [name, value] of Object.entries(weights)) {
      const p = known.get(name);
      if (!p) throw new ValueError(`setWeights: no parameter "${name}" (have ${[...known.keys()].join(', ')})`);
      const t = tensor(value);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (t.size !== n || (t.rank > 1 && fmtShape(t.shape) !== fmtShape(p.shape))) {
        throw new ShapeError(`setWeights: "${name}" expects shape ${fmtShape(p.shape)}; got ${fmtShape(t.shape)}`);
      }
      staged.push([name, p.offset, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data)]);
    }
    // Written first, then checked in wasm (a JIT-cold JavaScript loop over the
    // weights cost ~4 ms of loading a 1.3 MB model); restored if any is not finite.
    const store = this.store!;
    const v = store.params.view();
    const backup = staged.map(([, off, data]) => v.slice(off, off + data.length));
    for (const [, off, data] of staged) v.set(data, off);
    const { core } = runtime();
    for (const [name, off, data] of staged) {
      const bad = core.first_nonfinite(store.params.ptr + 4 * off, data.length);
      if (bad !== -1) {
        staged.forEach(([, o], k) => v.set(backup[k], o));
        throw new ValueError(`setWeights: "${name}" contains ${data[bad]} at index ${bad}`);
      }
    }
    this.paramsChanged();
  }

  /** All parameters as one flat array (model layout). */
  getWeightsFlat(): Float32Array {
    this.ensureBuilt();
    return this.store!.params.view().slice();
  }

  setWeightsFlat(w: Float32Array): void {
    this.ensureBuilt();
    if (w.length !== this.store!.total) throw new ShapeError(`setWeightsFlat: expected ${this.store!.total} values; got ${w.length}`);
    this.store!.params.view().set(w);
    this.paramsChanged();
  }

  // ---------------------------------------------------------------- saving

  /** The model as a safetensors file (`loadModel` reads it back bit-exactly). */
  save(opts: SaveOptions = {}): Uint8Array {
    return saveModel(this, opts);
  }

  /** A streaming session: one time step per call, state carried (see `Session`). */
  session(opts: SessionOptions = {}): Session {
    this.ensureBuilt();
    return new Session(this, opts);
  }

  /** @internal base pointers of the parameter and gradient regions. */
  paramRegions(): { params: number; grads: number } {
    this.ensureBuilt();
    return { params: this.store!.params.ptr, grads: this.store!.grads.ptr };
  }

  /** @internal the parameter region as a view (re-take after any allocation). */
  paramsView(): Float32Array {
    this.ensureBuilt();
    return this.store!.params.view();
  }

  /** @internal after writing parameters through `paramsView`: re-pack what depends on them. */
  markWeightsChanged(): void {
    this.paramsChanged();
  }

  /** @internal byte pointer of a layer's parameter (sessions). */
  paramPtr(layer: Layer, name: string): number {
    return this.paramRegions().params + this.paramOffset(layer, name) * 4;
  }

  /** @internal the input shape for sessions. */
  streamInputShape(): (number | null)[] {
    return this.toConfig().inputShape;
  }

  /** @internal f32 model: no int8 weights. */
  q8Dense(): null {
    return null;
  }

  /** @internal f32 model: no int8 weights. */
  q8Recurrent(): null {
    return null;
  }

  /** @internal offset (floats) of a layer's parameter in the parameter region. */
  paramOffset(layer: Layer, name: string): number {
    const p = layer.params.find((q) => q.name === name);
    if (!p || !this.layers.includes(layer)) throw new ValueError(`internal: ${layer.name} has no parameter ${name}`);
    return p.offset;
  }

  /** The model as an ONNX graph (opset 17) for onnxruntime and other ONNX tools. */
  toOnnx(): Uint8Array {
    this.ensureBuilt();
    return exportOnnx(this);
  }

  /** The config that rebuilds this model (layers, shapes, compile settings). */
  toConfig(): ModelConfig {
    this.ensureBuilt();
    return {
      class: 'Sequential',
      name: this.name,
      inputShape: this.inputShape!,
      layers: this.layers.map((l) => ({ className: l.className, config: JSON.parse(JSON.stringify(l.getConfig())) })),
      compile:
        this.loss && this.optimizer
          ? { loss: this.loss.name, metrics: [...this.metricNames], optimizer: this.optimizer.getConfig() }
          : null,
    };
  }

  /** @internal parameters (and optimizer state) by name, for the model file. */
  exportState(includeOptimizer: boolean): {
    config: ModelConfig;
    params: { name: string; shape: number[]; data: Float32Array }[];
    optimizer: { step: number; slots: { name: string; shape: number[]; data: Float32Array }[] } | null;
  } {
    const config = this.toConfig();
    const store = this.store!;
    const named = (src: WasmArray, prefix: string) => {
      const v = src.view();
      const out: { name: string; shape: number[]; data: Float32Array }[] = [];
      for (const l of this.layers)
        for (const p of l.params) {
          const n = p.shape.reduce((a, b) => a * b, 1);
          out.push({ name: `${prefix}${l.name}.${p.name}`, shape: p.shape, data: v.slice(p.offset, p.offset + n) });
        }
      return out;
    };
    let optimizer = null;
    if (includeOptimizer) {
      if (!this.optimizer) throw new ValueError(`${this.name}: save({ includeOptimizer: true }) needs a compiled model`);
      const slots = [];
      if (store.s1) slots.push(...named(store.s1, 'optimizer.s1.'));
      if (store.s2) slots.push(...named(store.s2, 'optimizer.s2.'));
      optimizer = { step: this.step, slots };
    }
    return { config, params: named(store.params, ''), optimizer };
  }

  /** @internal restore the optimizer's step and state buffers. */
  importOptimizerState(step: number, slots: { name: string; data: Float32Array }[]): void {
    this.ensureBuilt();
    const store = this.store!;
    const { heap } = runtime();
    const byName = new Map(slots.map((s) => [s.name, s.data]));
    for (const slot of ['s1', 's2'] as const) {
      const prefix = `optimizer.${slot}.`;
      if (![...byName.keys()].some((k) => k.startsWith(prefix))) continue;
      const buf = (store[slot] ??= new WasmArray(heap, store.total));
      const v = buf.view();
      for (const l of this.layers)
        for (const p of l.params) {
          const d = byName.get(`${prefix}${l.name}.${p.name}`);
          const n = p.shape.reduce((a, b) => a * b, 1);
          if (!d || d.length !== n) throw new ValueError(`optimizer state for ${l.name}.${p.name} is missing or has the wrong size`);
          v.set(d, p.offset);
        }
    }
    this.step = step;
  }

  // ---------------------------------------------------------------- training

  /** Loss and gradients (by parameter name) for one batch, without updating anything. */
  computeGradients(x: TensorLike, y: TensorLike): { loss: number; grads: Record<string, Tensor> } {
    const data = this.prepare(x, y, 'computeGradients');
    const { loss } = this.trainBatch(data, indices(data.n), 0, data.n, new Random(0), false, []);
    const g = this.store!.grads.view();
    const grads: Record<string, Tensor> = {};
    for (const l of this.layers)
      for (const p of l.params) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        grads[`${l.name}.${p.name}`] = new Tensor(g.slice(p.offset, p.offset + n), p.shape);
      }
    return { loss, grads };
  }

  async fit(x: TensorLike, y: TensorLike, args: FitArgs = {}): Promise<History> {
    this.alive();
    if (!this.loss || !this.optimizer) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before fit`);
    let data = this.prepare(x, y, 'fit');
    const epochs = positiveInt('fit: epochs', args.epochs ?? 1, 0);
    const batchSize = positiveInt('fit: batchSize', args.batchSize ?? 32, 1);
    const onNan = args.onNanLoss ?? 'throw';
    if (!['throw', 'skip', 'stop'].includes(onNan)) throw new ValueError(`fit: onNanLoss must be 'throw', 'skip' or 'stop'`);
    const stateful = this.layers.some((l) => l instanceof Recurrent && l.stateful);
    const shuffle = args.shuffle ?? !stateful;
    if (stateful && shuffle) throw new ValueError(`${this.name}: a stateful model needs fit({ shuffle: false }) so batches stay in order`);
    let val: Data | null = null;
    if (args.validationData) {
      val = this.prepare(args.validationData[0], args.validationData[1], 'fit validationData');
    } else if (args.validationSplit) {
      const s = args.validationSplit;
      if (!(s > 0 && s < 1)) throw new ValueError(`fit: validationSplit must be in (0, 1); got ${s}`);
      const nVal = Math.floor(data.n * s);
      if (nVal < 1 || nVal >= data.n) throw new ValueError(`fit: validationSplit ${s} of ${data.n} samples leaves an empty part`);
      [data, val] = splitData(data, data.n - nVal);
    }
    const rng = new Random(args.seed ?? this.initRng.nextU32());
    const cbs = args.callbacks ?? [];
    for (const c of cbs) c.setModel?.(this);
    const history: History = { epoch: [], history: {} };
    const yieldMs = args.yieldEveryMs ?? 50;
    let lastYield = now();
    this.stopTraining = false;
    for (const c of cbs) await c.onTrainBegin?.({});
    const metrics = this.metricNames.map((m) => makeMetric(m, this.task()));
    for (let epoch = args.initialEpoch ?? 0; epoch < epochs && !this.stopTraining; epoch++) {
      if (stateful) this.resetStates();
      for (const c of cbs) await c.onEpochBegin?.(epoch, {});
      const order = indices(data.n);
      if (shuffle) shuffleInPlace(order, rng);
      for (const m of metrics) m.reset();
      let lossSum = 0;
      let seen = 0;
      const batches = Math.ceil(data.n / batchSize);
      for (let bi = 0; bi < batches && !this.stopTraining; bi++) {
        for (const c of cbs) await c.onBatchBegin?.(bi, { batch: bi, size: Math.min(batchSize, data.n - bi * batchSize) });
        const start = bi * batchSize;
        const count = Math.min(batchSize, data.n - start);
        const r = this.trainBatch(data, order, start, count, rng, true, metrics);
        if (!Number.isFinite(r.loss)) {
          if (onNan === 'throw') {
            throw new ValueError(
              `${this.name}: the loss became ${r.loss} at epoch ${epoch + 1}, batch ${bi + 1}; lower the learning rate, clip gradients (clipNorm) or check the data (use fit({ onNanLoss: 'skip' | 'stop' }) to continue or stop instead)`,
            );
          }
          if (onNan === 'stop') {
            this.stopTraining = true;
            break;
          }
        } else {
          lossSum += r.loss * count;
          seen += count;
        }
        for (const c of cbs) await c.onBatchEnd?.(bi, { batch: bi, size: count, loss: r.loss });
        if (now() - lastYield > yieldMs) {
          await yieldToEventLoop();
          lastYield = now();
        }
      }
      const logs: Logs = { loss: seen ? lossSum / seen : NaN };
      for (const m of metrics) logs[m.name] = m.result();
      if (val) {
        const v = this.evaluateData(val, batchSize);
        for (const [k, value] of Object.entries(v)) logs[`val_${k}`] = value;
      }
      history.epoch.push(epoch);
      for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
      if (args.verbose)
        console.log(
          `epoch ${epoch + 1}/${epochs} ` +
            Object.entries(logs)
              .map(([k, v]) => `${k}=${v.toFixed(4)}`)
              .join(' '),
        );
      for (const c of cbs) await c.onEpochEnd?.(epoch, logs);
    }
    for (const c of cbs) await c.onTrainEnd?.({});
    return history;
  }

  /** Loss and metrics over a data set (no updates). */
  evaluate(x: TensorLike, y: TensorLike, args: { batchSize?: number } = {}): Record<string, number> {
    this.alive();
    if (!this.loss) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before evaluate`);
    return this.evaluateData(this.prepare(x, y, 'evaluate'), positiveInt('evaluate: batchSize', args.batchSize ?? 32, 1));
  }

  /** Outputs for every sample, as one tensor `[N, ...outputShape]`. */
  predict(x: TensorLike, args: { batchSize?: number } = {}): Tensor {
    this.alive();
    const xt = this.inputTensor(x, 'predict');
    const batchSize = positiveInt('predict: batchSize', args.batchSize ?? 32, 1);
    const n = xt.shape[0];
    let out: Float32Array | null = null;
    let outSample = 0;
    let outShape: number[] = [];
    const order = indices(n);
    const dense = this.layers.filter((l): l is Dense => l instanceof Dense);
    const saved = dense.map((d) => d.emitLogits);
    for (const d of dense) d.emitLogits = false;
    try {
      for (let start = 0; start < n; start += batchSize) {
        const count = Math.min(batchSize, n - start);
        const act = this.forwardBatch(xt, order, start, count, { training: false, rng: new Random(0) });
        if (!out) {
          outShape = act.shape.slice(1);
          outSample = outShape.reduce((a, b) => a * b, 1);
          out = new Float32Array(n * outSample);
        }
        out.set(act.buf.view().subarray(0, count * outSample), start * outSample);
      }
    } finally {
      dense.forEach((d, i) => (d.emitLogits = saved[i]));
    }
    return new Tensor(out ?? new Float32Array(0), [n, ...outShape]);
  }

  /** Free the model's wasm memory now. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer?.unregister(this.token);
    for (const l of this.layers) l.dispose();
    this.bufs?.freeAll();
    const s = this.store;
    if (s) for (const w of [s.params, s.grads, s.s1, s.s2, s.hyper, s.status]) w?.free();
    this.store = null;
  }

  // ---------------------------------------------------------------- internals

  private task(): TaskKind {
    const c = this.loss?.canonical;
    return c === 'bce' ? 'binary' : c === 'cce' ? 'categorical' : c === 'scce' ? 'sparse' : 'regression';
  }

  private alive(): void {
    if (this.disposed) throw new ValueError(`${this.name}: used after dispose()`);
  }

  private ensureBuilt(): void {
    this.alive();
    if (!this.store) this.build();
  }

  private paramsChanged(): void {
    this.weightsVersion++;
    for (const l of this.layers) l.paramsChanged();
  }

  private wantsIds(): boolean {
    return this.layers[0] instanceof Embedding;
  }

  /** Check and convert `x`; builds the model from its shape if needed. */
  private inputTensor(x: TensorLike, what: string): Tensor {
    let t: Tensor;
    try {
      t = tensor(x, undefined, this.wantsIds() ? 'int32' : 'float32');
    } catch (e) {
      throw new ShapeError(`${what}: x: ${(e as Error).message}`);
    }
    if (this.wantsIds() && t.dtype !== 'int32') {
      const ints = Int32Array.from(t.data);
      for (let i = 0; i < t.data.length; i++)
        if (ints[i] !== t.data[i])
          throw new ValueError(`${what}: x must hold integer ids for ${this.layers[0].name}; got ${t.data[i]} at ${i}`);
      t = new Tensor(ints, t.shape);
    } else if (!this.wantsIds() && t.dtype !== 'float32') {
      t = new Tensor(Float32Array.from(t.data), t.shape);
    }
    if (t.rank < 2) throw new ShapeError(`${what}: x must have a batch dimension; got shape ${fmtShape(t.shape)}`);
    if (!this.store) this.build(this.layers[0].inputShape ?? t.shape.slice(1));
    const want = this.inputShape!;
    const got = t.shape.slice(1);
    if (got.length !== want.length || want.some((d, i) => d !== null && d !== got[i])) {
      throw new ShapeError(
        `${what}: x has samples of shape ${fmtShape(got)} but ${this.layers[0].name} expects ${fmtShape(want.map((d) => d ?? -1))} (-1 = any)`,
      );
    }
    if (t.dtype === 'float32') {
      const d = t.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) throw new ValueError(`${what}: x contains ${d[i]} at flat index ${i}`);
      }
    }
    return t;
  }

  private prepare(x: TensorLike, y: TensorLike, what: string): Data {
    if (!this.loss) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before ${what}`);
    const xt = this.inputTensor(x, what);
    const n = xt.shape[0];
    const outShape = this.layers[this.layers.length - 1].outputShape!;
    let yt: Tensor;
    try {
      yt = tensor(y, undefined, this.loss.sparse ? 'int32' : 'float32');
    } catch (e) {
      throw new ShapeError(`${what}: y: ${(e as Error).message}`);
    }
    if (yt.shape[0] !== n) throw new ShapeError(`${what}: x has ${n} samples but y has ${yt.shape[0]}`);
    const T = xt.rank >= 3 || this.wantsIds() ? xt.shape[1] : null;
    const concrete = outShape.map((d) => (d === null ? T : d));
    if (this.loss.sparse) {
      const want = concrete.slice(0, -1);
      let got = yt.shape.slice(1);
      if (got.length === want.length + 1 && got[got.length - 1] === 1) got = got.slice(0, -1);
      if (fmtShape(got as number[]) !== fmtShape(want as number[])) {
        throw new ShapeError(
          `${what}: sparse labels must have shape [N${want.map((d) => `, ${d}`).join('')}] (class indices); got ${fmtShape(yt.shape)}`,
        );
      }
      const classes = concrete[concrete.length - 1]!;
      const ints = yt.dtype === 'int32' ? (yt.data as Int32Array) : Int32Array.from(yt.data);
      for (let i = 0; i < ints.length; i++) {
        if (!(ints[i] >= 0 && ints[i] < classes) || ints[i] !== yt.data[i]) {
          throw new ValueError(`${what}: label ${yt.data[i]} at flat index ${i} is not a class index in [0, ${classes})`);
        }
      }
      yt = new Tensor(ints, yt.shape);
    } else {
      if (this.loss.canonical === 'distill') concrete[concrete.length - 1] = this.loss.targetWidth(concrete[concrete.length - 1]!);
      if (fmtShape(yt.shape.slice(1)) !== fmtShape(concrete as number[])) {
        throw new ShapeError(
          `${what}: y must have samples of shape ${fmtShape(concrete as number[])} to match the model output; got ${fmtShape(yt.shape.slice(1))}`,
        );
      }
      const d = yt.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) throw new ValueError(`${what}: y contains ${d[i]} at flat index ${i}`);
      }
      if (this.loss.canonical === 'bce' || this.loss.canonical === 'cce') {
        for (let i = 0; i < d.length; i++) {
          if (d[i] < 0 || d[i] > 1)
            throw new ValueError(`${what}: ${this.loss.name} labels must be in [0, 1]; got ${d[i]} at flat index ${i}`);
        }
      }
    }
    return { x: xt, y: yt, n };
  }

  /** Copy the samples `order[start .. start+count)` into the input buffer and run every layer. */
  private forwardBatch(x: Tensor, order: Int32Array, start: number, count: number, step: StepInfo): Activation {
    const sample = x.size / x.shape[0];
    const ids = x.dtype === 'int32';
    const input = this.bufs!.get('input', count * sample, ids ? 'i32' : 'f32');
    const dst = ids ? input.viewI32() : input.view();
    for (let i = 0; i < count; i++) {
      const s = order[start + i];
      dst.set(x.data.subarray(s * sample, (s + 1) * sample), i * sample);
    }
    let act: Activation = { buf: input, shape: [count, ...x.shape.slice(1)], lengths: null, lengthsBuf: null };
    for (const l of this.layers) act = l.forward(act, step);
    return act;
  }

  /** Copy targets and build row weights (padded steps get weight 0). */
  private targets(data: Data, order: Int32Array, start: number, count: number, out: Activation) {
    const rows = out.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const n = out.shape[out.shape.length - 1];
    const width = this.loss!.targetWidth(n);
    const per = (rows / count) * width;
    const tb = this.bufs!.get('target', rows * width, this.loss!.sparse ? 'i32' : 'f32');
    const dst = this.loss!.sparse ? tb.viewI32() : tb.view();
    for (let i = 0; i < count; i++) {
      const s = order[start + i];
      dst.set(data.y.data.subarray(s * per, (s + 1) * per), i * per);
    }
    let weights: WasmArray | null = null;
    if (out.lengths && out.shape.length === 3) {
      const T = out.shape[1];
      weights = this.bufs!.get('weights', rows);
      const w = weights.view();
      for (let b = 0; b < count; b++) for (let t = 0; t < T; t++) w[b * T + t] = t < out.lengths[b] ? 1 : 0;
    }
    return { tb, weights, rows, n };
  }

  private trainBatch(
    data: Data,
    order: Int32Array,
    start: number,
    count: number,
    rng: Random,
    update: boolean,
    metrics: Metric[],
  ): { loss: number } {
    this.ensureBuilt();
    const store = this.store!;
    const { core } = runtime();
    store.grads.view().fill(0);
    const out = this.forwardBatch(data.x, order, start, count, { training: true, rng });
    const { tb, weights, rows, n } = this.targets(data, order, start, count, out);
    const grad = this.bufs!.get('dloss', rows * n);
    let loss = core.loss(this.loss!.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, grad.ptr, store.status.ptr);
    const st = store.status.viewI32()[0];
    if (st !== 0) throw new ValueError(`${this.name}: the loss kernel refused its arguments (status ${st})`);
    this.updateMetrics(metrics, out, tb, weights, rows, n);
    for (const l of this.layers)
      for (const p of l.params) {
        if (!p.regularizer) continue;
        const size = p.shape.reduce((a, b) => a * b, 1);
        loss += core.regularize(
          size,
          store.params.ptr + p.offset * 4,
          store.grads.ptr + p.offset * 4,
          p.regularizer.l1 ?? 0,
          p.regularizer.l2 ?? 0,
        );
      }
    let g: WasmArray | null = grad;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i].backward(g, i > 0);
    if (update && Number.isFinite(loss)) this.applyUpdate();
    return { loss };
  }

  private applyUpdate(): void {
    const store = this.store!;
    const opt = this.optimizer!;
    const { core, heap } = runtime();
    if (opt.stateBuffers >= 1 && !store.s1) store.s1 = new WasmArray(heap, store.total);
    if (opt.stateBuffers >= 2 && !store.s2) store.s2 = new WasmArray(heap, store.total);
    // frozen layers: their gradients are zeroed and the update skips them
    const segments = this.trainableSegments();
    this.step++;
    store.hyper.view().set(opt.hyper(this.step));
    for (const [off, len] of segments) {
      const norm = core.optimizer_step(
        opt.code,
        len,
        store.params.ptr + off * 4,
        store.grads.ptr + off * 4,
        store.s1 ? store.s1.ptr + off * 4 : 0,
        store.s2 ? store.s2.ptr + off * 4 : 0,
        store.hyper.ptr,
      );
      if (Number.isNaN(norm) && len > 0) {
        const g = store.grads.view().subarray(off, off + len);
        if (g.every((v) => Number.isFinite(v))) throw new ValueError(`${this.name}: the optimizer kernel refused its arguments`);
      }
    }
    this.paramsChanged();
  }

  private trainableSegments(): [number, number][] {
    const segs: [number, number][] = [];
    for (const l of this.layers) {
      if (!l.trainable) continue;
      for (const p of l.params) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        const last = segs[segs.length - 1];
        if (last && last[0] + last[1] === p.offset) last[1] += n;
        else segs.push([p.offset, n]);
      }
    }
    return segs;
  }

  private updateMetrics(metrics: Metric[], out: Activation, tb: WasmArray, weights: WasmArray | null, rows: number, n: number): void {
    if (metrics.length === 0) return;
    const sparse = this.loss!.sparse;
    const batch = {
      pred: out.buf.view().subarray(0, rows * n),
      targetF: sparse ? null : tb.view().subarray(0, rows * n),
      targetI: sparse ? tb.viewI32().subarray(0, rows) : null,
      rows,
      n,
      weights: weights ? weights.view().subarray(0, rows) : null,
      logits: this.loss!.fused,
    };
    for (const m of metrics) m.update(batch);
  }

  private evaluateData(data: Data, batchSize: number): Record<string, number> {
    const { core } = runtime();
    const store = this.store!;
    const metrics = this.metricNames.map((m) => makeMetric(m, this.task()));
    const order = indices(data.n);
    let lossSum = 0;
    let wsum = 0;
    for (let start = 0; start < data.n; start += batchSize) {
      const count = Math.min(batchSize, data.n - start);
      const out = this.forwardBatch(data.x, order, start, count, { training: false, rng: new Random(0) });
      const { tb, weights, rows, n } = this.targets(data, order, start, count, out);
      const l = core.loss(this.loss!.kind, rows, n, out.buf.ptr, tb.ptr, weights ? weights.ptr : 0, 0, store.status.ptr);
      const w = weights
        ? weights
            .view()
            .subarray(0, rows)
            .reduce((a, b) => a + b, 0)
        : rows;
      lossSum += l * w;
      wsum += w;
      this.updateMetrics(metrics, out, tb, weights, rows, n);
    }
    const res: Record<string, number> = { loss: wsum ? lossSum / wsum : NaN };
    for (const m of metrics) res[m.name] = m.result();
    return res;
  }
}

function positiveInt(what: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ValueError(`${what} must be an integer ≥ ${min}; got ${v}`);
  return v;
}

function indices(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

function shuffleInPlace(a: Int32Array, rng: Random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function splitData(d: Data, at: number): [Data, Data] {
  const cut = (t: Tensor, a: number, b: number) => {
    const per = t.size / t.shape[0];
    return new Tensor(t.data.slice(a * per, b * per) as Float32Array | Int32Array, [b - a, ...t.shape.slice(1)]);
  };
  return [
    { x: cut(d.x, 0, at), y: cut(d.y, 0, at), n: at },
    { x: cut(d.x, at, d.n), y: cut(d.y, at, d.n), n: d.n - at },
  ];
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  return new Promise((r) => (g.setImmediate ? g.setImmediate(r) : setTimeout(r, 0)));
}
