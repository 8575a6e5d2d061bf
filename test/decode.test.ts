// decode(): an encoder–decoder graph (bidirectional LSTM encoder, its states
// starting an LSTM decoder, dot attention over the encoder's outputs) stepped
// one token per call. References: the same model run over whole sequences
// with teacher forcing (other kernels: the sequence ones), and exhaustive
// search over every short sequence.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { decode, input, layers, type Model, model, Random, type SymbolicTensor, type Tensor, tensor } from '../ts/index.js';

beforeAll(async () => {
  await initForTests();
});

const V_IN = 7;
const V_OUT = 5;
const [START, STOP] = [1, 2];
const one = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor;
const many = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor[];

function seq2seq(seed: number): Model {
  const encIn = input({ shape: [null], dtype: 'int32', name: 'enc' });
  const decIn = input({ shape: [null], dtype: 'int32', name: 'dec' });
  const e = one(layers.embedding({ inputDim: V_IN, outputDim: 5, maskZero: true }).apply(encIn));
  const [seq, fh, fc, bh, bc] = many(
    layers.bidirectional({ layer: layers.lstm({ units: 4, returnSequences: true, returnState: true }) }).apply(e),
  );
  const h = one(layers.concatenate().apply([fh, bh]));
  const c = one(layers.concatenate().apply([fc, bc]));
  const d = one(layers.embedding({ inputDim: V_OUT, outputDim: 6 }).apply(decIn));
  const dec = one(layers.lstm({ units: 8, returnSequences: true }).apply(d, { initialState: [h, c] }));
  const ctx = one(layers.attention().apply([dec, seq]));
  const out = one(layers.dense({ name: 'out', units: V_OUT, activation: 'softmax' }).apply(one(layers.concatenate().apply([ctx, dec]))));
  const m = model({ inputs: [encIn, decIn], outputs: out, seed });
  // larger weights than the initialisers give: peaked, varied distributions
  const w = m.getWeights();
  const rng = new Random(seed);
  m.setWeights(
    Object.fromEntries(
      Object.entries(w).map(([k, t]) => [
        k,
        tensor(
          t.data.map(() => rng.uniform(-1.2, 1.2)),
          t.shape,
        ),
      ]),
    ),
  );
  // a stop token likely enough that some sequences end early, the start token unlikely (as after training)
  const bias = m.getWeights()['out.bias'];
  bias.data[STOP] += 1;
  bias.data[START] -= 2;
  m.setWeights({ 'out.bias': bias });
  return m;
}

/** Encoder inputs: ids in [3, V_IN), each sample post-padded with zeros to 6 steps. */
function encoderInputs(n: number, seed: number): Tensor {
  const rng = new Random(seed);
  const data = new Int32Array(n * 6);
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(5);
    for (let t = 0; t < len; t++) data[i * 6 + t] = 3 + rng.int(V_IN - 3);
  }
  return tensor(data, [n, 6]);
}

/** Teacher forcing: the probabilities of every step of `tokens` (after START) for sample `i`. */
function forced(m: Model, enc: Tensor, i: number, tokens: number[]): Float32Array {
  const x = tensor(enc.data.slice(i * 6, (i + 1) * 6) as Int32Array, [1, 6]);
  const d = tensor(Int32Array.from([START, ...tokens]), [1, tokens.length + 1]);
  return (m.predict({ enc: x, dec: d }) as Tensor).data as Float32Array;
}

/** Summed log-probability of `tokens` (with STOP appended when `ended`) under teacher forcing. */
function logProb(m: Model, enc: Tensor, i: number, tokens: number[], ended: boolean): number {
  const full = ended ? [...tokens, STOP] : tokens;
  const p = forced(m, enc, i, full.slice(0, -1));
  return full.reduce((s, tok, t) => s + Math.log(p[t * V_OUT + tok]), 0);
}

