/**
 * `layers.multiHeadAttention` (Keras `MultiHeadAttention`): queries, keys and
 * values projected to `numHeads` heads of `keyDim` (`valueDim`) features,
 * scaled dot-product attention per head, the heads' outputs concatenated and
 * projected to `outputShape` features (default: the query's). Forward and
 * backward are one core call each for the whole batch, projections included.
 *
 * Parameters in PyTorch `nn.MultiheadAttention` names and layout (separate
 * projection weights, as PyTorch keeps them when key/value widths differ):
 * `q_proj_weight [H·dk, Fq]`, `k_proj_weight [H·dk, Fk]`, `v_proj_weight
 * [H·dv, Fv]`, `in_proj_bias [2·H·dk + H·dv]`, `out_proj.weight [Fo, H·dv]`,
 * `out_proj.bias [Fo]`. Keras stores `query/kernel [Fq, H, dk]` and so on
 * (reshaped on import); initialisers follow Keras (glorotUniform with Keras'
 * fans for those 3-D kernels, biases zeros).
 */
import { ValueError } from '../errors.js';
import type { AttnGradWords, AttnWords } from '../ops/attention.js';
import { AttnScore } from '../runtime/contract.js';
import { type AttentionBaseArgs, type AttentionGeometry, AttentionLayer } from './attention.js';
import { initMatrix, type KerasMapping, type LayerKind, type OnnxBuilder, type ParamSpec, transpose } from './base.js';
import type { Initializer } from './initializers.js';

export interface MultiHeadAttentionArgs extends AttentionBaseArgs {
  numHeads: number;
  /** Features per head of queries and keys. */
  keyDim: number;
  /** Features per head of values (default `keyDim`). */
  valueDim?: number;
  useBias?: boolean;
  /** Output features (default: the query's). */
  outputShape?: number;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
}

export class MultiHeadAttention extends AttentionLayer {
  readonly className = 'MultiHeadAttention';
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly useBias: boolean;
  private p: Record<'wq' | 'wk' | 'wv' | 'bias' | 'wo' | 'bo', ParamSpec | null> = {
    wq: null,
    wk: null,
    wv: null,
    bias: null,
    wo: null,
    bo: null,
  };

  constructor(private readonly args: MultiHeadAttentionArgs) {
    super(args, 'multi_head_attention');
    const pos = (k: string, v: unknown) => {
      if (!Number.isInteger(v) || (v as number) <= 0)
        throw new ValueError(`${this.name}: ${k} must be a positive integer; got ${String(v)}`);
      return v as number;
    };
    this.numHeads = pos('numHeads', args?.numHeads);
    this.keyDim = pos('keyDim', args.keyDim);
    this.valueDim = pos('valueDim', args.valueDim ?? args.keyDim);
    if (args.outputShape !== undefined) pos('outputShape', args.outputShape);
    this.useBias = args.useBias ?? true;
  }

  protected declare(fq: number, fk: number, fv: number): AttentionGeometry {
    const [H, dk, dv] = [this.numHeads, this.keyDim, this.valueDim];
    const fo = this.args.outputShape ?? fq;
    const kInit = this.args.kernelInitializer ?? 'glorotUniform';
    const bInit = this.args.biasInitializer ?? 'zeros';
    // Keras kernel [F, H, d] as rows f × columns (h, d): fans H·F and d·F → ours [H·d, F]
    const proj = (name: string, F: number, d: number) =>
      this.addParam(
        name,
        [H * d, F],
        initMatrix(kInit, F, H * d, { fanIn: H * F, fanOut: d * F }, (f, c) => c * F + f),
        undefined,
        true,
      );
    this.p.wq = proj('q_proj_weight', fq, dk);
    this.p.wk = proj('k_proj_weight', fk, dk);
    this.p.wv = proj('v_proj_weight', fv, dv);
    const nb = 2 * H * dk + H * dv;
    if (this.useBias)
      this.p.bias = this.addParam(
        'in_proj_bias',
        [nb],
        initMatrix(bInit, 1, nb, { fanIn: nb, fanOut: nb }, (_r, c) => c),
      );
    // Keras output kernel [H, dv, Fo] as rows (h, e) × columns o: fans dv·H and Fo·H
    this.p.wo = this.addParam(
      'out_proj.weight',
      [fo, H * dv],
      initMatrix(kInit, H * dv, fo, { fanIn: dv * H, fanOut: fo * H }, (r, o) => o * H * dv + r),
      undefined,
      true,
    );
    if (this.useBias)
      this.p.bo = this.addParam(
        'out_proj.bias',
        [fo],
        initMatrix(bInit, 1, fo, { fanIn: fo, fanOut: fo }, (_r, c) => c),
      );
    return { heads: H, keyDim: dk, valueDim: dv, outFeatures: fo, score: AttnScore.Dot, project: true, factor: 1 / Math.sqrt(dk) };
  }

  /** Biases sit in one `in_proj_bias`: q's, then k's, then v's. */
  private biasParts(base: number): [number, number, number] {
    if (!base) return [0, 0, 0];
    const hk = this.numHeads * this.keyDim;
    return [base, base + hk * 4, base + 2 * hk * 4];
  }

