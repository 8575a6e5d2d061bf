/**
 * `Model`: a graph of layers between input and output tensors (Keras'
 * functional API) — `model({ inputs, outputs })` — with `compile` / `fit` /
 * `evaluate` / `predict` over arrays or records of tensors and one loss per
 * output. `Sequential` is the chain case.
 *
 * It composes the graph (`graph.ts`: nodes in topological order, forward and
 * backward), the parameter arena (`arena.ts`: every layer's parameters in one
 * wasm region, gradients and optimizer state in regions of the same layout),
 * data checks (`data.ts`) and the training loop (`training.ts`).
 *
 * Memory: each node keeps its output buffers and reuses them (grown to the
 * largest batch seen, never per step), so a long training run keeps wasm
 * memory and the JS heap flat. `dispose()` frees everything now; a dropped
 * model's regions are freed by a `FinalizationRegistry` when it is
 * garbage-collected.
 */
import { ShapeError, ValueError, fmtShape } from '../errors.js';
import { type Activation, Buffers, type Layer, type LayerNode, type Shape, type StepInfo, type SymbolicTensor } from '../layers/base.js';
import { runtime } from '../runtime/init.js';
import type { WasmArray } from '../runtime/memory.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { Random } from '../util/random.js';
import { ParamArena } from './arena.js';
import type { GraphConfig, ModelConfig, TensorRef } from './config.js';
import { type Data, indices, inputTensor, positiveInt, targetTensor } from './data.js';
import { Graph } from './graph.js';
import { type LossName, resolveLoss } from './losses.js';
import { type MetricName, makeMetric } from './metrics.js';
import { type SaveOptions, saveModel } from './model-file.js';
import { exportOnnx } from './onnx-export.js';
import { type OptimizerLike, resolveOptimizer } from './optimizers.js';
import { Session, type SessionOptions, type StreamGraph } from './session.js';
import {
  evaluateData,
  type FitArgs,
  fitData,
  fitPlan,
  type History,
  type Network,
  type OutputTraining,
  predictData,
  Training,
  trainBatch,
} from './training.js';

export type { FitArgs, History };

/** One value per output: the same for all, a list in output order, or a record by output name. */
export type PerOutput<T> = T | T[] | Record<string, T>;

export interface CompileArgs {
  optimizer: OptimizerLike;
  /**
   * Each output's loss (Keras names). An output given `null` (or left out of
   * a record) has no loss: it is computed and returned by `predict`, not
   * trained, and takes no target.
   */
  loss: PerOutput<LossName | null>;
  /** Each output's metrics. */
  metrics?: MetricName[] | MetricName[][] | Record<string, MetricName[]>;
  /** Each loss's weight in the total (default 1). */
  lossWeights?: number[] | Record<string, number>;
}

/** Inputs or targets: one tensor (single input/output), a list in order, or a record by name. */
export type Tensors = TensorLike | TensorLike[] | Record<string, TensorLike>;

export interface ModelArgs {
  inputs: SymbolicTensor | SymbolicTensor[];
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seeds the initialisers and, unless `fit` gets a seed, shuffling and dropout. */
  seed?: number;
  /** false: leave the parameters at zero (an importer sets every weight next). */
  initialize?: boolean;
}

// Frees a dropped model's wasm memory. Absent in runtimes without
// FinalizationRegistry (Cloudflare Workers), where dispose() is the way.
const finalizer = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<() => void>((free) => free()) : null;

export class Model implements Network {
  readonly name: string;
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
  /** @internal */
  protected graph: Graph | null = null;
  private store: ParamArena | null = null;
  private buffers: Buffers | null = null;
  protected readonly initRng: Random;
  private training: Training | null = null;
  private disposed = false;
  private readonly token = {};

  /**
   * A graph model from its input and output tensors (`model({ inputs,
   * outputs })`). Subclasses (`Sequential`) make their graph later, in
   * `build`.
   */
  constructor(
    args: Partial<ModelArgs> & { name?: string; seed?: number /** @internal loaders that set every weight */; initialize?: boolean },
  ) {
    this.name = args.name ?? 'model';
    this.initRng = new Random(args.seed ?? 0x5eed);
    if (args.inputs !== undefined || args.outputs !== undefined) {
      if (!args.inputs || !args.outputs) throw new ValueError('model: needs { inputs, outputs }');
      this.setGraph(new Graph(list(args.inputs, 'inputs'), list(args.outputs, 'outputs')), { initialize: args.initialize });
    }
  }

