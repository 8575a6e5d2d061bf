/**
 * One recurrent layer (SimpleRNN, LSTM or GRU; one or two directions) on the
 * SIMD core: parameters, gradients and packed recurrent weights live in wasm
 * memory; `forward` and `backward` are one wasm call each for the whole
 * sequence and batch.
 *
 * Layout and names follow PyTorch (`torch.nn.RNN/LSTM/GRU`): per direction
 * `weight_ih [G·H, I]`, `weight_hh [G·H, H]`, `bias_ih [G·H]`, `bias_hh [G·H]`,
 * gates LSTM i,f,g,o and GRU r,z,n; the reverse direction's names end in
 * `_reverse`. Inputs are time-major `[T, B, I]` or, with `batchFirst`,
 * `[B, T, I]`; outputs `[T, B, D·H]` / `[B, T, D·H]` with the forward direction
 * in the first H columns; states `[D, B, H]`.
 *
 * Variable lengths follow PyTorch packed sequences: steps past `lengths[b]`
 * output zeros and leave the state unchanged; the reverse direction starts at
 * each sample's last real step; final states are taken there.
 */
import { ShapeError, ValueError } from '../errors.js';
import { CELL_GATES, CallFlag, Cell, GateAct } from '../runtime/contract.js';
import { runtime } from '../runtime/init.js';
import { WasmArray, type Heap } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import { Random } from '../util/random.js';
import { checkFinite, checkLength, checkPositiveInt, checkedProduct, type FloatLike } from './validate.js';

export type CellType = 'rnn' | 'lstm' | 'gru';

export interface RecurrentConfig {
  cell: CellType;
  inputSize: number;
  hiddenSize: number;
  /** Two directions, outputs concatenated (default false). */
  bidirectional?: boolean;
  /** SimpleRNN activation (default 'tanh'). */
  nonlinearity?: 'tanh' | 'relu';
  /**
   * GRU only: apply the reset gate after the recurrent product (PyTorch,
   * Keras `reset_after=True`; default) or before it (Cho et al. 2014, Keras
   * `reset_after=False`, ONNX `linear_before_reset=0`).
   */
  resetAfter?: boolean;
  /**
   * Gate activation of LSTM i, f, o and GRU r, z: 'sigmoid' (default),
   * 'hardSigmoid' = clip(0.2·x + 0.5, 0, 1) (tfjs, Keras 2), 'hardSigmoid6' =
   * clip(x/6 + 0.5, 0, 1) (Keras 3).
   */
  gateActivation?: GateActivation;
}

export type GateActivation = 'sigmoid' | 'hardSigmoid' | 'hardSigmoid6';
/** The core's code of each gate activation. */
export const GATE_CODE: Readonly<Record<GateActivation, GateAct>> = {
  sigmoid: GateAct.Sigmoid,
  hardSigmoid: GateAct.HardSigmoid02,
  hardSigmoid6: GateAct.HardSigmoidSixth,
};

export interface ForwardInput {
  /** `[T, B, I]`, or `[B, T, I]` with `batchFirst`. */
  x: FloatLike;
  seqLen: number;
  batchSize: number;
  batchFirst?: boolean;
  /** Initial hidden state `[D, B, H]` (default zeros). */
  h0?: FloatLike;
  /** Initial cell state `[D, B, H]`, LSTM only (default zeros). */
  c0?: FloatLike;
  /** Real length of each sample, `[B]` integers in `[0, T]`. */
  lengths?: ArrayLike<number>;
  /** Keep what `backward` needs (default false). */
  training?: boolean;
  /** One direction only: run it in reverse time (Keras `goBackwards`). */
  reverse?: boolean;
  /** Recurrent-dropout mask `[D, B, H]` (0 or 1/(1−p)), applied to h in the recurrent products. */
  recurrentMask?: FloatLike;
}

export interface ForwardOutput {
  /** `[T, B, D·H]` (or batch-first). */
  y: Float32Array;
  /** Final hidden state `[D, B, H]`. */
  hn: Float32Array;
  /** Final cell state `[D, B, H]` (LSTM). */
  cn?: Float32Array;
}

