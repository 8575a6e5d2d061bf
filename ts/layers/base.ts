/**
 * The layer protocol: everything the library asks of a layer kind, so that
 * models, sessions, quantisation, export and the importers iterate layers
 * without naming a kind.
 *
 * A layer kind is one file under `ts/layers/` holding a `Layer` subclass —
 * config, parameter specs, forward/backward (one core call each), its
 * stream-program records, its ONNX nodes, how its weights quantise — and a
 * `LayerKind` entry (how to rebuild it from its config, its factories, and
 * how Keras and PyTorch files map onto it), listed once in `layers/index.ts`.
 *
 * Shapes exclude the batch dimension (`[T, F]` for sequences, `[F]` for
 * vectors; `T` may be `null` = any length). Data between layers is
 * batch-first (`[B, T, F]` rows `b·T + t`), which every kernel reads directly.
 */
import { FormatError, ShapeError, ValueError, fmtShape } from '../errors.js';
import type { SafeTensor } from '../format/safetensors.js';
import type { GateActivation } from '../ops/recurrent.js';
import { runtime, type Core } from '../runtime/init.js';
import { type Heap, WasmArray } from '../runtime/memory.js';
import type { RecordFields, RecordKind, SharedScratch } from '../runtime/program.js';
import type { Random } from '../util/random.js';
import { type Fans, type Initializer, initialize } from './initializers.js';

export type Shape = (number | null)[];

export interface Regularizer {
  l1?: number;
  l2?: number;
}

/** A parameter tensor a layer declares; the model assigns `offset`. */
export interface ParamSpec {
  /** Name within the layer, e.g. `weight_ih_l0` (PyTorch) or `weight` / `bias`. */
  name: string;
  shape: number[];
  /** Fill the tensor at initialisation (given a writer in our layout). */
  init: (rng: Random, write: (index: number, v: number) => void) => void;
  regularizer?: Regularizer;
  /**
   * A weight matrix `[outputs, inputs]`: pruning applies to it, and int8
   * quantisation stores it as int8 with one scale per output row (the layer's
   * `int8Weights` packs it for its kernels).
   */
  matrix: boolean;
  offset: number;
}

/** Data flowing between layers: a buffer in wasm memory with its batch shape. */
export interface Activation {
  buf: WasmArray;
  /** with the batch dimension: `[B, T, F]` or `[B, F]` */
  shape: number[];
  /** valid steps per sample (masking), `[B]`, or null when every step is real */
  lengths: Int32Array | null;
  /** the same lengths in wasm memory, for the recurrent kernels */
  lengthsBuf: WasmArray | null;
}

/** The model's parameter and gradient regions, as base pointers. */
export interface ParamRegions {
  params: number;
  grads: number;
}

export interface StepInfo {
  training: boolean;
  rng: Random;
}

/** Reusable wasm buffers of a layer, grown on demand and never shrunk. */
export class Buffers {
  private readonly map = new Map<string, WasmArray>();
  constructor(private readonly heap: Heap) {}

  /** A region of at least `length` elements under `key` (contents unspecified). */
  get(key: string, length: number, kind: 'f32' | 'i32' = 'f32'): WasmArray {
    const have = this.map.get(key);
    if (have && have.length >= length && have.kind === kind) return have;
    have?.free();
    const w = new WasmArray(this.heap, Math.max(length, 1), kind);
    this.map.set(key, w);
    return w;
  }

  freeAll(): void {
    for (const w of this.map.values()) w.free();
    this.map.clear();
  }

  /** Bytes held. */
  bytes(): number {
    let n = 0;
    for (const w of this.map.values()) n += w.length * 4;
    return n;
  }
}

/**
 * One application of a layer in a model — a node of its graph: the buffers
 * its outputs (and gradients) live in, and what its forward keeps for its
 * backward. A layer applied twice (shared weights) has two, so neither call
 * overwrites the other's outputs or tape.
 */
export class LayerCall {
  readonly buffers: Buffers;
  /** What the last training forward kept for backward (the layer's own type), or null. */
  tape: unknown = null;
  private children: Map<string, LayerCall> | null = null;

  constructor() {
    this.buffers = new Buffers(runtime().heap);
  }

  /** The call of a layer this one runs inside it (a wrapper's), kept and freed with this one. */
  child(key: string): LayerCall {
    this.children ??= new Map();
    let c = this.children.get(key);
    if (!c) {
      c = new LayerCall();
      this.children.set(key, c);
    }
    return c;
  }

