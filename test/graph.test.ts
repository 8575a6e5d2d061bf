// Graph models (the functional API): inputs, layers applied to symbolic
// tensors, several inputs and outputs, shared layers, merges, one loss per
// output with weights; Sequential as the chain case. Gradients against
// central finite differences of the loss; merges against their definitions;
// the file and the config round-trip.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import {
  Model,
  Random,
  Sequential,
  type SymbolicTensor,
  type Tensor,
  ValueError,
  input,
  layers,
  loadModel,
  model,
  tensor,
} from '../ts/index.js';

beforeAll(async () => {
  await initForTests();
});

const rng = new Random(11);
const rand = (shape: number[], lo = -1, hi = 1) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Float32Array.from({ length: n }, () => rng.uniform(lo, hi)),
    shape,
  );
};
const sym = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor;
const many = (t: SymbolicTensor | SymbolicTensor[]) => t as SymbolicTensor[];

/** Two inputs (a sequence and a vector), a shared dense layer, concatenate, add; two outputs. */
function twoTower(seed = 3): Model {
  const seq = input({ shape: [5, 3], name: 'seq' });
  const vec = input({ shape: [4], name: 'vec' });
  const shared = layers.dense({ name: 'shared', units: 4, activation: 'tanh' });
  const enc = sym(layers.lstm({ name: 'enc', units: 6 }).apply(seq));
  const a = sym(shared.apply(vec));
  const b = sym(shared.apply(sym(layers.dense({ name: 'proj', units: 4 }).apply(enc))));
  const both = sym(layers.concatenate({ name: 'cat' }).apply([a, b, enc]));
  const sum = sym(layers.add({ name: 'sum' }).apply([a, b]));
  const out1 = sym(layers.dense({ name: 'score', units: 1 }).apply(both));
  const out2 = sym(layers.dense({ name: 'cls', units: 3, activation: 'softmax' }).apply(sum));
  return model({ inputs: [seq, vec], outputs: [out1, out2], name: 'two_tower', seed });
}