export interface BackwardInput {
  /** Gradient of the loss w.r.t. `y` (default zeros). */
  dy?: FloatLike;
  /** Gradient w.r.t. the final hidden state (default zeros). */
  dhn?: FloatLike;
  /** Gradient w.r.t. the final cell state, LSTM (default zeros). */
  dcn?: FloatLike;
  /** Compute `dx` (default true). */
  inputGrad?: boolean;
}

export interface BackwardOutput {
  /** Gradient w.r.t. `x`, same layout as `x`. */
  dx?: Float32Array;
  /** Gradient w.r.t. `h0`. */
  dh0: Float32Array;
  /** Gradient w.r.t. `c0` (LSTM). */
  dc0?: Float32Array;
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const { BATCH_FIRST: FLAG_BATCH_FIRST, TRAINING: FLAG_TRAINING, REPACK: FLAG_REPACK, REVERSE: FLAG_REVERSE, GATE_SHIFT } = CallFlag;

/** Pointer-level arguments of one forward call (byte offsets; 0 = absent). */
export interface RawForward {
  t: number;
  b: number;
  batchFirst: boolean;
  training: boolean;
  reverse: boolean;
  x: number;
  h0: number;
  c0: number;
  lengths: number;
  y: number;
  hn: number;
  cn: number;
  work: number;
  recMask: number;
}

/** Pointer-level arguments of one backward call (byte offsets; 0 = absent). */
export interface RawBackward {
  t: number;
  b: number;
  batchFirst: boolean;
  reverse: boolean;
  x: number;
  lengths: number;
  work: number;
  dy: number;
  dhn: number;
  dcn: number;
  dx: number;
  dh0: number;
  dc0: number;
  recMask: number;
}

/** The core's cell code of a configuration. */
export function cellCode(c: Pick<RecurrentConfig, 'cell' | 'nonlinearity' | 'resetAfter'>): Cell {
  switch (c.cell) {
    case 'rnn':
      return c.nonlinearity === 'relu' ? Cell.RnnRelu : Cell.RnnTanh;
    case 'lstm':
      return Cell.Lstm;
    case 'gru':
      return c.resetAfter === false ? Cell.GruResetBefore : Cell.Gru;
  }
}

/** Buffers of one call shape, reused while T, B and the mode stay the same. */
interface CallBuffers {
  t: number;
  b: number;
  flags: number;
  x: WasmArray;
  y: WasmArray;
  h0: WasmArray;
  c0: WasmArray | null;
  hn: WasmArray;
  cn: WasmArray | null;
  lengths: WasmArray;
  mask: WasmArray;
  work: WasmArray;
  hasMask: boolean;
  hasH0: boolean;
  hasC0: boolean;
  hasLengths: boolean;
  /** A training forward ran on these buffers and backward has not consumed it. */
  tape: boolean;
}

export class RecurrentKernel {
  readonly config: Readonly<Required<RecurrentConfig>>;
  readonly directions: 1 | 2;
  readonly gates: number;
  /** Floats of one direction's parameters. */
  readonly paramsPerDirection: number;
  readonly numParams: number;

  private readonly heap: Heap;
  private readonly code: number;
  /** Owned regions (standalone use); null when the model's regions are used. */
  private readonly ownParams: WasmArray | null;
  private readonly ownGrads: WasmArray | null;
  private readonly paramsPtr: number;
  private readonly gradsPtr: number;
  /** The GEMM-packed weights, allocated at the first forward (a model loaded
   *  only to stream never needs them: 1.3 MB less to zero at cold start for an LSTM with H = 256). */
  private packed: WasmArray | null = null;
  private readonly gateBits: number;
  private paramsVersion = 1;
  private packedVersion = 0;
  private call: CallBuffers | null = null;
  private disposed = false;