  /** The tape a training forward left, as the layer's type; throws when there is none. */
  take<T>(layer: Layer): T {
    const t = this.tape as T | null;
    if (t === null) throw new ValueError(`${layer.name}: backward without a training forward`);
    this.tape = null;
    return t;
  }

  dispose(): void {
    this.buffers.freeAll();
    this.tape = null;
    for (const c of this.children?.values() ?? []) c.dispose();
    this.children = null;
  }
}

// ------------------------------------------------------------------ streaming

/**
 * Data between layers in a session program, in wasm memory: this step's
 * `[B, features]`, or — with `fixed` — a value that stays put while the
 * session steps (an encoder's outputs or final states, given to a decoder):
 * `[B, steps, features]`, or `[B, features]` when `steps` is null.
 */
export interface StreamValue {
  buf: WasmArray;
  features: number;
  fixed?: { steps: number | null; lengths: WasmArray | null };
}

/** What a session gives a layer that writes its step records (`Layer.stream`). */
export interface StreamContext {
  /** Rows stepped together. */
  readonly batch: number;
  /** A buffer the session owns (freed with it). */
  alloc(length: number, kind?: 'f32' | 'i32'): WasmArray;
  /** Byte pointer of one of this layer's f32 parameters, wherever its model keeps them. */
  param(name: string): number;
  /** What this layer's `int8Weights` returned when the model was quantised, or null for f32 weights. */
  readonly int8: unknown;
  /** Append a record to the program. */
  record<K extends RecordKind>(kind: K, fields: RecordFields<K>): void;
  /** A scratch buffer the program's records share (they run one after another), sized to the largest request. */
  shared(key: string, bytes: number): SharedScratch;
  /** The f32 GEMM packing scratch of the step must hold a product of depth `k`. */
  packDepth(k: number): void;
  /**
   * State carried between steps, kept in `session.state` under this layer's
   * name; `reset` zeroes it, or copies `initial` (fixed values of the same
   * size: initial states given to the layer).
   */
  state(buffers: Readonly<Record<string, WasmArray>>, initial?: Readonly<Record<string, WasmArray>>): void;
  /** Run `pack` now, and again before a step whenever the model's weights have changed. */
  onWeights(pack: () => void): void;
}

/**
 * A layer that reads a sequence's end before its start (a backward
 * direction), as one or more forward-in-time passes that a stream can run:
 * how `QuantizedModel.predict` runs it.
 */
export interface SequenceSplit {
  passes: {
    /** A causal layer with this layer's config for one direction (its `stream` is used, not its own parameters). */
    layer: Layer;
    /** Feed each sample's steps reversed within its length. */
    reversed: boolean;
    /** Reverse the outputs back to the input's order (per-step outputs only). */
    flipBack: boolean;
    /** The original layer's name of the pass layer's parameter `name`. */
    param(name: string): string;
    /** The pass's int8 weights, from the original layer's `int8Weights` result. */
    int8(w: unknown): unknown;
  }[];
  /** Features per step of the layer's output. */
  features: number;
  /** The layer's output from the passes' outputs (`[rows, features]` each). */
  merge(outs: Float32Array[], rows: number): Float32Array;
}

// ------------------------------------------------------------------ int8

/** What quantisation gives a layer to pack its int8 matrices for its kernels. */
export interface Int8Packer {
  /** Pack rows `[r0, r1)` of this layer's int8 matrix `param`; returns [packed bytes, per-row scales] pointers. */
  pack(param: string, r0?: number, r1?: number): [number, number];
  /** A pointer to these u32 words in memory the quantised model owns. */
  words(values: readonly number[]): number;
}

// ------------------------------------------------------------------ ONNX

export type OnnxAttr = number | string | number[] | string[] | { floats: number[] };
export type OnnxType = 'float' | 'int64' | 'int32';

/** What a layer's output is in the ONNX graph being written. */
export interface OnnxValue {
  name: string;
  /** with the batch dimension */
  rank: number;
  /** an int32 `[batch]` tensor of valid steps (masking), or null */
  lengths: string | null;
}

