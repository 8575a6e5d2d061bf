// Graph models against PyTorch (scripts/make-graph-fixtures.py): the same
// network written with the functional API under PyTorch's parameter names;
// the loss, the outputs and every parameter's gradient must match.
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './helpers/compare.js';
import { f32, readJson } from './helpers/fixtures.js';
import { initForTests } from './helpers/init.js';
import { input, layers, type Model, model, Sequential, type SymbolicTensor, type Tensor, tensor } from '../ts/index.js';

beforeAll(async () => {
  await initForTests();
});

interface Arr {
  shape: number[];
  data: string;
}
interface GraphCase {
  inputs: Record<string, Arr>;
  targets: Arr[];
  params: Record<string, Arr>;
  outputs: Arr[];
  loss: number;
  grads: Record<string, Arr>;
}

const t = (a: Arr) => tensor(f32(a.data), a.shape);
const many = (x: SymbolicTensor | SymbolicTensor[]) => x as SymbolicTensor[];
const one = (x: SymbolicTensor | SymbolicTensor[]) => x as SymbolicTensor;

/** Load the case's parameters, compare outputs, loss and gradients. */
function check(name: string, m: Model): void {
  const c = readJson<GraphCase>(`graph/${name}.json`);
  m.setWeights(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, t(v)])));
  const byName = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, t(v)]));
  const x = m.inputs.length === 1 ? Object.values(byName)[0] : byName;
  const y = c.targets.map(t);
  const out = m.predict(x);
  const outs = Array.isArray(out) ? out : [out];
  c.outputs.forEach((o, i) => {
    expect(outs[i].shape).toEqual(o.shape);
    expectClose(`${name} output ${i}`, outs[i].data, f32(o.data), 1e-5, 1e-5);
  });
  m.compile({ optimizer: 'sgd', loss: c.targets.map(() => 'mse') });
  const { loss, grads } = m.computeGradients(x, y);
  expect(Math.abs(loss - c.loss)).toBeLessThan(1e-5 * (1 + Math.abs(c.loss)));
  expect(Object.keys(grads).sort()).toEqual(Object.keys(c.grads).sort());
  for (const [k, g] of Object.entries(c.grads)) expectClose(`${name} d${k}`, (grads[k] as Tensor).data, f32(g.data), 1e-4, 1e-4);
}

describe('graph models against PyTorch', () => {
  it('an LSTM encoder starts the decoder from its [h, c]; the encoder h is also an output', () => {
    const encIn = input({ shape: [6, 3], name: 'enc_in' });
    const decIn = input({ shape: [4, 2], name: 'dec_in' });
    const [, h, c] = many(layers.lstm({ name: 'enc', units: 5, returnState: true }).apply(encIn));
    const dec = layers.lstm({ name: 'dec', units: 5, returnSequences: true }).apply(decIn, { initialState: [h, c] });
    const out = one(layers.dense({ name: 'out', units: 3 }).apply(one(dec)));
    const m = model({ inputs: [encIn, decIn], outputs: [out, h] });
    expect(m.outputs.map((o) => o.shape)).toEqual([[4, 3], [5]]);
    check('seq2seq_lstm', m);
    m.dispose();
  });

  it('a bidirectional GRU decoder starts from a bidirectional encoder’s two states', () => {
    const encIn = input({ shape: [6, 3], name: 'enc_in' });
    const decIn = input({ shape: [4, 2], name: 'dec_in' });
    const enc = layers.bidirectional({ name: 'enc', layer: layers.gru({ units: 5, returnState: true }) });
    const [, fh, bh] = many(enc.apply(encIn));
    const dec = layers.bidirectional({ name: 'dec', layer: layers.gru({ units: 5, returnSequences: true }) });
    const out = one(layers.dense({ name: 'out', units: 3 }).apply(one(dec.apply(decIn, { initialState: [fh, bh] }))));
    check('bigru_states', model({ inputs: [encIn, decIn], outputs: out }));
  });

  it('convolutions (causal dilated; strided, grouped, same), max pooling, a GRU and global average pooling, as a Sequential', () => {
    const m = new Sequential(
      [
        layers.conv1d({
          name: 'conv1',
          filters: 8,
          kernelSize: 3,
          dilationRate: 2,
          padding: 'causal',
          activation: 'relu',
          inputShape: [12, 3],
        }),
        layers.conv1d({ name: 'conv2', filters: 8, kernelSize: 3, strides: 2, groups: 2, padding: 'same', activation: 'tanh' }),
        layers.maxPooling1d({ poolSize: 2 }),
        layers.gru({ name: 'gru', units: 5, returnSequences: true }),
        layers.globalAveragePooling1d(),
        layers.dense({ name: 'out', units: 2 }),
      ],
      { seed: 1 },
    );
    m.build();
    expect(m.layers.map((l) => l.outputShape)).toEqual([[12, 8], [6, 8], [3, 8], [3, 5], [5], [2]]);
    check('conv_gru', m);
    m.dispose();
  });

  it('initialState is checked when applied: count, shape, stateful', () => {
    const x = input({ shape: [4, 2] });
    const h = input({ shape: [5] });
    expect(() => layers.lstm({ units: 5 }).apply(x, { initialState: [h] })).toThrow(/initialState takes 2 tensors \(h, c\); got 1/);
    expect(() => layers.gru({ units: 6 }).apply(x, { initialState: [h] })).toThrow(/initial state h must have shape \[6\]/);
    expect(() => layers.bidirectional({ layer: layers.gru({ units: 5 }) }).apply(x, { initialState: [h] })).toThrow(
      /initialState takes 2 tensors \(forward h, backward h\); got 1/,
    );
    expect(() => layers.gru({ units: 5, stateful: true, batchSize: 2 }).apply(x, { initialState: [h] })).toThrow(
      /stateful layer carries its own state/,
    );
  });
});