  /**
   * `options.regions` places the parameters and gradients inside existing
   * wasm regions (a model's arena; byte pointers, `numParams` floats each);
   * otherwise the kernel allocates its own.
   */
  constructor(config: RecurrentConfig, options: { params?: FloatLike; seed?: number; regions?: { params: number; grads: number } } = {}) {
    if (!config || !['rnn', 'lstm', 'gru'].includes(config.cell)) {
      throw new ValueError(`cell must be 'rnn', 'lstm' or 'gru'; got ${String(config?.cell)}`);
    }
    checkPositiveInt(`${config.cell}: inputSize`, config.inputSize);
    checkPositiveInt(`${config.cell}: hiddenSize`, config.hiddenSize);
    if (config.gateActivation !== undefined && !(config.gateActivation in GATE_CODE)) {
      throw new ValueError(
        `${config.cell}: gateActivation must be 'sigmoid', 'hardSigmoid' or 'hardSigmoid6'; got ${String(config.gateActivation)}`,
      );
    }
    if (config.nonlinearity !== undefined && config.nonlinearity !== 'tanh' && config.nonlinearity !== 'relu') {
      throw new ValueError(`rnn: nonlinearity must be 'tanh' or 'relu'; got ${String(config.nonlinearity)}`);
    }
    this.config = {
      cell: config.cell,
      inputSize: config.inputSize,
      hiddenSize: config.hiddenSize,
      bidirectional: config.bidirectional ?? false,
      nonlinearity: config.nonlinearity ?? 'tanh',
      resetAfter: config.resetAfter ?? true,
      gateActivation: config.gateActivation ?? 'sigmoid',
    };
    this.gateBits = GATE_CODE[this.config.gateActivation] << GATE_SHIFT;
    this.directions = this.config.bidirectional ? 2 : 1;
    this.code = cellCode(this.config);
    this.gates = CELL_GATES[this.code];
    const { core, heap } = runtime();
    this.heap = heap;
    const H = config.hiddenSize;
    const I = config.inputSize;
    this.paramsPerDirection = checkedProduct(`${config.cell} parameters`, this.gates * H, I + H + 2);
    if (core.recurrent_params_len(this.code, I, H) !== this.paramsPerDirection) {
      throw new ValueError('internal: parameter layout disagrees with the core');
    }
    this.numParams = this.paramsPerDirection * this.directions;
    if (options.regions) {
      this.ownParams = this.ownGrads = null;
      this.paramsPtr = options.regions.params;
      this.gradsPtr = options.regions.grads;
    } else {
      this.ownParams = new WasmArray(heap, this.numParams);
      this.ownGrads = new WasmArray(heap, this.numParams);
      this.paramsPtr = this.ownParams.ptr;
      this.gradsPtr = this.ownGrads.ptr;
    }
    if (options.params !== undefined) this.setParameters(options.params);
    else if (!options.regions) this.resetParameters(options.seed);
  }

  private view(ptr: number): Float32Array {
    return this.heap.f32.subarray(ptr >>> 2, (ptr >>> 2) + this.numParams);
  }

  /** PyTorch's default: every weight and bias uniform in ±1/√H. */
  resetParameters(seed?: number): void {
    const rng = new Random(seed);
    const k = 1 / Math.sqrt(this.config.hiddenSize);
    const p = new Float32Array(this.numParams);
    for (let j = 0; j < p.length; j++) p[j] = rng.uniform(-k, k);
    this.setParameters(p);
  }

  /** All parameters, flat, in the layout of the class comment. */
  getParameters(): Float32Array {
    this.alive();
    return this.view(this.paramsPtr).slice();
  }

  setParameters(flat: FloatLike): void {
    this.alive();
    checkLength(`${this.config.cell}: parameters`, flat, this.numParams, `${this.directions} × ${this.paramsPerDirection}`);
    checkFinite(`${this.config.cell}: parameters`, flat);
    this.view(this.paramsPtr).set(flat);
    this.paramsChanged();
  }

  /** Call after changing the parameters in wasm memory directly (optimizers). */
  paramsChanged(): void {
    this.paramsVersion++;
  }

  /** PyTorch names and shapes of this layer's tensors, as layer `layer` of a stack. */
  parameterShapes(layer = 0): { name: string; shape: number[]; offset: number }[] {
    const G = this.gates * this.config.hiddenSize;
    const { inputSize: I, hiddenSize: H } = this.config;
    const out: { name: string; shape: number[]; offset: number }[] = [];
    for (let d = 0; d < this.directions; d++) {
      const sfx = `_l${layer}${d === 1 ? '_reverse' : ''}`;
      const base = d * this.paramsPerDirection;
      out.push({ name: `weight_ih${sfx}`, shape: [G, I], offset: base });
      out.push({ name: `weight_hh${sfx}`, shape: [G, H], offset: base + G * I });
      out.push({ name: `bias_ih${sfx}`, shape: [G], offset: base + G * (I + H) });
      out.push({ name: `bias_hh${sfx}`, shape: [G], offset: base + G * (I + H + 1) });
    }
    return out;
  }

