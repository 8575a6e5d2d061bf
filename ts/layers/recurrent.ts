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
import { FormatError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { type CellType, cellCode, GATE_CODE, type GateActivation, RecurrentKernel } from '../ops/recurrent.js';
import { flipSteps } from '../ops/sequence.js';
import { CELL_GATES, Cell } from '../runtime/contract.js';
import type { WasmArray } from '../runtime/memory.js';
import { checkStatus } from '../runtime/status.js';
import {
  type Activation,
  type Buffers,
  initMatrix,
  type Int8Packer,
  type KerasLayerInput,
  type KerasMapping,
  Layer,
  type LayerArgs,
  type LayerCall,
  type LayerKind,
  type OnnxAttr,
  type OnnxBuilder,
  type OnnxValue,
  type ParamRegions,
  type ParamSpec,
  type Regularizer,
  type SequenceSplit,
  type Shape,
  type StepInfo,
  type StreamContext,
  type StreamValue,
  type SymbolicTensor,
  type TorchMapping,
  type TorchModule,
} from './base.js';
import type { Initializer } from './initializers.js';
import { LastStep } from './last-step.js';

export interface RecurrentArgs extends LayerArgs {
  units: number;
  returnSequences?: boolean;
  /**
   * Also output the final states (Keras `return_state`): applied in a graph,
   * the layer returns `[output, h, c]` for an LSTM, `[output, h]` otherwise,
   * and a bidirectional layer the forward direction's states, then the
   * backward's; each `[batch, units]`.
   */
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

/** What a training forward keeps for backward. */
interface RecurrentTape {
  x: Activation;
  B: number;
  T: number;
  /** the input after dropout */
  xk: WasmArray;
  inMask: Float32Array | null;
  recMask: WasmArray | null;
  /** the directions' outputs before a sum / mul / ave merge */
  merged: WasmArray;
  /** whether the initial states came from graph inputs (their gradients are wanted) */
  init: boolean;
}

const CLASS: Record<CellType, string> = { rnn: 'SimpleRNN', lstm: 'LSTM', gru: 'GRU' };
const DEFAULT_NAME: Record<CellType, string> = { rnn: 'simple_rnn', lstm: 'lstm', gru: 'gru' };

export class Recurrent extends Layer {
  readonly className: string;
  readonly units: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly directions: 1 | 2;
  readonly mergeMode: MergeMode;
  private kernel: RecurrentKernel | null = null;
  private specs: ParamSpec[] = [];
  private inF = 0;
  private carried: { B: number } | null = null;
  private readonly isStateful: boolean;
  /** The core's cell code. */
  private readonly code: Cell;

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
    this.isStateful = args.stateful ?? false;
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
    if (this.isStateful && !this.batchSize) {
      throw new ValueError(`${this.name}: a stateful layer needs batchSize (the batch size it will always see)`);
    }
    this.code = cellCode({ cell, nonlinearity: args.activation, resetAfter: args.resetAfter });
  }

  /** Carries its state from one batch to the next (Keras `stateful`). */
  override get stateful(): boolean {
    return this.isStateful;
  }

  private get outFeatures(): number {
    return this.mergeMode === 'concat' ? this.directions * this.units : this.units;
  }

  /** State tensors per direction: h, and c for an LSTM. */
  private get stateCount(): number {
    return this.cell === 'lstm' ? 2 : 1;
  }

  // ---------------------------------------------------------------- graphs

  /**
   * Apply to a sequence, optionally from initial states (Keras
   * `initial_state`): `lstm.apply(x, { initialState: [h, c] })`, the same as
   * `lstm.apply([x, h, c])`; a bidirectional layer takes the forward
   * direction's states, then the backward's. Returns `[output, ...states]`
   * when `returnState`.
   */
  override apply(x: SymbolicTensor | SymbolicTensor[], args: { initialState?: SymbolicTensor[] } = {}): SymbolicTensor | SymbolicTensor[] {
    if (args.initialState === undefined) return super.apply(x);
    if (Array.isArray(x)) throw new ValueError(`${this.name}.apply: pass the states either in the list or as initialState, not both`);
    if (!Array.isArray(args.initialState)) throw new ValueError(`${this.name}.apply: initialState must be a list of tensors`);
    return super.apply([x, ...args.initialState]);
  }

  override get arity(): [number, number] {
    return [1, 1 + this.stateCount * this.directions];
  }

  protected override buildAll(shapes: Shape[]): Shape[] {
    this.build(shapes[0]);
    const S = this.stateCount * this.directions;
    if (shapes.length > 1) {
      const names = this.cell === 'lstm' ? ['h', 'c'] : ['h'];
      const want = this.directions === 2 ? [...names.map((n) => `forward ${n}`), ...names.map((n) => `backward ${n}`)] : names;
      if (shapes.length !== 1 + S) {
        throw new ValueError(
          `${this.name}: initialState takes ${S} tensor${S === 1 ? '' : 's'} (${want.join(', ')}); got ${shapes.length - 1}`,
        );
      }
      if (this.stateful) throw new ValueError(`${this.name}: a stateful layer carries its own state; it takes no initialState`);
      shapes.slice(1).forEach((sh, j) => {
        if (sh.length !== 1 || sh[0] !== this.units) {
          throw new ShapeError(
            `${this.name}: initial state ${want[j]} must have shape [${this.units}] (without batch); got ${fmtShape(sh.map((d) => d ?? -1))}`,
          );
        }
      });
    }
    return this.sharedShapes();
  }

  protected override sharedShapes(): Shape[] {
    const out = [...this.outputShape!];
    return this.returnState ? [out, ...Array.from({ length: this.stateCount * this.directions }, () => [this.units])] : [out];
  }

  override forwardAll(xs: Activation[], step: StepInfo, call: LayerCall): Activation[] {
    const { out, hn, cn, B } = this.run(xs[0], xs.length > 1 ? xs.slice(1) : null, step, call);
    if (!this.returnState) return [out];
    // [D, B, H] states: direction d's [B, H] block is contiguous
    const S = this.stateCount;
    const states: Activation[] = [];
    for (let d = 0; d < this.directions; d++) {
      for (let s = 0; s < S; s++) {
        const src = s === 0 ? hn : cn!;
        const n = B * this.units;
        let buf = src;
        if (this.directions === 2) {
          buf = call.buffers.get(`state_out_${d}_${s}`, n);
          buf.view().set(src.view().subarray(d * n, (d + 1) * n));
        }
        states.push({ buf, shape: [B, this.units], lengths: null, lengthsBuf: null });
      }
    }
    return [out, ...states];
  }

  override backwardAll(dys: (WasmArray | null)[], needDx: boolean[], call: LayerCall): (WasmArray | null)[] {
    const tp = call.take<RecurrentTape>(this);
    if (dys.every((d) => d === null)) return needDx.map(() => null);
    return this.runBackward(tp, dys[0], dys.slice(1), needDx, call);
  }

  forward(x: Activation, step: StepInfo, call: LayerCall): Activation {
    return this.run(x, null, step, call).out;
  }

  backward(dOut: WasmArray, needDx: boolean, call: LayerCall): WasmArray | null {
    return this.runBackward(call.take<RecurrentTape>(this), dOut, [], [needDx], call)[0];
  }

  build(inputShape: Shape): Shape {
    this.expectRank(inputShape, [2], 'a [time, features] input');
    const I = inputShape[1];
    if (I === null) throw new ValueError(`${this.name}: the feature dimension must be known`);
    this.inF = I;
    const H = this.units;
    const GH = CELL_GATES[this.code] * H;
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
          true,
        ),
      );
      this.specs.push(
        this.addParam(
          `weight_hh_l0${sfx}`,
          [GH, H],
          initMatrix(rInit, H, GH, { fanIn: H, fanOut: GH }, (h, g) => g * H + h),
          a.recurrentRegularizer,
          true,
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
    // the next forward of a stateful layer starts from zeros
    this.carried = null;
  }

  /** One forward over the batch, from `init` states (`[B, H]` each, Keras order) or zeros / the carried state. */
  private run(
    x: Activation,
    init: Activation[] | null,
    step: StepInfo,
    call: LayerCall,
  ): { out: Activation; hn: WasmArray; cn: WasmArray | null; B: number } {
    const k = this.kernel;
    if (!k) throw new ValueError(`${this.name}: used before the model was built`);
    const [B, T] = x.shape;
    const I = this.inF;
    const H = this.units;
    const D = this.directions;
    const bufs = call.buffers;
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
    if (init) {
      const S = this.stateCount;
      for (const a of init) {
        if (a.shape[0] !== B) throw new ShapeError(`${this.name}: the sequence has ${B} samples but an initial state has ${a.shape[0]}`);
      }
      if (D === 1) {
        h0 = init[0].buf.ptr;
        c0 = S === 2 ? init[1].buf.ptr : 0;
      } else {
        // Keras order [fh, (fc,) bh, (bc)] → the core's [D, B, H] h0 and c0
        const n = B * H;
        const hb = bufs.get('h0', sLen);
        for (let d = 0; d < D; d++) hb.view().set(init[d * S].buf.view().subarray(0, n), d * n);
        h0 = hb.ptr;
        if (S === 2) {
          const cb = bufs.get('c0', sLen);
          for (let d = 0; d < D; d++) cb.view().set(init[d * S + 1].buf.view().subarray(0, n), d * n);
          c0 = cb.ptr;
        }
      }
    } else if (this.stateful) {
      if (B !== this.batchSize) {
        throw new ValueError(`${this.name}: stateful layer built for batch size ${this.batchSize} got a batch of ${B}`);
      }
      const own = this.own();
      const sh = own.get('state_h', sLen);
      const sc = own.get('state_c', sLen);
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
      this.own().get('state_h', sLen).view().set(hn.view().subarray(0, sLen));
      if (cn) this.own().get('state_c', sLen).view().set(cn.view().subarray(0, sLen));
    }
    const F = this.outFeatures;
    let out: Activation;
    let merged: WasmArray;
    if (this.returnSequences) {
      let seq = y;
      if (this.goBackwards) seq = this.flipTime(y, bufs.get('y_flip', B * T * H), B, T, H, x.lengths);
      merged = seq;
      out = { buf: this.merge(seq, B * T, bufs), shape: [B, T, F], lengths: x.lengths, lengthsBuf: x.lengthsBuf };
    } else {
      // Last output of each direction = its final state: [D, B, H] → [B, D·H].
      const last = D === 1 ? hn : this.toBatchMajor(hn, bufs.get('last', B * D * H), B);
      merged = last;
      out = { buf: this.merge(last, B, bufs), shape: [B, F], lengths: null, lengthsBuf: null };
    }
    if (training) call.tape = { x, B, T, xk, inMask, recMask, merged, init: init !== null } satisfies RecurrentTape;
    return { out, hn, cn, B };
  }

  /**
   * Backward of the tape's forward: `dOut` the output's gradient, `dStates`
   * the final states' (Keras order; null or missing: none), `needDx` per input
   * (the sequence, then each initial state). Returns the inputs' gradients.
   */
  private runBackward(
    tp: RecurrentTape,
    dOut: WasmArray | null,
    dStates: (WasmArray | null)[],
    needDx: boolean[],
    call: LayerCall,
  ): (WasmArray | null)[] {
    const k = this.kernel;
    if (!k) throw new ValueError(`${this.name}: used before the model was built or after it was disposed`);
    const { B, T, x } = tp;
    const I = this.inF;
    const H = this.units;
    const D = this.directions;
    const S = this.stateCount;
    const bufs = call.buffers;
    const rows = this.returnSequences ? B * T : B;
    const n = B * H;
    let dy = 0;
    let dhnBuf: WasmArray | null = null;
    if (dOut) {
      let dCat = this.unmerge(dOut, tp.merged, rows, bufs); // [rows, D·H]
      if (this.returnSequences) {
        if (this.goBackwards) dCat = this.flipTime(dCat, bufs.get('dy_flip', B * T * H), B, T, H, x.lengths);
        dy = dCat.ptr;
      } else {
        dhnBuf = D === 1 ? dCat : this.toDirMajor(dCat, bufs.get('dhn', D * n), B);
      }
    }
    // the final states' gradients join the last output's (the same h) in [D, B, H]
    let dcnBuf: WasmArray | null = null;
    for (let d = 0; d < D; d++) {
      for (let s = 0; s < S; s++) {
        const g = dStates[d * S + s];
        if (!g) continue;
        if (s === 0) {
          // (when dhnBuf is dOut itself, adding into it is allowed: a layer may overwrite its dy)
          if (!dhnBuf) {
            dhnBuf = bufs.get('dhn', D * n);
            dhnBuf.view().fill(0, 0, D * n);
          }
          checkStatus('state gradient', this.core().axpy(n, 1, g.ptr, dhnBuf.ptr + d * n * 4));
        } else {
          if (!dcnBuf) {
            dcnBuf = bufs.get('dcn', D * n);
            dcnBuf.view().fill(0, 0, D * n);
          }
          checkStatus('state gradient', this.core().axpy(n, 1, g.ptr, dcnBuf.ptr + d * n * 4));
        }
      }
    }
    const dx = needDx[0] ? bufs.get('dx', B * T * I) : null;
    const wantInit = tp.init && needDx.slice(1).some((v) => v);
    const dh0 = wantInit ? bufs.get('dh0', D * n) : null;
    const dc0 = wantInit && S === 2 ? bufs.get('dc0', D * n) : null;
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
      dhn: dhnBuf ? dhnBuf.ptr : 0,
      dcn: dcnBuf ? dcnBuf.ptr : 0,
      dx: dx ? dx.ptr : 0,
      dh0: dh0 ? dh0.ptr : 0,
      dc0: dc0 ? dc0.ptr : 0,
      recMask: tp.recMask ? tp.recMask.ptr : 0,
    });
    if (dx && tp.inMask) {
      const v = dx.view();
      const m = tp.inMask;
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++) {
          const o = (b * T + t) * I;
          for (let j = 0; j < I; j++) v[o + j] *= m[b * I + j];
        }
    }
    const grads: (WasmArray | null)[] = [dx];
    for (let j = 0; j < needDx.length - 1; j++) {
      if (!needDx[j + 1] || !dh0) {
        grads.push(null);
        continue;
      }
      const [d, s] = [Math.floor(j / S), j % S];
      const src = s === 0 ? dh0 : dc0!;
      if (D === 1) {
        grads.push(src);
        continue;
      }
      const g = bufs.get(`d_init_${d}_${s}`, n);
      g.view().set(src.view().subarray(d * n, (d + 1) * n));
      grads.push(g);
    }
    return grads;
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

  // ---------------------------------------------------------------- streaming

  override stream(ctx: StreamContext, x: StreamValue): StreamValue {
    return this.streamFrom(ctx, x, null);
  }

  /**
   * Step records from this step's input and, optionally, fixed initial
   * states (`[B, units]` each: the session's `reset` starts from them);
   * returns `[output, ...states]` with `returnState` (a state output is the
   * state after the step).
   */
  override streamAll(ctx: StreamContext, xs: StreamValue[]): StreamValue[] {
    const [x, ...init] = xs;
    if (x.fixed) throw new ValueError(`session: ${this.name} steps over its first input; it cannot read a fixed one`);
    for (const s of init) {
      if (!s.fixed || s.fixed.steps !== null)
        throw new ValueError(`session: ${this.name}'s initial states must be fixed [batch, units] values`);
    }
    const out = this.streamFrom(ctx, x, init.length ? init : null);
    if (!this.returnState) return [out];
    const c = this.streamStates!.c;
    return [out, { buf: out.buf, features: this.units }, ...(c ? [{ buf: c, features: this.units }] : [])];
  }

  /** The state buffers of the last `streamFrom` (for `returnState` outputs). */
  private streamStates: { h: WasmArray; c: WasmArray | null } | null = null;

  private streamFrom(ctx: StreamContext, x: StreamValue, init: StreamValue[] | null): StreamValue {
    if (this.directions !== 1) throw new ValueError(`session: ${this.name} is bidirectional; a stream cannot see the future`);
    if (this.goBackwards) throw new ValueError(`session: ${this.name} runs backwards in time (goBackwards); a stream cannot`);
    const core = this.core();
    const [B, F, H, cell] = [ctx.batch, x.features, this.units, this.code];
    const G = CELL_GATES[cell];
    // the reset-after GRU's packed step weight keeps n_x and n_h apart: 4H columns
    const cols = cell === Cell.Gru ? 4 * H : G * H;
    const h = ctx.alloc(B * H);
    const c = cell === Cell.Lstm ? ctx.alloc(B * H) : null;
    const xh = ctx.alloc(B * (F + H));
    const z = ctx.alloc(B * cols);
    const out = ctx.alloc(B * H);
    const common = {
      cell,
      gate: GATE_CODE[this.args.recurrentActivation ?? 'sigmoid'],
      inp: x.buf.ptr,
      i: F,
      h: H,
      b_ih: ctx.param('bias_ih_l0'),
      b_hh: ctx.param('bias_hh_l0'),
      state_h: h.ptr,
      state_c: c ? c.ptr : 0,
      z: z.ptr,
      out: out.ptr,
    };
    const int8 = ctx.int8 as number[] | null;
    if (int8) {
      const zh = ctx.alloc(B * G * H);
      const a16 = ctx.shared('q8act', core.q8_act_scratch_len(B, Math.max(F, H)));
      ctx.record('RecurQ8', { ...common, desc: int8[0], rh: xh.ptr, zh: zh.ptr, a16 });
    } else {
      // [x, h] times one packed [[W_ih]; [W_hh]]ᵀ: re-packed when the weights change
      const packed = ctx.alloc(core.stream_packed_len(cell, F, H));
      ctx.record('Recur', { ...common, packed: packed.ptr, xh: xh.ptr });
      ctx.packDepth(F + H);
      ctx.onWeights(() => checkStatus('stream pack', core.stream_pack(cell, F, H, ctx.param('weight_ih_l0'), packed.ptr)));
    }
    ctx.state(c ? { h, c } : { h }, init ? (c ? { h: init[0].buf, c: init[1].buf } : { h: init[0].buf }) : undefined);
    this.streamStates = { h, c };
    return { buf: out, features: H };
  }

  /**
   * A bidirectional or `goBackwards` layer as forward-in-time passes: each
   * direction runs forward over the steps it reads first (a backward
   * direction over each sample's steps reversed within its length), on its
   * own weights; a bidirectional layer's backward outputs are reversed back
   * beside the forward ones, while `goBackwards` keeps them in processing
   * order, as Keras.
   */
  override sequenceSplit(): SequenceSplit | null {
    if (this.directions === 1 && !this.goBackwards) return null;
    const one = new Recurrent(this.cell, { ...this.args, goBackwards: false, stateful: false, name: this.name });
    const H = this.units;
    const pass = (d: number, reversed: boolean, flipBack: boolean) => ({
      layer: one,
      reversed,
      flipBack,
      param: (name: string) => (d === 1 ? `${name}_reverse` : name),
      int8: (w: unknown) => [(w as number[])[d]],
    });
    if (this.directions === 1) return { passes: [pass(0, true, false)], features: H, merge: (outs) => outs[0] };
    const mode = this.mergeMode;
    return {
      passes: [pass(0, false, false), pass(1, true, this.returnSequences)],
      features: this.outFeatures,
      merge: (outs, rows) => mergeDirections(outs[0], outs[1], rows, H, mode),
    };
  }

  // ---------------------------------------------------------------- int8

  /** Per direction, the address of its `Q8Desc` words: packed `W_ih`, `W_hh` (the reset-before GRU's `W_hn` apart) and their scales. */
  override int8Weights(p: Int8Packer): number[] {
    const H = this.units;
    const G = CELL_GATES[this.code];
    const resetBefore = this.code === Cell.GruResetBefore;
    const descs: number[] = [];
    for (const sfx of this.directions === 2 ? ['', '_reverse'] : ['']) {
      const [qx, sx] = p.pack(`weight_ih_l0${sfx}`);
      const [qh, sh] = p.pack(`weight_hh_l0${sfx}`, 0, resetBefore ? 2 * H : G * H);
      const [qn, sn] = resetBefore ? p.pack(`weight_hh_l0${sfx}`, 2 * H, 3 * H) : [0, 0];
      descs.push(p.words([qx, sx, qh, sh, qn, sn]));
    }
    return descs;
  }

  // ---------------------------------------------------------------- ONNX

  /**
   * One `LSTM`/`GRU`/`RNN` node (layout 0 between Transposes: onnxruntime
   * refuses layout 1), weights in ONNX gate order (LSTM i,o,f,c; GRU z,r,h
   * with `linear_before_reset` 1 for PyTorch's cell, 0 for reset-before),
   * `B = [b_ih, b_hh]`, hard-sigmoid gates as `HardSigmoid` with their
   * (α, β); masking lengths as `sequence_lens`; `goBackwards` as
   * `direction="reverse"` plus the Keras output order.
   */
  override toOnnx(g: OnnxBuilder, x: OnnxValue): OnnxValue {
    return this.toOnnxAll(g, [x])[0];
  }

  /** As `toOnnx`, with initial states (`[B, H]` each, unsqueezed and concatenated to `[D, B, H]`) and final states as outputs. */
  override toOnnxAll(g: OnnxBuilder, xs: OnnxValue[]): OnnxValue[] {
    const x = xs[0];
    if (x.rank !== 3) throw new FormatError(`toOnnx: ${this.name}: needs a [batch, time, features] input`);
    const [D, H, cell] = [this.directions, this.units, this.cell];
    const G = CELL_GATES[this.code];
    const perm = TO_ONNX[cell];
    const I = g.weight('weight_ih_l0').shape[1];
    const Wd = new Float32Array(D * G * H * I);
    const Rd = new Float32Array(D * G * H * H);
    const Bd = new Float32Array(D * 2 * G * H);
    for (let d = 0; d < D; d++) {
      const sfx = d === 1 ? '_reverse' : '';
      Wd.set(reorderGates(g.weight(`weight_ih_l0${sfx}`).data, G, H, I, perm), d * G * H * I);
      Rd.set(reorderGates(g.weight(`weight_hh_l0${sfx}`).data, G, H, H, perm), d * G * H * H);
      Bd.set(reorderGates(g.weight(`bias_ih_l0${sfx}`).data, G, H, 1, perm), d * 2 * G * H);
      Bd.set(reorderGates(g.weight(`bias_hh_l0${sfx}`).data, G, H, 1, perm), d * 2 * G * H + G * H);
    }
    const attrs: Record<string, OnnxAttr> = {
      hidden_size: H,
      direction: D === 2 ? 'bidirectional' : this.goBackwards ? 'reverse' : 'forward',
    };
    const gate = this.args.recurrentActivation ?? 'sigmoid';
    if (cell === 'rnn') {
      if (this.args.activation === 'relu') attrs.activations = Array(D).fill('Relu');
    } else if (gate !== 'sigmoid') {
      const one = cell === 'lstm' ? ['HardSigmoid', 'Tanh', 'Tanh'] : ['HardSigmoid', 'Tanh'];
      attrs.activations = D === 2 ? [...one, ...one] : one;
      attrs.activation_alpha = { floats: Array(D).fill(gate === 'hardSigmoid6' ? 1 / 6 : 0.2) };
      attrs.activation_beta = { floats: Array(D).fill(0.5) };
    }
    if (cell === 'gru') attrs.linear_before_reset = (this.args.resetAfter ?? true) ? 1 : 0;
    const [tm] = g.node('Transpose', [x.name], 1, { perm: [1, 0, 2] });
    const op = { rnn: 'RNN', lstm: 'LSTM', gru: 'GRU' }[cell];
    const W = g.init(`${this.name}.W`, [D, G * H, I], Wd);
    const R = g.init(`${this.name}.R`, [D, G * H, H], Rd);
    const Bias = g.init(`${this.name}.B`, [D, 2 * G * H], Bd);
    const S = this.stateCount;
    const initial = (s: number): string => {
      if (xs.length === 1) return '';
      const per = Array.from({ length: D }, (_, d) => g.node('Unsqueeze', [xs[1 + d * S + s].name, g.ints('axes', [0])])[0]);
      return D === 1 ? per[0] : g.node('Concat', per, 1, { axis: 0 })[0];
    };
    const inputs = [tm, W, R, Bias, x.lengths ?? '', initial(0)];
    if (S === 2) inputs.push(initial(1));
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const [Y, Yh, Yc] = g.node(op, inputs, S === 2 && this.returnState ? 3 : 2, attrs);
    // Keras order: each direction's h (and c), [B, H] each
    const states: OnnxValue[] = [];
    if (this.returnState) {
      for (let d = 0; d < D; d++) {
        for (const src of S === 2 ? [Yh, Yc] : [Yh]) {
          const [st] = g.node('Gather', [src, g.init(g.name('dir'), [], [d], 'int64')], 1, { axis: 0 });
          states.push({ name: st, rank: 2, lengths: null });
        }
      }
    }
    // Y [T, D, N, H] or Y_h [D, N, H] → [N, T, F] or [N, F]
    const merged = (src: string, steps: boolean): string => {
      const dAxis = steps ? 1 : 0;
      const permOut = steps ? [2, 0, 1, 3] : [1, 0, 2];
      if (D === 1 || this.mergeMode === 'concat') {
        const [t] = g.node('Transpose', [src], 1, { perm: permOut });
        return g.node('Reshape', [t, g.ints('shape', steps ? [0, 0, D * H] : [0, D * H])])[0];
      }
      const [f] = g.node('Slice', [src, g.ints('s', [0]), g.ints('e', [1]), g.ints('a', [dAxis])]);
      const [b] = g.node('Slice', [src, g.ints('s', [1]), g.ints('e', [2]), g.ints('a', [dAxis])]);
      let [m] = g.node(this.mergeMode === 'mul' ? 'Mul' : 'Add', [f, b]);
      if (this.mergeMode === 'ave') [m] = g.node('Mul', [m, g.init(g.name('half'), [], [0.5])]);
      const [t] = g.node('Transpose', [m], 1, { perm: permOut });
      return g.node('Reshape', [t, g.ints('shape', steps ? [0, 0, H] : [0, H])])[0];
    };
    if (!this.returnSequences) return [{ name: merged(Yh, false), rank: 2, lengths: null }, ...states];
    let out = merged(Y, true);
    if (this.goBackwards) {
      // Keras order: output step s = the state after consuming x_{len−1} … x_{len−1−s}
      if (x.lengths) {
        const [lens] = g.node('Cast', [x.lengths], 1, { to: g.dtype('int64') });
        [out] = g.node('ReverseSequence', [out, lens], 1, { batch_axis: 0, time_axis: 1 });
      } else {
        [out] = g.node('Slice', [out, g.ints('s', [-1]), g.ints('e', [-(2 ** 53 - 1)]), g.ints('a', [1]), g.ints('st', [-1])]);
      }
    }
    return [{ name: out, rank: 3, lengths: x.lengths }, ...states];
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
  private merge(cat: WasmArray, rows: number, bufs: Buffers): WasmArray {
    if (this.directions === 1 || this.mergeMode === 'concat') return cat;
    const out = bufs.get('merged', rows * this.units);
    mergeHalves(cat.view(), out.view(), rows, this.units, this.mergeMode);
    return out;
  }

  /** Gradient of `merge` (whose input was `cat`): `[rows, H]` → `[rows, 2H]`. */
  private unmerge(dOut: WasmArray, cat: WasmArray, rows: number, bufs: Buffers): WasmArray {
    if (this.directions === 1 || this.mergeMode === 'concat') return dOut;
    const H = this.units;
    const out = bufs.get('d_merged', rows * 2 * H);
    const g = dOut.view();
    const o = out.view();
    const c = cat.view();
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

/** A bidirectional layer's `sum` / `mul` / `ave` merge of `[rows, 2H]` rows
 *  (forward half, backward half) into `[rows, H]` rows `o`. */
function mergeHalves(c: Float32Array, o: Float32Array, rows: number, H: number, mode: MergeMode): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < H; j++) {
      const f = c[r * 2 * H + j];
      const b = c[r * 2 * H + H + j];
      o[r * H + j] = mode === 'sum' ? f + b : mode === 'mul' ? f * b : 0.5 * (f + b);
    }
  }
}

