// Sequence to sequence: integer addition as strings, the Keras addition_rnn
// task ("535+61" → "596"). An LSTM encoder reads the question (reversed, as
// Keras does: the digits that add first come first), repeatVector hands its
// final state to every output step, an LSTM decoder writes the answer and a
// timeDistributed softmax picks each character. Reports exact-match accuracy
// on held-out sums. Run: node examples/addition.mjs
import { fileURLToPath } from 'node:url';
import { init, layers, optimizers, Random, Sequential, schedules, tensor } from '../dist/index.js';

export const DIGITS = 3;
const MAXLEN = DIGITS + 1 + DIGITS; // "999+999"
const ANSWER = DIGITS + 1; // "1998"
export const CHARS = ' 0123456789+';
const ID = Object.fromEntries([...CHARS].map((c, i) => [c, i]));

/** `n` distinct questions "a+b" (a, b with 1 to DIGITS digits) not in `seen`, and their answers. */
export function sums(n, rng, seen = new Set()) {
  const q = [];
  const a = [];
  while (q.length < n) {
    const num = () => Number(Array.from({ length: 1 + rng.int(DIGITS) }, () => rng.int(10)).join(''));
    const [x, y] = [num(), num()];
    const key = `${Math.min(x, y)}+${Math.max(x, y)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    q.push(`${x}+${y}`.padEnd(MAXLEN));
    a.push(String(x + y).padEnd(ANSWER));
  }
  return { q, a, seen };
}

/** Questions as reversed id sequences `[n, MAXLEN]`, answers as ids `[n, ANSWER]`. */
export function encode({ q, a }) {
  const x = new Int32Array(q.length * MAXLEN);
  const y = new Int32Array(a.length * ANSWER);
  for (const [i, s] of q.entries())
    x.set(
      [...s].reverse().map((c) => ID[c]),
      i * MAXLEN,
    );
  for (const [i, s] of a.entries())
    y.set(
      [...s].map((c) => ID[c]),
      i * ANSWER,
    );
  return [tensor(x, [q.length, MAXLEN]), tensor(y, [a.length, ANSWER])];
}

export async function run({ epochs = 10, train = 25000, test = 2000, units = 128, learningRate = 0.01, seed = 1, log = console.log } = {}) {
  await init();
  const rng = new Random(seed);
  const trainSet = sums(train, rng);
  const testSet = sums(test, rng, trainSet.seen); // held out: no question of the training set
  const [x, y] = encode(trainSet);
  const [xt] = encode(testSet);
  const model = new Sequential(
    [
      layers.embedding({ inputDim: CHARS.length, outputDim: 16, inputShape: [MAXLEN] }),
      layers.lstm({ units }),
      layers.repeatVector({ n: ANSWER }),
      layers.lstm({ units, returnSequences: true }),
      layers.timeDistributed({ layer: layers.dense({ units: CHARS.length, activation: 'softmax' }) }),
    ],
    { seed },
  );
  // Adam with the learning rate annealed to 0 along a cosine over the run
  const steps = epochs * Math.ceil(train / 64);
  const lr = schedules.cosineDecay({ initialLearningRate: learningRate, decaySteps: steps });
  model.compile({ optimizer: optimizers.adam({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const t0 = performance.now();
  await model.fit(x, y, { epochs, batchSize: 64, seed, verbose: 0 });
  const seconds = (performance.now() - t0) / 1000;
  // exact match: every character of the answer right
  const p = model.predict(xt).data;
  const V = CHARS.length;
  let right = 0;
  const shown = [];
  testSet.q.forEach((question, i) => {
    let answer = '';
    for (let t = 0; t < ANSWER; t++) {
      const row = p.subarray((i * ANSWER + t) * V, (i * ANSWER + t + 1) * V);
      answer += CHARS[row.indexOf(Math.max(...row))];
    }
    if (answer === testSet.a[i]) right++;
    if (shown.length < 5)
      shown.push(`${question.trim()} = ${answer.trim()}${answer === testSet.a[i] ? '' : ` (not ${testSet.a[i].trim()})`}`);
  });
  const accuracy = right / test;
  log(
    `addition: ${epochs} epochs over ${train} sums in ${seconds.toFixed(1)} s; exact match on ${test} held-out sums ${(accuracy * 100).toFixed(1)} %`,
  );
  for (const s of shown) log(`  ${s}`);
  model.dispose();
  return { accuracy, seconds, examples: shown };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
