// Sequences of random digits, one-hot encoded, into LSTM(50) → dense softmax
// (the classic Keras "echo a value from the sequence" tutorial): the model
// must remember the digit it saw at a given position. Run: node examples/digit-echo.mjs
import { fileURLToPath } from 'node:url';
import { init, Sequential, layers, tensor, Random } from '../dist/index.js';

export const LENGTH = 5;
export const ECHO = 1; // predict the digit at this position

export function digitData(n, rng) {
  const x = new Float32Array(n * LENGTH * 10);
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < LENGTH; t++) {
      const d = rng.int(10);
      x[(i * LENGTH + t) * 10 + d] = 1;
      if (t === ECHO) y[i * 10 + d] = 1;
    }
  }
  return [tensor(x, [n, LENGTH, 10]), tensor(y, [n, 10])];
}

export async function run({ epochs = 15, seed = 1, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const [x, y] = digitData(3000, rng);
  const [xt, yt] = digitData(500, rng);
  const model = new Sequential([layers.lstm({ units: 50, inputShape: [LENGTH, 10] }), layers.dense({ units: 10, activation: 'softmax' })], {
    seed,
  });
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const t0 = performance.now();
  const h = await model.fit(x, y, { epochs, batchSize: 32, seed });
  const seconds = (performance.now() - t0) / 1000;
  const test = model.evaluate(xt, yt);
  log(
    `digit echo: ${epochs} epochs in ${seconds.toFixed(2)} s, train accuracy ${(h.history.accuracy.at(-1) * 100).toFixed(1)} %, held-out accuracy ${(test.accuracy * 100).toFixed(1)} %`,
  );
  model.dispose();
  return { trainAccuracy: h.history.accuracy.at(-1), testAccuracy: test.accuracy, testLoss: test.loss, seconds };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