  /** Parameters by PyTorch name (`weight_ih_l0`, `bias_hh_l0_reverse`, …). */
  getNamedParameters(layer = 0): Record<string, NamedTensor> {
    return this.named(this.paramsPtr, layer);
  }

  /** Accumulated gradients by PyTorch name. */
  getNamedGradients(layer = 0): Record<string, NamedTensor> {
    return this.named(this.gradsPtr, layer);
  }

  /** Set parameters from PyTorch-named tensors; every tensor must be given. */
  setNamedParameters(tensors: Record<string, FloatLike>, layer = 0): void {
    const flat = new Float32Array(this.numParams);
    for (const { name, shape, offset } of this.parameterShapes(layer)) {
      const t = tensors[name];
      const n = shape.reduce((a, b) => a * b, 1);
      if (t === undefined) throw new ShapeError(`${this.config.cell}: missing parameter "${name}" [${shape.join(', ')}]`);
      checkLength(`${this.config.cell}: ${name}`, t, n, `[${shape.join(', ')}]`);
      flat.set(t, offset);
    }
    this.setParameters(flat);
  }

  /** Accumulated gradients, flat (same layout as the parameters). */
  getGradients(): Float32Array {
    this.alive();
    return this.view(this.gradsPtr).slice();
  }

  zeroGradients(): void {
    this.alive();
    this.view(this.gradsPtr).fill(0);
  }

  /** Floats of workspace a call with these sizes needs. */
  workspaceLength(t: number, b: number, training: boolean): number {
    const { hiddenSize: H, cell } = this.config;
    const n = runtime().core.recurrent_workspace_len(this.code, t, b, H, this.directions, training);
    if (n === 0) throw new ShapeError(`${cell}: workspace for T=${t}, B=${b}, H=${H} is too large for wasm32`);
    return n;
  }

  /**
   * Forward pass on buffers already in wasm memory (the layers' path; the
   * caller has validated sizes and values). One wasm call.
   */
  forwardRaw(a: RawForward): void {
    this.alive();
    const { inputSize: I, hiddenSize: H, cell } = this.config;
    const repack = this.packedVersion !== this.paramsVersion;
    const flags =
      (a.batchFirst ? FLAG_BATCH_FIRST : 0) |
      (a.training ? FLAG_TRAINING : 0) |
      (repack ? FLAG_REPACK : 0) |
      (a.reverse ? FLAG_REVERSE : 0) |
      this.gateBits;
    checkStatus(
      `${cell} forward`,
      runtime().core.recurrent_forward(
        this.code,
        flags,
        a.t,
        a.b,
        I,
        H,
        this.directions,
        a.x,
        a.h0,
        a.c0,
        a.lengths,
        this.paramsPtr,
        this.packedPtr(),
        a.y,
        a.hn,
        a.cn,
        a.work,
        a.recMask,
      ),
    );
    this.packedVersion = this.paramsVersion;
  }

  private packedPtr(): number {
    this.packed ??= new WasmArray(this.heap, runtime().core.recurrent_packed_len(this.code, this.config.hiddenSize, this.directions));
    return this.packed.ptr;
  }

  /** Backward pass on buffers in wasm memory, matching the last `forwardRaw` with `training`. */
  backwardRaw(a: RawBackward): void {
    this.alive();
    const { inputSize: I, hiddenSize: H, cell } = this.config;
    const flags = (a.batchFirst ? FLAG_BATCH_FIRST : 0) | FLAG_TRAINING | (a.reverse ? FLAG_REVERSE : 0) | this.gateBits;
    checkStatus(
      `${cell} backward`,
      runtime().core.recurrent_backward(
        this.code,
        flags,
        a.t,
        a.b,
        I,
        H,
        this.directions,
        a.x,
        a.lengths,
        this.paramsPtr,
        this.packedPtr(),
        a.work,
        a.dy,
        a.dhn,
        a.dcn,
        a.dx,
        a.dh0,
        a.dc0,
        this.gradsPtr,
        a.recMask,
      ),
    );
  }

