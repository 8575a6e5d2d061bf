/**
 * A float64 reference of one recurrent layer, written from the textbook
 * equations independently of the kernels (per sample, per step, per unit),
 * with PyTorch's gate orders and packed-sequence semantics.
 */
export type RefCell = 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru' | 'gru_reset_before';

export interface RefLayer {
  cell: RefCell;
  I: number;
  H: number;
  D: number;
  /** per direction: W_ih [G·H, I], W_hh [G·H, H], b_ih [G·H], b_hh [G·H] */
  params: Float64Array;
}

export const gatesOf = (c: RefCell) => (c === 'lstm' ? 4 : c.startsWith('gru') ? 3 : 1);

const sig = (v: number) => 1 / (1 + Math.exp(-v));

export function refForward(
  L: RefLayer,
  x: Float64Array,
  T: number,
  B: number,
  batchFirst: boolean,
  h0?: Float64Array,
  c0?: Float64Array,
  lengths?: number[],
): { y: Float64Array; hn: Float64Array; cn: Float64Array } {
  const { cell, I, H, D, params } = L;
  const G = gatesOf(cell) * H;
  const row = (t: number, b: number) => (batchFirst ? b * T + t : t * B + b);
  const y = new Float64Array(T * B * D * H);
  const hn = new Float64Array(D * B * H);
  const cn = new Float64Array(D * B * H);
  const per = G * (I + H + 2);
  for (let d = 0; d < D; d++) {
    const o = d * per;
    const wih = (g: number, k: number) => params[o + g * I + k];
    const whh = (g: number, k: number) => params[o + G * I + g * H + k];
    const bih = (g: number) => params[o + G * (I + H) + g];
    const bhh = (g: number) => params[o + G * (I + H + 1) + g];
    for (let b = 0; b < B; b++) {
      const len = lengths ? lengths[b] : T;
      let h = Array.from({ length: H }, (_, j) => (h0 ? h0[(d * B + b) * H + j] : 0));
      const c = Array.from({ length: H }, (_, j) => (c0 ? c0[(d * B + b) * H + j] : 0));
      for (let s = 0; s < len; s++) {
        const t = d === 1 ? len - 1 - s : s;
        const r0 = row(t, b) * I;
        const ax = Array.from({ length: G }, (_, g) => {
          let v = bih(g);
          for (let k = 0; k < I; k++) v += wih(g, k) * x[r0 + k];
          return v;
        });
        const ah = Array.from({ length: G }, (_, g) => {
          let v = bhh(g);
          for (let k = 0; k < H; k++) v += whh(g, k) * h[k];
          return v;
        });
        const nh = new Array<number>(H);
        if (cell === 'rnn_tanh' || cell === 'rnn_relu') {
          for (let j = 0; j < H; j++) nh[j] = cell === 'rnn_tanh' ? Math.tanh(ax[j] + ah[j]) : Math.max(0, ax[j] + ah[j]);
        } else if (cell === 'lstm') {
          for (let j = 0; j < H; j++) {
            const i = sig(ax[j] + ah[j]);
            const f = sig(ax[H + j] + ah[H + j]);
            const g = Math.tanh(ax[2 * H + j] + ah[2 * H + j]);
            const og = sig(ax[3 * H + j] + ah[3 * H + j]);
            c[j] = f * c[j] + i * g;
            nh[j] = og * Math.tanh(c[j]);
          }
        } else {
          const r = Array.from({ length: H }, (_, j) => sig(ax[j] + ah[j]));
          for (let j = 0; j < H; j++) {
            const z = sig(ax[H + j] + ah[H + j]);
            let n: number;
            if (cell === 'gru') n = Math.tanh(ax[2 * H + j] + r[j] * ah[2 * H + j]);
            else {
              let v = bhh(2 * H + j);
              for (let k = 0; k < H; k++) v += whh(2 * H + j, k) * r[k] * h[k];
              n = Math.tanh(ax[2 * H + j] + v);
            }
            nh[j] = (1 - z) * n + z * h[j];
          }
        }
        h = nh;
        for (let j = 0; j < H; j++) y[row(t, b) * D * H + d * H + j] = h[j];
      }
      for (let j = 0; j < H; j++) {
        hn[(d * B + b) * H + j] = h[j];
        cn[(d * B + b) * H + j] = c[j];
      }
    }
  }
  return { y, hn, cn };
}
