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

  it('dot attention with a learned scale over [query, masked value, key]; its weights as a second output with their own loss', () => {
    const q = input({ shape: [3, 4], name: 'q' });
    const v = input({ shape: [5, 3], name: 'v' });
    const k = input({ shape: [5, 4], name: 'k' });
    const vm = one(layers.masking().apply(v));
    const [out, w] = many(layers.attention({ name: 'attn', useScale: true }).apply([q, vm, k], { returnAttentionScores: true }));
    expect(w.shape).toEqual([3, 5]);
    check('dot_attention', model({ inputs: [q, v, k], outputs: [out, w] }));
  });

  it('causal dot self-attention: the key defaults to the value, one tensor in all three roles', () => {
    const x = input({ shape: [4, 4], name: 'x' });
    const [out, w] = many(
      layers.attention({ name: 'attn', useScale: true, useCausalMask: true, returnAttentionScores: true }).apply([x, x]),
    );
    check('dot_attention_causal', model({ inputs: x, outputs: [out, w] }));
  });

  it('additive attention over a masked query and value; global average pooling over the valid query steps', () => {
    const q = input({ shape: [3, 4], name: 'q' });
    const v = input({ shape: [5, 4], name: 'v' });
    const [out, w] = many(
      layers
        .additiveAttention({ name: 'attn' })
        .apply([one(layers.masking().apply(q)), one(layers.masking().apply(v))], { returnAttentionScores: true }),
    );
    const pooled = one(layers.globalAveragePooling1d().apply(out));
    check('additive_attention', model({ inputs: [q, v], outputs: [pooled, w] }));
  });

  it('causal multi-head self-attention over a masked LSTM (torch.nn.MultiheadAttention, packed sequences)', () => {
    const x = input({ shape: [6, 3], name: 'x' });
    const y = one(layers.lstm({ name: 'lstm', units: 8, returnSequences: true }).apply(one(layers.masking().apply(x))));
    const mha = layers.multiHeadAttention({ name: 'mha', numHeads: 2, keyDim: 4 });
    const [a, w] = many(mha.apply([y, y], { useCausalMask: true, returnAttentionScores: true }));
    expect(w.shape).toEqual([2, 6, 6]);
    const out = one(layers.dense({ name: 'out', units: 2 }).apply(one(layers.globalAveragePooling1d().apply(a))));
    check('lstm_self_attention', model({ inputs: x, outputs: [out, w] }));
  });

  it('multi-head attention across query, key and value of different widths', () => {
    const q = input({ shape: [3, 8], name: 'q' });
    const k = input({ shape: [4, 6], name: 'k' });
    const v = input({ shape: [4, 5], name: 'v' });
    const a = one(layers.multiHeadAttention({ name: 'mha', numHeads: 2, keyDim: 4 }).apply([q, one(layers.masking().apply(v)), k]));
    check('cross_attention', model({ inputs: [q, k, v], outputs: a }));
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
