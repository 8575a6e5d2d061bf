// onnxruntime: web (wasm, 1 or 2 threads) or node (native), both devDependencies, running single-node LSTM/GRU models with the workload
// weights (bench/onnx-writer.mjs). Inference only: ORT has no training.
import { createRequire } from 'node:module';
import { config, emit, reps } from './common.mjs';
import { W, SMOKE, time, floats, recurrentWeights, forwardFlops } from '../workloads.mjs';
import { recurrentOnnx, matmulOnnx } from '../onnx-writer.mjs';

const cfg = config();
const threads = cfg.threads ?? 1;
let ort;
if (cfg.flavor === 'node') {
  ort = (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));
} else {
  ort = await import(createRequire(import.meta.url).resolve('onnxruntime-web'));
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
}
const opts = cfg.flavor === 'node' ? { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' } : {};
const w = cfg.smoke ? SMOKE : W;
const out = [];
const push = (id, label, t, flops, extra = {}) => out.push({ id, label, ...t, gflops: flops ? flops / t.median / 1e6 : null, ...extra });

{
  const s = w.W1;
  const wt = recurrentWeights('lstm', s.I, s.H);
  const step = await ort.InferenceSession.create(recurrentOnnx('lstm', s.I, s.H, wt, { step: true }), opts);
  const x = floats(s.T * s.I, 11);
  const t = await time(
    async () => {
      let h = new ort.Tensor('float32', new Float32Array(s.H), [1, 1, s.H]);
      let c = new ort.Tensor('float32', new Float32Array(s.H), [1, 1, s.H]);
      for (let k = 0; k < s.T; k++) {
        const r = await step.run({ X: new ort.Tensor('float32', x.subarray(k * s.I, (k + 1) * s.I), [1, 1, s.I]), H0: h, C0: c });
        h = r.Y_h;
        c = r.Y_c;
      }
    },
    { reps: reps(cfg), warmup: 3 },
  );
  push('W1', `W1 LSTM B=1, ${s.T} steps, one call per step`, t, forwardFlops(s), { perStepUs: (t.median * 1000) / s.T });
  const seq = await ort.InferenceSession.create(recurrentOnnx('lstm', s.I, s.H, wt), opts);
  const xt = new ort.Tensor('float32', x, [s.T, 1, s.I]);
  const t2 = await time(() => seq.run({ X: xt }), { reps: reps(cfg), warmup: 3 });
  push('W1b', `W1 LSTM B=1, ${s.T} steps in one call`, t2, forwardFlops(s), { perStepUs: (t2.median * 1000) / s.T });
}
for (const id of ['W2', 'W4']) {
  const s = w[id];
  const sess = await ort.InferenceSession.create(recurrentOnnx(s.cell, s.I, s.H, recurrentWeights(s.cell, s.I, s.H)), opts);
  const x = new ort.Tensor('float32', floats(s.T * s.B * s.I, 12), [s.T, s.B, s.I]);
  const t = await time(() => sess.run({ X: x }), { reps: reps(cfg, true), warmup: 2 });
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} inference`, t, forwardFlops(s));
}
// The GEMM ceiling of the same machine: one MatMul node (MLAS natively, ORT's wasm kernels on the web)
for (const [mm, kk, nn] of cfg.smoke
  ? [[32, 256, 1024]]
  : [
      [32, 256, 1024],
      [3200, 64, 1024],
      [3200, 320, 1024],
    ]) {
  const sess = await ort.InferenceSession.create(matmulOnnx(mm, kk, nn, floats(kk * nn, 2)), opts);
  const a = new ort.Tensor('float32', floats(mm * kk, 1), [mm, kk]);
  const t = await time(() => sess.run({ A: a }), { reps: reps(cfg) * 2, warmup: 3 });
  push(`GEMM ${mm}×${kk}·${kk}×${nn}`, `SGEMM ${mm}×${kk}·${kk}×${nn}`, t, 2 * mm * kk * nn);
}
emit(`onnxruntime-${cfg.flavor ?? 'web'} ${threads}t`, out);
if (cfg.flavor !== 'node') process.exit(0); // ort-web keeps worker threads alive
