/**
 * Attention layers, as Keras defines them: `layers.attention` (Luong
 * dot-product, optional learned scale) and `layers.additiveAttention`
 * (Bahdanau, a learned scale vector), applied to `[query, value]` or
 * `[query, value, key]` (the key defaults to the value). `multiHeadAttention`
 * (multi-head-attention.ts) shares the machinery here.
 *
 * Forward and backward are one core call each for the whole batch
 * (`crate/src/attention.rs`). Masks as Keras: padded value steps are never
 * attended (the value's mask masks the keys), and the output carries the
 * query's mask; padded query steps output zeros (Keras leaves them to the
 * mask). `useCausalMask` limits query step `i` to keys `j ≤ i`.
 * `returnAttentionScores` adds the attention weights as a second output
 * (`[Tq, Tv]`, or `[heads, Tq, Tv]` for multi-head); a loss may read them.
 */
import { FormatError, ShapeError, ValueError, fmtShape } from '../errors.js';
import { type AttnGradWords, type AttnWords, attentionBackward, attentionForward, attnGradWords, attnWords } from '../ops/attention.js';
import { f32Bits } from '../runtime/program.js';
import { ATTN_FIELDS, ATTN_GRADS_FIELDS, AttnFlag, AttnScore } from '../runtime/contract.js';
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
  type Shape,
  type StepInfo,
  type StreamContext,
  type StreamValue,
  type SymbolicTensor,
} from './base.js';
import type { Initializer } from './initializers.js';

export interface AttentionCallArgs {
  /** Also output the attention weights (Keras `return_attention_scores`). */
  returnAttentionScores?: boolean;
  /** Query step `i` attends keys `j ≤ i` only (Keras `use_causal_mask`). */
  useCausalMask?: boolean;
}

export interface AttentionBaseArgs extends LayerArgs, AttentionCallArgs {
  /** Dropout on the attention weights: not supported (refused when > 0). */
  dropout?: number;
}

/** The geometry an attention kind decides from its input shapes. */
export interface AttentionGeometry {
  heads: number;
  keyDim: number;
  valueDim: number;
  outFeatures: number;
  score: AttnScore;
  project: boolean;
  /** The fixed factor of dot scores. */
  factor: number;
}

interface AttentionTape {
  xs: Activation[];
  words: WasmArray;
  B: number;
  Tq: number;
  Tv: number;
}

/** What `attention`, `additiveAttention` and `multiHeadAttention` share: inputs, masks, the core calls, the scores output. */
export abstract class AttentionLayer extends Layer {
  returnAttentionScores: boolean;
  useCausalMask: boolean;
  protected geometry: AttentionGeometry | null = null;
  protected widths: [number, number, number] = [0, 0, 0];
  /** The value's steps when known (the weights' last dimension). */
  private valueSteps: number | null = null;

  constructor(args: AttentionBaseArgs, defaultName: string) {
    super(args, defaultName);
    this.returnAttentionScores = args.returnAttentionScores ?? false;
    this.useCausalMask = args.useCausalMask ?? false;
    if ((args.dropout ?? 0) !== 0) {
      throw new ValueError(`${this.name}: dropout on the attention weights is not supported; use a dropout layer on the inputs or outputs`);
    }
  }

  /**
   * `layer.apply([query, value])` or `[query, value, key]`; Keras' call
   * options `returnAttentionScores` and `useCausalMask` may be given here
   * (they hold for every application of the layer).
   */
  override apply(x: SymbolicTensor | SymbolicTensor[], args: AttentionCallArgs = {}): SymbolicTensor | SymbolicTensor[] {
    for (const k of ['returnAttentionScores', 'useCausalMask'] as const) {
      const v = args[k];
      if (v === undefined) continue;
      if (this.nodes.length > 0 && v !== this[k]) {
        throw new ValueError(`${this.name}: ${k} is ${this[k]} for its earlier applications; a shared layer keeps it`);
      }
      this[k] = v;
    }
    if (!Array.isArray(x)) throw new ValueError(`${this.name}.apply: expected [query, value] or [query, value, key]`);
    return super.apply(x);
  }

  override get arity(): [number, number] {
    return [2, 3];
  }

  /** The kind's geometry and parameters for query/key/value widths (called once, on the first application). */
  protected abstract declare(fq: number, fk: number, fv: number): AttentionGeometry;