/** A bidirectional layer's output from its directions' `[rows, H]` outputs (as `Recurrent`'s merge). */
function mergeDirections(f: Float32Array, b: Float32Array, rows: number, H: number, mode: MergeMode): Float32Array {
  const cat = new Float32Array(rows * 2 * H);
  for (let r = 0; r < rows; r++) {
    cat.set(f.subarray(r * H, (r + 1) * H), r * 2 * H);
    cat.set(b.subarray(r * H, (r + 1) * H), r * 2 * H + H);
  }
  if (mode === 'concat') return cat;
  const out = new Float32Array(rows * H);
  mergeHalves(cat, out, rows, H, mode);
  return out;
}

/** `[G·H, cols]` with gate blocks reordered: block `k` of the result is block `perm[k]` of `src`. */
function reorderGates(src: Float32Array, G: number, H: number, cols: number, perm: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  for (let k = 0; k < G; k++) out.set(src.subarray(perm[k] * H * cols, (perm[k] + 1) * H * cols), k * H * cols);
  return out;
}

// ONNX block k comes from our block: LSTM (i,o,f,c) ← ours (i,f,g,o); GRU (z,r,h) ← ours (r,z,n)
const TO_ONNX: Readonly<Record<CellType, readonly number[]>> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0] };
// Keras block k → ours: LSTM i,f,c,o = ours i,f,g,o; GRU z,r,h → ours r,z,n
const FROM_KERAS: Readonly<Record<CellType, readonly number[]>> = { lstm: [0, 1, 2, 3], gru: [1, 0, 2], rnn: [0] };

