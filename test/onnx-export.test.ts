// model.toOnnx(): exported graphs run in onnxruntime-node and give our
// predict() outputs within 1e-5 — for every layer and option that exports —
// and import back through importOnnx.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { input, type Model, model, Random, Sequential, type SymbolicTensor, importOnnx, layers, tensor, type Tensor } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';

beforeAll(async () => {
  await initForTests();
});

function ids(B: number, T: number, V: number, rng: Random, lens?: number[]): Tensor {
  const d = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) d[b * T + t] = lens && t >= lens[b] ? 0 : 1 + rng.int(V - 1);
  return tensor(d, [B, T]);
}

async function check(name: string, model: Sequential, x: Tensor) {
  const bytes = model.toOnnx();
  const ours = model.predict(x);
  const session = await ort.InferenceSession.create(bytes);
  const feed =
    x.dtype === 'int32'
      ? new ort.Tensor('int64', BigInt64Array.from(Array.from(x.data, (v) => BigInt(v))), x.shape)
      : new ort.Tensor('float32', x.data as Float32Array, x.shape);
  const out = await session.run({ x: feed });
  expect(out.y.dims.map(Number), `${name} shape`).toEqual(ours.shape);
  expectClose(`${name} onnxruntime vs predict`, out.y.data as Float32Array, ours.data, 1e-5, 1e-5);
  await session.release();
  const back = importOnnx(bytes);
  expectClose(`${name} importOnnx vs predict`, back.predict(x).data, ours.data, 1e-5, 1e-5);
  back.dispose();
  model.dispose();
}

describe('toOnnx runs in onnxruntime-node', () => {
  const rng = new Random(3);
  const floats = (shape: number[]) =>
    tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1.5, 1.5)),
      shape,
    );

  it('LSTM → dense softmax (many-to-one)', async () => {
    await check(
      'lstm',
      new Sequential([layers.lstm({ units: 6, inputShape: [5, 3] }), layers.dense({ units: 4, activation: 'softmax' })], { seed: 1 }),
      floats([3, 5, 3]),
    );
  });
  it('stacked GRU (reset after and before) with layer norm, per-step dense', async () => {
    const m = new Sequential(
      [
        layers.gru({ units: 5, returnSequences: true, inputShape: [null, 4] }),
        layers.layerNormalization(),
        layers.gru({ units: 4, returnSequences: true, resetAfter: false }),
        layers.dense({ units: 2, activation: 'tanh' }),
      ],
      { seed: 2 },
    );
    await check('gru stack', m, floats([2, 7, 4]));
  });
  it('bidirectional merges (concat, sum, mul, ave) and last outputs', async () => {
    for (const mode of ['concat', 'sum', 'mul', 'ave'] as const) {
      const m = new Sequential(
        [
          layers.bidirectional({ layer: layers.lstm({ units: 4, returnSequences: true }), mergeMode: mode, inputShape: [6, 3] }),
          layers.bidirectional({ layer: layers.simpleRNN({ units: 3 }), mergeMode: mode }),
        ],
        { seed: 3 },
      );
      await check(`bidirectional ${mode}`, m, floats([2, 6, 3]));
    }
  });
  it('embedding with maskZero (sequence_lens), goBackwards, hard-sigmoid gates, relu RNN', async () => {
    const m = new Sequential(
      [
        layers.embedding({ inputDim: 12, outputDim: 5, maskZero: true, inputShape: [7] }),
        layers.lstm({ units: 6, returnSequences: true, recurrentActivation: 'hardSigmoid' }),
        layers.gru({ units: 5, returnSequences: true, goBackwards: true, recurrentActivation: 'hardSigmoid6' }),
        layers.simpleRNN({ units: 4, activation: 'relu' }),
        layers.dense({ units: 3 }),
      ],
      { seed: 4 },
    );
    await check('masked embedding stack', m, ids(3, 7, 12, rng, [7, 3, 5]));
  });
  it('goBackwards without masking and lastStep', async () => {
    const m = new Sequential(
      [
        layers.lstm({ units: 4, returnSequences: true, goBackwards: true, inputShape: [5, 2] }),
        layers.lastStep(),
        layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
      { seed: 5 },
    );
    await check('goBackwards + lastStep', m, floats([3, 5, 2]));
  });
});