  protected paramWords(at: (p: ParamSpec | null) => number): Partial<AttnWords> {
    const [bq, bk, bv] = this.biasParts(at(this.p.bias));
    return { wq: at(this.p.wq), bq, wk: at(this.p.wk), bk, wv: at(this.p.wv), bv, wo: at(this.p.wo), bo: at(this.p.bo) };
  }

  protected gradWords(at: (p: ParamSpec | null) => number): Partial<AttnGradWords> {
    const [dbq, dbk, dbv] = this.biasParts(at(this.p.bias));
    return { dwq: at(this.p.wq), dbq, dwk: at(this.p.wk), dbk, dwv: at(this.p.wv), dbv, dwo: at(this.p.wo), dbo: at(this.p.bo) };
  }

  /** `x·Wᵀ` as `MatMul(x, Wᵀ)`: the projections transposed to `[F, H·d]`; the biases split out of `in_proj_bias`. */
  protected onnxParams(g: OnnxBuilder): Record<'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo' | 'scale', string | null> {
    const t = (name: string) => {
      const w = g.weight(name);
      const [rows, cols] = w.shape;
      return g.init(`${this.name}.${name}_t`, [cols, rows], transpose(rows, cols, w.data));
    };
    const [H, dk, dv] = [this.numHeads, this.keyDim, this.valueDim];
    const b = this.useBias ? g.weight('in_proj_bias').data : null;
    const part = (name: string, from: number, n: number) => (b ? g.init(`${this.name}.${name}`, [n], b.subarray(from, from + n)) : null);
    return {
      wq: t('q_proj_weight'),
      bq: part('bq', 0, H * dk),
      wk: t('k_proj_weight'),
      bk: part('bk', H * dk, H * dk),
      wv: t('v_proj_weight'),
      bv: part('bv', 2 * H * dk, H * dv),
      wo: t('out_proj.weight'),
      bo: this.useBias ? g.init(`${this.name}.out_proj.bias`, g.weight('out_proj.bias').shape, g.weight('out_proj.bias').data) : null,
      scale: null,
    };
  }

  getConfig(): Record<string, unknown> {
    return {
      ...this.callConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      useBias: this.useBias,
      outputShape: this.args.outputShape,
    };
  }
}

/**
 * Keras `MultiHeadAttention`: `query/kernel [Fq, H, dk]` → `q_proj_weight
 * [H·dk, Fq]`, biases `[H, dk]` concatenated into `in_proj_bias`,
 * `attention_output/kernel [H, dv, Fo]` → `out_proj.weight [Fo, H·dv]`.
 * Attention over one axis only (`attention_axes` refused otherwise).
 */
const keras: KerasMapping = {
  classNames: ['MultiHeadAttention'],
  import(k) {
    const c = k.config;
    if ((c.dropout ?? 0) !== 0) throw k.error('dropout on the attention weights is not supported');
    // over the time axis only: Keras writes the default as [1] once built
    const axes = c.attention_axes;
    if (axes !== undefined && axes !== null && !(Array.isArray(axes) && axes.length === 1 && (axes[0] === 1 || axes[0] === -2))) {
      throw k.error(`attention_axes ${JSON.stringify(axes)} is not supported (attention over the time axis only)`);
    }
    const H = Number(c.num_heads);
    const dk = Number(c.key_dim);
    const dv = c.value_dim === undefined || c.value_dim === null ? dk : Number(c.value_dim);
    const useBias = c.use_bias !== false;
    const out = c.output_shape;
    const outputShape = out === undefined || out === null ? undefined : Array.isArray(out) ? Number(out[out.length - 1]) : Number(out);
    const layer = new MultiHeadAttention({ name: k.name, numHeads: H, keyDim: dk, valueDim: dv, useBias, outputShape });
    // [F, H, d] → [H·d, F]
    const proj = (sub: string) => {
      const w = k.weight('kernel', sub);
      const F = w.shape[0];
      const hd = w.data.length / F;
      const t = new Float32Array(w.data.length);
      for (let f = 0; f < F; f++) for (let j = 0; j < hd; j++) t[j * F + f] = w.data[f * hd + j];
      return t;
    };
    const weights: Record<string, Float32Array> = {
      [`${k.name}.q_proj_weight`]: proj('query'),
      [`${k.name}.k_proj_weight`]: proj('key'),
      [`${k.name}.v_proj_weight`]: proj('value'),
    };
    const wo = k.weight('kernel', 'attention_output'); // [H, dv, Fo]
    const fo = wo.shape[wo.shape.length - 1];
    const rows = wo.data.length / fo;
    const t = new Float32Array(wo.data.length);
    for (let r = 0; r < rows; r++) for (let o = 0; o < fo; o++) t[o * rows + r] = wo.data[r * fo + o];
    weights[`${k.name}.out_proj.weight`] = t;
    if (useBias) {
      const parts = ['query', 'key', 'value'].map((s) => k.weight('bias', s).data);
      const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      weights[`${k.name}.in_proj_bias`] = all;
      weights[`${k.name}.out_proj.bias`] = k.weight('bias', 'attention_output').data;
    }
    return { layer, weights };
  },
};

export const multiHeadAttentionKind = {
  classNames: ['MultiHeadAttention'],
  fromConfig: (_c, config) => new MultiHeadAttention(config as unknown as MultiHeadAttentionArgs),
  factories: { multiHeadAttention: (args: MultiHeadAttentionArgs) => new MultiHeadAttention(args) },
  keras,
} satisfies LayerKind;