/** Keras `[rows, G·H]` kernel → our `[G·H, rows]`, gate blocks reordered (`perm[k]` = source block). */
function kerasGateMatrix(w: { shape: number[]; data: Float32Array }, G: number, perm: readonly number[]): Float32Array {
  const [rows, cols] = w.shape;
  const H = cols / G;
  const t = new Float32Array(rows * cols);
  for (let k = 0; k < G; k++)
    for (let j = 0; j < H; j++) for (let i = 0; i < rows; i++) t[(k * H + j) * rows + i] = w.data[i * cols + perm[k] * H + j];
  return t;
}

/** Keras `[G·H]` bias, gate blocks reordered. */
function kerasGateVector(v: Float32Array, G: number, perm: readonly number[]): Float32Array {
  const H = v.length / G;
  const t = new Float32Array(v.length);
  for (let k = 0; k < G; k++) t.set(v.subarray(perm[k] * H, (perm[k] + 1) * H), k * H);
  return t;
}

const KERAS_CELL: Readonly<Record<string, CellType>> = { SimpleRNN: 'rnn', LSTM: 'lstm', GRU: 'gru' };

/**
 * Keras `SimpleRNN` / `LSTM` / `GRU` and `Bidirectional` (porting notes,
 * ../shared/INTEROP.md §2–3, each checked by a fixture):
 * - Keras multiplies `x·K` with `K [I, G·H]`; we store `W = Kᵀ [G·H, I]`.
 * - LSTM gates: Keras i,f,c,o = ours i,f,g,o; one bias → `b_ih`, `b_hh = 0`.
 * - GRU gates: Keras z,r,h → ours r,z,n (blocks 1,0,2). `reset_after: true`:
 *   bias `[2, 3H]` = `[b_ih; b_hh]`. `reset_after: false` (tfjs always): our
 *   reset-before GRU, bias `[3H]` → `b_ih`, `b_hh = 0`.
 * - `recurrent_activation`: sigmoid, or `hard_sigmoid`, whose formula depends
 *   on the writer (`KerasLayerInput.hardSigmoid`).
 * - `go_backwards` on a plain layer: outputs in reversed time order (as ours);
 *   Bidirectional outputs are time-aligned, forward first (as ours).
 * - `return_state` outputs the final states (graph models: a Sequential
 *   refuses a layer with several outputs, as Keras); stateful layers, other
 *   activations and use_bias=false are refused.
 */
