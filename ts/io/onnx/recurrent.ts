/**
 * ONNX `LSTM`, `GRU` and `RNN` nodes on the SIMD kernels.
 *
 * Porting notes (onnx `docs/Operators.md`; ../shared/INTEROP.md §4–5):
 * - ONNX gate order LSTM i,o,f,c → ours i,f,g,o (ours block k = ONNX block
 *   [0, 2, 3, 1][k]); GRU z,r,h → ours r,z,n ([1, 0, 2]); `B = [Wb, Rb]` →
 *   `b_ih = Wb`, `b_hh = Rb` (permuted). ONNX applies `x·Wᵀ` like PyTorch.
 * - GRU `linear_before_reset = 1` is PyTorch's cell; `0` is our reset-before
 *   cell (both h-biases simply add).
 * - `direction`: forward, reverse (one reversed direction, outputs
 *   time-aligned) or bidirectional; `sequence_lens`: zero outputs past each
 *   length, `Y_h` at the last valid step, reverse within the length (as ORT).
 * - `layout` 0 (`[T, N, I]`) and 1 (`[N, T, I]`, opset ≥ 14).
 * - `activations`: gates Sigmoid, or HardSigmoid with (α, β) = (0.2, 0.5) or
 *   (1/6, 0.5); cell/hidden Tanh; RNN Tanh or Relu. Both directions must use the
 *   same. `clip`, `input_forget`, peepholes `P` and other activations are
 *   refused with the attribute named — never ignored.
 */
import { FormatError } from '../../errors.js';
import { RecurrentKernel, type CellType, type GateActivation } from '../../ops/recurrent.js';
import { floatT, transpose, type Attrs, type HostTensor } from './ops.js';

const PERM: Record<string, number[]> = { LSTM: [0, 2, 3, 1], GRU: [1, 0, 2], RNN: [0] };
const GATES: Record<string, number> = { LSTM: 4, GRU: 3, RNN: 1 };

function permuteRows(src: Float32Array, G: number, H: number, cols: number, perm: number[]): Float32Array {
  const out = new Float32Array(G * H * cols);
  for (let k = 0; k < G; k++) out.set(src.subarray(perm[k] * H * cols, (perm[k] + 1) * H * cols), k * H * cols);
  return out;
}

export class OnnxRecurrent {
  readonly kernel: RecurrentKernel;
  readonly D: 1 | 2;
  readonly H: number;
  readonly I: number;
  readonly layout: 0 | 1;
  readonly reverse: boolean;
  readonly cell: CellType;

