// Magnitude pruning: which weights go, that training keeps them at zero, the
// cubic schedule, and sparse files.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FormatError,
  Random,
  Sequential,
  ValueError,
  init,
  layers,
  loadModel,
  optimizers,
  prune,
  readSafetensors,
  tensor,
} from '../ts/index.js';

beforeAll(async () => {
  await init();
});

function model(seed = 1) {
  const m = new Sequential(
    [layers.lstm({ units: 24, returnSequences: true, inputShape: [null, 5] }), layers.gru({ units: 16 }), layers.dense({ units: 3 })],
    { seed },
  );
  m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'mse' });
  m.build();
  return m;
}

const data = (seed: number) => {
  const r = new Random(seed);
  return [
    tensor(
      Float32Array.from({ length: 64 * 8 * 5 }, () => r.next() * 2 - 1),
      [64, 8, 5],
    ),
    tensor(
      Float32Array.from({ length: 64 * 3 }, () => r.next()),
      [64, 3],
    ),
  ] as const;
};

const matrices = (m: Sequential) => Object.entries(m.getWeights()).filter(([n]) => /weight/.test(n) && !/embedding/.test(n));

describe('prune', () => {
  it('zeros exactly the smallest-magnitude half of every weight matrix, leaves biases, and the kernels see it', () => {
    const m = model();
    const before = m.getWeights();
    const [x] = data(2);
    prune(m, { sparsity: 0.5 });
    const after = m.getWeights();
    for (const [name, t] of matrices(m)) {
      const n = t.data.length;
      const zeros = Array.from(t.data).filter((v) => v === 0).length;
      expect(zeros, name).toBe(Math.floor(n / 2));
      // every kept weight is at least as large as every pruned one
      const b = before[name].data;
      let maxPruned = 0;
      let minKept = Infinity;
      for (let i = 0; i < n; i++) {
        if (t.data[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(b[i]));
        else {
          minKept = Math.min(minKept, Math.abs(b[i]));
          expect(t.data[i]).toBe(b[i]);
        }
      }
      expect(maxPruned).toBeLessThanOrEqual(minKept);
    }
    for (const name of Object.keys(after).filter((n) => n.includes('bias')))
      expect(Array.from(after[name].data)).toEqual(Array.from(before[name].data));
    // predict runs on the pruned weights (packed copies were refreshed)
    const ref = model(7);
    const names = (mm: Sequential) => mm.layers.map((l) => l.name);
    const rename = (n: string) => names(ref)[names(m).indexOf(n.slice(0, n.indexOf('.')))] + n.slice(n.indexOf('.'));
    ref.setWeights(Object.fromEntries(Object.entries(after).map(([n, t]) => [rename(n), t])));
    expect(Array.from(m.predict(x).data)).toEqual(Array.from(ref.predict(x).data));
  });

  it('training with the Pruner callback never revives a pruned weight (Adam momentum included)', async () => {
    const m = model(3);
    const [x, y] = data(4);
    await m.fit(x, y, { epochs: 2, batchSize: 16, seed: 1 }); // momentum built up first
    const pr = prune(m, { sparsity: 0.7 });
    const zeros = Object.fromEntries(matrices(m).map(([n, t]) => [n, Array.from(t.data, (v) => v === 0)]));
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, seed: 2, callbacks: [pr] });
    expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
    for (const [n, t] of matrices(m)) {
      for (const [i, v] of t.data.entries()) if (zeros[n][i]) expect(v, n).toBe(0);
    }
    for (const [n, t] of matrices(m))
      expect(Array.from(t.data).filter((v) => v === 0).length, n).toBeGreaterThanOrEqual(Math.floor(0.7 * t.data.length));
  });

  it('follows the cubic schedule during training and ends at the target', async () => {
    const m = model(5);
    const [x, y] = data(6);
    const pr = prune(m, { sparsity: 0.8, schedule: { startStep: 2, endStep: 12, frequency: 2 } });
    expect(pr.sparsity).toBe(0);
    expect(pr.target(7)).toBeCloseTo(0.8 * (1 - 0.5 ** 3), 12);
    const seen: number[] = [];
    await m.fit(x, y, { epochs: 4, batchSize: 16, seed: 1, callbacks: [pr, { onBatchEnd: () => void seen.push(pr.sparsity) }] });
    // steps 1..16: updates at 2, 4, …, 12
    expect(seen[0]).toBe(0);
    expect(seen[1]).toBe(0); // s(2) = 0
    expect(seen[3]).toBeCloseTo(0.8 * (1 - 0.8 ** 3), 12); // step 4
    expect(seen[11]).toBe(0.8);
    expect(seen[15]).toBe(0.8);
    for (const s of Object.values(pr.report())) expect(s).toBeGreaterThanOrEqual(0.8 - 0.01);
  });

  it('saves sparse files that shrink with the sparsity and load back exactly', () => {
    const m = model(8);
    prune(m, { sparsity: 0.75 });
    const dense = m.save();
    const sparse = m.save({ sparse: true });
    expect(sparse.length).toBeLessThan(dense.length * 0.45);
    const st = readSafetensors(sparse);
    // every pruned matrix is stored sparse (so are the all-zero initial biases)
    expect(JSON.parse(st.metadata.sparse)).toEqual(expect.arrayContaining(matrices(m).map(([n]) => n)));
    expect(st.tensors.get(`${matrices(m)[0][0]}.mask`)!.dtype).toBe('U8');
    const back = loadModel(sparse);
    const w = m.getWeights();
    for (const [n, t] of Object.entries(back.getWeights())) expect(Array.from(t.data), n).toEqual(Array.from(w[n].data));
    // a mask that marks one value too many
    const name = matrices(m)[0][0];
    const mt = st.tensors.get(`${name}.mask`)!;
    const bad = sparse.slice();
    const at = mt.bytes.byteOffset - sparse.byteOffset;
    bad[at] = 0xff;
    bad[at + 1] = 0xff;
    expect(() => loadModel(bad)).toThrow(FormatError);
  });

  it('refuses bad arguments', () => {
    const m = model();
    expect(() => prune(m, { sparsity: 1 })).toThrow(ValueError);
    expect(() => prune(m, { sparsity: -0.1 })).toThrow(/sparsity/);
    expect(() => prune(m, { sparsity: 0.5, schedule: { startStep: 5, endStep: 5 } })).toThrow(/startStep < endStep/);
  });
});