/** The ONNX graph a model's export is writing (`model.toOnnx`). */
export interface OnnxBuilder {
  /** This layer's parameter (PyTorch layout) as the model holds it. */
  weight(name: string): { shape: number[]; data: Float32Array };
  /** An initializer; returns its name. */
  init(name: string, dims: number[], data: ArrayLike<number>, type?: OnnxType): string;
  /** An int64 vector initializer with a fresh name. */
  ints(base: string, values: number[]): string;
  /** A node; returns its outputs' names. */
  node(op: string, inputs: string[], outputs?: number, attrs?: Record<string, OnnxAttr>): string[];
  /** A fresh name. */
  name(base: string): string;
  /** The ONNX data type code (Cast's `to`). */
  dtype(t: OnnxType): number;
  /** `valid[b, t] = t < lengths[b]` (bool `[B, T]`), `T` the size of axis 1 of tensor `x`. */
  validSteps(x: string, lengths: string): string;
}

// ------------------------------------------------------------------ importers

/** One layer of a Keras model (TF.js layers JSON, `.keras`, `.h5`) being imported. */
export interface KerasLayerInput {
  className: string;
  /** The Keras config (snake_case keys). */
  config: Record<string, unknown>;
  name: string;
  /** For messages: `layer <name> (<class>)`. */
  where: string;
  /** The layer's weight whose last path element is `role`; `sub` selects a sub-layer (Bidirectional's forward/backward). */
  weight(role: string, sub?: string): { shape: number[]; data: Float32Array };
  /** An activation config value as a snake_case name ('linear' when absent). */
  activation(v: unknown, where?: string): string;
  /** What Keras' 'hard_sigmoid' means in the version that wrote the file. */
  hardSigmoid: GateActivation;
  /** The model's input shape as far as it is known. */
  inputShape: Shape | null;
  /** A `FormatError` naming the importer and `where` (default: this layer). */
  error(message: string, where?: string): FormatError;
  /** The mapping of another Keras class (a wrapper's inner layer). */
  mapping(className: string): KerasMapping | undefined;
}

/** A Keras layer as ours: the layer and its weights by our parameter names. */
export interface KerasLayerImport {
  layer: Layer;
  weights: Record<string, Float32Array>;
  /** The model's input, when this layer defines it: ids of shape `[T]`. */
  idsInput?: Shape;
}

export interface KerasMapping {
  /** The Keras class names this kind reads. */
  classNames: readonly string[];
  import(k: KerasLayerInput): KerasLayerImport;
}

/** A module of a PyTorch state dict: its prefix and its tensors by parameter name. */
export interface TorchModule {
  prefix: string;
  tensors: Map<string, SafeTensor>;
}

/** How one module becomes our layers (`importPyTorch`). */
export interface TorchModuleImport {
  /** The module, as the spec or the inference named it. */
  module: TorchModule;
  /** The spec entry (`{ module, type, ... }`). */
  spec: { type: string } & Record<string, unknown>;
  /** Our name for the module's layer(s). */
  name: string;
  /** The model's first module. */
  first: boolean;
  /** The last module with recurrent layers, and what the model returns after it. */
  lastRecurrent: boolean;
  head: 'sequence' | 'last-step' | 'final-state';
  /** A tensor of the module as f32, checked to have shape `want`. */
  take(param: string, want: number[]): Float32Array;
  /** A `FormatError` naming the importer. */
  error(message: string): FormatError;
}

export interface TorchMapping {
  /** The spec `type`s this kind reads. */
  types: readonly string[];
  /**
   * Where modules of this kind stand when the order is inferred from sizes:
   * lower first (an embedding 0, recurrent modules 1, linear heads 2).
   */
  stage: number;
  /** The spec type of a module whose tensors look like this kind, or null. */
  detect(m: TorchModule): string | null;
  /** Feature sizes in and out (modules of one stage are chained by them). */
  sizes(m: TorchModule): { in: number; out: number };
  import(t: TorchModuleImport): { layers: Layer[]; weights: Record<string, Float32Array>; idsInput?: boolean; inputSize?: number };
}

// ------------------------------------------------------------------ graphs

export type DType = 'float32' | 'int32';

/**
 * A tensor of a model being defined (Keras' symbolic tensor): its shape
 * without the batch dimension, its dtype, and the node that makes it (none
 * for a model input).
 */
export class SymbolicTensor {
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** The application that produces it; null for a model input. */
    readonly node: LayerNode | null,
    /** Which of that node's outputs it is. */
    readonly index: number,
    readonly name: string,
  ) {}
}

let inputCounter = 0;

