// A model garbage-collected on the calling side releases the ModelWorker's
// copy of it (FinalizationRegistry). Run by test/worker.test.ts as
//   node --expose-gc test/runtimes/worker-gc.mjs <dist URL>
// and prints the worker's model count before and after collection.
import { Worker } from 'node:worker_threads';
const dist = process.argv[2];
const lib = await import(new URL('index.js', dist).href);
await lib.init({ simd: 'simd128' });
const nw = new Worker(new URL('worker.js', dist));
const w = new lib.ModelWorker(nw);
const x = lib.tensor(new Float32Array(2 * 4 * 3).fill(0.1), [2, 4, 3]);
const make = (seed) => new lib.Sequential([lib.layers.gru({ units: 8, inputShape: [4, 3] })], { seed });
await (async () => {
  await w.predict(make(1), x);
})(); // the model is unreachable after this
const keep = make(2);
await w.predict(keep, x);
const before = w.cachedModels;
for (let i = 0; i < 5 && w.cachedModels !== 1; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
  await w.predict(keep, x);
}
console.log(JSON.stringify({ before, after: w.cachedModels }));
w.terminate();
