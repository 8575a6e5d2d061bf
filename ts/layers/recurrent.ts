/**
 * `layers.simpleRNN | lstm | gru` and `layers.bidirectional`: one recurrent
 * layer (one or two directions) on the SIMD core — one wasm call for the
 * forward of a batch, one for its backward.
 *
 * Parameters use PyTorch names and layout (`weight_ih_l0 [G·H, I]`,
 * `weight_hh_l0 [G·H, H]`, `bias_ih_l0`, `bias_hh_l0`, `…_reverse`), gate
 * orders LSTM i,f,g,o and GRU r,z,n, so PyTorch state dicts load as they are.
 * Initialisers follow Keras (kernel glorotUniform, recurrent orthogonal, bias
 * zeros with the LSTM forget bias at 1 when `unitForgetBias`), computed on
 * the Keras-shaped weights and stored transposed.
 *
 * Porting notes (deliberate differences from Keras):
 * - Masked (padded) steps output zeros, as PyTorch packed sequences, where
 *   Keras repeats the previous output; the loss ignores them either way.
 * - `goBackwards` with masking reverses each sample within its length.
 * - Recurrent dropout masks `h` where it enters the recurrent products (one
 *   mask per sequence); the GRU's `z ⊙ h` term uses the unmasked state.
 * - `activation` must be 'tanh' (LSTM, GRU) and `recurrentActivation` one of
 *   sigmoid / hardSigmoid / hardSigmoid6; other values are refused rather than
 *   silently ignored.
 */
import { ValueError } from '../errors.js';
import type { Initializer } from '../model/initializers.js';
import { RecurrentKernel, type CellType, type GateActivation } from '../ops/recurrent.js';
import type { WasmArray } from '../runtime/memory.js';
import {
  initMatrix,
  Layer,
  type Activation,
  type LayerArgs,
  type ParamRegions,
  type ParamSpec,
  type Regularizer,
  type Shape,
  type StepInfo,
} from './base.js';

export interface RecurrentArgs extends LayerArgs {
  units: number;
  returnSequences?: boolean;
  /** Keep the final states after each call (`layer.states`). */
  returnState?: boolean;
  goBackwards?: boolean;
  stateful?: boolean;
  /** Fraction of the inputs dropped (one mask per sequence), training only. */
  dropout?: number;
  /** Fraction of the recurrent state dropped in the recurrent products, training only. */
  recurrentDropout?: number;
  kernelInitializer?: Initializer;
  recurrentInitializer?: Initializer;
  biasInitializer?: Initializer;
  /** LSTM: forget-gate bias initialised to 1 (default true). */
  unitForgetBias?: boolean;
  /** SimpleRNN: 'tanh' (default) or 'relu'; LSTM/GRU: 'tanh' only. */
  activation?: 'tanh' | 'relu';
  /**
   * Gate activation: 'sigmoid' (default, Keras ≥ 2.3, PyTorch), 'hardSigmoid'
   * = clip(0.2·x + 0.5, 0, 1) (tfjs default, Keras 2 `hard_sigmoid`),
   * 'hardSigmoid6' = clip(x/6 + 0.5, 0, 1) (Keras 3 `hard_sigmoid`).
   */
  recurrentActivation?: GateActivation;
  /** GRU: reset gate after the recurrent product (default true, as PyTorch and Keras 2.x+). */
  resetAfter?: boolean;
  useBias?: boolean;
  kernelRegularizer?: Regularizer;
  recurrentRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave';

const CLASS: Record<CellType, string> = { rnn: 'SimpleRNN', lstm: 'LSTM', gru: 'GRU' };
const DEFAULT_NAME: Record<CellType, string> = { rnn: 'simple_rnn', lstm: 'lstm', gru: 'gru' };

export class Recurrent extends Layer {
  readonly className: string;
  readonly units: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly directions: 1 | 2;
  readonly mergeMode: MergeMode;
  /** Final states of the last call when `returnState` (h, and c for LSTM), `[B, D·H]` each. */
  states: Float32Array[] = [];
  private kernel: RecurrentKernel | null = null;
  private specs: ParamSpec[] = [];
  private inF = 0;
  private tape: {
    x: Activation;
    B: number;
    T: number;
    xk: WasmArray;
    inMask: Float32Array | null;
    recMask: WasmArray | null;
  } | null = null;
  private carried: { B: number } | null = null;