describe('graph models', () => {
  it('train with two inputs, a shared layer and two weighted losses; gradients match finite differences', async () => {
    const m = twoTower();
    expect(m.layers.map((l) => l.name)).toEqual(['enc', 'proj', 'shared', 'cat', 'sum', 'score', 'cls']);
    // the shared layer's parameters once
    expect(Object.keys(m.getWeights()).filter((k) => k.startsWith('shared.'))).toEqual(['shared.weight', 'shared.bias']);
    m.compile({
      optimizer: 'adam',
      loss: ['mse', 'sparseCategoricalCrossentropy'],
      lossWeights: [0.5, 2],
      metrics: { score: [], cls: ['accuracy'] },
    });
    const N = 12;
    const x = { seq: rand([N, 5, 3]), vec: rand([N, 4]) };
    const y = [
      rand([N, 1]),
      tensor(
        Int32Array.from({ length: N }, (_, i) => i % 3),
        [N],
      ),
    ];
    // the total is the weighted sum of each output's loss
    const ev = m.evaluate(x, y);
    expect(ev.loss).toBeCloseTo(0.5 * ev.score_loss + 2 * ev.cls_loss, 5);
    expect(ev.cls_accuracy).toBeGreaterThanOrEqual(0);
    // gradients of the total, including the shared layer's (two applications)
    const { loss, grads } = m.computeGradients(x, y);
    expect(loss).toBeCloseTo(ev.loss, 5);
    const w = m.getWeights();
    for (const [k, at] of [
      ['shared.weight', 1],
      ['shared.bias', 2],
      ['enc.weight_hh_l0', 5],
      ['proj.weight', 0],
      ['cls.bias', 1],
    ] as const) {
      const base = w[k].data;
      const lossWith = (d: number) => {
        const v = base.slice();
        v[at] += d;
        m.setWeights({ [k]: tensor(v, w[k].shape) });
        return m.evaluate(x, y).loss;
      };
      const h = 1e-2;
      const numeric = (lossWith(h) - lossWith(-h)) / (2 * h);
      m.setWeights({ [k]: w[k] });
      expect(Math.abs(grads[k].data[at] - numeric), `${k}[${at}]: ${grads[k].data[at]} vs ${numeric}`).toBeLessThan(
        2e-3 * Math.max(1, Math.abs(numeric)) + 2e-4,
      );
    }
    const h = await m.fit(x, y, { epochs: 30, batchSize: 4, seed: 1 });
    expect(Object.keys(h.history)).toEqual(['loss', 'score_loss', 'cls_loss', 'cls_accuracy']);
    expect(h.history.loss[29]).toBeLessThan(h.history.loss[0]);
    // predict gives one tensor per output, inputs as a list or a record
    const [p1, p2] = m.predict([x.seq, x.vec]) as Tensor[];
    expect(p1.shape).toEqual([N, 1]);
    expect(p2.shape).toEqual([N, 3]);
    const r = m.predict(x) as Tensor[];
    expect(Array.from(r[1].data)).toEqual(Array.from(p2.data));
    for (let i = 0; i < N; i++) expect(p2.data[3 * i] + p2.data[3 * i + 1] + p2.data[3 * i + 2]).toBeCloseTo(1, 5);
    m.dispose();
  });

  it('a Sequential and the same chain written as a graph compute the same numbers', async () => {
    const mk = () => [
      layers.embedding({ name: 'emb', inputDim: 9, outputDim: 4 }),
      layers.gru({ name: 'gru', units: 5, returnSequences: true }),
      layers.dropout({ name: 'drop', rate: 0.2 }),
      layers.dense({ name: 'out', units: 9, activation: 'softmax' }),
    ];
    const seq = new Sequential(mk(), { seed: 7 });
    seq.build([6]);
    const ls = mk();
    const x = input({ shape: [6], dtype: 'int32' });
    let t = x;
    for (const l of ls) t = sym(l.apply(t));
    const g = model({ inputs: x, outputs: t, seed: 7 });
    g.setWeights(seq.getWeights());
    const ids = tensor(
      Int32Array.from({ length: 8 * 6 }, () => rng.int(9)),
      [8, 6],
    );
    const labels = tensor(
      Int32Array.from({ length: 8 * 6 }, () => rng.int(9)),
      [8, 6],
    );
    for (const m of [seq, g]) m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const hs = await seq.fit(ids, labels, { epochs: 3, batchSize: 4, seed: 2 });
    const hg = await g.fit(ids, labels, { epochs: 3, batchSize: 4, seed: 2 });
    expect(hg.history.loss).toEqual(hs.history.loss);
    expect(Array.from((g.predict(ids) as Tensor).data)).toEqual(Array.from(seq.predict(ids).data));
    seq.dispose();
    g.dispose();
  });

  it('merges compute their definitions forward and route gradients back', () => {
    const a = input({ shape: [3] });
    const b = input({ shape: [3] });
    const c = input({ shape: [3] });
    const ops = ['add', 'subtract', 'multiply', 'average', 'maximum', 'minimum'] as const;
    const outs = ops.map((op) => sym(layers[op]({}).apply(op === 'subtract' ? [a, b] : [a, b, c])));
    const m = model({ inputs: [a, b, c], outputs: outs });
    const xa = rand([4, 3]);
    const xb = rand([4, 3]);
    const xc = rand([4, 3]);
    const ys = m.predict([xa, xb, xc]) as Tensor[];
    const f: Record<(typeof ops)[number], (p: number, q: number, r: number) => number> = {
      add: (p, q, r) => p + q + r,
      subtract: (p, q) => p - q,
      multiply: (p, q, r) => p * q * r,
      average: (p, q, r) => (p + q + r) / 3,
      maximum: (p, q, r) => Math.max(p, q, r),
      minimum: (p, q, r) => Math.min(p, q, r),
    };
    ops.forEach((op, k) => {
      for (let i = 0; i < 12; i++) expect(ys[k].data[i], op).toBeCloseTo(f[op](xa.data[i], xb.data[i], xc.data[i]), 6);
    });
    m.dispose();
  });

  it('concatenate along any axis, repeatVector, timeDistributed and masking', () => {
    const x = input({ shape: [4, 3] });
    const y = input({ shape: [4, 2] });
    const z = input({ shape: [2, 3] });
    const last = sym(layers.concatenate({ axis: -1 }).apply([x, y]));
    const time = sym(layers.concatenate({ axis: 1 }).apply([x, z]));
    const v = input({ shape: [3] });
    const rep = sym(layers.repeatVector({ n: 4 }).apply(v));
    const dense = layers.dense({ name: 'td_inner', units: 2 });
    const td = sym(layers.timeDistributed({ name: 'td', layer: dense }).apply(x));
    const m = model({ inputs: [x, y, z, v], outputs: [last, time, rep, td] });
    const [xx, yy, zz, vv] = [rand([2, 4, 3]), rand([2, 4, 2]), rand([2, 2, 3]), rand([2, 3])];
    const [o1, o2, o3, o4] = m.predict([xx, yy, zz, vv]) as Tensor[];
    expect(o1.shape).toEqual([2, 4, 5]);
    expect(o2.shape).toEqual([2, 6, 3]);
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 4; t++) {
        for (let f = 0; f < 3; f++) expect(o1.data[(b * 4 + t) * 5 + f]).toBe(xx.data[(b * 4 + t) * 3 + f]);
        for (let f = 0; f < 2; f++) expect(o1.data[(b * 4 + t) * 5 + 3 + f]).toBe(yy.data[(b * 4 + t) * 2 + f]);
        for (let f = 0; f < 3; f++) expect(o3.data[(b * 4 + t) * 3 + f]).toBe(vv.data[b * 3 + f]);
      }
    for (let b = 0; b < 2; b++) for (let f = 0; f < 6; f++) expect(o2.data[b * 18 + 12 + f]).toBe(zz.data[b * 6 + f]);
    // timeDistributed(dense) is the dense layer on every step
    const w = m.getWeights();
    expect(Object.keys(w)).toEqual(['td.weight', 'td.bias']);
    for (let r = 0; r < 8; r++)
      for (let u = 0; u < 2; u++) {
        let s = w['td.bias'].data[u];
        for (let f = 0; f < 3; f++) s += xx.data[r * 3 + f] * w['td.weight'].data[u * 3 + f];
        expect(o4.data[r * 2 + u]).toBeCloseTo(s, 5);
      }
    m.dispose();
    // masking: trailing all-zero steps are padding (the recurrent state stops there)
    const seq = input({ shape: [5, 2] });
    const h = sym(layers.lstm({ units: 3 }).apply(sym(layers.masking({}).apply(seq))));
    const mm = model({ inputs: seq, outputs: h, seed: 2 });
    const full = rand([1, 3, 2]);
    const padded = tensor(Float32Array.from([...full.data, 0, 0, 0, 0]), [1, 5, 2]);
    const plain = new Sequential([layers.lstm({ units: 3, inputShape: [3, 2] })]);
    plain.build();
    plain.setWeights(Object.fromEntries(Object.entries(mm.getWeights()).map(([k, t]) => [k.replace(/^[^.]+/, plain.layers[0].name), t])));
    expect(Array.from((mm.predict(padded) as Tensor).data)).toEqual(Array.from(plain.predict(full).data));
    expect(() =>
      mm.predict(
        tensor([
          [
            [1, 1],
            [0, 0],
            [1, 1],
            [0, 0],
            [0, 0],
          ],
        ]),
      ),
    ).toThrow(/post-padding/);
    mm.dispose();
    plain.dispose();
  });

  it('an output without a loss is computed and returned but takes no target and is not trained', async () => {
    const x = input({ shape: [4, 3], name: 'x' });
    const [att, w] = many(layers.attention({ name: 'att', returnAttentionScores: true }).apply([x, x]));
    const out = sym(layers.dense({ name: 'out', units: 2 }).apply(sym(layers.globalAveragePooling1d().apply(att))));
    const m = model({ inputs: x, outputs: [out, w], seed: 2 });
    m.compile({ optimizer: 'sgd', loss: { out: 'mse' } });
    const X = rand([6, 4, 3]);
    const Y = rand([6, 2]);
    const h = await m.fit(X, Y, { epochs: 2, batchSize: 3 });
    expect(Object.keys(h.history)).toEqual(['loss']);
    const [p, scores] = m.predict(X) as Tensor[];
    expect(p.shape).toEqual([6, 2]);
    expect(scores.shape).toEqual([6, 4, 4]);
    // the same with a list; all outputs without a loss is refused
    m.compile({ optimizer: 'sgd', loss: ['mse', null] });
    expect(m.evaluate(X, Y).loss).toBeGreaterThan(0);
    expect(() => m.compile({ optimizer: 'sgd', loss: [null, null] })).toThrow(/no output has a loss/);
    m.dispose();
  });

  it('saves and loads: the graph from the config, the weights by name, the optimizer state', async () => {
    const m = twoTower(5);
    m.compile({ optimizer: 'adam', loss: { score: 'mse', cls: 'sparseCategoricalCrossentropy' }, lossWeights: { score: 1, cls: 0.5 } });
    const N = 8;
    const x = [rand([N, 5, 3]), rand([N, 4])];
    const y = [
      rand([N, 1]),
      tensor(
        Int32Array.from({ length: N }, (_, i) => i % 3),
        [N],
      ),
    ];
    await m.fit(x, y, { epochs: 2, batchSize: 4, seed: 3 });
    const bytes = m.save({ includeOptimizer: true });
    const back = loadModel(bytes);
    expect(back).toBeInstanceOf(Model);
    expect(back).not.toBeInstanceOf(Sequential);
    expect(back.toConfig()).toEqual(m.toConfig());
    const p = m.predict(x) as Tensor[];
    const q = back.predict(x) as Tensor[];
    for (let i = 0; i < 2; i++) expect(Array.from(q[i].data)).toEqual(Array.from(p[i].data));
    // training resumes exactly
    const ha = await m.fit(x, y, { epochs: 2, batchSize: 4, seed: 4, shuffle: false });
    const hb = await back.fit(x, y, { epochs: 2, batchSize: 4, seed: 4, shuffle: false });
    expect(hb.history.loss).toEqual(ha.history.loss);
    m.dispose();
    back.dispose();
  });

  it('every graph layer kind round-trips through the model file: attention, states, convolution, pooling', () => {
    const enc = input({ shape: [6], dtype: 'int32', name: 'enc' });
    const dec = input({ shape: [4], dtype: 'int32', name: 'dec' });
    const e = sym(layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true }).apply(enc));
    const c1 = sym(layers.conv1d({ filters: 4, kernelSize: 3, padding: 'causal', dilationRate: 2, groups: 2 }).apply(e));
    const [seq, fh, fc, bh, bc] = many(
      layers.bidirectional({ layer: layers.lstm({ units: 3, returnSequences: true, returnState: true }) }).apply(c1),
    );
    const d = sym(layers.embedding({ inputDim: 5, outputDim: 4 }).apply(dec));
    const decoded = sym(
      layers.lstm({ units: 6, returnSequences: true }).apply(d, {
        initialState: [sym(layers.concatenate().apply([fh, bh])), sym(layers.concatenate().apply([fc, bc]))],
      }),
    );
    const [ctx, w] = many(layers.attention({ useScale: true, returnAttentionScores: true }).apply([decoded, seq]));
    const add = sym(layers.additiveAttention().apply([ctx, seq]));
    const mha = sym(layers.multiHeadAttention({ numHeads: 2, keyDim: 2, valueDim: 3 }).apply([add, decoded], { useCausalMask: true }));
    const pooled = sym(layers.globalMaxPooling1d().apply(sym(layers.maxPooling1d({ poolSize: 2, padding: 'same' }).apply(mha))));
    const m = model({ inputs: [enc, dec], outputs: [sym(layers.dense({ units: 2 }).apply(pooled)), w], seed: 4 });
    const x = [
      tensor(Int32Array.from([1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 1, 2]), [2, 6]),
      tensor(Int32Array.from([1, 2, 3, 4, 4, 3, 2, 1]), [2, 4]),
    ];
    const back = loadModel(m.save());
    expect(back.toConfig()).toEqual(m.toConfig());
    const p = m.predict(x) as Tensor[];
    const q = back.predict(x) as Tensor[];
    for (let i = 0; i < 2; i++) expect(Array.from(q[i].data)).toEqual(Array.from(p[i].data));
    m.dispose();
    back.dispose();
  });

  it('summary lists each application and what it reads', () => {
    const m = twoTower();
    const s = m.summary(() => {});
    expect(s).toMatch(/Connected to/);
    expect(s).toMatch(/shared_1 \(Dense\).*\(shared\).*proj/);
    expect(s).toMatch(/cat \(Concatenate\).*shared, shared_1, enc/);
    m.dispose();
  });

  it('refuses malformed graphs and inputs with clear errors', () => {
    const a = input({ shape: [3], name: 'a' });
    const b = input({ shape: [3], name: 'b' });
    const y = sym(layers.dense({ units: 2 }).apply(a));
    expect(() => model({ inputs: [a, b], outputs: y })).toThrow(/input b does not reach any output/);
    expect(() => model({ inputs: b, outputs: y })).toThrow(/depend on a, which is not among the model's inputs/);
    expect(() => layers.dense({ units: 2 }).apply(input({ shape: [4], dtype: 'int32' }))).toThrow(
      /takes float32 values; got a int32 input/,
    );
    expect(() => layers.add({}).apply([a, input({ shape: [4] })])).toThrow(/needs inputs of one shape/);
    expect(() => layers.subtract({}).apply([a, a, a])).toThrow(/takes 2 inputs; got 3/);
    const shared = layers.dense({ units: 2 });
    shared.apply(a);
    expect(() => shared.apply(input({ shape: [5] }))).toThrow(/was built for inputs of shape \[3\]/);
    const d1 = layers.dense({ name: 'same', units: 2 });
    const d2 = layers.dense({ name: 'same', units: 2 });
    expect(() => model({ inputs: a, outputs: sym(d2.apply(sym(d1.apply(a)))) })).toThrow(/two layers are named "same"/);
    const m = model({ inputs: [a, b], outputs: sym(layers.add({}).apply([a, b])) });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(() => m.predict(rand([2, 3]))).toThrow(/pass x as a list or a record/);
    expect(() => m.predict({ a: rand([2, 3]) })).toThrow(/no tensor for "b"/);
    expect(() => m.predict([rand([2, 3]), rand([3, 3])])).toThrow(/x\[0\] \(\w+\) has 2 samples but x\[1\] \(\w+\) has 3/);
    expect(() => m.compile({ optimizer: 'sgd', loss: ['mse', 'mse'] })).toThrow(ValueError);
    m.dispose();
  });
});