describe('decode', () => {
  it('greedy decoding, one token per session step, matches the teacher-forced whole-sequence model', () => {
    const m = seq2seq(3);
    const enc = encoderInputs(9, 5);
    const r = decode(m, { encoderInputs: { enc }, startToken: START, stopToken: STOP, maxLength: 6, batchSize: 4 });
    expect(r.sequences.length).toBe(9);
    let stopped = 0;
    r.sequences.forEach((tokens, i) => {
      const ended = tokens.length < 6;
      stopped += ended ? 1 : 0;
      const full = ended ? [...tokens, STOP] : tokens;
      const p = forced(m, enc, i, full.slice(0, -1));
      // every chosen token is the argmax of the teacher-forced step
      full.forEach((tok, t) => {
        const row = Array.from(p.subarray(t * V_OUT, (t + 1) * V_OUT));
        expect(row.indexOf(Math.max(...row)), `sample ${i} step ${t}`).toBe(tok);
      });
      expect(Math.abs(r.scores[i] - logProb(m, enc, i, tokens, ended))).toBeLessThan(1e-4);
    });
    expect(stopped).toBeGreaterThan(0);
    m.dispose();
  });

  it('beam search of width 1 is greedy; a wide beam finds the best sequence of exhaustive search', () => {
    const m = seq2seq(7);
    const enc = encoderInputs(5, 11);
    const args = { encoderInputs: enc, startToken: START, stopToken: STOP, maxLength: 3 };
    const g = decode(m, args);
    const b1 = decode(m, { ...args, beamWidth: 1 });
    expect(b1).toEqual(g);
    const wide = decode(m, { ...args, beamWidth: 25 });
    for (let i = 0; i < 5; i++) {
      // every sequence of at most 3 tokens: ended by STOP before 3, or cut at 3
      let best = { tokens: [] as number[], score: -Infinity };
      const visit = (prefix: number[]) => {
        if (prefix.length < 3) {
          const s = logProb(m, enc, i, prefix, true);
          if (s > best.score) best = { tokens: prefix, score: s };
        }
        if (prefix.length === 3) {
          const s = logProb(m, enc, i, prefix, false);
          if (s > best.score) best = { tokens: prefix, score: s };
          return;
        }
        for (let v = 0; v < V_OUT; v++) if (v !== STOP) visit([...prefix, v]);
      };
      visit([]);
      expect(wide.sequences[i]).toEqual(best.tokens);
      expect(Math.abs(wide.scores[i] - best.score)).toBeLessThan(1e-4);
      expect(wide.scores[i]).toBeGreaterThanOrEqual(g.scores[i] - 1e-6);
    }
    m.dispose();
  });

  it('refuses what it cannot decode, naming it', () => {
    const m = seq2seq(1);
    const enc = encoderInputs(2, 1);
    expect(() => decode(m, { encoderInputs: { enc }, startToken: 9, maxLength: 3 })).toThrow(/startToken 9 is not a token id in \[0, 5\)/);
    expect(() => decode(m, { encoderInputs: { enc }, startToken: 1, maxLength: 0 })).toThrow(/maxLength must be an integer ≥ 1/);
    expect(() => decode(m, { encoderInputs: { nope: enc }, startToken: 1, maxLength: 3 })).toThrow(
      /encoderInputs must name every input but the decoder's/,
    );
    // a bidirectional decoder cannot be stepped
    const x = input({ shape: [null], dtype: 'int32', name: 'x' });
    const y = input({ shape: [null], dtype: 'int32', name: 'y' });
    const ey = one(layers.embedding({ inputDim: 4, outputDim: 3 }).apply(y));
    const ex = one(layers.embedding({ inputDim: 4, outputDim: 3 }).apply(x));
    const b = one(layers.bidirectional({ layer: layers.gru({ units: 3, returnSequences: true }) }).apply(ey));
    const o = one(
      layers
        .dense({ units: 4, activation: 'softmax' })
        .apply(one(layers.concatenate().apply([b, one(layers.gru({ units: 6, returnSequences: true }).apply(ex))]))),
    );
    const bad = model({ inputs: [x, y], outputs: o });
    expect(() => decode(bad, { encoderInputs: { x: tensor(new Int32Array([1, 2]), [1, 2]) }, startToken: 1, maxLength: 3 })).toThrow(
      /bidirectional/,
    );
    bad.dispose();
    m.dispose();
  });
});