/** A model input: `input({ shape: [null, 8] })` is a sequence of any length with 8 features per step. */
export function input(args: { shape: Shape; dtype?: DType; name?: string }): SymbolicTensor {
  const shape = args?.shape;
  if (!Array.isArray(shape) || shape.some((d) => d !== null && (!Number.isInteger(d) || d <= 0))) {
    throw new ShapeError(
      `input: shape must be an array of positive integers (or null), without the batch dimension; got ${JSON.stringify(shape)}`,
    );
  }
  const dtype = args.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32')
    throw new ValueError(`input: dtype must be 'float32' or 'int32'; got ${JSON.stringify(dtype)}`);
  return new SymbolicTensor([...shape], dtype, null, 0, args.name ?? `input_${++inputCounter}`);
}

/** One application of a layer in a graph (Keras' node): the tensors it reads and the tensors it makes. */
export class LayerNode {
  readonly outputs: SymbolicTensor[];

  constructor(
    readonly layer: Layer,
    readonly inputs: SymbolicTensor[],
    outputShapes: Shape[],
  ) {
    const k = layer.nodes.length;
    this.outputs = outputShapes.map(
      (shape, i) =>
        new SymbolicTensor(shape, 'float32', this, i, `${layer.name}${k ? `_${k}` : ''}${outputShapes.length > 1 ? `:${i}` : ''}`),
    );
  }
}

// ------------------------------------------------------------------ the layer

export interface LayerArgs {
  name?: string;
  /** Shape of one sample (without the batch dimension), for the first layer. */
  inputShape?: Shape;
  /** Batch size, required by stateful recurrent layers. */
  batchSize?: number;
  trainable?: boolean;
}

/** What a kind may ask of the registry of every kind (a wrapper rebuilding the layer it wraps). */
export interface LayerRegistry {
  fromConfig(c: { className: string; config: Record<string, unknown> }): Layer;
}

/** A layer kind: how to rebuild its layers from a saved config, and how other formats map onto it. */
export interface LayerKind {
  /** The class names its layers are saved under. */
  classNames: readonly string[];
  fromConfig(className: string, config: Record<string, unknown>, registry: LayerRegistry): Layer;
  /** The `layers.*` factories it provides. */
  factories: Record<string, (args: never) => Layer>;
  keras?: KerasMapping;
  torch?: TorchMapping;
}

let counter = 0;

export abstract class Layer {
  readonly name: string;
  abstract readonly className: string;
  inputShape: Shape | null;
  outputShape: Shape | null = null;
  readonly batchSize: number | null;
  trainable: boolean;
  params: ParamSpec[] = [];
  /** Its applications in graphs, in order (a shared layer has several). */
  readonly nodes: LayerNode[] = [];
  /** The input shapes of its first application (what it was built for). */
  private builtFor: Shape[] | null = null;
  /** What the layer takes: float features, or integer ids (then `vocabularySize` of them). */
  get inputDType(): DType {
    return 'float32';
  }
  /**
   * Set by the model when this layer's sigmoid/softmax is fused into the
   * loss (`outputActivation`): forward then emits logits while training and
   * evaluating.
   */
  emitLogits = false;
  protected regions: ParamRegions | null = null;
  private buffers: Buffers | null = null;

  constructor(args: LayerArgs, defaultName: string) {
    this.name = args.name ?? `${defaultName}_${++counter}`;
    this.inputShape = args.inputShape ? [...args.inputShape] : null;
    this.batchSize = args.batchSize ?? null;
    this.trainable = args.trainable ?? true;
    if (args.inputShape !== undefined) {
      if (!Array.isArray(args.inputShape) || args.inputShape.some((d) => d !== null && (!Number.isInteger(d) || d <= 0))) {
        throw new ShapeError(
          `${this.name}: inputShape must be an array of positive integers (or null); got ${JSON.stringify(args.inputShape)}`,
        );
      }
    }
  }

  get built(): boolean {
    return this.outputShape !== null;
  }

  // ---------------------------------------------------------------- config

  /** Constructor arguments that recreate this layer (saved with the model; see `LayerKind.fromConfig`). */
  abstract getConfig(): Record<string, unknown>;

  /** Carries state between batches (the model then keeps batches in order). */
  get stateful(): boolean {
    return false;
  }

  /** Ids the layer knows (`[0, n)`) when `inputDType` is 'int32'. */
  get vocabularySize(): number {
    return 0;
  }

  /** Whether id 0 is padding that masks the steps after it (ids layers). */
  get masksPadding(): boolean {
    return false;
  }

  /** The output activation a loss may fuse ('sigmoid' / 'softmax' meeting a cross-entropy), or null. */
  get outputActivation(): string | null {
    return null;
  }