const keras: KerasMapping = {
  classNames: ['SimpleRNN', 'LSTM', 'GRU', 'Bidirectional'],
  import(k: KerasLayerInput) {
    const c = k.config;
    const bidi = k.className === 'Bidirectional';
    const inner = bidi ? (c.layer as { class_name: string; config: Record<string, unknown> }) : { class_name: k.className, config: c };
    const ic = inner?.config ?? {};
    const icls = inner?.class_name;
    const cell = KERAS_CELL[icls];
    if (!cell) throw k.error(`unsupported inner layer ${JSON.stringify(icls)}`);
    const iwhere = bidi ? `${k.where} > ${icls}` : k.where;
    const fail = (m: string) => k.error(m, iwhere);
    if (ic.stateful) throw fail('stateful layers are not imported (re-create with stateful: true and setWeights)');
    if (ic.use_bias === false) throw fail('use_bias=false is not supported');
    const activation = k.activation(ic.activation, iwhere);
    if (cell === 'rnn' ? !['tanh', 'relu'].includes(activation) : activation !== 'tanh')
      throw fail(`activation "${activation}" is not supported`);
    let gate: GateActivation = 'sigmoid';
    if (cell !== 'rnn') {
      const ra = k.activation(ic.recurrent_activation ?? 'hard_sigmoid', iwhere);
      if (ra === 'hard_sigmoid') gate = k.hardSigmoid;
      else if (ra !== 'sigmoid') throw fail(`recurrent_activation "${ra}" is not supported`);
    }
    const resetAfter = cell === 'gru' ? !!ic.reset_after : undefined;
    const mergeMode = (c.merge_mode ?? 'concat') as MergeMode | null;
    if (bidi && !['concat', 'sum', 'mul', 'ave'].includes(String(mergeMode)))
      throw k.error(`merge_mode ${JSON.stringify(mergeMode)} is not supported`);
    if (bidi && ic.go_backwards) throw k.error('an inner layer with go_backwards is not supported');
    const name = k.name;
    const args: RecurrentArgs = {
      name,
      units: Number(ic.units),
      returnSequences: !!ic.return_sequences,
      returnState: !!ic.return_state,
      goBackwards: !bidi && !!ic.go_backwards,
      ...(cell === 'rnn' ? { activation: activation as 'tanh' | 'relu' } : { recurrentActivation: gate }),
      ...(cell === 'gru' ? { resetAfter } : {}),
    };
    const layer = bidi ? new Recurrent(cell, args, { mergeMode: mergeMode as MergeMode, name }) : new Recurrent(cell, args);
    const G = { rnn: 1, lstm: 4, gru: 3 }[cell];
    const perm = FROM_KERAS[cell];
    const weights: Record<string, Float32Array> = {};
    for (const [d, sub] of (bidi
      ? [
          [0, 'forward'],
          [1, 'backward'],
        ]
      : [[0, undefined]]) as [number, string | undefined][]) {
      const sfx = d === 1 ? '_reverse' : '';
      const kern = k.weight('kernel', sub);
      const rec = k.weight('recurrent_kernel', sub);
      const b = k.weight('bias', sub);
      const H = Number(ic.units);
      if (kern.shape[1] !== G * H || rec.shape[0] !== H || rec.shape[1] !== G * H) {
        throw fail(`kernel ${JSON.stringify(kern.shape)} / recurrent_kernel ${JSON.stringify(rec.shape)} do not fit ${G}×${H} gates`);
      }
      weights[`${name}.weight_ih_l0${sfx}`] = kerasGateMatrix(kern, G, perm);
      weights[`${name}.weight_hh_l0${sfx}`] = kerasGateMatrix(rec, G, perm);
      if (cell === 'gru' && resetAfter) {
        if (b.shape.length !== 2 || b.shape[0] !== 2) throw fail(`reset_after GRU bias must be [2, 3H]; got ${JSON.stringify(b.shape)}`);
        weights[`${name}.bias_ih_l0${sfx}`] = kerasGateVector(b.data.slice(0, G * H), G, perm);
        weights[`${name}.bias_hh_l0${sfx}`] = kerasGateVector(b.data.slice(G * H), G, perm);
      } else {
        if (b.shape.length !== 1) throw fail(`bias must be [${G * H}]; got ${JSON.stringify(b.shape)}`);
        weights[`${name}.bias_ih_l0${sfx}`] = kerasGateVector(b.data, G, perm);
        weights[`${name}.bias_hh_l0${sfx}`] = new Float32Array(G * H);
      }
    }
    return { layer, weights };
  },
};

