// Grows wasm memory to its 32-bit limit (65,536 pages = 4 GiB), frees it all,
// then runs every kind of kernel call: after the limit was reached once, each
// must still work (the region check once computed the memory size as
// `pages · 65536` in a 32-bit usize, which wrapped to 0 at the limit and
// refused every later call). Run in its own process: argv[2] is the dist/
// URL, argv[3] the init options as JSON. Prints one JSON line.
const [, , dist, opts] = process.argv;
const lib = await import(`${dist}index.js`);
const info = await lib.init(JSON.parse(opts ?? '{}'));
const LIMIT = 2 ** 32;
const E = 1024; // embedding width: a model of `rows` rows holds rows·E·4 bytes of parameters and as much of gradients

const held = [];
const t0 = performance.now();
// Fill with models of shrinking size until memory stands at the limit.
for (let rows = 1 << 16; rows >= 1 && lib.memoryStats().wasmBytes < LIMIT; ) {
  const m = new lib.Sequential([lib.layers.embedding({ inputDim: rows, outputDim: E, inputShape: [1] })]);
  try {
    m.build([1], { initialize: false });
    held.push(m);
  } catch (e) {
    if (!/out of wasm memory/.test(e.message)) throw e;
    rows >>= 1;
  }
}
const peak = lib.memoryStats().wasmBytes;
const fillMs = performance.now() - t0;
for (const m of held) m.dispose();

// every kind of call, after the limit
const out = {};
const model = new lib.Sequential(
  [lib.layers.lstm({ units: 8, returnSequences: true, inputShape: [4, 3] }), lib.layers.dense({ units: 2 })],
  { seed: 1 },
);
model.compile({ optimizer: 'adam', loss: 'mse' });
const x = lib.tensor(
  Array.from({ length: 2 * 4 * 3 }, (_, i) => Math.sin(i)),
  [2, 4, 3],
);
const y = lib.tensor(
  Array.from({ length: 2 * 4 * 2 }, (_, i) => Math.cos(i)),
  [2, 4, 2],
);
out.matmul = Array.from(lib.matmul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2));
out.predict = Array.from(model.predict(x).data.slice(0, 4));
out.fit = (await model.fit(x, y, { epochs: 2, batchSize: 2, shuffle: false })).history.loss;
const s = model.session();
out.step = Array.from(s.step([0.1, 0.2, 0.3]));
s.dispose();
const q = lib.quantize(model, { dtype: 'int8' });
out.int8 = Array.from(q.predict(x).data.slice(0, 4));
q.dispose();
model.dispose();
console.log(JSON.stringify({ peak, limit: LIMIT, fillMs: Math.round(fillMs), threads: info.threads, out }));
