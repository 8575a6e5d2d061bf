// recurrent-wasm on every workload (the built package, dist/; BENCH_DIST=<dir>
// runs another build of it, as bench/paired.mjs does). With { int8: true }:
// W1 and W2 on int8 weights (quantize) instead.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { config, emit, reps } from './common.mjs';
import {
  W,
  SMOKE,
  time,
  floats,
  ints,
  recurrentWeights,
  forwardFlops,
  trainFlops,
  attentionFlops,
  w6TrainFlops,
  w7TrainFlops,
} from '../workloads.mjs';

const cfg = config();
const distDir = process.env.BENCH_DIST
  ? pathToFileURL(`${process.env.BENCH_DIST.replace(/\/$/, '')}/`)
  : new URL('../../dist/', import.meta.url);
const lib = await import(new URL('index.js', distDir).href);
const info = await lib.init({ simd: cfg.simd ?? 'auto', threads: cfg.threads ?? 1 });
if ((cfg.threads ?? 1) !== info.threads) throw new Error(`asked for ${cfg.threads} threads, got ${info.threads}: ${info.threadsNote}`);
const w = cfg.smoke ? SMOKE : W;
const out = [];
const push = (id, label, t, flops, extra = {}) => out.push({ id, label, ...t, gflops: flops ? flops / t.median / 1e6 : null, ...extra });

function recurrentModel(spec, returnSequences = true, extra = []) {
  const m = new lib.Sequential(
    [lib.layers[spec.cell]({ name: 'rnn', units: spec.H, returnSequences, inputShape: [null, spec.I] }), ...extra],
    { seed: 1 },
  );
  const wt = recurrentWeights(spec.cell, spec.I, spec.H);
  m.setWeights({ 'rnn.weight_ih_l0': wt.w_ih, 'rnn.weight_hh_l0': wt.w_hh, 'rnn.bias_ih_l0': wt.b_ih, 'rnn.bias_hh_l0': wt.b_hh });
  return m;
}