  /** The parameter words of a call (`wq`…`bo`, `scale`), each parameter's address given by `at` (0 for none). */
  protected abstract paramWords(at: (p: ParamSpec | null) => number): Partial<AttnWords>;

  /** The parameter-gradient words of a backward call (`dwq`…`dbo`, `dscale`). */
  protected abstract gradWords(at: (p: ParamSpec | null) => number): Partial<AttnGradWords>;

  build(_inputShape: Shape): Shape {
    throw new ValueError(`${this.name}: an attention layer takes [query, value] (apply it to a list of tensors)`);
  }

  protected override buildAll(shapes: Shape[]): Shape[] {
    for (const [i, s] of shapes.entries()) {
      if (s.length !== 2 || s[1] === null) {
        throw new ShapeError(
          `${this.name}: ${['query', 'value', 'key'][i]} must be [time, features] with known features; got ${fmtShape(s.map((d) => d ?? -1))}`,
        );
      }
    }
    const [q, v, k = v] = shapes;
    if (q[0] !== null && v[0] !== null && k[0] !== null && k[0] !== v[0]) {
      throw new ShapeError(`${this.name}: key has ${k[0]} steps but value has ${v[0]}`);
    }
    this.widths = [q[1]!, k[1]!, v[1]!];
    this.valueSteps = v[0] ?? k[0];
    this.geometry = this.declare(q[1]!, k[1]!, v[1]!);
    this.outputShape = [q[0], this.geometry.outFeatures];
    return this.sharedShapes();
  }

  protected override sharedShapes(): Shape[] {
    const g = this.geometry!;
    const out: Shape[] = [[...this.outputShape!]];
    const [tq, tv] = [this.outputShape![0], this.valueSteps];
    if (this.returnAttentionScores) out.push(g.heads === 1 ? [tq, tv] : [g.heads, tq, tv]);
    return out;
  }

  forward(_x: Activation): Activation {
    throw new ValueError(`${this.name}: an attention layer takes [query, value]`);
  }

  backward(): WasmArray | null {
    throw new ValueError(`${this.name}: an attention layer takes [query, value]`);
  }

  override forwardAll(xs: Activation[], step: StepInfo, call: LayerCall): Activation[] {
    const g = this.geometry;
    if (!g) throw new ValueError(`${this.name}: used before the model was built`);
    const [q, v, k = v] = xs;
    const [B, Tq] = q.shape;
    const Tv = v.shape[1];
    if (k.shape[1] !== Tv) throw new ShapeError(`${this.name}: key has ${k.shape[1]} steps but value has ${Tv}`);
    if (v.shape[0] !== B || k.shape[0] !== B) throw new ShapeError(`${this.name}: query, value and key must have the same batch size`);
    const bufs = call.buffers;
    const [H, dk, dv, Fo] = [g.heads, g.keyDim, g.valueDim, g.outFeatures];
    const probs = bufs.get('probs', B * H * Tq * Tv);
    const out = bufs.get('out', B * Tq * Fo);
    const ws = g.project
      ? {
          qp: bufs.get('qp', B * Tq * H * dk).ptr,
          kp: bufs.get('kp', B * Tv * H * dk).ptr,
          vp: bufs.get('vp', B * Tv * H * dv).ptr,
          ctx: bufs.get('ctx', B * Tq * H * dv).ptr,
        }
      : {};
    const words = bufs.get(step.training ? 'words_train' : 'words', ATTN_FIELDS.length, 'i32');
    attentionForward(
      this.name,
      words,
      this.callWords(B, Tq, Tv, this.useCausalMask, {
        q: q.buf.ptr,
        k: k.buf.ptr,
        v: v.buf.ptr,
        q_lengths: q.lengthsBuf ? q.lengthsBuf.ptr : 0,
        kv_lengths: v.lengthsBuf ? v.lengthsBuf.ptr : 0,
        ...this.paramWords((p) => (p ? this.paramPtr(p) : 0)),
        ...ws,
        probs: probs.ptr,
        out: out.ptr,
      }),
    );
    if (step.training) call.tape = { xs, words, B, Tq, Tv } satisfies AttentionTape;
    const outs: Activation[] = [{ buf: out, shape: [B, Tq, Fo], lengths: q.lengths, lengthsBuf: q.lengthsBuf }];
    if (this.returnAttentionScores)
      outs.push({ buf: probs, shape: H === 1 ? [B, Tq, Tv] : [B, H, Tq, Tv], lengths: null, lengthsBuf: null });
    return outs;
  }