  constructor(
    readonly cell: CellType,
    readonly args: RecurrentArgs,
    wrap?: { mergeMode: MergeMode; name?: string },
  ) {
    super({ ...args, name: wrap ? (wrap.name ?? undefined) : args.name }, wrap ? 'bidirectional' : DEFAULT_NAME[cell]);
    this.className = wrap ? 'Bidirectional' : CLASS[cell];
    if (!Number.isInteger(args.units) || args.units <= 0)
      throw new ValueError(`${this.name}: units must be a positive integer; got ${args.units}`);
    this.units = args.units;
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.dropout = args.dropout ?? 0;
    this.recurrentDropout = args.recurrentDropout ?? 0;
    for (const k of ['dropout', 'recurrentDropout'] as const) {
      const v = this[k];
      if (!(v >= 0 && v < 1)) throw new ValueError(`${this.name}: ${k} must be in [0, 1); got ${v}`);
    }
    if (args.recurrentActivation !== undefined && !['sigmoid', 'hardSigmoid', 'hardSigmoid6'].includes(args.recurrentActivation)) {
      throw new ValueError(
        `${this.name}: recurrentActivation '${String(args.recurrentActivation)}' is not supported ('sigmoid', 'hardSigmoid', 'hardSigmoid6')`,
      );
    }
    if (args.recurrentActivation !== undefined && cell === 'rnn')
      throw new ValueError(`${this.name}: SimpleRNN has no recurrentActivation`);
    if (args.activation !== undefined && args.activation !== 'tanh' && !(cell === 'rnn' && args.activation === 'relu')) {
      throw new ValueError(
        `${this.name}: activation '${String(args.activation)}' is not supported for ${CLASS[cell]} (use 'tanh'${cell === 'rnn' ? " or 'relu'" : ''})`,
      );
    }
    if (args.useBias === false) throw new ValueError(`${this.name}: useBias: false is not supported`);
    if (args.resetAfter !== undefined && cell !== 'gru') throw new ValueError(`${this.name}: resetAfter is a GRU option`);
    if (args.unitForgetBias !== undefined && cell !== 'lstm') throw new ValueError(`${this.name}: unitForgetBias is an LSTM option`);
    this.directions = wrap ? 2 : 1;
    this.mergeMode = wrap?.mergeMode ?? 'concat';
    if (!['concat', 'sum', 'mul', 'ave'].includes(this.mergeMode)) {
      throw new ValueError(`${this.name}: mergeMode must be 'concat', 'sum', 'mul' or 'ave'; got ${String(this.mergeMode)}`);
    }
    if (wrap && this.goBackwards)
      throw new ValueError(`${this.name}: a bidirectional layer already runs both directions; drop goBackwards`);
    if (this.stateful && !this.batchSize) {
      throw new ValueError(`${this.name}: a stateful layer needs batchSize (the batch size it will always see)`);
    }
  }

  private get outFeatures(): number {
    return this.mergeMode === 'concat' ? this.directions * this.units : this.units;
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, features] input');
    const I = inputShape[1];
    if (I === null) throw new ValueError(`${this.name}: the feature dimension must be known`);
    this.inF = I;
    const H = this.units;
    const G = { rnn: 1, lstm: 4, gru: 3 }[this.cell];
    const GH = G * H;
    const a = this.args;
    const kInit = a.kernelInitializer ?? 'glorotUniform';
    const rInit = a.recurrentInitializer ?? 'orthogonal';
    const bInit = a.biasInitializer ?? 'zeros';
    const forgetOne = this.cell === 'lstm' && (a.unitForgetBias ?? true);
    this.specs = [];
    for (let d = 0; d < this.directions; d++) {
      const sfx = d === 1 ? '_reverse' : '';
      // Keras kernel [I, G·H] → W_ih [G·H, I]: (i, g) at g·I + i
      this.specs.push(
        this.addParam(
          `weight_ih_l0${sfx}`,
          [GH, I],
          initMatrix(kInit, I, GH, { fanIn: I, fanOut: GH }, (i, g) => g * I + i),
          a.kernelRegularizer,
        ),
      );
      this.specs.push(
        this.addParam(
          `weight_hh_l0${sfx}`,
          [GH, H],
          initMatrix(rInit, H, GH, { fanIn: H, fanOut: GH }, (h, g) => g * H + h),
          a.recurrentRegularizer,
        ),
      );
      const biasIh = initMatrix(bInit, 1, GH, { fanIn: I, fanOut: GH }, (_r, g) => g);
      this.specs.push(
        this.addParam(
          `bias_ih_l0${sfx}`,
          [GH],
          forgetOne
            ? (rng, write) => {
                biasIh(rng, write);
                for (let j = H; j < 2 * H; j++) write(j, 1);
              }
            : biasIh,
          a.biasRegularizer,
        ),
      );
      this.specs.push(
        this.addParam(
          `bias_hh_l0${sfx}`,
          [GH],
          initMatrix('zeros', 1, GH, { fanIn: H, fanOut: GH }, (_r, g) => g),
          a.biasRegularizer,
        ),
      );
    }
    this.outputShape = this.returnSequences ? [inputShape[0], this.outFeatures] : [this.outFeatures];
    return this.outputShape;
  }

