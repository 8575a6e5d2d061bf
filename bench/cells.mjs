// `npm run bench -- cells`: forward and forward+backward of LSTM and GRU
// (I=64, H=256, B=32, T=100; and batch-1 streaming), beside a plain GEMM on the
// same machine. A benchmark that prints a table, not a timed test.
import { readFileSync } from 'node:fs';
import { RecurrentKernel, Random } from '../dist/index.js';
import initGlue, * as core from '../ts/wasm/recurrent_core.js';
import { measure, table, fmtMs, fmtUs } from './util.mjs';

function rand(n, rng) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

export async function benchCells({ smoke = false, info } = {}) {
  const rng = new Random(1);
  const I = 64,
    H = 256;
  const B = smoke ? 8 : 32,
    T = smoke ? 20 : 100;
  const reps = smoke ? 3 : 10;
  const rows = [];

  // The plain GEMM ceiling: the core's SGEMM on operands already in wasm
  // memory (its own instance of the same build), on the recurrent-step shape,
  // the input-projection shape and a square one.
  const file = info.simd === 'relaxed' ? 'recurrent_core_relaxed_bg.wasm' : 'recurrent_core_bg.wasm';
  const ex = await initGlue({ module_or_path: await WebAssembly.compile(readFileSync(new URL(`../dist/${file}`, import.meta.url))) });
  for (const [m, k, n] of [
    [32, 256, 1024],
    [3200, 64, 1024],
    [512, 512, 512],
  ]) {
    if (smoke && m > 32) continue;
    const pa = core.alloc(m * k * 4),
      pb = core.alloc(k * n * 4),
      pc = core.alloc(m * n * 4);
    const mem = new Float32Array(ex.memory.buffer);
    mem.set(rand(m * k, rng), pa / 4);
    mem.set(rand(k * n, rng), pb / 4);
    const r = measure(() => core.sgemm(m, n, k, pa, k, 1, pb, n, 1, pc, n, false), { reps: reps * 3 });
    rows.push({
      workload: `GEMM ${m}×${k}·${k}×${n}`,
      'median ms': fmtMs(r.median),
      'min–max ms': `${fmtMs(r.min)}–${fmtMs(r.max)}`,
      'GFLOP/s': ((2 * m * k * n) / r.median / 1e6).toFixed(1),
    });
    core.dealloc(pa, m * k * 4);
    core.dealloc(pb, k * n * 4);
    core.dealloc(pc, m * n * 4);
  }

  for (const cell of ['lstm', 'gru']) {
    const G = cell === 'lstm' ? 4 : 3;
    const k = new RecurrentKernel({ cell, inputSize: I, hiddenSize: H }, { seed: 1 });
    const x = rand(T * B * I, rng);
    const dy = rand(T * B * H, rng);
    const flopFwd = 2 * T * B * G * H * (I + H);
    const f = measure(() => k.forward({ x, seqLen: T, batchSize: B }), { reps });
    rows.push({
      workload: `${cell} forward B=${B} T=${T}`,
      'median ms': fmtMs(f.median),
      'min–max ms': `${fmtMs(f.min)}–${fmtMs(f.max)}`,
      'GFLOP/s': (flopFwd / f.median / 1e6).toFixed(1),
    });
    const fb = measure(
      () => {
        k.forward({ x, seqLen: T, batchSize: B, training: true });
        k.backward({ dy });
      },
      { reps },
    );
    rows.push({
      workload: `${cell} forward+backward B=${B} T=${T}`,
      'median ms': fmtMs(fb.median),
      'min–max ms': `${fmtMs(fb.min)}–${fmtMs(fb.max)}`,
      'GFLOP/s': ((3 * flopFwd) / fb.median / 1e6).toFixed(1),
    });

    // batch 1: the whole sequence in one call, then one call per step with state carried
    const x1 = rand(T * I, rng);
    const s1 = measure(() => k.forward({ x: x1, seqLen: T, batchSize: 1 }), { reps });
    rows.push({
      workload: `${cell} forward B=1 T=${T}, one call`,
      'median ms': fmtMs(s1.median),
      'min–max ms': `${fmtMs(s1.min)}–${fmtMs(s1.max)}`,
      'GFLOP/s': (flopFwd / B / s1.median / 1e6).toFixed(1),
      'µs/step': fmtUs(s1.median / T),
    });
    const steps = [];
    for (let t = 0; t < T; t++) steps.push(x1.subarray(t * I, (t + 1) * I));
    const sp = measure(
      () => {
        let h0, c0;
        for (let t = 0; t < T; t++) {
          const o = k.forward({ x: steps[t], seqLen: 1, batchSize: 1, h0, c0 });
          h0 = o.hn;
          c0 = o.cn;
        }
      },
      { reps },
    );
    rows.push({
      workload: `${cell} B=1, one call per step`,
      'median ms': fmtMs(sp.median),
      'min–max ms': `${fmtMs(sp.min)}–${fmtMs(sp.max)}`,
      'GFLOP/s': (flopFwd / B / sp.median / 1e6).toFixed(1),
      'µs/step': fmtUs(sp.median / T),
    });
    k.dispose();
  }
  console.log(
    `\ncells (${info.simd} build, Node ${process.versions.node}; I=${I}, H=${H}; GFLOP/s counts 2·T·B·G·H·(I+H) forward, 3× that for forward+backward)\n`,
  );
  table(rows, ['workload', 'median ms', 'min–max ms', 'GFLOP/s', 'µs/step']);
  return rows;
}
