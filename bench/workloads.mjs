// The benchmark workloads, shared by every library's runner, with their
// sizes, FLOP counts and deterministic data and weights (same numbers for all).

export const W = {
  W1: { cell: 'lstm', I: 64, H: 256, B: 1, T: 100, what: 'streaming LSTM, batch 1, 100 steps' },
  W2: { cell: 'lstm', I: 64, H: 256, B: 32, T: 100, what: 'batch inference LSTM' },
  W4: { cell: 'gru', I: 64, H: 256, B: 32, T: 100, what: 'batch inference GRU' },
  W3: { cell: 'lstm', I: 64, H: 256, B: 32, T: 50, what: 'training step LSTM → dense(1) on the last step, MSE, Adam' },
  W3g: { cell: 'gru', I: 64, H: 256, B: 32, T: 50, what: 'training step GRU → dense(1), MSE, Adam' },
  W5: { cell: 'lstm', V: 65, E: 32, H: 128, B: 32, T: 50, what: 'char-LM training step: embedding → LSTM(128) → softmax CE every step' },
  W6: {
    I: 64,
    H: 256,
    heads: 4,
    B: 32,
    T: 100,
    what: 'training step: LSTM(256, sequences) → 4-head self-attention (keyDim 64) → mean over steps → dense(1), MSE, Adam',
  },
  W7: {
    B: 64,
    Tin: 30,
    Tout: 11,
    Vin: 42,
    Vout: 13,
    E: 32,
    Henc: 64,
    Hdec: 128,
    what: 'date translation training step: bidirectional LSTM(64) encoder, its states starting an LSTM(128) decoder, dot attention, softmax CE, Adam',
  },
};

export const SMOKE = {
  W1: { ...W.W1, T: 20 },
  W2: { ...W.W2, B: 8, T: 20 },
  W4: { ...W.W4, B: 8, T: 20 },
  W3: { ...W.W3, B: 8, T: 10 },
  W3g: { ...W.W3g, B: 8, T: 10 },
  W5: { ...W.W5, B: 8, T: 10 },
  W6: { ...W.W6, B: 4, T: 12 },
  W7: { ...W.W7, B: 8 },
};

/** W6 forward FLOPs of the attention layer alone: the four projections and the two products per head. */
export function attentionFlops(w) {
  const dk = w.H / w.heads;
  return 2 * w.B * w.T * w.H * w.H * 4 + 2 * 2 * w.B * w.heads * w.T * w.T * dk;
}

/** W6 training FLOPs: 3× the forward of the LSTM and the attention (the head is negligible). */
export function w6TrainFlops(w) {
  return 3 * (forwardFlops({ cell: 'lstm', I: w.I, H: w.H, B: w.B, T: w.T }) + attentionFlops(w));
}

/** W7 training FLOPs: 3× the forward of the encoder, decoder, attention and output layer. */
export function w7TrainFlops(w) {
  const enc = 2 * forwardFlops({ cell: 'lstm', I: w.E, H: w.Henc, B: w.B, T: w.Tin });
  const dec = forwardFlops({ cell: 'lstm', I: w.E, H: w.Hdec, B: w.B, T: w.Tout });
  const att = 2 * 2 * w.B * w.Tout * w.Tin * w.Hdec;
  const out = 2 * w.B * w.Tout * 2 * w.Hdec * w.Vout;
  return 3 * (enc + dec + att + out);
}

const GATES = { lstm: 4, gru: 3, rnn: 1 };

/** Forward FLOPs of one recurrent layer over a batch (2·T·B·G·H·(I+H)). */
export function forwardFlops(w) {
  const I = w.I ?? w.E;
  return 2 * w.T * w.B * GATES[w.cell] * w.H * (I + w.H);
}

/** Training FLOPs (forward + backward ≈ 3× forward) plus the output layer. */
export function trainFlops(w) {
  const head = w.V ? 2 * w.T * w.B * w.H * w.V * 3 : 2 * w.B * w.H * 3;
  return 3 * forwardFlops(w) + head;
}

/** xorshift32 in [−scale, scale): identical in every runner. */
export function filler(seed) {
  let s = seed >>> 0 || 1;
  return (scale = 1) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296) * 2 * scale - scale;
  };
}

export function floats(n, seed, scale = 1) {
  const f = filler(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(scale);
  return a;
}

export function ints(n, seed, max) {
  const f = filler(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(((f(1) + 1) / 2) * max) % max;
  return a;
}

/**
 * Recurrent weights in our (PyTorch) layout for one direction: W_ih [G·H, I],
 * W_hh [G·H, H], b_ih, b_hh [G·H], scaled like PyTorch's default init.
 */
export function recurrentWeights(cell, I, H, seed = 7) {
  const G = GATES[cell];
  const k = 1 / Math.sqrt(H);
  return {
    w_ih: floats(G * H * I, seed, k),
    w_hh: floats(G * H * H, seed + 1, k),
    b_ih: floats(G * H, seed + 2, k),
    b_hh: floats(G * H, seed + 3, k),
  };
}

/**
 * Timing: warm-up, then `reps` runs (or until `minMs`), cut short after
 * `maxMs` once 3 runs are in (the slowest peers take tens of seconds a run);
 * median and min–max in ms.
 */
export async function time(fn, { warmup = 2, reps = 10, minMs = 0, maxMs = 30e3 } = {}) {
  const w0 = performance.now();
  for (let i = 0; i < warmup && (i === 0 || performance.now() - w0 < maxMs / 3); i++) await fn();
  const t = [];
  const start = performance.now();
  while ((t.length < reps || performance.now() - start < minMs) && !(t.length >= 3 && performance.now() - start > maxMs)) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1], min: t[0], max: t[t.length - 1], n: t.length };
}