/** A PyTorch `nn.RNN` / `nn.LSTM` / `nn.GRU` module: cell, sizes, layers, directions. */
function torchInfo(m: TorchModule, fail: (message: string) => Error) {
  const w0 = m.tensors.get('weight_ih_l0');
  const h0 = m.tensors.get('weight_hh_l0');
  if (!w0 || !h0 || w0.shape.length !== 2 || h0.shape.length !== 2) throw fail(`"${m.prefix}" lacks 2-D weight_ih_l0 / weight_hh_l0`);
  if ([...m.tensors.keys()].some((k) => k.startsWith('weight_hr'))) {
    throw fail(`"${m.prefix}" is an LSTM with proj_size > 0 (weight_hr_l*), which is not supported`);
  }
  const hidden = h0.shape[1];
  const G = h0.shape[0] / hidden;
  const cell: CellType | null = G === 4 ? 'lstm' : G === 3 ? 'gru' : G === 1 ? 'rnn' : null;
  if (!cell || !Number.isInteger(G))
    throw fail(`"${m.prefix}".weight_hh_l0 has shape ${JSON.stringify(h0.shape)}: not an RNN, GRU or LSTM`);
  let numLayers = 0;
  while (m.tensors.has(`weight_ih_l${numLayers}`)) numLayers++;
  const bidirectional = m.tensors.has('weight_ih_l0_reverse');
  for (const k of m.tensors.keys()) {
    const mm = /^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$/.exec(k);
    if (!mm || Number(mm[3]) >= numLayers || (mm[4] && !bidirectional)) throw fail(`unexpected tensor "${m.prefix}.${k}"`);
  }
  if (!m.tensors.has('bias_ih_l0')) throw fail(`"${m.prefix}" has bias=False, which is not supported`);
  return { cell, inputSize: w0.shape[1], hidden, numLayers, bidirectional };
}

