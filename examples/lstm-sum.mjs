// The low-level layer API end to end: one LSTM layer plus a linear read-out,
// trained by BPTT with plain SGD to output the running sum of its inputs.
// Run: node examples/lstm-sum.mjs
import { init, RecurrentKernel, Random } from '../dist/index.js';

await init();
const rng = new Random(7);
const T = 12,
  B = 16,
  H = 16;
const lstm = new RecurrentKernel({ cell: 'lstm', inputSize: 1, hiddenSize: H }, { seed: 1 });
const w = Float32Array.from({ length: H }, () => rng.uniform(-0.3, 0.3)); // read-out [H] → 1
let bias = 0;
const lr = 0.5;

function batch() {
  const x = new Float32Array(T * B);
  const target = new Float32Array(T * B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      const v = rng.uniform(-0.5, 0.5);
      s += v;
      x[t * B + b] = v;
      target[t * B + b] = s;
    }
  }
  return { x, target };
}

for (let step = 0; step <= 600; step++) {
  const { x, target } = batch();
  const { y } = lstm.forward({ x, seqLen: T, batchSize: B, training: true });
  // read-out and MSE on every step
  const dy = new Float32Array(y.length);
  const dw = new Float32Array(H);
  let db = 0,
    loss = 0;
  for (let r = 0; r < T * B; r++) {
    let p = bias;
    for (let j = 0; j < H; j++) p += w[j] * y[r * H + j];
    const e = p - target[r];
    loss += (e * e) / (T * B);
    const g = (2 * e) / (T * B);
    db += g;
    for (let j = 0; j < H; j++) {
      dw[j] += g * y[r * H + j];
      dy[r * H + j] = g * w[j];
    }
  }
  lstm.zeroGradients();
  lstm.backward({ dy, inputGrad: false });
  const p = lstm.getParameters();
  const g = lstm.getGradients();
  for (let k = 0; k < p.length; k++) p[k] -= lr * g[k];
  lstm.setParameters(p);
  for (let j = 0; j < H; j++) w[j] -= lr * dw[j];
  bias -= lr * db;
  if (step % 100 === 0) console.log(`step ${String(step).padStart(3)}  mse ${loss.toFixed(5)}`);
}
