/**
 * What every layer shares: declared parameters (bound to offsets in the
 * model's one parameter region), per-batch buffers in wasm memory, and the
 * forward/backward contract the model drives.
 *
 * Shapes exclude the batch dimension (`[T, F]` for sequences, `[F]` for
 * vectors; `T` may be `null` = any length). Data between layers is batch-first
 * (`[B, T, F]` rows `b·T + t`), which every kernel reads directly.
 */
import { ShapeError, ValueError, fmtShape } from '../errors.js';
import { initialize, type Fans, type Initializer } from '../model/initializers.js';
import { runtime, type Core } from '../runtime/init.js';
import { WasmArray, type Heap } from '../runtime/memory.js';

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
  init: (rng: import('../util/random.js').Random, write: (index: number, v: number) => void) => void;
  regularizer?: Regularizer;
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
  rng: import('../util/random.js').Random;
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

export interface LayerArgs {
  name?: string;
  /** Shape of one sample (without the batch dimension), for the first layer. */
  inputShape?: Shape;
  /** Batch size, required by stateful recurrent layers. */
  batchSize?: number;
  trainable?: boolean;
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
  protected regions: ParamRegions | null = null;
  protected buffers: Buffers | null = null;

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

  /** Declare parameters for this input shape and return the output shape. */
  abstract build(inputShape: Shape): Shape;

  /** Forward pass over one batch. */
  abstract forward(x: Activation, step: StepInfo): Activation;

  /**
   * Backward pass: `dy` is the gradient w.r.t. this layer's last output (same
   * shape; the layer may overwrite it). Parameter gradients are accumulated.
   * Returns the gradient w.r.t. the input, or null when `needDx` is false.
   */
  abstract backward(dy: WasmArray, needDx: boolean): WasmArray | null;

  /** Constructor arguments that recreate this layer (for saving). */
  abstract getConfig(): Record<string, unknown>;

  /** Reset carried state (stateful recurrent layers). */
  resetStates(): void {}

  /** Called by the model once the parameter regions exist. */
  bind(regions: ParamRegions): void {
    this.regions = regions;
    this.buffers ??= new Buffers(runtime().heap);
  }

  /** Called after parameters changed outside the layer (optimizer, setWeights). */
  paramsChanged(): void {}

  countParams(): number {
    return this.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  }

  dispose(): void {
    this.buffers?.freeAll();
    // the model's parameter regions are freed with it: forget their addresses
    this.regions = null;
  }

  protected addParam(name: string, shape: number[], init: ParamSpec['init'], regularizer?: Regularizer): ParamSpec {
    const spec: ParamSpec = { name, shape, init, regularizer, offset: -1 };
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

  protected buf(): Buffers {
    if (!this.buffers) throw new ValueError(`${this.name}: used before the model was built`);
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