const torchError = (m: string) => new FormatError(`importPyTorch: ${m}`);

/**
 * PyTorch recurrent modules: `num_layers` become that many of our layers
 * (`<name>_l<k>`), each with the `_l<k>` tensors renamed `_l0`; the last
 * recurrent module's output follows the importer's `head` (every step, its
 * last step through `lastStep`, or the final state).
 */
const torch: TorchMapping = {
  types: ['rnn', 'lstm', 'gru'],
  stage: 1,
  detect: (m) => (m.tensors.has('weight_ih_l0') ? torchInfo(m, torchError).cell : null),
  sizes: (m) => {
    const r = torchInfo(m, torchError);
    return { in: r.inputSize, out: r.hidden * (r.bidirectional ? 2 : 1) };
  },
  import(t) {
    const r = torchInfo(t.module, t.error);
    if (r.cell !== t.spec.type)
      throw t.error(`"${t.module.prefix}" holds ${r.cell.toUpperCase()} weights, not ${t.spec.type.toUpperCase()}`);
    const D = r.bidirectional ? 2 : 1;
    const G = { rnn: 1, lstm: 4, gru: 3 }[r.cell] * r.hidden;
    const layers: Layer[] = [];
    const weights: Record<string, Float32Array> = {};
    for (let k = 0; k < r.numLayers; k++) {
      const lname = r.numLayers > 1 ? `${t.name}_l${k}` : t.name;
      const isLast = t.lastRecurrent && k === r.numLayers - 1;
      const args: RecurrentArgs = {
        name: lname,
        units: r.hidden,
        returnSequences: !(isLast && t.head === 'final-state'),
        ...(r.cell === 'rnn' && t.spec.nonlinearity === 'relu' ? { activation: 'relu' as const } : {}),
      };
      const inner = new Recurrent(r.cell, args);
      layers.push(r.bidirectional ? new Recurrent(r.cell, inner.args, { mergeMode: 'concat', name: lname }) : inner);
      const inSize = k === 0 ? r.inputSize : D * r.hidden;
      for (const sfx of r.bidirectional ? ['', '_reverse'] : ['']) {
        weights[`${lname}.weight_ih_l0${sfx}`] = t.take(`weight_ih_l${k}${sfx}`, [G, inSize]);
        weights[`${lname}.weight_hh_l0${sfx}`] = t.take(`weight_hh_l${k}${sfx}`, [G, r.hidden]);
        weights[`${lname}.bias_ih_l0${sfx}`] = t.take(`bias_ih_l${k}${sfx}`, [G]);
        weights[`${lname}.bias_hh_l0${sfx}`] = t.take(`bias_hh_l${k}${sfx}`, [G]);
      }
      if (isLast && t.head === 'last-step') layers.push(new LastStep({ name: `${lname}_last_step` }));
    }
    return { layers, weights, inputSize: r.inputSize };
  },
};