  override backwardAll(dys: (WasmArray | null)[], needDx: boolean[], call: LayerCall): (WasmArray | null)[] {
    const { xs, words, B, Tq, Tv } = call.take<AttentionTape>(this);
    if (dys.every((d) => d === null)) return needDx.map(() => null);
    const g = this.geometry!;
    const bufs = call.buffers;
    const [H, dk, dv, Fo] = [g.heads, g.keyDim, g.valueDim, g.outFeatures];
    const [Fq, Fk, Fv] = this.widths;
    let dout = dys[0];
    if (!dout) {
      dout = bufs.get('dout_zero', B * Tq * Fo);
      dout.view().fill(0, 0, B * Tq * Fo);
    }
    const keyGiven = xs.length === 3;
    const dq = needDx[0] ? bufs.get('dq', B * Tq * Fq) : null;
    const dvBuf = needDx[1] ? bufs.get('dv', B * Tv * Fv) : null;
    // without a key input the value is the key too: its gradient is the sum of both roles
    const wantDk = keyGiven ? needDx[2] : needDx[1];
    const dkBuf = wantDk ? bufs.get('dk', B * Tv * Fk) : null;
    const scratch = g.project
      ? {
          dqp: bufs.get('dqp', B * Tq * H * dk).ptr,
          dkp: bufs.get('dkp', B * Tv * H * dk).ptr,
          dvp: bufs.get('dvp', B * Tv * H * dv).ptr,
          dctx: bufs.get('dctx', B * Tq * H * dv).ptr,
        }
      : {};
    attentionBackward(
      this.name,
      words,
      bufs.get('grad_words', ATTN_GRADS_FIELDS.length, 'i32'),
      attnGradWords({
        dout: dout.ptr,
        dq: dq ? dq.ptr : 0,
        dk: dkBuf ? dkBuf.ptr : 0,
        dv: dvBuf ? dvBuf.ptr : 0,
        ...this.gradWords((p) => (p ? this.gradPtr(p) : 0)),
        ...scratch,
        dprobs: bufs.get('dprobs', B * H * Tq * Tv).ptr,
        dweights: dys[1] ? dys[1].ptr : 0,
        dparts: bufs.get('dparts', B * H * Math.max(1, dk)).ptr,
      }),
    );
    if (keyGiven) return [dq, dvBuf, dkBuf];
    if (dvBuf && dkBuf) checkStatus(`${this.name} backward`, this.core().axpy(B * Tv * Fv, 1, dkBuf.ptr, dvBuf.ptr));
    return [dq, dvBuf];
  }