  constructor(
    readonly op: 'LSTM' | 'GRU' | 'RNN',
    attrs: Attrs,
    W: HostTensor,
    R: HostTensor,
    B: HostTensor | undefined,
    hasPeepholes: boolean,
    readonly name: string,
  ) {
    const where = `ONNX ${op} node "${name}"`;
    const str = (k: string, d: string) => (attrs.has(k) ? String(attrs.get(k)) : d);
    const num = (k: string, d: number) => (attrs.has(k) ? Number(attrs.get(k)) : d);
    if (attrs.has('clip')) throw new FormatError(`${where}: attribute clip is not supported`);
    if (num('input_forget', 0) !== 0) throw new FormatError(`${where}: attribute input_forget is not supported`);
    if (hasPeepholes) throw new FormatError(`${where}: peephole weights (input P) are not supported`);
    const direction = str('direction', 'forward');
    if (!['forward', 'reverse', 'bidirectional'].includes(direction))
      throw new FormatError(`${where}: direction "${direction}" is not valid`);
    this.D = direction === 'bidirectional' ? 2 : 1;
    this.reverse = direction === 'reverse';
    const layout = num('layout', 0);
    if (layout !== 0 && layout !== 1) throw new FormatError(`${where}: layout ${layout} is not valid`);
    this.layout = layout as 0 | 1;
    const H = num('hidden_size', NaN);
    const G = GATES[op];
    if (W.kind !== 'float' || R.kind !== 'float' || W.shape.length !== 3 || R.shape.length !== 3)
      throw new FormatError(`${where}: W and R must be float [D, G·H, ·] tensors`);
    if (!Number.isInteger(H) || H <= 0) {
      if (!attrs.has('hidden_size')) throw new FormatError(`${where}: hidden_size is missing`);
      throw new FormatError(`${where}: hidden_size ${H} is not valid`);
    }
    const I = W.shape[2];
    if (W.shape[0] !== this.D || W.shape[1] !== G * H || R.shape[0] !== this.D || R.shape[1] !== G * H || R.shape[2] !== H) {
      throw new FormatError(`${where}: W [${W.shape}] / R [${R.shape}] do not fit direction ${direction}, hidden_size ${H}`);
    }
    if (B && (B.kind !== 'float' || B.shape.length !== 2 || B.shape[0] !== this.D || B.shape[1] !== 2 * G * H)) {
      throw new FormatError(`${where}: B [${B.shape}] should be [${this.D}, ${2 * G * H}]`);
    }
    this.H = H;
    this.I = I;

    // activations, per direction
    const acts = attrs.has('activations') ? (attrs.get('activations') as string[]) : null;
    const alphas = attrs.has('activation_alpha') ? (attrs.get('activation_alpha') as number[]) : [];
    const betas = attrs.has('activation_beta') ? (attrs.get('activation_beta') as number[]) : [];
    const perDir = op === 'LSTM' ? 3 : op === 'GRU' ? 2 : 1;
    const defaults = op === 'RNN' ? ['Tanh'] : op === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Sigmoid', 'Tanh', 'Tanh'];
    let list = acts ?? [...defaults, ...(this.D === 2 ? defaults : [])];
    if (list.length === perDir && this.D === 2) list = [...list, ...list];
    if (list.length !== perDir * this.D)
      throw new FormatError(`${where}: activations [${list.join(', ')}] should list ${perDir * this.D} functions`);
    let ai = 0;
    let bi = 0;
    const parsed = list.map((a) => {
      if (a === 'HardSigmoid') {
        const alpha = alphas[ai++] ?? 0.2;
        const beta = betas[bi++] ?? 0.5;
        const gate =
          Math.abs(alpha - 0.2) < 1e-7 && Math.abs(beta - 0.5) < 1e-7
            ? 'hardSigmoid'
            : Math.abs(alpha - 1 / 6) < 1e-7 && Math.abs(beta - 0.5) < 1e-7
              ? 'hardSigmoid6'
              : null;
        if (!gate)
          throw new FormatError(`${where}: activation HardSigmoid with alpha ${alpha}, beta ${beta} is not supported (0.2/0.5 or 1/6/0.5)`);
        return gate;
      }
      if (['Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'Elu', 'Softsign', 'Softplus'].includes(a)) {
        throw new FormatError(`${where}: activation ${a} is not supported`);
      }
      return a;
    });
    const one = parsed.slice(0, perDir);
    if (this.D === 2 && parsed.slice(perDir).join() !== one.join())
      throw new FormatError(`${where}: the two directions use different activations`);
    let gate: GateActivation = 'sigmoid';
    let nonlinearity: 'tanh' | 'relu' = 'tanh';
    if (op === 'RNN') {
      if (one[0] === 'Relu') nonlinearity = 'relu';
      else if (one[0] !== 'Tanh') throw new FormatError(`${where}: activation ${one[0]} is not supported (Tanh or Relu)`);
    } else {
      const f = one[0];
      if (f === 'Sigmoid') gate = 'sigmoid';
      else if (f === 'hardSigmoid' || f === 'hardSigmoid6') gate = f;
      else throw new FormatError(`${where}: gate activation ${f} is not supported`);
      for (const g of one.slice(1)) if (g !== 'Tanh') throw new FormatError(`${where}: activation ${g} is not supported (Tanh)`);
    }
    const lbr = num('linear_before_reset', 0);
    this.cell = op === 'LSTM' ? 'lstm' : op === 'GRU' ? 'gru' : 'rnn';

    const perm = PERM[op];
    const params = new Float32Array(this.D * G * H * (I + H + 2));
    const per = G * H * (I + H + 2);
    for (let d = 0; d < this.D; d++) {
      const o = d * per;
      params.set(permuteRows(W.data.subarray(d * G * H * I, (d + 1) * G * H * I) as Float32Array, G, H, I, perm), o);
      params.set(permuteRows(R.data.subarray(d * G * H * H, (d + 1) * G * H * H) as Float32Array, G, H, H, perm), o + G * H * I);
      if (B) {
        const b = B.data.subarray(d * 2 * G * H, (d + 1) * 2 * G * H) as Float32Array;
        params.set(permuteRows(b.subarray(0, G * H), G, H, 1, perm), o + G * H * (I + H));
        params.set(permuteRows(b.subarray(G * H), G, H, 1, perm), o + G * H * (I + H + 1));
      }
    }
    this.kernel = new RecurrentKernel(
      {
        cell: this.cell,
        inputSize: I,
        hiddenSize: H,
        bidirectional: this.D === 2,
        nonlinearity,
        resetAfter: op === 'GRU' ? lbr !== 0 : undefined,
        gateActivation: gate,
      },
      { params },
    );
  }

  /** Run the node: returns `[Y, Y_h, Y_c?]` in the node's layout. */
  run(X: HostTensor, seqLens?: HostTensor, h0?: HostTensor, c0?: HostTensor): HostTensor[] {
    const where = `ONNX ${this.op} node "${this.name}"`;
    if (X.kind !== 'float' || X.shape.length !== 3) throw new FormatError(`${where}: X must be a 3-D float tensor; got [${X.shape}]`);
    const [T, N] = this.layout === 0 ? [X.shape[0], X.shape[1]] : [X.shape[1], X.shape[0]];
    if (X.shape[2] !== this.I) throw new FormatError(`${where}: X has ${X.shape[2]} features; W expects ${this.I}`);
    const { D, H } = this;
    const state = (t: HostTensor | undefined, what: string) => {
      if (!t) return undefined;
      const want = this.layout === 0 ? [D, N, H] : [N, D, H];
      if (t.kind !== 'float' || t.shape.join() !== want.join())
        throw new FormatError(`${where}: ${what} must be [${want}]; got [${t.shape}]`);
      return this.layout === 0 ? (t.data as Float32Array) : (transpose(t, [1, 0, 2]).data as Float32Array);
    };
    let lengths: number[] | undefined;
    if (seqLens) {
      if (seqLens.kind !== 'int' || seqLens.shape.join() !== String(N)) throw new FormatError(`${where}: sequence_lens must be int [${N}]`);
      lengths = Array.from(seqLens.data);
      for (const l of lengths)
        if (!(Number.isInteger(l) && l >= 0 && l <= T)) throw new FormatError(`${where}: sequence length ${l} outside [0, ${T}]`);
    }
    if (T === 0 || N === 0) throw new FormatError(`${where}: empty input [${X.shape}]`);
    const out = this.kernel.forward({
      x: X.data as Float32Array,
      seqLen: T,
      batchSize: N,
      batchFirst: this.layout === 1,
      h0: state(h0, 'initial_h'),
      c0: this.op === 'LSTM' ? state(c0, 'initial_c') : undefined,
      lengths,
      reverse: this.reverse,
    });
    // ours: [T, N, D·H] (layout 0) / [N, T, D·H] (layout 1); hn [D, N, H]
    const Y = this.layout === 0 ? transpose(floatT([T, N, D, H], out.y), [0, 2, 1, 3]) : floatT([N, T, D, H], out.y);
    const fix = (s: Float32Array) => (this.layout === 0 ? floatT([D, N, H], s) : transpose(floatT([D, N, H], s), [1, 0, 2]));
    const res = [Y, fix(out.hn)];
    if (out.cn) res.push(fix(out.cn));
    return res;
  }

  dispose(): void {
    this.kernel.dispose();
  }
}