/** A saved `Recurrent` config: its constructor arguments plus `cell`, and `bidirectional` / `mergeMode` for a Bidirectional. */
function fromConfig(_className: string, config: Record<string, unknown>): Recurrent {
  const cell = config.cell as CellType;
  if (!['rnn', 'lstm', 'gru'].includes(cell))
    throw new FormatError(`model file: layer ${String(config.name)} has unknown cell ${JSON.stringify(cell)}`);
  const { cell: _c, bidirectional, mergeMode, ...args } = config;
  if (bidirectional)
    return new Recurrent(cell, args as unknown as RecurrentArgs, { mergeMode: mergeMode as MergeMode, name: args.name as string });
  return new Recurrent(cell, args as unknown as RecurrentArgs);
}

export interface BidirectionalArgs {
  /** The recurrent layer to run in both directions (its config is reused). */
  layer: Recurrent;
  mergeMode?: MergeMode;
  name?: string;
  inputShape?: (number | null)[];
}

export const recurrentKind = {
  classNames: ['SimpleRNN', 'LSTM', 'GRU', 'Bidirectional'],
  fromConfig,
  factories: {
    simpleRNN: (args: RecurrentArgs) => new Recurrent('rnn', args),
    lstm: (args: RecurrentArgs) => new Recurrent('lstm', args),
    gru: (args: RecurrentArgs) => new Recurrent('gru', args),
    bidirectional: (args: BidirectionalArgs) => {
      if (!(args?.layer instanceof Recurrent) || args.layer.directions !== 1) {
        throw new ValueError('bidirectional: "layer" must be a simpleRNN, lstm or gru layer');
      }
      const inner = args.layer;
      return new Recurrent(
        inner.cell,
        { ...inner.args, inputShape: args.inputShape ?? inner.args.inputShape },
        { mergeMode: args.mergeMode ?? 'concat', name: args.name },
      );
    },
  },
  keras,
  torch,
} satisfies LayerKind;