  /**
   * ONNX nodes with the core's meaning: projections (multi-head), heads as
   * `[B, H, T, d]`, dot or additive scores, keys past the value's lengths (and
   * later than the query, causal) out of the softmax, padded queries 0; the
   * weights as a second output with `returnAttentionScores`.
   */
  override toOnnxAll(g: OnnxBuilder, xs: OnnxValue[]): OnnxValue[] {
    const geo = this.geometry!;
    const [q, v, k = v] = xs;
    for (const x of xs) if (x.rank !== 3) throw new FormatError(`toOnnx: ${this.name}: needs [batch, time, features] inputs`);
    const [H, dk, dv, Fo] = [geo.heads, geo.keyDim, geo.valueDim, geo.outFeatures];
    const w = this.onnxParams(g);
    const f = (v: number) => g.init(g.name('c'), [], [v]);
    // [B, T, F] → [B, H, T, d] (projected: x·Wᵀ + b, heads split)
    const heads = (x: string, W: string | null, bias: string | null, d: number): string => {
      let cur = x;
      if (W) [cur] = g.node('MatMul', [cur, W]);
      if (bias) [cur] = g.node('Add', [cur, bias]);
      const [r] = g.node('Reshape', [cur, g.ints('shape', [0, 0, H, d])]);
      return g.node('Transpose', [r], 1, { perm: [0, 2, 1, 3] })[0];
    };
    const Q = heads(q.name, w.wq, w.bq, dk);
    const K = heads(k.name, w.wk, w.bk, dk);
    const V = heads(v.name, w.wv, w.bv, dv);
    let S: string;
    if (geo.score === AttnScore.Dot) {
      const [kt] = g.node('Transpose', [K], 1, { perm: [0, 1, 3, 2] });
      [S] = g.node('MatMul', [Q, kt]);
      [S] = g.node('Mul', [S, f(geo.factor)]);
      if (w.scale) [S] = g.node('Mul', [S, w.scale]);
    } else {
      // Σ_d scale[d]·tanh(q[i, d] + k[j, d]) over [B, H, Tq, Tv, d]
      const [qe] = g.node('Unsqueeze', [Q, g.ints('axes', [3])]);
      const [ke] = g.node('Unsqueeze', [K, g.ints('axes', [2])]);
      let [t] = g.node('Tanh', [g.node('Add', [qe, ke])[0]]);
      if (w.scale) [t] = g.node('Mul', [t, w.scale]);
      [S] = g.node('ReduceSum', [t, g.ints('axes', [-1])], 1, { keepdims: 0 });
    }
    // which keys each query sees: [B, 1, Tq|1, Tv]
    let keys: string | null = v.lengths ? g.node('Unsqueeze', [g.validSteps(v.name, v.lengths), g.ints('axes', [1, 2])])[0] : null;
    if (this.useCausalMask) {
      // key j ≤ query i, as [Tq, Tv]
      const [sShape] = g.node('Shape', [S]);
      const steps = (axis: number) => {
        const [n] = g.node('Gather', [sShape, g.init(g.name('axis'), [], [axis], 'int64')], 1, { axis: 0 });
        return g.node('Range', [g.init(g.name('zero'), [], [0], 'int64'), n, g.init(g.name('one'), [], [1], 'int64')])[0];
      };
      const [i] = g.node('Unsqueeze', [steps(2), g.ints('axes', [1])]);
      const [causal] = g.node('LessOrEqual', [steps(3), i]);
      keys = keys ? g.node('And', [keys, causal])[0] : causal;
    }
    if (keys) [S] = g.node('Where', [keys, S, f(-1e30)]);
    let [P] = g.node('Softmax', [S], 1, { axis: -1 });
    // a row that sees no key (or a padded query) weighs nothing
    if (keys) [P] = g.node('Mul', [P, g.node('Cast', [keys], 1, { to: g.dtype('float') })[0]]);
    let qmask: string | null = null;
    if (q.lengths) {
      [qmask] = g.node('Cast', [g.validSteps(q.name, q.lengths)], 1, { to: g.dtype('float') });
      [P] = g.node('Mul', [P, g.node('Unsqueeze', [qmask, g.ints('axes', [1, 3])])[0]]);
    }
    const [C] = g.node('MatMul', [P, V]);
    const [ct] = g.node('Transpose', [C], 1, { perm: [0, 2, 1, 3] });
    let [out] = g.node('Reshape', [ct, g.ints('shape', [0, 0, H * dv])]);
    if (w.wo) [out] = g.node('MatMul', [out, w.wo]);
    if (w.bo) [out] = g.node('Add', [out, w.bo]);
    if (qmask) [out] = g.node('Mul', [out, g.node('Unsqueeze', [qmask, g.ints('axes', [2])])[0]]);
    void Fo;
    const outs: OnnxValue[] = [{ name: out, rank: 3, lengths: q.lengths }];
    if (this.returnAttentionScores) {
      const scores = H === 1 ? g.node('Squeeze', [P, g.ints('axes', [1])])[0] : P;
      outs.push({ name: scores, rank: H === 1 ? 3 : 4, lengths: null });
    }
    return outs;
  }

  /** The kind's parameters as ONNX initialisers: transposed projections `[F, H·d]`, biases, the learned scale (null where absent). */
  protected abstract onnxParams(g: OnnxBuilder): Record<'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo' | 'scale', string | null>;

