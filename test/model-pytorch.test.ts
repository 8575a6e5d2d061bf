// Whole models against PyTorch: the same weights loaded by name into a
// Sequential give PyTorch's loss and the gradient of every parameter
// (embedding, LSTM/GRU/RNN, dense; fused softmax and sigmoid cross-entropy,
// MSE; bidirectional many-to-one; stacked many-to-many).
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { Sequential, layers, tensor } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';
import { f32, readJson } from './helpers/fixtures.js';

interface ModelCase {
  name: string;
  batch: number;
  steps: number;
  spec: Record<string, number>;
  x: string;
  xDtype: 'int32' | 'float32';
  y: string;
  yDtype: 'int32' | 'float32';
  loss: number;
  params: Record<string, { shape: number[]; data: string }>;
  grads: Record<string, string>;
}

function i32(b64: string): Int32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function build(c: ModelCase): { model: Sequential; x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor> } {
  const { batch: B, steps: T, spec } = c;
  let model: Sequential;
  if (c.name === 'emb_lstm_dense_scce') {
    model = new Sequential([
      layers.embedding({ name: 'embedding', inputDim: spec.vocab, outputDim: spec.embed, inputShape: [T] }),
      layers.lstm({ name: 'rnn', units: spec.units, returnSequences: true }),
      layers.dense({ name: 'dense', units: spec.vocab, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    return { model, x: tensor(i32(c.x), [B, T]), y: tensor(i32(c.y), [B, T]) };
  }
  if (c.name === 'bigru_last_dense_mse') {
    model = new Sequential([
      layers.bidirectional({ name: 'rnn', layer: layers.gru({ units: spec.units }), inputShape: [T, spec.input] }),
      layers.dense({ name: 'dense', units: spec.out }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    return { model, x: tensor(f32(c.x), [B, T, spec.input]), y: tensor(f32(c.y), [B, spec.out]) };
  }
  model = new Sequential([
    layers.simpleRNN({ name: 'rnn1', units: spec.units, returnSequences: true, inputShape: [T, spec.input] }),
    layers.simpleRNN({ name: 'rnn2', units: spec.units, returnSequences: true }),
    layers.dense({ name: 'dense', units: 1, activation: 'sigmoid' }),
  ]);
  model.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
  return { model, x: tensor(f32(c.x), [B, T, spec.input]), y: tensor(f32(c.y), [B, T, 1]) };
}

describe('models match PyTorch (loss and every gradient)', () => {
  beforeAll(async () => {
    await initForTests();
  });
  const index = readJson<{ cases: string[] }>('models/index.json');
  for (const name of index.cases) {
    it(name, () => {
      const c = readJson<ModelCase>(`models/${name}.json`);
      const { model, x, y } = build(c);
      const weights: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(c.params)) weights[k] = f32(v.data);
      model.setWeights(weights);
      // every PyTorch tensor maps onto exactly one of ours, with the same shape
      const ours = model.getWeights();
      expect(Object.keys(ours).sort()).toEqual(Object.keys(c.params).sort());
      for (const [k, v] of Object.entries(c.params)) expect(ours[k].shape).toEqual(v.shape);
      const { loss, grads } = model.computeGradients(x, y);
      expect(Math.abs(loss - c.loss)).toBeLessThan(1e-5 * (1 + Math.abs(c.loss)));
      for (const [k, g] of Object.entries(c.grads)) expectClose(`${name} d${k}`, grads[k].data, f32(g), 1e-5, 1e-4);
      model.dispose();
    });
  }
});