  /** Forward pass over the whole sequence and batch: one wasm call. */
  forward(input: ForwardInput): ForwardOutput {
    this.alive();
    const { cell, inputSize: I, hiddenSize: H } = this.config;
    const D = this.directions;
    const T = checkPositiveInt(`${cell}: seqLen`, input.seqLen);
    const B = checkPositiveInt(`${cell}: batchSize`, input.batchSize);
    const bf = input.batchFirst ?? false;
    const xShape = bf ? `[B=${B}, T=${T}, I=${I}]` : `[T=${T}, B=${B}, I=${I}]`;
    const xLen = checkedProduct(`${cell}: x`, T, B, I);
    checkedProduct(`${cell}: y`, T, B, D, H);
    checkLength(`${cell}: x`, input.x, xLen, xShape);
    checkFinite(`${cell}: x`, input.x);
    const sLen = D * B * H;
    const sShape = `[D=${D}, B=${B}, H=${H}]`;
    if (input.h0 !== undefined) {
      checkLength(`${cell}: h0`, input.h0, sLen, sShape);
      checkFinite(`${cell}: h0`, input.h0);
    }
    if (input.c0 !== undefined) {
      if (cell !== 'lstm') throw new ValueError(`${cell}: c0 is only for LSTM`);
      checkLength(`${cell}: c0`, input.c0, sLen, sShape);
      checkFinite(`${cell}: c0`, input.c0);
    }
    if (input.lengths !== undefined) {
      checkLength(`${cell}: lengths`, input.lengths, B, `[B=${B}]`);
      for (let b = 0; b < B; b++) {
        const l = input.lengths[b];
        if (!Number.isInteger(l) || l < 0 || l > T) {
          throw new ValueError(`${cell}: lengths[${b}] must be an integer in [0, ${T}]; got ${l}`);
        }
      }
    }
    if (input.reverse && D !== 1) throw new ValueError(`${cell}: reverse is for one direction; a bidirectional layer runs both`);
    if (input.recurrentMask !== undefined) {
      checkLength(`${cell}: recurrentMask`, input.recurrentMask, sLen, sShape);
      checkFinite(`${cell}: recurrentMask`, input.recurrentMask);
    }
    const training = input.training ?? false;
    const reverse = input.reverse ?? false;
    const flags = (bf ? FLAG_BATCH_FIRST : 0) | (training ? FLAG_TRAINING : 0) | (reverse ? FLAG_REVERSE : 0);
    const c = this.buffers(T, B, flags);
    c.x.set(input.x);
    c.hasH0 = input.h0 !== undefined;
    if (c.hasH0) c.h0.set(input.h0!);
    c.hasC0 = input.c0 !== undefined;
    if (c.hasC0) c.c0!.set(input.c0!);
    c.hasLengths = input.lengths !== undefined;
    if (c.hasLengths) c.lengths.set(input.lengths!);
    c.hasMask = input.recurrentMask !== undefined;
    if (c.hasMask) c.mask.set(input.recurrentMask!);
    this.forwardRaw({
      t: T,
      b: B,
      batchFirst: bf,
      training,
      reverse,
      x: c.x.ptr,
      h0: c.hasH0 ? c.h0.ptr : 0,
      c0: c.hasC0 ? c.c0!.ptr : 0,
      lengths: c.hasLengths ? c.lengths.ptr : 0,
      y: c.y.ptr,
      hn: c.hn.ptr,
      cn: c.cn ? c.cn.ptr : 0,
      work: c.work.ptr,
      recMask: c.hasMask ? c.mask.ptr : 0,
    });
    c.tape = training;
    return { y: c.y.toFloat32Array(), hn: c.hn.toFloat32Array(), ...(c.cn ? { cn: c.cn.toFloat32Array() } : {}) };
  }

