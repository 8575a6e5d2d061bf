// A streaming loop to profile: LSTM/GRU I=64 H=256, batch 1, one call per
// step, f32 or int8 weights, for a fixed time; prints the median µs per step.
//   node [--experimental-wasm-relaxed-simd] bench/stream-loop.mjs [lstm|gru] [f32|int8] [ms] [dist dir]
// scripts/profile.sh runs it under `perf` with a build that keeps function names.
const [cell = 'lstm', dtype = 'f32', ms = '3000', dist = new URL('../dist', import.meta.url).pathname] = process.argv.slice(2);
const rw = await import(`${dist}/index.js`);
const info = await rw.init();
const m = new rw.Sequential([rw.layers[cell]({ units: 256, returnSequences: true, inputShape: [null, 64] })], { seed: 1 });
m.build();
const s = (dtype === 'int8' ? rw.quantize(m, { dtype }) : m).session();
const xs = Float32Array.from({ length: 100 * 64 }, (_, i) => Math.sin(i));
const times = [];
const end = performance.now() + Number(ms);
while (performance.now() < end) {
  s.reset();
  const t0 = performance.now();
  for (let t = 0; t < 100; t++) s.step(xs.subarray(t * 64, t * 64 + 64));
  times.push((performance.now() - t0) * 10);
}
times.sort((a, b) => a - b);
console.log(
  `${info.simd} ${cell} ${dtype}: median ${times[times.length >> 1].toFixed(1)} µs/step, min ${times[0].toFixed(1)} (${times.length} runs of 100 steps)`,
);