  /** The words of a call over `B` samples of `Tq` queries and `Tv` keys: this layer's geometry, and `regions`. */
  private callWords(B: number, Tq: number, Tv: number, causal: boolean, regions: Partial<AttnWords>): AttnWords {
    const g = this.geometry!;
    return attnWords({
      batch: B,
      q_steps: Tq,
      kv_steps: Tv,
      q_features: this.widths[0],
      k_features: this.widths[1],
      v_features: this.widths[2],
      heads: g.heads,
      key_dim: g.keyDim,
      value_dim: g.valueDim,
      out_features: g.outFeatures,
      score: g.score,
      flags: (causal ? AttnFlag.CAUSAL : 0) | (g.project ? AttnFlag.PROJECT : 0),
      factor: f32Bits(g.factor),
      ...regions,
    });
  }

  protected callConfig(): Record<string, unknown> {
    return {
      name: this.name,
      returnAttentionScores: this.returnAttentionScores,
      useCausalMask: this.useCausalMask,
      trainable: this.trainable,
    };
  }

  /**
   * One `Attend` record: each step's queries against keys and values that
   * stay put while the session steps (an encoder's outputs, `fixed`). A
   * stream cannot attend over its own earlier steps (that needs a growing key
   * cache), nor apply a causal mask to fixed keys.
   */
  override streamAll(ctx: StreamContext, xs: StreamValue[]): StreamValue[] {
    const g = this.geometry;
    if (!g) throw new ValueError(`${this.name}: used before the model was built`);
    const [q, v, k = v] = xs;
    if (q.fixed) throw new ValueError(`session: ${this.name}'s query must be this step's value`);
    if (!v.fixed || !k.fixed || v.fixed.steps === null || k.fixed.steps !== v.fixed.steps) {
      throw new ValueError(
        `session: ${this.name} attends over the stream's own steps; a session attends only to fixed keys and values (an encoder's outputs)`,
      );
    }
    if (this.useCausalMask) throw new ValueError(`session: ${this.name} applies a causal mask to fixed keys; it cannot be streamed`);
    const [B, Tv] = [ctx.batch, v.fixed.steps];
    const [H, dk, dv, Fo] = [g.heads, g.keyDim, g.valueDim, g.outFeatures];
    const out = ctx.alloc(B * Fo);
    const probs = ctx.alloc(B * H * Tv);
    const ws = g.project
      ? {
          qp: ctx.alloc(B * H * dk).ptr,
          kp: ctx.alloc(B * Tv * H * dk).ptr,
          vp: ctx.alloc(B * Tv * H * dv).ptr,
          ctx: ctx.alloc(B * H * dv).ptr,
        }
      : {};
    const w = this.callWords(B, 1, Tv, false, {
      q: q.buf.ptr,
      k: k.buf.ptr,
      v: v.buf.ptr,
      kv_lengths: v.fixed.lengths ? v.fixed.lengths.ptr : 0,
      ...this.paramWords((p) => (p ? ctx.param(p.name) : 0)),
      ...ws,
      probs: probs.ptr,
      out: out.ptr,
    });
    const words = ctx.alloc(ATTN_FIELDS.length, 'i32').set(ATTN_FIELDS.map((f) => w[f] >>> 0));
    ctx.record('Attend', { call: words.ptr });
    const outs: StreamValue[] = [{ buf: out, features: Fo }];
    if (this.returnAttentionScores) outs.push({ buf: probs, features: H * Tv });
    return outs;
  }
}

export interface AttentionArgs extends AttentionBaseArgs {
  /** A learned scalar multiplying the scores (Keras `use_scale`, initialised to 1). */
  useScale?: boolean;
  /** 'dot' only (Keras' 'concat' is refused). */
  scoreMode?: 'dot';
}

export interface AdditiveAttentionArgs extends AttentionBaseArgs {
  /** A learned vector weighting the tanh terms (Keras `use_scale`, default true, glorotUniform). */
  useScale?: boolean;
  scaleInitializer?: Initializer;
}

/** One head over the inputs as they are (no projections), with an optional learned `scale`. */
abstract class SingleHeadAttention extends AttentionLayer {
  readonly useScale: boolean;
  protected scale: ParamSpec | null = null;

  constructor(args: AttentionBaseArgs & { useScale?: boolean }, defaultName: string, useScaleDefault: boolean) {
    super(args, defaultName);
    this.useScale = args.useScale ?? useScaleDefault;
  }

