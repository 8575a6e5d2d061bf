// `npm run bench -- quant`: file size and per-step latency (batch 1, one call
// per step, state carried) of an LSTM (I=64) with f32, f16 and int8 weights,
// H = 256 and 512; then batch inference (`predict`, B=32 T=100, H=256, one
// direction and bidirectional). The variants run in alternating rounds in one
// process, so machine noise hits them alike; medians and min–max of 100-step
// runs (of predict calls).
import { Random, Sequential, layers, quantize, tensor } from '../dist/index.js';
import { table } from './util.mjs';

export async function benchQuant({ smoke = false, info } = {}) {
  const rows = [];
  const rounds = smoke ? 3 : 100;
  for (const H of smoke ? [64] : [256, 512]) {
    const m = new Sequential([layers.lstm({ units: H, returnSequences: true, inputShape: [null, 64] })], { seed: 1 });
    m.build();
    const rng = new Random(1);
    const xs = Float32Array.from({ length: 100 * 64 }, () => rng.uniform(-1, 1));
    // the step inputs made once, as the peers' W1 loop (bench/libs/ours.mjs) does
    const steps = Array.from({ length: 100 }, (_, t) => xs.subarray(t * 64, t * 64 + 64));
    const variants = quantVariants(m).map((v) => ({ ...v, bytes: v.model.save().length, session: v.model.session() }));
    const run = (v) => {
      v.session.reset();
      const t0 = performance.now();
      for (const xt of steps) v.session.step(xt);
      return (performance.now() - t0) * 10; // µs per step
    };
    for (const v of variants) {
      const t0 = performance.now();
      while (performance.now() - t0 < (smoke ? 50 : 1000)) run(v); // warm-up and JIT tier-up
    }
    for (let r = 0; r < rounds; r++) for (const v of variants) v.times.push(run(v));
    const f32 = variants[0];
    for (const v of variants) {
      v.times.sort((a, b) => a - b);
      const med = v.times[v.times.length >> 1];
      v.median = med;
      rows.push({
        model: `LSTM I=64 H=${H}`,
        weights: v.dtype,
        'file KiB': (v.bytes / 1024).toFixed(0),
        'size vs f32': `${(v.bytes / f32.bytes).toFixed(2)}×`,
        'µs/step median': med.toFixed(1),
        'min–max': `${v.times[0].toFixed(1)}–${v.times[v.times.length - 1].toFixed(1)}`,
        'speed vs f32': `${(f32.median / med).toFixed(2)}×`,
      });
      v.session.dispose();
    }
  }
  const threads = `${info.simd} build, ${info.threads} thread${info.threads > 1 ? 's' : ''}`;
  console.log(`\nquantised weights: streaming LSTM, batch 1 (${threads})\n`);
  table(rows, ['model', 'weights', 'file KiB', 'size vs f32', 'µs/step median', 'min–max', 'speed vs f32']);
  const batch = benchBatch(smoke);
  console.log(`\nquantised weights: batch inference, predict (${threads})\n`);
  table(batch, ['model', 'weights', 'ms median', 'min–max', 'speed vs f32']);
  return [...rows, ...batch];
}

/** `predict` on a batch: LSTM I=64 H=256, B=32, T=100 (smoke: H=64, B=4, T=10),
 *  one direction and bidirectional (int8 runs the backward direction over
 *  each sample's reversed steps, layer by layer). */
function benchBatch(smoke) {
  const [H, B, T] = smoke ? [64, 4, 10] : [256, 32, 100];
  const rng = new Random(2);
  const x = tensor(
    Float32Array.from({ length: B * T * 64 }, () => rng.uniform(-1, 1)),
    [B, T, 64],
  );
  const lstm = () => layers.lstm({ units: H, returnSequences: true });
  const models = [
    [`LSTM I=64 H=${H} B=${B} T=${T}`, [layers.lstm({ units: H, returnSequences: true, inputShape: [null, 64] })]],
    [`bidirectional, same`, [layers.bidirectional({ layer: lstm(), inputShape: [null, 64] })]],
  ];
  return models.flatMap(([label, ls]) => {
    const m = new Sequential(ls, { seed: 1 });
    m.build();
    const variants = quantVariants(m);
    const run = (v) => {
      const t0 = performance.now();
      v.model.predict(x, { batchSize: B });
      return performance.now() - t0;
    };
    for (const v of variants) for (let i = 0; i < 3; i++) run(v); // warm-up
    for (let r = 0; r < (smoke ? 2 : 15); r++) for (const v of variants) v.times.push(run(v));
    for (const v of variants) v.times.sort((a, b) => a - b);
    const med = (v) => v.times[v.times.length >> 1];
    return variants.map((v) => ({
      model: label,
      weights: v.dtype,
      'ms median': med(v).toFixed(1),
      'min–max': `${v.times[0].toFixed(1)}–${v.times[v.times.length - 1].toFixed(1)}`,
      'speed vs f32': `${(med(variants[0]) / med(v)).toFixed(2)}×`,
    }));
  });
}

/** The f32 model and its f16 and int8 copies, each with an empty list of times. */
function quantVariants(m) {
  return [{ dtype: 'f32', model: m }, ...['f16', 'int8'].map((dtype) => ({ dtype, model: quantize(m, { dtype }) }))].map((v) => ({
    ...v,
    times: [],
  }));
}
