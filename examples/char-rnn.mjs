// Character-level language model on Shakespeare's Sonnets (public domain,
// data/sonnets.txt): embedding → LSTM(128) → dense softmax over characters,
// trained with softmax cross-entropy on every step, then sampled with a
// temperature. Run: node examples/char-rnn.mjs [steps]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { init, Sequential, layers, optimizers, CharTokenizer, Random, tensor, quantize, prune } from '../dist/index.js';

export const SEQ_LEN = 50;

/** `count` windows of SEQ_LEN+1 ids at random offsets in `ids[lo, hi)`. */
export function windows(ids, lo, hi, count, rng) {
  const x = new Int32Array(count * SEQ_LEN);
  const y = new Int32Array(count * SEQ_LEN);
  for (let i = 0; i < count; i++) {
    const o = lo + rng.int(hi - lo - SEQ_LEN - 1);
    x.set(ids.subarray(o, o + SEQ_LEN), i * SEQ_LEN);
    y.set(ids.subarray(o + 1, o + SEQ_LEN + 1), i * SEQ_LEN);
  }
  return [tensor(x, [count, SEQ_LEN]), tensor(y, [count, SEQ_LEN])];
}

/** Held-out cross-entropy (nats/char) of a model's predicted probabilities on the true next ids. */
export function heldOutLoss(model, x, y, V) {
  const p = model.predict(x, { batchSize: 64 }).data;
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s -= Math.log(Math.max(p[i * V + y.data[i]], 1e-12));
  return s / y.data.length;
}

/** Sample `length` characters after `prompt` (predict on the last SEQ_LEN characters). */
export function sample(model, tok, prompt, length, temperature, rng) {
  const ids = Array.from(tok.encode(prompt));
  let out = '';
  for (let i = 0; i < length; i++) {
    const ctx = ids.slice(-SEQ_LEN);
    const p = model.predict(tensor(Int32Array.from(ctx), [1, ctx.length])).data;
    const V = tok.vocabSize;
    const last = p.subarray((ctx.length - 1) * V, ctx.length * V);
    // temperature: p^(1/τ), renormalised; ids 0 (padding) and 1 (unknown) never sampled
    let sum = 0;
    const w = new Float64Array(V);
    for (let j = 2; j < V; j++) {
      w[j] = last[j] ** (1 / temperature);
      sum += w[j];
    }
    let r = rng.next() * sum;
    let next = V - 1;
    for (let j = 2; j < V; j++) {
      r -= w[j];
      if (r <= 0) {
        next = j;
        break;
      }
    }
    ids.push(next);
    out += tok.token(next);
  }
  return out;
}

export async function run({ steps = 300, batchSize = 32, seed = 1, log = console.log, sampleLength = 200, pruneSteps = 40 } = {}) {
  await init();
  const text = readFileSync(new URL('../data/sonnets.txt', import.meta.url), 'utf8');
  const tok = CharTokenizer.fromText(text);
  const ids = tok.encode(text);
  const split = Math.floor(ids.length * 0.9);
  const rng = new Random(seed);
  const [x, y] = windows(ids, 0, split, steps * batchSize, rng);
  const [vx, vy] = windows(ids, split, ids.length, 256, rng);
  const model = new Sequential(
    [
      layers.embedding({ inputDim: tok.vocabSize, outputDim: 32, inputShape: [null] }),
      layers.lstm({ units: 128, returnSequences: true }),
      layers.dense({ units: tok.vocabSize, activation: 'softmax' }),
    ],
    { seed },
  );
  model.compile({
    optimizer: optimizers.adam({ learningRate: 0.01, clipNorm: 5 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const losses = [];
  const t0 = performance.now();
  await model.fit(x, y, {
    epochs: 1,
    batchSize,
    seed,
    callbacks: [
      {
        onBatchEnd: (b, l) => {
          losses.push(l.loss);
          if (b % 50 === 0) log(`step ${b}: loss ${l.loss.toFixed(3)}`);
        },
      },
    ],
  });
  const seconds = (performance.now() - t0) / 1000;
  const val = model.evaluate(vx, vy, { batchSize: 64 });
  const tail = losses.slice(-20);
  const result = {
    steps,
    seconds,
    msPerStep: (seconds * 1000) / steps,
    firstLoss: losses[0],
    finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
    valLoss: val.loss,
    valAccuracy: val.accuracy,
    uniformLoss: Math.log(tok.vocabSize - 2),
    sample: sample(model, tok, 'Shall I compare thee', sampleLength, 0.7, new Random(seed + 1)),
  };
  log(
    `trained ${steps} steps in ${seconds.toFixed(1)} s (${result.msPerStep.toFixed(1)} ms/step); loss ${result.firstLoss.toFixed(3)} → ${result.finalLoss.toFixed(3)}, held-out ${result.valLoss.toFixed(3)} (accuracy ${(result.valAccuracy * 100).toFixed(1)} %)`,
  );
  log(`sample (temperature 0.7):\nShall I compare thee${result.sample}`);
  // the same model with int8 and f16 weights: held-out cross-entropy from predict
  const crossEntropy = (m) => heldOutLoss(m, vx, vy, tok.vocabSize);
  const base = crossEntropy(model);
  result.quantized = { f32: { valLoss: base, bytes: model.save().length } };
  for (const dtype of ['int8', 'f16']) {
    const q = quantize(model, { dtype });
    const loss = crossEntropy(q);
    result.quantized[dtype] = { valLoss: loss, perplexityRatio: Math.exp(loss - base), bytes: q.save().length };
    log(
      `${dtype}: held-out ${loss.toFixed(4)} nats/char (perplexity ×${Math.exp(loss - base).toFixed(4)} of f32), file ${q.save().length} bytes (f32: ${result.quantized.f32.bytes})`,
    );
    q.dispose();
  }
  // magnitude pruning to 50 % zeros, then a short fine-tuning that keeps the mask
  const pruner = prune(model, { sparsity: 0.5 });
  const oneShot = crossEntropy(model);
  const [fx, fy] = windows(ids, 0, split, pruneSteps * batchSize, rng);
  await model.fit(fx, fy, { epochs: 1, batchSize, seed, callbacks: [pruner] });
  const prunedLoss = crossEntropy(model);
  result.pruned = {
    sparsity: Math.min(...Object.values(pruner.report())),
    oneShotLoss: oneShot,
    valLoss: prunedLoss,
    perplexityRatio: Math.exp(prunedLoss - base),
    bytes: model.save({ sparse: true }).length,
    denseBytes: result.quantized.f32.bytes,
  };
  log(
    `pruned to 50 % zeros: held-out ${oneShot.toFixed(4)} at once, ${prunedLoss.toFixed(4)} after ${pruneSteps} steps of fine-tuning (perplexity ×${result.pruned.perplexityRatio.toFixed(3)} of dense); file ${result.pruned.bytes} bytes`,
  );
  model.dispose();
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run({ steps: Number(process.argv[2] ?? 300) });
