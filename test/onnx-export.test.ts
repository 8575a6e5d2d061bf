// model.toOnnx(): exported graphs run in onnxruntime-node and give our
// predict() outputs within 1e-5 — for every layer and option that exports —
// and import back through importOnnx.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { Random, Sequential, importOnnx, layers, tensor, type Tensor } from '../ts/index.js';
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
