// @tensorflow/tfjs with its cpu or wasm backend (devDependencies).
import { createRequire } from 'node:module';
import { config, emit, reps } from './common.mjs';
import { W, SMOKE, time, floats, ints, recurrentWeights, forwardFlops, trainFlops, w6TrainFlops, w7TrainFlops } from '../workloads.mjs';

const cfg = config();
const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');
if (cfg.backend === 'wasm') {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
  if (cfg.threads) wasm.setThreadsCount(cfg.threads);
}
await tf.setBackend(cfg.backend ?? 'cpu');
await tf.ready();
const w = cfg.smoke ? SMOKE : W;
const out = [];
const push = (id, label, t, flops, extra = {}) => out.push({ id, label, ...t, gflops: flops ? flops / t.median / 1e6 : null, ...extra });

/** A Keras layer with our weights: kernel = W_ihᵀ, recurrent = W_hhᵀ, one bias (LSTM i,f,c,o = ours i,f,g,o). */
function rnnLayer(s, opts) {
  const L = s.cell === 'lstm' ? tf.layers.lstm : tf.layers.gru;
  // glorot rather than Keras' orthogonal recurrent init: tf.js' QR on a 256×1024
  // matrix takes minutes on the cpu backend, and the weights are set anyway
  return L({ units: s.H, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform', ...opts });
}
function setRnnWeights(layer, s) {
  if (s.cell !== 'lstm') return; // GRU: tfjs' reset-before cell; default init is fine for timing
  const wt = recurrentWeights(s.cell, s.I, s.H);
  const G = 4 * s.H;
  const k = new Float32Array(s.I * G);
  const r = new Float32Array(s.H * G);
  for (let g = 0; g < G; g++) {
    for (let i = 0; i < s.I; i++) k[i * G + g] = wt.w_ih[g * s.I + i];
    for (let h = 0; h < s.H; h++) r[h * G + g] = wt.w_hh[g * s.H + h];
  }
  const b = wt.b_ih.map((v, i) => v + wt.b_hh[i]);
  layer.setWeights([tf.tensor(k, [s.I, G]), tf.tensor(r, [s.H, G]), tf.tensor(b, [G])]);
}

// W1: a stateful layer fed one step per call
{
  const s = w.W1;
  const layer = rnnLayer(s, { stateful: true, batchInputShape: [1, 1, s.I], returnSequences: false });
  const m = tf.sequential({ layers: [layer] });
  setRnnWeights(layer, s);
  const x = floats(s.T * s.I, 11);
  const steps = Array.from({ length: s.T }, (_, t) => tf.tensor(x.subarray(t * s.I, (t + 1) * s.I), [1, 1, s.I]));
  const t = await time(
    async () => {
      m.resetStates();
      for (const xt of steps) tf.tidy(() => m.predict(xt)).dataSync();
    },
    { reps: reps(cfg), warmup: 2 },
  );
  push('W1', `W1 LSTM B=1, ${s.T} steps, one call per step`, t, forwardFlops(s), { perStepUs: (t.median * 1000) / s.T });
  const m2 = tf.sequential({ layers: [rnnLayer(s, { inputShape: [s.T, s.I], returnSequences: true })] });
  setRnnWeights(m2.layers[0], s);
  const xt = tf.tensor(x, [1, s.T, s.I]);
  const t2 = await time(() => tf.tidy(() => m2.predict(xt)).dataSync(), { reps: reps(cfg) });
  push('W1b', `W1 LSTM B=1, ${s.T} steps in one call`, t2, forwardFlops(s), { perStepUs: (t2.median * 1000) / s.T });
}
for (const id of ['W2', 'W4']) {
  const s = w[id];
  const m = tf.sequential({ layers: [rnnLayer(s, { inputShape: [s.T, s.I], returnSequences: true })] });
  setRnnWeights(m.layers[0], s);
  const x = tf.tensor(floats(s.B * s.T * s.I, 12), [s.B, s.T, s.I]);
  const t = await time(() => tf.tidy(() => m.predict(x, { batchSize: s.B })).dataSync(), { reps: reps(cfg, true), warmup: 1 });
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} inference`, t, forwardFlops(s));
}
for (const id of ['W3', 'W3g']) {
  const s = w[id];
  const m = tf.sequential({ layers: [rnnLayer(s, { inputShape: [s.T, s.I] }), tf.layers.dense({ units: 1 })] });
  setRnnWeights(m.layers[0], s);
  m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  const x = tf.tensor(floats(s.B * s.T * s.I, 13), [s.B, s.T, s.I]);
  const y = tf.tensor(floats(s.B, 14), [s.B, 1]);
  const t = await time(() => m.trainOnBatch(x, y), { reps: cfg.smoke ? 2 : 3, warmup: 1 });
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} training step`, t, trainFlops(s));
}
{
  const s = w.W5;
  // one-hot input: the wasm backend has no gradient for Gather (UnsortedSegmentSum)
  const m = tf.sequential({
    layers: [
      tf.layers.lstm({
        units: s.H,
        returnSequences: true,
        recurrentActivation: 'sigmoid',
        recurrentInitializer: 'glorotUniform',
        inputShape: [s.T, s.V],
      }),
      tf.layers.dense({ units: s.V, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = tf.oneHot(tf.tensor(ints(s.B * s.T, 15, s.V), [s.B, s.T], 'int32'), s.V).toFloat();
  const y = tf.tensor(Float32Array.from(ints(s.B * s.T, 16, s.V)), [s.B, s.T, 1]);
  const t = await time(() => m.trainOnBatch(x, y), { reps: cfg.smoke ? 2 : 4, warmup: 1 });
  push('W5', `W5 char-LM B=${s.B} T=${s.T} training step (one-hot)`, t, trainFlops(s));
}
/** A trainable [rows, cols] weight, glorot-uniform from the shared filler (or zeros). */
const weight = (rows, cols, seed) =>
  tf.variable(
    seed == null
      ? tf.zeros(cols == null ? [rows] : [rows, cols])
      : tf.tensor(floats(rows * cols, seed, Math.sqrt(6 / (rows + cols))), [rows, cols]),
  );
/** [B, T, F] · [F, G] → [B, T, G] (a tf.layers.dense / EinsumDense without the activation). */
const dense3 = (x, k, b) => {
  const [B, T, F] = x.shape;
  const y = tf.matMul(x.reshape([B * T, F]), k);
  return (b ? tf.add(y, b) : y).reshape([B, T, k.shape[1]]);
};
/** One Adam step of `lossFn` over `vars`, synchronised on the loss value. */
const trainStep = (optimizer, lossFn, vars) => () => {
  const loss = tf.tidy(() => optimizer.minimize(lossFn, true, vars));
  loss.dataSync();
  loss.dispose();
};
// W6: LSTM(H, sequences) → self-attention (Keras MultiHeadAttention, q = k = v) → mean over steps → dense(1), MSE, Adam
{
  const s = w.W6;
  const dk = s.H / s.heads;
  const x = tf.tensor(floats(s.B * s.T * s.I, 21), [s.B, s.T, s.I]);
  const y = tf.tensor(floats(s.B, 22), [s.B, 1]);
  const lstm = rnnLayer({ ...s, cell: 'lstm' }, { returnSequences: true });
  tf.tidy(() => lstm.apply(x)); // builds the layer's weights
  const [wq, wk, wv, wo] = [31, 32, 33, 34].map((seed) => weight(s.H, s.H, seed));
  const [bq, bk, bv, bo] = [0, 1, 2, 3].map(() => weight(s.H));
  const wd = weight(s.H, 1, 35);
  const bd = weight(1);
  const vars = [...lstm.trainableWeights.map((v) => v.read()), wq, bq, wk, bk, wv, bv, wo, bo, wd, bd];
  // [B, T, H] → [B·heads, T, dk] and back
  const split = (t) =>
    t
      .reshape([s.B, s.T, s.heads, dk])
      .transpose([0, 2, 1, 3])
      .reshape([s.B * s.heads, s.T, dk]);
  const merge = (t) => t.reshape([s.B, s.heads, s.T, dk]).transpose([0, 2, 1, 3]).reshape([s.B, s.T, s.H]);
  const lossFn = () => {
    const h = lstm.apply(x);
    const q = split(dense3(h, wq, bq));
    const k = split(dense3(h, wk, bk));
    const v = split(dense3(h, wv, bv));
    const p = tf.softmax(tf.matMul(q, k, false, true).mul(1 / Math.sqrt(dk)));
    const att = dense3(merge(tf.matMul(p, v)), wo, bo);
    const pred = tf.matMul(att.mean(1), wd).add(bd);
    return tf.losses.meanSquaredError(y, pred);
  };
  const optimizer = tf.train.adam();
  const t = await time(trainStep(optimizer, lossFn, vars), { reps: cfg.smoke ? 2 : 3, warmup: 1 });
  push('W6', `W6 LSTM(${s.H}) → ${s.heads}-head self-attention B=${s.B} T=${s.T} training step`, t, w6TrainFlops(s));
}
// W7: date translation — BiLSTM encoder whose states start an LSTM decoder, Luong dot attention, softmax CE, Adam
{
  const s = w.W7;
  const lstmArgs = { returnSequences: true, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform' };
  // one-hot embeddings: the wasm backend has no gradient for Gather (UnsortedSegmentSum)
  const oneHot = (ids, rows, cols, V) => tf.oneHot(tf.tensor(ids, [rows * cols], 'int32'), V).toFloat();
  const encIn = oneHot(
    ints(s.B * s.Tin, 23, s.Vin - 1).map((v) => v + 1),
    s.B,
    s.Tin,
    s.Vin,
  );
  const decIn = oneHot(ints(s.B * s.Tout, 24, s.Vout), s.B, s.Tout, s.Vout);
  const target = oneHot(ints(s.B * s.Tout, 25, s.Vout), s.B, s.Tout, s.Vout);
  const embScale = 0.05; // Keras' Embedding init: uniform(−0.05, 0.05)
  const encEmb = tf.variable(tf.tensor(floats(s.Vin * s.E, 41, embScale), [s.Vin, s.E]));
  const decEmb = tf.variable(tf.tensor(floats(s.Vout * s.E, 42, embScale), [s.Vout, s.E]));
  const encoder = tf.layers.bidirectional({
    layer: tf.layers.lstm({ units: s.Henc, returnState: true, ...lstmArgs }),
    mergeMode: 'concat',
  });
  const decoder = tf.layers.lstm({ units: s.Hdec, ...lstmArgs });
  const wOut = weight(2 * s.Hdec, s.Vout, 43);
  const bOut = weight(s.Vout);
  const forward = () => {
    const [enc, fh, fc, bh, bc] = encoder.apply(tf.matMul(encIn, encEmb).reshape([s.B, s.Tin, s.E]));
    const initialState = [tf.concat([fh, bh], -1), tf.concat([fc, bc], -1)];
    const dec = decoder.apply(tf.matMul(decIn, decEmb).reshape([s.B, s.Tout, s.E]), { initialState });
    const p = tf.softmax(tf.matMul(dec, enc, false, true)); // [B, Tout, Tin]
    const context = tf.matMul(p, enc); // [B, Tout, Hdec]
    const logits = tf.matMul(tf.concat([context, dec], -1).reshape([s.B * s.Tout, 2 * s.Hdec]), wOut).add(bOut);
    return tf.losses.softmaxCrossEntropy(target, logits);
  };
  tf.tidy(forward); // builds the layers' weights
  const vars = [
    encEmb,
    decEmb,
    ...encoder.trainableWeights.map((v) => v.read()),
    ...decoder.trainableWeights.map((v) => v.read()),
    wOut,
    bOut,
  ];
  const optimizer = tf.train.adam();
  const t = await time(trainStep(optimizer, forward, vars), { reps: cfg.smoke ? 2 : 3, warmup: 1 });
  push('W7', `W7 date translation B=${s.B} Tin=${s.Tin} Tout=${s.Tout} training step`, t, w7TrainFlops(s));
}
emit(`tfjs ${cfg.backend ?? 'cpu'}${cfg.threads ? ` ${cfg.threads}t` : ''}`, out);
