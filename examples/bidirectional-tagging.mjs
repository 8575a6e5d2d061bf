// Bidirectional sequence tagging (many-to-many): tag every position with the
// token two steps ahead — impossible without future context. A bidirectional
// LSTM learns it; the same model with a one-directional LSTM cannot.
// Run: node examples/bidirectional-tagging.mjs
import { fileURLToPath } from 'node:url';
import { init, Sequential, layers, optimizers, tensor, Random } from '../dist/index.js';

export const T = 12;
export const VOCAB = 8; // tokens 0..7; tag = token at t+2, or 0 past the end

export function tagData(n, rng) {
  const x = new Float32Array(n * T * VOCAB);
  const tokens = new Int32Array(n * T);
  const y = new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      const v = rng.int(VOCAB);
      tokens[i * T + t] = v;
      x[(i * T + t) * VOCAB + v] = 1;
    }
    for (let t = 0; t < T; t++) y[i * T + t] = t + 2 < T ? tokens[i * T + t + 2] : 0;
  }
  return [tensor(x, [n, T, VOCAB]), tensor(y, [n, T])];
}

export async function run({ epochs = 15, seed = 1, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const [x, y] = tagData(2000, rng);
  const [xt, yt] = tagData(400, rng);
  const results = {};
  for (const bidi of [true, false]) {
    const rnn = layers.lstm({ units: 32, returnSequences: true, inputShape: [T, VOCAB] });
    const model = new Sequential(
      [bidi ? layers.bidirectional({ layer: rnn, inputShape: [T, VOCAB] }) : rnn, layers.dense({ units: VOCAB, activation: 'softmax' })],
      { seed },
    );
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const t0 = performance.now();
    await model.fit(x, y, { epochs, batchSize: 32, seed });
    const seconds = (performance.now() - t0) / 1000;
    const test = model.evaluate(xt, yt);
    const key = bidi ? 'bidirectional' : 'forwardOnly';
    results[key] = { accuracy: test.accuracy, loss: test.loss, seconds };
    log(`${key}: ${epochs} epochs in ${seconds.toFixed(2)} s, held-out per-step accuracy ${(test.accuracy * 100).toFixed(1)} %`);
    model.dispose();
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