  /** The score kind, and the learned scale's declaration for `width` features. */
  protected abstract readonly score: AttnScore;
  protected abstract declareScale(width: number): ParamSpec;

  protected declare(fq: number, fk: number, fv: number): AttentionGeometry {
    if (fq !== fk) throw new ShapeError(`${this.name}: query (${fq} features) and key (${fk}) must have the same width`);
    if (this.useScale) this.scale = this.declareScale(fq);
    return { heads: 1, keyDim: fq, valueDim: fv, outFeatures: fv, score: this.score, project: false, factor: 1 };
  }

  protected paramWords(at: (p: ParamSpec | null) => number): Partial<AttnWords> {
    return { scale: at(this.scale) };
  }

  protected gradWords(at: (p: ParamSpec | null) => number): Partial<AttnGradWords> {
    return { dscale: at(this.scale) };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.callConfig(), useScale: this.useScale };
  }

  protected onnxParams(g: OnnxBuilder): Record<'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo' | 'scale', string | null> {
    const none = { wq: null, bq: null, wk: null, bk: null, wv: null, bv: null, wo: null, bo: null };
    if (!this.scale) return { ...none, scale: null };
    const w = g.weight('scale');
    return { ...none, scale: g.init(`${this.name}.scale`, w.shape, w.data) };
  }
}

/** Keras `Attention`: `softmax(scale · q·kᵀ) · v`. */
export class Attention extends SingleHeadAttention {
  readonly className = 'Attention';
  protected readonly score = AttnScore.Dot;

  constructor(args: AttentionArgs = {}) {
    super(args, 'attention', false);
    if (args.scoreMode !== undefined && args.scoreMode !== 'dot') {
      throw new ValueError(`${this.name}: scoreMode ${JSON.stringify(args.scoreMode)} is not supported ('dot')`);
    }
  }

  protected declareScale(): ParamSpec {
    return this.addParam('scale', [1], (_rng, write) => write(0, 1));
  }
}

/** Keras `AdditiveAttention` (Bahdanau): `softmax_j(Σ_d scale[d]·tanh(q[i, d] + k[j, d])) · v`. */
export class AdditiveAttention extends SingleHeadAttention {
  readonly className = 'AdditiveAttention';
  protected readonly score = AttnScore.Additive;

  constructor(private readonly args: AdditiveAttentionArgs = {}) {
    super(args, 'additive_attention', true);
  }

  /** Keras: shape `[dim]`, glorotUniform with fan in = fan out = dim. */
  protected declareScale(width: number): ParamSpec {
    return this.addParam(
      'scale',
      [width],
      initMatrix(this.args.scaleInitializer ?? 'glorotUniform', 1, width, { fanIn: width, fanOut: width }, (_r, c) => c),
    );
  }
}

/** Keras `Attention` / `AdditiveAttention`: the learned scale as it is. */
const keras: KerasMapping = {
  classNames: ['Attention', 'AdditiveAttention'],
  import(k) {
    const c = k.config;
    if ((c.dropout ?? 0) !== 0) throw k.error('dropout on the attention weights is not supported');
    const useScale = c.use_scale === undefined ? k.className === 'AdditiveAttention' : c.use_scale === true;
    if (k.className === 'Attention') {
      if (c.score_mode !== undefined && c.score_mode !== 'dot')
        throw k.error(`score_mode ${JSON.stringify(c.score_mode)} is not supported`);
      const layer = new Attention({ name: k.name, useScale, useCausalMask: c.causal === true });
      return { layer, weights: useScale ? { [`${k.name}.scale`]: k.weight('scale').data } : {} };
    }
    const layer = new AdditiveAttention({ name: k.name, useScale, useCausalMask: c.causal === true });
    return { layer, weights: useScale ? { [`${k.name}.scale`]: k.weight('scale').data } : {} };
  },
};

export const attentionKind = {
  classNames: ['Attention', 'AdditiveAttention'],
  fromConfig: (className, config) =>
    className === 'Attention' ? new Attention(config as AttentionArgs) : new AdditiveAttention(config as AdditiveAttentionArgs),
  factories: {
    attention: (args: AttentionArgs = {}) => new Attention(args),
    additiveAttention: (args: AdditiveAttentionArgs = {}) => new AdditiveAttention(args),
  },
  keras,
} satisfies LayerKind;
