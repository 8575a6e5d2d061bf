// The threaded core's work, run at each thread count in turn: training a
// stacked model (bidirectional LSTM → GRU → SimpleRNN →
// softmax), batch prediction, streaming steps in f32 and with int8 weights,
// batch prediction with int8 weights, and a graph model (convolution,
// attention, merges, states: trained, predicted) and an encoder–decoder
// decoded with beam search.
// Sizes are above the core's fork threshold, so with 2 threads every matrix
// product and gate epilogue is split. A digest of every number is returned:
// the digests must not depend on the thread count (threads.test.ts, and the
// Chromium page), nor on the build (the plain simd128 build gives the same).
export async function threadScenario(lib, counts) {
  const runs = [];
  for (const n of counts) {
    const threads = lib.setThreads(n);
    const t0 = performance.now();
    const r = await run(lib);
    runs.push({ threads, ms: performance.now() - t0, ...r });
  }
  return runs;
}

function floats(n, seed) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** FNV-1a over the bit patterns: equal digests ⇔ (all but surely) identical floats. */
function digest(a) {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let h = 0x811c9dc5;
  for (const v of u) h = Math.imul(h ^ v, 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

async function run(lib) {
  const { Sequential, layers, tensor } = lib;
  const B = 24,
    T = 12,
    I = 20;
  const m = new Sequential(
    [
      layers.bidirectional({ layer: layers.lstm({ units: 96, returnSequences: true }), inputShape: [T, I] }),
      layers.gru({ units: 80, returnSequences: true }),
      layers.simpleRNN({ units: 64 }),
      layers.dense({ units: 5, activation: 'softmax' }),
    ],
    { seed: 5 },
  );
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = tensor(floats(B * T * I, 1), [B, T, I]);
  const y = tensor(
    Int32Array.from({ length: B }, (_, i) => (i * 7) % 5),
    [B],
  );
  const h = await m.fit(x, y, { epochs: 3, batchSize: 12, shuffle: false });
  const weights = digest(m.getWeightsFlat());
  const predicted = digest(m.predict(x).data);
  m.dispose();

  // streaming, f32 and int8 (the int8 GEMV is split between threads too)
  const s = new Sequential([layers.lstm({ units: 128, returnSequences: true, inputShape: [null, 32] }), layers.dense({ units: 8 })], {
    seed: 6,
  });
  const steps = [];
  const q = lib.quantize(s, { dtype: 'int8' });
  for (const model of [s, q]) {
    const sess = model.session();
    const out = [];
    for (let t = 0; t < 6; t++) out.push(...sess.step(floats(32, 100 + t)));
    steps.push(digest(Float32Array.from(out)));
    sess.dispose();
  }
  // batch prediction on int8 weights: the batch rows are split between
  // threads in pairs (odd batches leave a part an odd row, the kernel's
  // one-row tail; the reset-before GRU's second product uses each part's own
  // scratch)
  const g = new Sequential(
    [layers.gru({ units: 72, resetAfter: false, returnSequences: true, inputShape: [null, 16] }), layers.lstm({ units: 48 })],
    { seed: 7 },
  );
  const gq = lib.quantize(g, { dtype: 'int8' });
  const q8predicted = [
    digest(q.predict(tensor(floats(5 * 4 * 32, 4), [5, 4, 32])).data),
    digest(gq.predict(tensor(floats(7 * 9 * 16, 3), [7, 9, 16])).data),
  ];
  gq.dispose();
  g.dispose();
  q.dispose();
  s.dispose();
  const graph = await graphRun(lib);
  return { losses: Array.from(h.history.loss), weights, predicted, steps, q8predicted, graph };
}

/**
 * A graph model with the graph kernels (convolution, pooling, multi-head and
 * dot attention — one task per sample and head — merges, recurrent states),
 * trained, predicted, and decoded one token per step with beam search.
 */
async function graphRun(lib) {
  const { input, layers, model, tensor, decode } = lib;
  const [B, T, F] = [8, 40, 16];
  const x = input({ shape: [T, F] });
  const c = layers.conv1d({ filters: 32, kernelSize: 3, padding: 'causal', dilationRate: 2, activation: 'relu' }).apply(x);
  const [seq, h, cs] = layers.lstm({ units: 64, returnSequences: true, returnState: true }).apply(c);
  const a = layers.multiHeadAttention({ numHeads: 4, keyDim: 16 }).apply([seq, seq], { useCausalMask: true });
  const d = layers.attention({ useScale: true }).apply([a, seq]);
  const pooled = layers.globalAveragePooling1d().apply(layers.add().apply([a, d]));
  const out = layers.dense({ units: 3 }).apply(layers.concatenate().apply([pooled, h, cs]));
  const m = model({ inputs: x, outputs: out, seed: 8 });
  m.compile({ optimizer: 'adam', loss: 'mse' });
  const xt = tensor(floats(B * T * F, 11), [B, T, F]);
  const yt = tensor(floats(B * 3, 12), [B, 3]);
  const hist = await m.fit(xt, yt, { epochs: 2, batchSize: 4, shuffle: false });
  const result = { losses: Array.from(hist.history.loss), weights: digest(m.getWeightsFlat()), predicted: digest(m.predict(xt).data) };
  m.dispose();
  // an encoder–decoder decoded with beam search: attention steps and state reorders
  const enc = input({ shape: [T], dtype: 'int32' });
  const dec = input({ shape: [null], dtype: 'int32' });
  const e = layers.embedding({ inputDim: 20, outputDim: 24, maskZero: true }).apply(enc);
  const [es, eh, ec] = layers.lstm({ units: 48, returnSequences: true, returnState: true }).apply(e);
  const dd = layers
    .lstm({ units: 48, returnSequences: true })
    .apply(layers.embedding({ inputDim: 12, outputDim: 24 }).apply(dec), { initialState: [eh, ec] });
  const ctx = layers.attention().apply([dd, es]);
  const probs = layers.dense({ units: 12, activation: 'softmax' }).apply(layers.concatenate().apply([ctx, dd]));
  const s2s = model({ inputs: [enc, dec], outputs: probs, seed: 9 });
  // sample b post-padded after T − 3·(b mod 5) ids
  const ids = Int32Array.from(floats(6 * T, 13), (v, i) => (i % T < T - 3 * (Math.floor(i / T) % 5) ? 1 + Math.floor((v + 1) * 9.5) : 0));
  const r = decode(s2s, { encoderInputs: tensor(ids, [6, T]), startToken: 1, stopToken: 2, maxLength: 8, beamWidth: 3 });
  result.decoded = digest(Float32Array.from(r.sequences.flat().concat(r.scores)));
  s2s.dispose();
  return result;
}