  override bind(regions: ParamRegions): void {
    super.bind(regions);
    this.kernel?.dispose();
    const first = this.specs[0];
    for (let k = 1; k < this.specs.length; k++) {
      const prev = this.specs[k - 1];
      if (this.specs[k].offset !== prev.offset + prev.shape.reduce((a, b) => a * b, 1)) {
        throw new ValueError(`internal: ${this.name} parameters are not contiguous`);
      }
    }
    this.kernel = new RecurrentKernel(
      {
        cell: this.cell,
        inputSize: this.inF,
        hiddenSize: this.units,
        bidirectional: this.directions === 2,
        nonlinearity: this.args.activation === 'relu' ? 'relu' : 'tanh',
        resetAfter: this.args.resetAfter ?? true,
        gateActivation: this.args.recurrentActivation ?? 'sigmoid',
      },
      { regions: { params: regions.params + first.offset * 4, grads: regions.grads + first.offset * 4 } },
    );
  }

  override paramsChanged(): void {
    this.kernel?.paramsChanged();
  }

  override resetStates(): void {
    this.carried = null;
    const bufs = this.buffers;
    if (bufs) {
      const n = this.directions * (this.batchSize ?? 0) * this.units;
      if (n > 0) {
        bufs.get('state_h', n).view().fill(0);
        bufs.get('state_c', n).view().fill(0);
      }
    }
  }

  forward(x: Activation, step: StepInfo): Activation {
    const k = this.kernel;
    if (!k) throw new ValueError(`${this.name}: used before the model was built`);
    const [B, T] = x.shape;
    const I = this.inF;
    const H = this.units;
    const D = this.directions;
    const bufs = this.buf();
    const sLen = D * B * H;
    const training = step.training;

    // Input dropout: one mask [B, I] per sequence, applied at every step.
    let xk = x.buf;
    let inMask: Float32Array | null = null;
    if (training && this.dropout > 0) {
      inMask = new Float32Array(B * I);
      const keep = 1 / (1 - this.dropout);
      for (let j = 0; j < inMask.length; j++) inMask[j] = step.rng.next() < this.dropout ? 0 : keep;
      xk = bufs.get('x_dropped', B * T * I);
      const src = x.buf.view();
      const dst = xk.view();
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++) {
          const o = (b * T + t) * I;
          for (let j = 0; j < I; j++) dst[o + j] = src[o + j] * inMask[b * I + j];
        }
    }
    let recMask: WasmArray | null = null;
    if (training && this.recurrentDropout > 0) {
      recMask = bufs.get('rec_mask', sLen);
      const v = recMask.view();
      const keep = 1 / (1 - this.recurrentDropout);
      for (let j = 0; j < sLen; j++) v[j] = step.rng.next() < this.recurrentDropout ? 0 : keep;
    }
    let h0 = 0;
    let c0 = 0;
    if (this.stateful) {
      if (B !== this.batchSize) {
        throw new ValueError(`${this.name}: stateful layer built for batch size ${this.batchSize} got a batch of ${B}`);
      }
      const sh = bufs.get('state_h', sLen);
      const sc = bufs.get('state_c', sLen);
      if (!this.carried) {
        sh.view().fill(0);
        sc.view().fill(0);
        this.carried = { B };
      }
      h0 = sh.ptr;
      c0 = this.cell === 'lstm' ? sc.ptr : 0;
    }
    const y = bufs.get('y', B * T * D * H);
    const hn = bufs.get('hn', sLen);
    const cn = this.cell === 'lstm' ? bufs.get('cn', sLen) : null;
    const work = bufs.get(training ? 'work_train' : 'work', k.workspaceLength(T, B, training));
    k.forwardRaw({
      t: T,
      b: B,
      batchFirst: true,
      training,
      reverse: this.goBackwards,
      x: xk.ptr,
      h0,
      c0,
      lengths: x.lengthsBuf ? x.lengthsBuf.ptr : 0,
      y: y.ptr,
      hn: hn.ptr,
      cn: cn ? cn.ptr : 0,
      work: work.ptr,
      recMask: recMask ? recMask.ptr : 0,
    });
    if (this.stateful) {
      bufs.get('state_h', sLen).view().set(hn.view().subarray(0, sLen));
      if (cn) bufs.get('state_c', sLen).view().set(cn.view().subarray(0, sLen));
    }
    if (this.returnState) {
      this.states = [this.batchMajor(hn, B)];
      if (cn) this.states.push(this.batchMajor(cn, B));
    }
    if (training) this.tape = { x, B, T, xk, inMask, recMask };