/** W2 / W4: batch inference through `predict(model, x, batchSize)`. */
async function batchInference(predict) {
  for (const id of ['W2', 'W4']) {
    const s = w[id];
    const m = recurrentModel(s);
    const x = lib.tensor(floats(s.B * s.T * s.I, 12), [s.B, s.T, s.I]);
    const t = await time(() => predict(m, x, s.B), { reps: reps(cfg, true) });
    push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} inference`, t, forwardFlops(s));
    m.dispose();
  }
}

// `workers`: batch inference split between this thread and ModelWorkers, each
// its own wasm instance (predictParallel); the other workloads do not apply
if (cfg.workers > 1) {
  const { Worker } = await import('node:worker_threads');
  const workers = Array.from(
    { length: cfg.workers - 1 },
    () => new lib.ModelWorker(new Worker(new URL('../../dist/worker.js', import.meta.url))),
  );
  await batchInference((m, x, batchSize) => lib.predictParallel(m, x, workers, { batchSize }));
  for (const wk of workers) wk.terminate();
  emit(`recurrent-wasm (${info.simd}) ${cfg.workers} workers`, out);
  process.exit(0);
}

// int8 weights: W1 streaming and W2 batch predict on quantize(model, { dtype: 'int8' })
if (cfg.int8) {
  const s = w.W1;
  const m = lib.quantize(recurrentModel(s), { dtype: 'int8' });
  const sess = m.session();
  const x = floats(s.T * s.I, 11);
  const steps = Array.from({ length: s.T }, (_, t) => x.subarray(t * s.I, (t + 1) * s.I));
  const t = await time(
    () => {
      sess.reset();
      for (const xt of steps) sess.step(xt);
    },
    { reps: reps(cfg) * 2, warmup: 5 },
  );
  push('W1q', `W1 LSTM B=1, ${s.T} steps, one call per step, int8`, t, forwardFlops(s), { perStepUs: (t.median * 1000) / s.T });
  sess.dispose();
  const s2 = w.W2;
  const q2 = lib.quantize(recurrentModel(s2), { dtype: 'int8' });
  const x2 = lib.tensor(floats(s2.B * s2.T * s2.I, 12), [s2.B, s2.T, s2.I]);
  const t2 = await time(() => q2.predict(x2, { batchSize: s2.B }), { reps: reps(cfg, true) });
  push('W2q', `W2 LSTM B=${s2.B} T=${s2.T} inference, int8`, t2, forwardFlops(s2));
  emit(`recurrent-wasm (${info.simd}) int8`, out);
  process.exit(0);
}

// W1: streaming, one call per step with the state carried; and one T-step call
{
  const s = w.W1;
  const m = recurrentModel(s);
  const sess = m.session();
  const x = floats(s.T * s.I, 11);
  const steps = Array.from({ length: s.T }, (_, t) => x.subarray(t * s.I, (t + 1) * s.I));
  const t = await time(
    () => {
      sess.reset();
      for (const xt of steps) sess.step(xt);
    },
    { reps: reps(cfg) * 2, warmup: 5 },
  );
  push('W1', `W1 LSTM B=1, ${s.T} steps, one call per step`, t, forwardFlops(s), { perStepUs: (t.median * 1000) / s.T });
  const xt = lib.tensor(x, [1, s.T, s.I]);
  const t2 = await time(() => m.predict(xt), { reps: reps(cfg) * 2, warmup: 5 });
  push('W1b', `W1 LSTM B=1, ${s.T} steps in one call`, t2, forwardFlops(s), { perStepUs: (t2.median * 1000) / s.T });
  sess.dispose();
  m.dispose();
}
// W2 / W4: batch inference
await batchInference((m, x, batchSize) => m.predict(x, { batchSize }));
// W3: training steps (forward + backward + Adam), dense(1) on the last step
for (const id of ['W3', 'W3g']) {
  const s = w[id];
  const m = recurrentModel(s, false, [lib.layers.dense({ units: 1 })]);
  m.compile({ optimizer: 'adam', loss: 'mse' });
  const k = 4; // batches per timed fit
  const x = lib.tensor(floats(k * s.B * s.T * s.I, 13), [k * s.B, s.T, s.I]);
  const y = lib.tensor(floats(k * s.B, 14), [k * s.B, 1]);
  const t = await time(() => m.fit(x, y, { epochs: 1, batchSize: s.B, shuffle: false, yieldEveryMs: 1e9 }), {
    reps: reps(cfg, true),
    warmup: 1,
  });
  const per = { median: t.median / k, min: t.min / k, max: t.max / k, n: t.n };
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} training step`, per, trainFlops(s));
  m.dispose();
}
// W5: char-LM training step
{
  const s = w.W5;
  const m = new lib.Sequential(
    [
      lib.layers.embedding({ inputDim: s.V, outputDim: s.E, inputShape: [null] }),
      lib.layers.lstm({ units: s.H, returnSequences: true }),
      lib.layers.dense({ units: s.V, activation: 'softmax' }),
    ],
    { seed: 2 },
  );
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const k = 4;
  const x = lib.tensor(ints(k * s.B * s.T, 15, s.V), [k * s.B, s.T]);
  const y = lib.tensor(ints(k * s.B * s.T, 16, s.V), [k * s.B, s.T]);
  const t = await time(() => m.fit(x, y, { epochs: 1, batchSize: s.B, shuffle: false, yieldEveryMs: 1e9 }), {
    reps: reps(cfg, true),
    warmup: 1,
  });
  push('W5', `W5 char-LM B=${s.B} T=${s.T} training step`, { median: t.median / k, min: t.min / k, max: t.max / k, n: t.n }, trainFlops(s));
  m.dispose();
}
// W6: LSTM → 4-head self-attention → mean → dense(1), training step; W6a: the attention layer alone (forward and backward)
{
  const s = w.W6;
  const L = lib.layers;
  const x = lib.input({ shape: [s.T, s.I] });
  const y = L.lstm({ units: s.H, returnSequences: true }).apply(x);
  const a = L.multiHeadAttention({ numHeads: s.heads, keyDim: s.H / s.heads }).apply([y, y]);
  const m = lib.model({ inputs: x, outputs: L.dense({ units: 1 }).apply(L.globalAveragePooling1d().apply(a)), seed: 3 });
  m.compile({ optimizer: 'adam', loss: 'mse' });
  const k = 2;
  const xt = lib.tensor(floats(k * s.B * s.T * s.I, 21), [k * s.B, s.T, s.I]);
  const yt = lib.tensor(floats(k * s.B, 22), [k * s.B, 1]);
  const t = await time(() => m.fit(xt, yt, { epochs: 1, batchSize: s.B, shuffle: false, yieldEveryMs: 1e9 }), {
    reps: reps(cfg, true),
    warmup: 1,
  });
  const per = { median: t.median / k, min: t.min / k, max: t.max / k, n: t.n };
  push('W6', `W6 LSTM(${s.H}) → ${s.heads}-head self-attention B=${s.B} T=${s.T} training step`, per, w6TrainFlops(s));
  m.dispose();
  // the attention layer's forward and backward (its input's gradient too: a linear layer feeds it)
  const xa = lib.input({ shape: [s.T, s.H] });
  const pre = L.dense({ units: s.H }).apply(xa);
  const ma = lib.model({
    inputs: xa,
    outputs: L.multiHeadAttention({ numHeads: s.heads, keyDim: s.H / s.heads }).apply([pre, pre]),
    seed: 4,
  });
  ma.compile({ optimizer: 'sgd', loss: 'mse' });
  const xs = lib.tensor(floats(s.B * s.T * s.H, 23), [s.B, s.T, s.H]);
  const ys = lib.tensor(floats(s.B * s.T * s.H, 24), [s.B, s.T, s.H]);
  const ta = await time(() => ma.computeGradients(xs, ys), { reps: reps(cfg, true), warmup: 1 });
  // attention forward + backward = 3 × its forward; the linear layer: forward and its weight gradient
  const proj = 2 * s.B * s.T * s.H * s.H;
  push('W6a', `W6a ${s.heads}-head self-attention B=${s.B} T=${s.T} E=${s.H} forward + backward`, ta, 3 * attentionFlops(s) + 2 * proj);
  ma.dispose();
}
// W7: the date-translation model's training step (examples/date-translation.mjs's model, batch 64)
{
  const s = w.W7;
  const L = lib.layers;
  const enc = lib.input({ shape: [s.Tin], dtype: 'int32' });
  const dec = lib.input({ shape: [s.Tout], dtype: 'int32' });
  const e = L.embedding({ inputDim: s.Vin, outputDim: s.E, maskZero: true }).apply(enc);
  const [seq, fh, fc, bh, bc] = L.bidirectional({ layer: L.lstm({ units: s.Henc, returnSequences: true, returnState: true }) }).apply(e);
  const h = L.concatenate().apply([fh, bh]);
  const c = L.concatenate().apply([fc, bc]);
  const d = L.embedding({ inputDim: s.Vout, outputDim: s.E }).apply(dec);
  const decoded = L.lstm({ units: s.Hdec, returnSequences: true }).apply(d, { initialState: [h, c] });
  const context = L.attention().apply([decoded, seq]);
  const out = L.dense({ units: s.Vout, activation: 'softmax' }).apply(L.concatenate().apply([context, decoded]));
  const m = lib.model({ inputs: [enc, dec], outputs: out, seed: 5 });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const k = 4;
  const ids = ints(k * s.B * s.Tin, 23, s.Vin - 1).map((v) => v + 1);
  const xe = lib.tensor(ids, [k * s.B, s.Tin]);
  const xd = lib.tensor(ints(k * s.B * s.Tout, 24, s.Vout), [k * s.B, s.Tout]);
  const yt = lib.tensor(ints(k * s.B * s.Tout, 25, s.Vout), [k * s.B, s.Tout]);
  const t = await time(() => m.fit([xe, xd], yt, { epochs: 1, batchSize: s.B, shuffle: false, yieldEveryMs: 1e9 }), {
    reps: reps(cfg, true),
    warmup: 1,
  });
  const per = { median: t.median / k, min: t.min / k, max: t.max / k, n: t.n };
  push('W7', `W7 date translation B=${s.B} Tin=${s.Tin} Tout=${s.Tout} training step`, per, w7TrainFlops(s));
  m.dispose();
}
// The plain GEMM ceiling (one thread): the core's SGEMM on operands already in wasm memory
if (info.threads === 1) {
  const file = info.simd === 'relaxed' ? 'recurrent_core_relaxed_bg.wasm' : 'recurrent_core_bg.wasm';
  const glue = await import(new URL('../../ts/wasm/recurrent_core.js', import.meta.url).href);
  const ex = await glue.default({
    module_or_path: await WebAssembly.compile(readFileSync(new URL(file, distDir))),
  });
  for (const [mm, kk, nn] of cfg.smoke
    ? [[32, 256, 1024]]
    : [
        [32, 256, 1024],
        [3200, 64, 1024],
        [3200, 320, 1024],
      ]) {
    const pa = glue.alloc(mm * kk * 4),
      pb = glue.alloc(kk * nn * 4),
      pc = glue.alloc(mm * nn * 4);
    const mem = new Float32Array(ex.memory.buffer);
    mem.set(floats(mm * kk, 1), pa / 4);
    mem.set(floats(kk * nn, 2), pb / 4);
    const t = await time(() => glue.sgemm(mm, nn, kk, pa, kk, 1, pb, nn, 1, pc, nn, false), { reps: reps(cfg) * 2 });
    push(`GEMM ${mm}×${kk}·${kk}×${nn}`, `wasm SGEMM ${mm}×${kk}·${kk}×${nn}`, t, 2 * mm * kk * nn);
  }
}
emit(`recurrent-wasm (${info.simd}${info.threads > 1 ? `, ${info.threads} threads` : ''})`, out);
