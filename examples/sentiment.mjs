// Sentiment-style sequence classification (many-to-one, binary
// cross-entropy) on generated "reviews": variable-length word-id sequences,
// post-padded with 0 and masked (embedding maskZero). A review is positive
// when it has more positive than negative words; "not" flips the next word.
// Reports accuracy, precision, recall, F1 and AUC. Run: node examples/sentiment.mjs
import { fileURLToPath } from 'node:url';
import { init, Sequential, layers, optimizers, tensor, Random, quantize, prune } from '../dist/index.js';

export const MAX_LEN = 20;
export const VOCAB = 40; // 0 padding; 1 "not"; 2–7 positive; 8–13 negative; the rest neutral
const POS = [2, 7];
const NEG = [8, 13];

export function reviews(n, rng) {
  const x = new Int32Array(n * MAX_LEN);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const len = 5 + rng.int(MAX_LEN - 4);
    let score = 0;
    let negate = false;
    for (let t = 0; t < len; t++) {
      const r = rng.next();
      const w = r < 0.1 ? 1 : r < 0.35 ? POS[0] + rng.int(6) : r < 0.6 ? NEG[0] + rng.int(6) : 14 + rng.int(VOCAB - 14);
      x[i * MAX_LEN + t] = w;
      const s = w >= POS[0] && w <= POS[1] ? 1 : w >= NEG[0] && w <= NEG[1] ? -1 : 0;
      score += negate ? -s : s;
      negate = w === 1;
    }
    y[i] = score > 0 ? 1 : 0;
  }
  return [tensor(x, [n, MAX_LEN]), tensor(y, [n, 1])];
}

export async function run({ epochs = 12, seed = 1, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const [x, y] = reviews(4000, rng);
  const [xt, yt] = reviews(1000, rng);
  const model = new Sequential(
    [
      layers.embedding({ inputDim: VOCAB, outputDim: 16, maskZero: true, inputShape: [MAX_LEN] }),
      layers.lstm({ units: 32 }),
      layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
    { seed },
  );
  model.compile({
    optimizer: optimizers.adam({ learningRate: 0.005 }),
    loss: 'binaryCrossentropy',
    metrics: ['accuracy', 'precision', 'recall', 'f1', 'auc'],
  });
  const t0 = performance.now();
  await model.fit(x, y, { epochs, batchSize: 32, seed, validationSplit: 0.1 });
  const seconds = (performance.now() - t0) / 1000;
  const test = model.evaluate(xt, yt, { batchSize: 100 });
  log(
    `sentiment: ${epochs} epochs in ${seconds.toFixed(2)} s; held-out accuracy ${(test.accuracy * 100).toFixed(1)} %, precision ${test.precision.toFixed(3)}, recall ${test.recall.toFixed(3)}, F1 ${test.f1.toFixed(3)}, AUC ${test.auc.toFixed(3)}`,
  );
  // int8 and f16 weights: held-out accuracy of the quantised model's predictions
  const accuracy = (p) => p.reduce((a, v, i) => a + ((v > 0.5 ? 1 : 0) === yt.data[i] ? 1 : 0), 0) / p.length;
  const quantized = { f32: { accuracy: accuracy(model.predict(xt).data) } };
  for (const dtype of ['int8', 'f16']) {
    const q = quantize(model, { dtype });
    quantized[dtype] = { accuracy: accuracy(q.predict(xt).data), bytes: q.save().length };
    log(
      `${dtype}: held-out accuracy ${(quantized[dtype].accuracy * 100).toFixed(1)} % (f32 ${(quantized.f32.accuracy * 100).toFixed(1)} %)`,
    );
    q.dispose();
  }
  // magnitude pruning to 50 % zeros, then 3 epochs of fine-tuning that keep the mask
  const denseBytes = model.save().length;
  const pruner = prune(model, { sparsity: 0.5 });
  const oneShot = model.evaluate(xt, yt, { batchSize: 100 }).accuracy;
  await model.fit(x, y, { epochs: 3, batchSize: 32, seed, callbacks: [pruner] });
  const pruned = {
    sparsity: Math.min(...Object.values(pruner.report())),
    oneShotAccuracy: oneShot,
    accuracy: model.evaluate(xt, yt, { batchSize: 100 }).accuracy,
    bytes: model.save({ sparse: true }).length,
    denseBytes,
  };
  log(
    `pruned to ${(pruned.sparsity * 100).toFixed(0)} % zeros: held-out accuracy ${(oneShot * 100).toFixed(1)} % at once, ${(pruned.accuracy * 100).toFixed(1)} % after fine-tuning; file ${pruned.bytes} bytes (dense ${denseBytes})`,
  );
  model.dispose();
  return { ...test, seconds, quantized, pruned };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