    const F = this.outFeatures;
    if (this.returnSequences) {
      let seq = y;
      if (this.goBackwards) seq = this.flipTime(y, bufs.get('y_flip', B * T * H), B, T, H, x.lengths);
      const out = this.merge(seq, B * T, bufs);
      return { buf: out, shape: [B, T, F], lengths: x.lengths, lengthsBuf: x.lengthsBuf };
    }
    // Last output of each direction = its final state: [D, B, H] → [B, D·H].
    const last = D === 1 ? hn : this.toBatchMajor(hn, bufs.get('last', B * D * H), B);
    const out = this.merge(last, B, bufs);
    return { buf: out, shape: [B, F], lengths: null, lengthsBuf: null };
  }

  backward(dOut: WasmArray, needDx: boolean): WasmArray | null {
    const k = this.kernel;
    const tp = this.tape;
    if (!k || !tp) throw new ValueError(`${this.name}: backward without a training forward`);
    const { B, T, x } = tp;
    const I = this.inF;
    const H = this.units;
    const D = this.directions;
    const bufs = this.buf();
    const rows = this.returnSequences ? B * T : B;
    let dCat = this.unmerge(dOut, rows, bufs); // [rows, D·H]
    let dy = 0;
    let dhn = 0;
    if (this.returnSequences) {
      if (this.goBackwards) dCat = this.flipTime(dCat, bufs.get('dy_flip', B * T * H), B, T, H, x.lengths);
      dy = dCat.ptr;
    } else {
      dhn = (D === 1 ? dCat : this.toDirMajor(dCat, bufs.get('dhn', D * B * H), B)).ptr;
    }
    const wantDx = needDx || tp.inMask !== null;
    const dx = needDx ? bufs.get('dx', B * T * I) : null;
    const work = bufs.get('work_train', k.workspaceLength(T, B, true));
    k.backwardRaw({
      t: T,
      b: B,
      batchFirst: true,
      reverse: this.goBackwards,
      x: tp.xk.ptr,
      lengths: x.lengthsBuf ? x.lengthsBuf.ptr : 0,
      work: work.ptr,
      dy,
      dhn,
      dcn: 0,
      dx: dx ? dx.ptr : 0,
      dh0: 0,
      dc0: 0,
      recMask: tp.recMask ? tp.recMask.ptr : 0,
    });
    void wantDx;
    if (dx && tp.inMask) {
      const v = dx.view();
      const m = tp.inMask;
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++) {
          const o = (b * T + t) * I;
          for (let j = 0; j < I; j++) v[o + j] *= m[b * I + j];
        }
    }
    this.tape = null;
    return dx;
  }

  getConfig(): Record<string, unknown> {
    const { name: _n, inputShape: _i, ...rest } = this.args;
    void _n;
    void _i;
    return {
      cell: this.cell,
      name: this.name,
      ...rest,
      inputShape: this.inputShape ?? undefined,
      trainable: this.trainable,
      ...(this.directions === 2 ? { bidirectional: true, mergeMode: this.mergeMode } : {}),
    };
  }

  override dispose(): void {
    this.kernel?.dispose();
    this.kernel = null;
    super.dispose();
  }

  /** `[D, B, H]` state as a new `[B, D·H]` array. */
  private batchMajor(s: WasmArray, B: number): Float32Array {
    const D = this.directions;
    const H = this.units;
    const v = s.view();
    const out = new Float32Array(B * D * H);
    for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) out.set(v.subarray((d * B + b) * H, (d * B + b + 1) * H), (b * D + d) * H);
    return out;
  }

  private toBatchMajor(s: WasmArray, out: WasmArray, B: number): WasmArray {
    const D = this.directions;
    const H = this.units;
    const v = s.view();
    const o = out.view();
    for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) o.set(v.subarray((d * B + b) * H, (d * B + b + 1) * H), (b * D + d) * H);
    return out;
  }

  private toDirMajor(s: WasmArray, out: WasmArray, B: number): WasmArray {
    const D = this.directions;
    const H = this.units;
    const v = s.view();
    const o = out.view();
    for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) o.set(v.subarray((b * D + d) * H, (b * D + d + 1) * H), (d * B + b) * H);
    return out;
  }

  /** Reverse each sample's first `len` steps (all `T` without lengths); zeros stay. */
  private flipTime(src: WasmArray, dst: WasmArray, B: number, T: number, F: number, lengths: Int32Array | null): WasmArray {
    flipSteps(src.view(), dst.view(), B, T, F, lengths);
    return dst;
  }

  /** Combine the two directions' halves of `[rows, 2H]` rows per `mergeMode`. */
  private merge(cat: WasmArray, rows: number, bufs: ReturnType<Layer['buf']>): WasmArray {
    if (this.directions === 1 || this.mergeMode === 'concat') return cat;
    const out = bufs.get('merged', rows * this.units);
    mergeHalves(cat.view(), out.view(), rows, this.units, this.mergeMode);
    this.mergeSrc = cat;
    return out;
  }
  private mergeSrc: WasmArray | null = null;

  /** Gradient of `merge`: `[rows, H]` → `[rows, 2H]`. */
  private unmerge(dOut: WasmArray, rows: number, bufs: ReturnType<Layer['buf']>): WasmArray {
    if (this.directions === 1 || this.mergeMode === 'concat') return dOut;
    const H = this.units;
    const out = bufs.get('d_merged', rows * 2 * H);
    const g = dOut.view();
    const o = out.view();
    const c = this.mergeSrc!.view();
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < H; j++) {
        const gv = g[r * H + j];
        let df = gv;
        let db = gv;
        if (this.mergeMode === 'mul') {
          df = gv * c[r * 2 * H + H + j];
          db = gv * c[r * 2 * H + j];
        } else if (this.mergeMode === 'ave') {
          df = db = 0.5 * gv;
        }
        o[r * 2 * H + j] = df;
        o[r * 2 * H + H + j] = db;
      }
    }
    return out;
  }
}

/** Each sample's first `lengths[b]` steps (all `T` without lengths) of `[B, T, F]`
 *  rows `s`, reversed, into `d`; the steps after them zero. */
export function flipSteps(s: Float32Array, d: Float32Array, B: number, T: number, F: number, lengths: ArrayLike<number> | null): void {
  d.fill(0, 0, B * T * F);
  for (let b = 0; b < B; b++) {
    const len = lengths ? lengths[b] : T;
    for (let t = 0; t < len; t++) d.set(s.subarray((b * T + t) * F, (b * T + t + 1) * F), (b * T + (len - 1 - t)) * F);
  }
}

/** A bidirectional layer's `sum` / `mul` / `ave` merge of `[rows, 2H]` rows
 *  (forward half, backward half) into `[rows, H]` rows `o`. */
export function mergeHalves(c: Float32Array, o: Float32Array, rows: number, H: number, mode: MergeMode): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < H; j++) {
      const f = c[r * 2 * H + j];
      const b = c[r * 2 * H + H + j];
      o[r * H + j] = mode === 'sum' ? f + b : mode === 'mul' ? f * b : 0.5 * (f + b);
    }
  }
}