  /** The layers, each once, in the order of their first application. */
  get layers(): readonly Layer[] {
    return this.graph?.layers ?? [];
  }

  /** The input tensors (built models). */
  get inputs(): readonly SymbolicTensor[] {
    return this.requireGraph().inputs;
  }

  /** The output tensors (built models). */
  get outputs(): readonly SymbolicTensor[] {
    return this.requireGraph().outputs;
  }

  /** @internal the graph's nodes in topological order (built models). */
  get nodes(): readonly LayerNode[] {
    return this.requireGraph().nodes;
  }

  get built(): boolean {
    return this.store !== null;
  }

  /** True after `dispose()`: the model's memory is freed and every use of it (or of its sessions) throws. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Take a graph and allocate the parameters (`initialize: false` leaves them
   * at zero: loaders that set every weight skip the initialisers).
   */
  protected setGraph(graph: Graph, opts: { initialize?: boolean }): void {
    const names = new Set<string>();
    for (const l of graph.layers) {
      if (names.has(l.name)) throw new ValueError(`${this.name}: two layers are named "${l.name}"; names must be unique in a model`);
      names.add(l.name);
      if (l.stateful && l.nodes.length > 1) throw new ValueError(`${l.name}: a stateful layer cannot be shared`);
    }
    this.graph = graph;
    const arena = new ParamArena(graph.layers);
    this.store = arena;
    const bufs = new Buffers(runtime().heap);
    this.buffers = bufs;
    if (opts.initialize !== false) arena.initialize(this.initRng);
    arena.bind();
    const layers = [...graph.layers];
    finalizer?.register(
      this,
      () => {
        for (const l of layers) l.dispose();
        graph.dispose();
        bufs.freeAll();
        arena.free();
      },
      this.token,
    );
  }

  /** Build the model (a graph model is built on creation). */
  build(_inputShape?: Shape, _opts: { initialize?: boolean } = {}): void {
    this.alive();
  }

  compile(args: CompileArgs): void {
    this.alive();
    if (!args || typeof args !== 'object') throw new ValueError('compile: expected { optimizer, loss, metrics? }');
    const graph = this.requireGraph();
    const names = graph.outputs.map((t) => outputName(t));
    // a record may leave outputs out: they have no loss
    const given = args.loss;
    const lossArg: PerOutput<LossName | null> =
      given !== null && typeof given === 'object' && !Array.isArray(given)
        ? { ...Object.fromEntries(names.map((n) => [n, null])), ...given }
        : given;
    const losses = perOutput(lossArg, names, 'loss');
    if (losses.every((l) => l === null)) throw new ValueError('compile: no output has a loss');
    const weights = args.lossWeights === undefined ? names.map(() => 1) : perOutput(args.lossWeights, names, 'lossWeights');
    const metrics: MetricName[][] =
      args.metrics === undefined
        ? names.map(() => [])
        : Array.isArray(args.metrics) && args.metrics.every((m) => typeof m === 'string')
          ? names.map(() => [...(args.metrics as MetricName[])])
          : perOutput(args.metrics as MetricName[][] | Record<string, MetricName[]>, names, 'metrics');
    for (const w of weights)
      if (!(Number.isFinite(w) && w >= 0)) throw new ValueError(`compile: lossWeights must be finite numbers ≥ 0; got ${w}`);
    const outputs: OutputTraining[] = graph.outputs.flatMap((t, i) => {
      const loss = losses[i];
      if (loss === null) {
        if (metrics[i].length) throw new ValueError(`compile: output "${names[i]}" has metrics but no loss`);
        return [];
      }
      return [
        { name: names[i], index: i, loss: resolveLoss(loss, this.fusableActivation(t)), weight: weights[i], metricNames: [...metrics[i]] },
      ];
    });
    const training = new Training(resolveOptimizer(args.optimizer), outputs);
    for (const o of outputs) for (const m of o.metricNames) makeMetric(m, training.task(o)); // validate names now
    this.training = training;
    for (const l of this.layers) l.emitLogits = false;
    for (const o of outputs) if (o.loss.fused) graph.outputs[o.index].node!.layer.emitLogits = true;
    this.store?.dropSlots();
  }

  get isCompiled(): boolean {
    return this.training !== null;
  }