  // ---------------------------------------------------------------- graphs

  /**
   * Apply the layer to symbolic tensors (the functional API): returns its
   * output tensor, or its outputs when it has several (a recurrent layer with
   * `returnState`). The first application builds the layer; a later one (a
   * shared layer, the same weights) must be compatible with the first.
   */
  apply(x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor | SymbolicTensor[] {
    const inputs = Array.isArray(x) ? x : [x];
    if (inputs.length === 0 || inputs.some((t) => !(t instanceof SymbolicTensor))) {
      throw new ValueError(`${this.name}.apply: expected symbolic tensors (from input() or another layer's apply)`);
    }
    const outs = this.applyShapes(inputs);
    const node = new LayerNode(this, inputs, outs);
    this.nodes.push(node);
    return node.outputs.length === 1 ? node.outputs[0] : node.outputs;
  }

  /** Inputs the layer takes in a graph, as [least, most]. */
  get arity(): [number, number] {
    return [1, 1];
  }

  /** The output shapes of an application to `inputs` (building the layer on the first). */
  applyShapes(inputs: readonly { shape: Shape; dtype: DType }[]): Shape[] {
    const [lo, hi] = this.arity;
    if (inputs.length < lo || inputs.length > hi) {
      throw new ValueError(`${this.name} takes ${lo === hi ? lo : `${lo} to ${hi}`} input${hi === 1 ? '' : 's'}; got ${inputs.length}`);
    }
    const want = this.inputDType;
    if (inputs[0].dtype !== want) {
      throw new ValueError(
        `${this.name} takes ${want === 'int32' ? 'integer ids (int32)' : 'float32 values'}; got a ${inputs[0].dtype} input`,
      );
    }
    const shapes = inputs.map((t) => t.shape);
    if (this.builtFor === null) {
      const out = this.buildAll(shapes);
      this.builtFor = shapes.map((s) => [...s]);
      return out;
    }
    const fits = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
    if (shapes.length !== this.builtFor.length || shapes.some((s, i) => !fits(s, this.builtFor![i]))) {
      throw new ShapeError(
        `${this.name} was built for inputs of shape ${this.builtFor.map((s) => fmtShape(s.map((d) => d ?? -1))).join(', ')} and cannot be applied to ${shapes
          .map((s) => fmtShape(s.map((d) => d ?? -1)))
          .join(', ')} (a shared layer keeps its first shapes; -1 = any)`,
      );
    }
    return this.sharedShapes();
  }

  /** Declare parameters for these input shapes and return the output shapes (single-tensor layers: `build`). */
  protected buildAll(shapes: Shape[]): Shape[] {
    return [this.build(shapes[0])];
  }

  /** The output shapes of a later application (inputs compatible with the first). */
  protected sharedShapes(): Shape[] {
    return [[...this.outputShape!]];
  }

  /** Forward over the node's inputs (single-tensor layers: `forward`). */
  forwardAll(xs: Activation[], step: StepInfo, call: LayerCall): Activation[] {
    return [this.forward(xs[0], step, call)];
  }

  /**
   * Backward of `call`'s forward: `dys[i]` the gradient of output `i` (null:
   * nothing flows back through it); returns each input's gradient (null where
   * `needDx[i]` is false). Single-tensor layers: `backward`.
   */
  backwardAll(dys: (WasmArray | null)[], needDx: boolean[], call: LayerCall): (WasmArray | null)[] {
    if (dys[0] === null) {
      call.tape = null;
      return [null];
    }
    return [this.backward(dys[0], needDx[0], call)];
  }

  // ---------------------------------------------------------------- training

  /** Declare parameters for this input shape and return the output shape. */
  abstract build(inputShape: Shape): Shape;

  /** Forward pass over one batch; outputs go to `call`'s buffers, and (training) what backward needs to its tape. */
  abstract forward(x: Activation, step: StepInfo, call: LayerCall): Activation;

  /**
   * Backward pass of `call`'s last training forward: `dy` is the gradient
   * w.r.t. its output (same shape; the layer may overwrite it). Parameter
   * gradients are accumulated. Returns the gradient w.r.t. the input, or null
   * when `needDx` is false.
   */
  abstract backward(dy: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null;

  /** Reset carried state (stateful recurrent layers). */
  resetStates(): void {}

  /** Called by the model once the parameter regions exist. */
  bind(regions: ParamRegions): void {
    this.regions = regions;
  }

  /** Called after parameters changed outside the layer (optimizer, setWeights). */
  paramsChanged(): void {}

  countParams(): number {
    return this.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  }

  dispose(): void {
    this.buffers?.freeAll();
    this.buffers = null;
    // the model's parameter regions are freed with it: forget their addresses
    this.regions = null;
  }

  // ---------------------------------------------------------------- streaming

  /**
   * Write this layer's records of one time step into a session program,
   * reading `x` and returning where its output is. A layer without a
   * per-step form throws saying why (the default).
   */
  stream(_ctx: StreamContext, _x: StreamValue): StreamValue {
    throw new ValueError(`session: layer ${this.name} (${this.className}) cannot be streamed`);
  }

  /**
   * A node's step records over its inputs (single-input layers: `stream` on
   * this step's value); returns its outputs.
   */
  streamAll(ctx: StreamContext, xs: StreamValue[]): StreamValue[] {
    if (xs.length !== 1 || xs[0].fixed) {
      throw new ValueError(`session: ${this.name} (${this.className}) takes one value per step; it cannot read a fixed one`);
    }
    return [this.stream(ctx, xs[0])];
  }

  /** For a layer that reads a sequence's end before its start: its forward-in-time passes; null for causal layers. */
  sequenceSplit(): SequenceSplit | null {
    return null;
  }

  // ---------------------------------------------------------------- int8

  /**
   * Pack this layer's int8 matrices (its `matrix` parameters) for its int8
   * records; what it returns is given back to its `stream` as `ctx.int8`.
   * null: the layer has no int8 kernel (refused if it has matrices).
   */
  int8Weights(_p: Int8Packer): unknown {
    return null;
  }

  // ---------------------------------------------------------------- ONNX

  /** Write this layer's nodes after `x`; returns its output. */
  toOnnx(_g: OnnxBuilder, _x: OnnxValue): OnnxValue {
    throw new FormatError(`toOnnx: layer ${this.name} (${this.className}) cannot be exported`);
  }

  /** Write this layer's nodes after its inputs; returns its outputs (single-tensor layers: `toOnnx`). */
  toOnnxAll(g: OnnxBuilder, xs: OnnxValue[]): OnnxValue[] {
    return [this.toOnnx(g, xs[0])];
  }

  // ---------------------------------------------------------------- helpers

  protected addParam(name: string, shape: number[], init: ParamSpec['init'], regularizer?: Regularizer, matrix = false): ParamSpec {
    const spec: ParamSpec = { name, shape, init, regularizer, matrix, offset: -1 };
    this.params.push(spec);
    return spec;
  }

  /** Pointer (bytes) of a parameter in the params region. */
  protected paramPtr(p: ParamSpec): number {
    if (!this.regions) throw new ValueError(`${this.name}: used before the model was built or after it was disposed`);
    return this.regions.params + p.offset * 4;
  }

  /** Pointer (bytes) of a parameter's gradient. */
  protected gradPtr(p: ParamSpec): number {
    if (!this.regions) throw new ValueError(`${this.name}: used before the model was built or after it was disposed`);
    return this.regions.grads + p.offset * 4;
  }

  protected core(): Core {
    return runtime().core;
  }

  /** Buffers of state the layer itself carries between calls (a stateful layer's states). */
  protected own(): Buffers {
    this.buffers ??= new Buffers(runtime().heap);
    return this.buffers;
  }

  protected expectRank(shape: Shape, ranks: number[], what: string): void {
    if (!ranks.includes(shape.length)) {
      throw new ShapeError(`${this.name}: expects ${what}; got input shape ${fmtShape(shape.map((d) => d ?? -1))} (without batch)`);
    }
  }
}

/**
 * The `init` of a 2-D parameter: the initialiser runs over the Keras-shaped
 * weight `[kerasRows, kerasCols]` (so fans and orthogonality are Keras'), and
 * `place(kr, kc)` maps each element to its index in our layout.
 */
export function initMatrix(
  initializer: Initializer,
  kerasRows: number,
  kerasCols: number,
  fans: Fans,
  place: (kr: number, kc: number) => number,
): ParamSpec['init'] {
  return (rng, write) => initialize(initializer, kerasRows, kerasCols, fans, rng, (r, c, v) => write(place(r, c), v));
}

/** `[rows, cols]` row-major → `[cols, rows]`. */
export function transpose(rows: number, cols: number, data: Float32Array): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = data[i * cols + j];
  return t;
}
