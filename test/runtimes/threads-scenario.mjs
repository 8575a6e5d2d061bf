// The threaded core's work, run at each thread count in turn: training a
// stacked model (bidirectional LSTM → GRU → SimpleRNN →
// softmax), batch prediction, streaming steps in f32 and with int8 weights,
// batch prediction with int8 weights.
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
  return { losses: Array.from(h.history.loss), weights, predicted, steps, q8predicted };
}