  /** Number of parameters (a shared layer's once). */
  countParams(): number {
    return this.layers.reduce((a, l) => a + l.countParams(), 0);
  }

  /** A Keras-style table of the layers' applications, output shapes, parameter counts and inputs (also printed). */
  summary(print: (s: string) => void = console.log): string {
    this.ensureBuilt();
    const graph = this.requireGraph();
    const chain = graph.nodes.every(
      (n, i) => n.inputs.length === 1 && (i === 0 ? !n.inputs[0].node : n.inputs[0].node === graph.nodes[i - 1]),
    );
    const fmt = (s: Shape) => fmtShape(['None', ...s].map((d) => d ?? 'None') as never);
    const head = chain ? ['Layer (type)', 'Output shape', 'Params'] : ['Layer (type)', 'Output shape', 'Params', 'Connected to'];
    const rows = [head];
    if (!chain) for (const t of graph.inputs) rows.push([`${t.name} (Input)`, fmt(t.shape), '0', '']);
    const counted = new Set<Layer>();
    for (const n of graph.nodes) {
      const l = n.layer;
      const params = counted.has(l) ? '(shared)' : String(l.countParams());
      counted.add(l);
      const row = [`${n.outputs[0].name.replace(/:0$/, '')} (${l.className})`, n.outputs.map((t) => fmt(t.shape)).join(', '), params];
      if (!chain) row.push(n.inputs.map((t) => t.name).join(', '));
      rows.push(row);
    }
    const w = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('   ');
    const sep = '─'.repeat(w.reduce((a, b) => a + b, 0) + 3 * (w.length - 1));
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

  /** The first input's shape without the batch dimension (`null` for free dimensions); the model must be built. */
  get builtInputShape(): (number | null)[] {
    this.ensureBuilt();
    return [...this.requireGraph().inputs[0].shape];
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

  /** @internal the graph a session steps. */
  streamGraph(): StreamGraph {
    const g = this.requireGraph();
    return { inputs: g.inputs, nodes: g.nodes, outputs: g.outputs };
  }

  /** @internal an f32 model: no int8 weights. */
  int8(): null {
    return null;
  }

  /** The config that rebuilds this model (its graph, compile settings). */
  toConfig(): ModelConfig {
    this.ensureBuilt();
    const graph = this.requireGraph();
    const nodeIndex = new Map(graph.nodes.map((n, i) => [n, i]));
    const ref = (t: SymbolicTensor): TensorRef =>
      t.node ? { node: nodeIndex.get(t.node)!, output: t.index } : { input: graph.inputs.indexOf(t) };
    const layerIndex = new Map(graph.layers.map((l, i) => [l, i]));
    const config: GraphConfig = {
      class: 'Model',
      name: this.name,
      inputs: graph.inputs.map((t) => ({ name: t.name, shape: [...t.shape], dtype: t.dtype })),
      layers: graph.layers.map((l) => ({ className: l.className, config: JSON.parse(JSON.stringify(l.getConfig())) })),
      nodes: graph.nodes.map((n) => ({ layer: layerIndex.get(n.layer)!, inputs: n.inputs.map(ref) })),
      outputs: graph.outputs.map(ref),
      compile: this.compileConfig(),
    };
    return config;
  }

  /** @internal the compile settings as saved. */
  protected compileConfig(): GraphConfig['compile'] {
    const t = this.training;
    if (!t) return null;
    const single = t.outputs.length === 1;
    return {
      loss: single ? t.outputs[0].loss.name : t.outputs.map((o) => o.loss.name),
      metrics: single ? [...t.outputs[0].metricNames] : t.outputs.map((o) => [...o.metricNames]),
      ...(t.outputs.some((o) => o.weight !== 1) ? { lossWeights: t.outputs.map((o) => o.weight) } : {}),
      optimizer: t.optimizer.getConfig(),
    } as GraphConfig['compile'];
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
  computeGradients(x: Tensors, y: Tensors): { loss: number; grads: Record<string, Tensor> } {
    const data = this.prepare(x, y, 'computeGradients');
    const { loss } = trainBatch(
      this,
      this.training!,
      data,
      indices(data.n),
      0,
      data.n,
      new Random(0),
      false,
      this.training!.outputs.map(() => []),
    );
    const arena = this.arena;
    return { loss, grads: arena.tensors(arena.grads, (d, s) => new Tensor(d, s)) };
  }

  async fit(x: Tensors, y: Tensors, args: FitArgs = {}): Promise<History> {
    this.alive();
    const training = this.training;
    if (!training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before fit`);
    const data = this.prepare(x, y, 'fit');
    const plan = fitPlan(this, args);
    const vd = args.validationData as [Tensors, Tensors] | undefined;
    const val = vd ? this.prepare(vd[0], vd[1], 'fit validationData') : null;
    return fitData(this, training, data, val, args, plan, this.initRng);
  }

  /** Loss and metrics over a data set (no updates). */
  evaluate(x: Tensors, y: Tensors, args: { batchSize?: number } = {}): Record<string, number> {
    this.alive();
    if (!this.training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before evaluate`);
    return evaluateData(this, this.training, this.prepare(x, y, 'evaluate'), positiveInt('evaluate: batchSize', args.batchSize ?? 32, 1));
  }

  /** Outputs for every sample: one tensor `[N, ...outputShape]`, or one per output (in order) when there are several. */
  predict(x: Tensors, args: { batchSize?: number } = {}): Tensor | Tensor[] {
    this.alive();
    const xs = this.inputTensors(x, 'predict');
    const batchSize = positiveInt('predict: batchSize', args.batchSize ?? 32, 1);
    // a fused loss's layer emits logits while training: predict wants its activation
    const saved = this.layers.map((l) => l.emitLogits);
    for (const l of this.layers) l.emitLogits = false;
    try {
      const outs = predictData(this, xs, batchSize);
      return outs.length === 1 ? outs[0] : outs;
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
    this.graph?.dispose();
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
  get callbackTarget(): Model {
    return this;
  }

  /** @internal the graph's forward. */
  forward(xs: Activation[], step: StepInfo): Activation[] {
    return this.requireGraph().forward(xs, step);
  }

  /** @internal the graph's backward. */
  backward(dys: (WasmArray | null)[]): void {
    this.requireGraph().backward(dys);
  }

  /** @internal */
  paramsChanged(): void {
    this.weightsVersion++;
    for (const l of this.layers) l.paramsChanged();
  }

  // ---------------------------------------------------------------- internals

  protected alive(): void {
    if (this.disposed) throw new ValueError(`${this.name}: used after dispose()`);
  }

  protected ensureBuilt(): void {
    this.alive();
    if (!this.store) this.build();
  }

  private requireGraph(): Graph {
    this.ensureBuilt();
    if (!this.graph) throw new ValueError(`${this.name}: not built`);
    return this.graph;
  }

  /**
   * The activation a loss may fuse for output `t` ('sigmoid' / 'softmax'):
   * only when its layer is applied once and nothing else reads the output,
   * since the layer then emits logits while training.
   */
  private fusableActivation(t: SymbolicTensor): string | null {
    const node = t.node;
    if (node?.layer.nodes.length !== 1 || node.outputs.length !== 1 || this.requireGraph().readersOf(t) !== 1) return null;
    return node.layer.outputActivation;
  }

  /**
   * `x` as one checked tensor per input, in order (a record by input name, a
   * list, or one tensor for a single input); builds a model that is not yet
   * built from the first input's shape.
   */
  protected inputTensors(x: Tensors, what: string): Tensor[] {
    const graph = this.graph;
    if (!graph) {
      // Sequential before build: its graph is made from the data's shape
      return [this.firstInputTensor(x as TensorLike, what)];
    }
    const names = graph.inputs.map((t) => t.name);
    const given = perTensor(x, names, what, 'x', 'inputs');
    const xs = graph.inputs.map((t, i) => {
      const reader = graph.nodes.find((n) => n.inputs.includes(t))?.layer;
      const label = names.length > 1 ? `x[${i}] (${t.name})` : 'x';
      return inputTensor(given[i], what, { ids: t.dtype === 'int32', shape: t.shape, layer: reader?.name ?? t.name, label }, () => t.shape);
    });
    const n = xs[0].shape[0];
    xs.forEach((t, i) => {
      if (t.shape[0] !== n)
        throw new ShapeError(`${what}: x[0] (${names[0]}) has ${n} samples but x[${i}] (${names[i]}) has ${t.shape[0]}`);
    });
    return xs;
  }

  /** Sequential before build: the first layer's input checks build the chain from the data's shape. */
  protected firstInputTensor(_x: TensorLike, _what: string): Tensor {
    throw new ValueError(`${this.name}: not built`);
  }

  private prepare(x: Tensors, y: Tensors, what: string): Data {
    if (!this.training) throw new ValueError(`${this.name}: call compile({ optimizer, loss }) before ${what}`);
    const xs = this.inputTensors(x, what);
    const graph = this.requireGraph();
    // targets for the outputs with a loss only, in order
    const trained = this.training.outputs;
    const names = trained.map((o) => o.name);
    const given = perTensor(y, names, what, 'y', 'outputs with a loss');
    const ys = trained.map((o, i) =>
      targetTensor(
        given[i],
        xs[0],
        graph.inputs[0].dtype === 'int32',
        graph.outputs[o.index].shape,
        o.loss,
        what,
        names.length > 1 ? `y[${i}] (${names[i]})` : 'y',
        graph.inputs.length === 1,
      ),
    );
    return { xs, ys, n: xs[0].shape[0] };
  }
}

/** A graph model from its input and output tensors (Keras' `Model(inputs, outputs)`, tfjs' `tf.model`). */
export function model(args: ModelArgs): Model {
  if (!args || args.inputs === undefined || args.outputs === undefined) throw new ValueError('model: expected { inputs, outputs }');
  return new Model(args);
}

function list(v: SymbolicTensor | SymbolicTensor[], what: string): SymbolicTensor[] {
  const a = Array.isArray(v) ? v : [v];
  if (a.length === 0) throw new ValueError(`model: ${what} must not be empty`);
  if (new Set(a).size !== a.length) throw new ValueError(`model: ${what} lists a tensor twice`);
  return a;
}

/** An output's name: its layer's (its node's first output name without the index suffix). */
function outputName(t: SymbolicTensor): string {
  return t.name.replace(/:\d+$/, '');
}

/** One value per name from a single value, a list in order, or a record by name. */
function perOutput<T>(v: PerOutput<T>, names: string[], what: string): T[] {
  if (Array.isArray(v)) {
    if (v.length !== names.length)
      throw new ValueError(`compile: ${what} lists ${v.length} values for ${names.length} outputs (${names.join(', ')})`);
    return v as T[];
  }
  if (v !== null && typeof v === 'object') {
    const r = v as Record<string, T>;
    for (const k of Object.keys(r))
      if (!names.includes(k)) throw new ValueError(`compile: ${what} names "${k}", which is not an output (${names.join(', ')})`);
    return names.map((n) => {
      if (!(n in r)) throw new ValueError(`compile: ${what} has nothing for output "${n}"`);
      return r[n];
    });
  }
  return names.map(() => v as T);
}

/** Inputs or targets as one value per name, in order. */
function perTensor(v: Tensors, names: string[], what: string, label: string, kind: string): TensorLike[] {
  if (names.length === 1) {
    if (Array.isArray(v) && v.length === 1 && isTensorish(v[0]) && !isNumberArray(v)) return [v[0] as TensorLike];
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor) && !ArrayBuffer.isView(v) && names[0] in v) {
      return [(v as Record<string, TensorLike>)[names[0]]];
    }
    return [v as TensorLike];
  }
  if (Array.isArray(v) && !isNumberArray(v)) {
    if (v.length !== names.length)
      throw new ShapeError(`${what}: ${label} lists ${v.length} tensors for ${names.length} ${kind} (${names.join(', ')})`);
    return v as TensorLike[];
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Tensor) && !ArrayBuffer.isView(v)) {
    const r = v as Record<string, TensorLike>;
    return names.map((n) => {
      if (!(n in r)) throw new ShapeError(`${what}: ${label} has no tensor for "${n}" (${kind}: ${names.join(', ')})`);
      return r[n];
    });
  }
  throw new ShapeError(
    `${what}: the model has ${names.length} ${kind} (${names.join(', ')}); pass ${label} as a list or a record of tensors`,
  );
}

/** A nested array of numbers (one tensor), not a list of tensors. */
function isNumberArray(v: unknown[]): boolean {
  let x: unknown = v;
  while (Array.isArray(x)) {
    if (x.length === 0) return true;
    x = x[0];
  }
  return typeof x === 'number';
}

function isTensorish(v: unknown): boolean {
  return v instanceof Tensor || ArrayBuffer.isView(v) || Array.isArray(v);
}
