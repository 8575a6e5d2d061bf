// Sine-wave forecasting: 50 past points → the next point, with a SimpleRNN and
// an LSTM (the classic first RNN tutorial). Run: node examples/sine.mjs
import { fileURLToPath } from 'node:url';
import { init, Sequential, layers, optimizers, tensor, Random } from '../dist/index.js';

export const WINDOW = 50;

/** `n` windows of a sine wave with random phases (seeded), and the next value of each. */
export function sineData(n, rng) {
  const x = new Float32Array(n * WINDOW);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const phase = rng.uniform(0, 2 * Math.PI);
    for (let t = 0; t < WINDOW; t++) x[i * WINDOW + t] = Math.sin(phase + t * 0.1);
    y[i] = Math.sin(phase + WINDOW * 0.1);
  }
  return [tensor(x, [n, WINDOW, 1]), tensor(y, [n, 1])];
}

export async function run({ kinds = ['simpleRNN', 'lstm'], epochs = 10, seed = 1, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const [x, y] = sineData(1000, rng);
  const [xt, yt] = sineData(200, rng); // held out: other phases
  const results = {};
  for (const kind of kinds) {
    const model = new Sequential([layers[kind]({ units: 32, inputShape: [WINDOW, 1] }), layers.dense({ units: 1 })], { seed });
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'mse' });
    const t0 = performance.now();
    const h = await model.fit(x, y, { epochs, batchSize: 32, seed });
    const seconds = (performance.now() - t0) / 1000;
    const test = model.evaluate(xt, yt);
    results[kind] = { trainLoss: h.history.loss.at(-1), testMse: test.loss, seconds };
    log(
      `${kind}: ${epochs} epochs in ${seconds.toFixed(2)} s, train MSE ${h.history.loss.at(-1).toExponential(2)}, held-out MSE ${test.loss.toExponential(2)}`,
    );
    model.dispose();
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