/** A graph model's export against its predict: every output, inputs by name x0, x1, …. */
async function checkGraph(name: string, m: Model, xs: Tensor[]) {
  const bytes = m.toOnnx();
  const ours = m.predict(xs);
  const outs = Array.isArray(ours) ? ours : [ours];
  const session = await ort.InferenceSession.create(bytes);
  const feed = (x: Tensor) =>
    x.dtype === 'int32'
      ? new ort.Tensor('int64', BigInt64Array.from(Array.from(x.data, (v) => BigInt(v))), x.shape)
      : new ort.Tensor('float32', x.data as Float32Array, x.shape);
  const names = xs.length === 1 ? ['x'] : xs.map((_, i) => `x${i}`);
  const got = await session.run(Object.fromEntries(xs.map((x, i) => [names[i], feed(x)])));
  outs.forEach((o, i) => {
    const y = got[outs.length === 1 ? 'y' : `y${i}`];
    expect(y.dims.map(Number), `${name} output ${i} shape`).toEqual(o.shape);
    expectClose(`${name} output ${i}: onnxruntime vs predict`, y.data as Float32Array, o.data, 1e-5, 1e-5);
  });
  await session.release();
  m.dispose();
}

describe('toOnnx of graph models runs in onnxruntime-node', () => {
  const rng = new Random(9);
  const floats = (shape: number[]) =>
    tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1.5, 1.5)),
      shape,
    );
  const one = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor;
  const many = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor[];

  it('encoder–decoder with attention: masked bidirectional encoder states into the decoder, the weights as a second output', async () => {
    const enc = input({ shape: [6], dtype: 'int32' });
    const dec = input({ shape: [4], dtype: 'int32' });
    const e = one(layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true }).apply(enc));
    const [seq, fh, fc, bh, bc] = many(
      layers.bidirectional({ layer: layers.lstm({ units: 3, returnSequences: true, returnState: true }) }).apply(e),
    );
    const h = one(layers.concatenate().apply([fh, bh]));
    const c = one(layers.concatenate().apply([fc, bc]));
    const d = one(layers.embedding({ inputDim: 5, outputDim: 4 }).apply(dec));
    const decoded = one(layers.lstm({ units: 6, returnSequences: true }).apply(d, { initialState: [h, c] }));
    const [ctx, w] = many(layers.attention({ useScale: true, returnAttentionScores: true }).apply([decoded, seq]));
    const out = one(layers.dense({ units: 5, activation: 'softmax' }).apply(one(layers.concatenate().apply([ctx, decoded]))));
    await checkGraph('seq2seq', model({ inputs: [enc, dec], outputs: [out, w], seed: 1 }), [
      ids(3, 6, 9, rng, [6, 2, 4]),
      ids(3, 4, 5, rng),
    ]);
  });

  it('causal multi-head self-attention over a masked GRU; additive attention with masked queries and values', async () => {
    const x = input({ shape: [5, 3] });
    const y = one(layers.gru({ units: 8, returnSequences: true }).apply(one(layers.masking().apply(x))));
    const [a, w] = many(
      layers
        .multiHeadAttention({ numHeads: 2, keyDim: 3, valueDim: 2, outputShape: 6 })
        .apply([y, y], { useCausalMask: true, returnAttentionScores: true }),
    );
    const add = one(layers.additiveAttention().apply([one(layers.dense({ units: 6 }).apply(y)), a]));
    const pooled = one(layers.globalAveragePooling1d().apply(add));
    const xs = floats([3, 5, 3]);
    for (const [b, n] of [
      [1, 2],
      [2, 4],
    ])
      for (let t = n; t < 5; t++) for (let f = 0; f < 3; f++) xs.data[(b * 5 + t) * 3 + f] = 0;
    await checkGraph('attention', model({ inputs: x, outputs: [pooled, w], seed: 2 }), [xs]);
  });

  it('convolutions, pooling, merges, repeatVector and timeDistributed', async () => {
    const x = input({ shape: [12, 4] });
    const c1 = one(layers.conv1d({ filters: 6, kernelSize: 3, dilationRate: 2, padding: 'causal', activation: 'relu' }).apply(x));
    const c2 = one(layers.conv1d({ filters: 6, kernelSize: 3, strides: 2, groups: 2, padding: 'same', activation: 'tanh' }).apply(c1));
    const p1 = one(layers.maxPooling1d({ poolSize: 2, padding: 'same' }).apply(c2));
    const p2 = one(layers.averagePooling1d({ poolSize: 3, strides: 1, padding: 'same' }).apply(p1));
    const v = one(layers.conv1d({ filters: 6, kernelSize: 2 }).apply(p1));
    const merged = ['add', 'subtract', 'multiply', 'average', 'maximum', 'minimum'].map((op) =>
      one(layers[op as 'add']({}).apply([one(layers.globalMaxPooling1d().apply(p2)), one(layers.globalAveragePooling1d().apply(v))])),
    );
    const cat = one(layers.concatenate().apply(merged));
    const seq = one(layers.repeatVector({ n: 3 }).apply(cat));
    const out = one(
      layers.timeDistributed({ layer: layers.dense({ units: 2 }) }).apply(one(layers.lstm({ units: 4, returnSequences: true }).apply(seq))),
    );
    await checkGraph('conv', model({ inputs: x, outputs: out, seed: 3 }), [floats([2, 12, 4])]);
  });
});