  /**
   * Backward pass (BPTT) of the last `forward({ training: true })`; parameter
   * gradients are **added** to the accumulated ones (see `zeroGradients`).
   * Consumes the forward's cache: call forward again before another backward.
   */
  backward(input: BackwardInput = {}): BackwardOutput {
    this.alive();
    const c = this.call;
    const { cell, inputSize: I, hiddenSize: H } = this.config;
    if (!c?.tape) {
      throw new ValueError(`${cell}: backward() needs a preceding forward({ training: true }) on this layer`);
    }
    if (this.packedVersion !== this.paramsVersion) {
      throw new ValueError(`${cell}: parameters changed between forward and backward; run forward again`);
    }
    const D = this.directions;
    const { t: T, b: B } = c;
    const yLen = T * B * D * H;
    const sLen = D * B * H;
    const heap = this.heap;
    const temps: WasmArray[] = [];
    const upload = (what: string, a: FloatLike | undefined, n: number, shape: string): number => {
      if (a === undefined) return 0;
      checkLength(`${cell}: ${what}`, a, n, shape);
      checkFinite(`${cell}: ${what}`, a);
      const w = new WasmArray(heap, n).set(a);
      temps.push(w);
      return w.ptr;
    };
    const scratch = (n: number): WasmArray => {
      const w = new WasmArray(heap, n);
      temps.push(w);
      return w;
    };
    try {
      const dy = upload('dy', input.dy, yLen, `same as y: ${T * B} rows × ${D * H}`);
      const dhn = upload('dhn', input.dhn, sLen, `[D=${D}, B=${B}, H=${H}]`);
      if (input.dcn !== undefined && cell !== 'lstm') throw new ValueError(`${cell}: dcn is only for LSTM`);
      const dcn = upload('dcn', input.dcn, sLen, `[D=${D}, B=${B}, H=${H}]`);
      const dx = input.inputGrad === false ? null : scratch(T * B * I);
      const dh0 = scratch(sLen);
      const dc0 = cell === 'lstm' ? scratch(sLen) : null;
      this.backwardRaw({
        t: T,
        b: B,
        batchFirst: (c.flags & FLAG_BATCH_FIRST) !== 0,
        reverse: (c.flags & FLAG_REVERSE) !== 0,
        x: c.x.ptr,
        lengths: c.hasLengths ? c.lengths.ptr : 0,
        work: c.work.ptr,
        dy,
        dhn,
        dcn,
        dx: dx ? dx.ptr : 0,
        dh0: dh0.ptr,
        dc0: dc0 ? dc0.ptr : 0,
        recMask: c.hasMask ? c.mask.ptr : 0,
      });
      c.tape = false;
      return {
        ...(dx ? { dx: dx.toFloat32Array() } : {}),
        dh0: dh0.toFloat32Array(),
        ...(dc0 ? { dc0: dc0.toFloat32Array() } : {}),
      };
    } finally {
      for (const w of temps) w.free();
    }
  }

  /** Free the wasm memory now (otherwise it is freed when this object is garbage-collected). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.freeCall();
    this.ownParams?.free();
    this.ownGrads?.free();
    this.packed?.free();
  }

  private named(ptr: number, layer: number): Record<string, NamedTensor> {
    this.alive();
    const all = this.view(ptr);
    const out: Record<string, NamedTensor> = {};
    for (const { name, shape, offset } of this.parameterShapes(layer)) {
      const n = shape.reduce((a, b) => a * b, 1);
      out[name] = { shape, data: all.slice(offset, offset + n) };
    }
    return out;
  }

  private buffers(T: number, B: number, flags: number): CallBuffers {
    const c = this.call;
    if (c && c.t === T && c.b === B && c.flags === flags) return c;
    this.freeCall();
    const { inputSize: I, hiddenSize: H, cell } = this.config;
    const D = this.directions;
    const training = (flags & FLAG_TRAINING) !== 0;
    const work = this.workspaceLength(T, B, training);
    const lstm = cell === 'lstm';
    const heap = this.heap;
    this.call = {
      t: T,
      b: B,
      flags,
      x: new WasmArray(heap, T * B * I),
      y: new WasmArray(heap, T * B * D * H),
      h0: new WasmArray(heap, D * B * H),
      c0: lstm ? new WasmArray(heap, D * B * H) : null,
      hn: new WasmArray(heap, D * B * H),
      cn: lstm ? new WasmArray(heap, D * B * H) : null,
      lengths: new WasmArray(heap, B, 'i32'),
      mask: new WasmArray(heap, D * B * H),
      work: new WasmArray(heap, work),
      hasMask: false,
      hasH0: false,
      hasC0: false,
      hasLengths: false,
      tape: false,
    };
    return this.call;
  }

  private freeCall(): void {
    const c = this.call;
    if (!c) return;
    for (const w of [c.x, c.y, c.h0, c.c0, c.hn, c.cn, c.lengths, c.mask, c.work]) w?.free();
    this.call = null;
  }

  private alive(): void {
    if (this.disposed) throw new ValueError(`${this.config.cell}: used after dispose()`);
  }
}
