// Parts of the model API checked against independent computations: metrics
// (hand-computed values), initialisers (statistics, orthogonality), layer
// normalisation gradients (finite differences), regularisers, and memory of
// dropped models being reclaimed.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { Random, Sequential, layers, memoryStats, tensor } from '../ts/index.js';
import { makeMetric } from '../ts/model/metrics.js';
import { initialize, orthogonal } from '../ts/layers/initializers.js';

beforeAll(async () => {
  await initForTests();
});

describe('metrics', () => {
  const batch = (
    pred: number[],
    target: number[],
    n = 1,
    logits: 'sigmoid' | 'softmax' | null = null,
    weights: number[] | null = null,
  ) => ({
    pred: Float32Array.from(pred),
    targetF: Float32Array.from(target),
    targetI: null,
    rows: pred.length / n,
    n,
    weights: weights ? Float32Array.from(weights) : null,
    logits,
  });
  it('binary accuracy, precision, recall, F1 on a hand-counted example', () => {
    // predictions > 0.5: T F T T F ; targets: T T F T F → tp 2, fp 1, fn 1, tn 1
    const b = batch([0.9, 0.2, 0.7, 0.6, 0.1], [1, 1, 0, 1, 0]);
    const get = (m: string) => {
      const k = makeMetric(m, 'binary');
      k.update(b);
      return k.result();
    };
    expect(get('accuracy')).toBeCloseTo(3 / 5, 12);
    expect(get('precision')).toBeCloseTo(2 / 3, 12);
    expect(get('recall')).toBeCloseTo(2 / 3, 12);
    expect(get('f1')).toBeCloseTo(2 / 3, 12);
  });
  it('AUC equals the pairwise ranking probability (ties count ½)', () => {
    const scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9];
    const labels = [0, 0, 1, 1, 1, 0];
    const k = makeMetric('auc', 'binary');
    k.update(batch(scores, labels));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 6; j++)
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
    expect(k.result()).toBeCloseTo(wins / pairs, 12);
  });
  it('categorical accuracy from logits, rows with weight 0 skipped; mae and mse', () => {
    const k = makeMetric('accuracy', 'categorical');
    k.update(batch([2, 1, 0, 0, 3, 1, 5, 0, 0], [1, 0, 0, 1, 0, 0, 0, 0, 1], 3, 'softmax', [1, 1, 0]));
    expect(k.result()).toBe(0.5);
    const mae = makeMetric('mae', 'regression');
    const mse = makeMetric('mse', 'regression');
    for (const m of [mae, mse]) m.update(batch([1, 2, 3], [2, 2, 5]));
    expect(mae.result()).toBeCloseTo(1, 12);
    expect(mse.result()).toBeCloseTo(5 / 3, 12);
  });
});

describe('initializers', () => {
  const sample = (name: Parameters<typeof initialize>[0], rows: number, cols: number) => {
    const out = new Float64Array(rows * cols);
    initialize(name, rows, cols, { fanIn: rows, fanOut: cols }, new Random(1), (r, c, v) => (out[r * cols + c] = v));
    return out;
  };
  const stats = (a: Float64Array) => {
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    return { mean, sd, max: Math.max(...a.map(Math.abs)) };
  };
  it('variance-scaling initialisers have the Keras limits and standard deviations', () => {
    const [r, c] = [200, 300];
    expect(stats(sample('glorotUniform', r, c)).max).toBeLessThanOrEqual(Math.sqrt(6 / (r + c)));
    expect(stats(sample('glorotUniform', r, c)).sd).toBeCloseTo(Math.sqrt(2 / (r + c)), 3);
    expect(stats(sample('glorotNormal', r, c)).sd).toBeCloseTo(Math.sqrt(2 / (r + c)), 3);
    expect(stats(sample('heUniform', r, c)).sd).toBeCloseTo(Math.sqrt(2 / r), 3);
    expect(stats(sample('heNormal', r, c)).sd).toBeCloseTo(Math.sqrt(2 / r), 3);
    expect(stats(sample('zeros', 3, 3)).max).toBe(0);
  });
  it('orthogonal gives orthonormal rows (wide) or columns (tall)', () => {
    for (const [rows, cols] of [
      [16, 64],
      [64, 16],
      [20, 20],
    ]) {
      const q = orthogonal(rows, cols, new Random(2));
      const k = Math.min(rows, cols);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          let d = 0;
          for (let t = 0; t < Math.max(rows, cols); t++)
            d += rows <= cols ? q[i * cols + t] * q[j * cols + t] : q[t * cols + i] * q[t * cols + j];
          expect(d).toBeCloseTo(i === j ? 1 : 0, 10);
        }
    }
  });
  it("an LSTM starts with an orthogonal recurrent kernel (in Keras' [H, 4H] orientation)", () => {
    const m = new Sequential([layers.lstm({ name: 'l', units: 6, inputShape: [3, 2] })], { seed: 3 });
    const w = m.getWeights()['l.weight_hh_l0']; // [4H, H] = Keras recurrent_kernelᵀ
    const H = 6;
    for (let i = 0; i < H; i++)
      for (let j = 0; j < H; j++) {
        let d = 0;
        for (let g = 0; g < 4 * H; g++) d += w.data[g * H + i] * w.data[g * H + j];
        expect(d).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    m.dispose();
  });
});

describe('layer normalisation and regularisers', () => {
  it('layerNormalization gradients match finite differences through a model', () => {
    const m = new Sequential(
      [
        layers.gru({ units: 5, returnSequences: true, inputShape: [4, 3] }),
        layers.layerNormalization({ name: 'ln' }),
        layers.dense({ units: 2 }),
      ],
      { seed: 4 },
    );
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const rng = new Random(5);
    const x = tensor(
      Float32Array.from({ length: 2 * 4 * 3 }, () => rng.uniform(-1, 1)),
      [2, 4, 3],
    );
    const y = tensor(
      Float32Array.from({ length: 2 * 4 * 2 }, () => rng.uniform(-1, 1)),
      [2, 4, 2],
    );
    const w = m.getWeights();
    w['ln.weight'] = tensor(Float32Array.from({ length: 5 }, () => rng.uniform(0.5, 1.5)));
    m.setWeights(w);
    const { grads } = m.computeGradients(x, y);
    for (const k of ['ln.weight', 'ln.bias', Object.keys(w)[0]]) {
      const base = m.getWeights()[k];
      for (const at of [0, 3]) {
        const h = 1e-2;
        const lossAt = (dv: number) => {
          const d = base.data.slice();
          d[at] += dv;
          m.setWeights({ [k]: tensor(d, base.shape) });
          const l = m.evaluate(x, y).loss;
          m.setWeights({ [k]: base });
          return l;
        };
        const numeric = (lossAt(h) - lossAt(-h)) / (2 * h);
        expect(Math.abs(grads[k].data[at] - numeric), `${k}[${at}]`).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)) + 2e-4);
      }
    }
    m.dispose();
  });

  it('L2 regularisation adds l2·Σw² to the loss and 2·l2·w to the gradient', () => {
    const mk = (l2: number) => {
      const m = new Sequential([layers.dense({ name: 'd', units: 2, inputShape: [3], kernelRegularizer: l2 ? { l2 } : undefined })], {
        seed: 6,
      });
      m.compile({ optimizer: 'sgd', loss: 'mse' });
      return m;
    };
    const x = tensor([[1, 2, 3]]);
    const y = tensor([[0.5, -0.5]]);
    const a = mk(0);
    const b = mk(0.1);
    const w = a.getWeights()['d.weight'];
    const ga = a.computeGradients(x, y);
    const gb = b.computeGradients(x, y);
    const sq = Array.from(w.data).reduce((s, v) => s + v * v, 0);
    expect(gb.loss - ga.loss).toBeCloseTo(0.1 * sq, 6);
    for (let i = 0; i < w.size; i++) expect(gb.grads['d.weight'].data[i] - ga.grads['d.weight'].data[i]).toBeCloseTo(0.2 * w.data[i], 6);
    expect(Array.from(gb.grads['d.bias'].data)).toEqual(Array.from(ga.grads['d.bias'].data));
    a.dispose();
    b.dispose();
  });
});

describe('dropped models', () => {
  it('are reclaimed by the garbage collector (no dispose needed)', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('this test needs node --expose-gc (set in vitest.config.ts)');
    const make = () => {
      const m = new Sequential([layers.lstm({ units: 128, inputShape: [4, 896] })], { seed: 1 }); // ≈ 2.1 MB of parameters (+ gradients)
      m.predict(tensor(new Float32Array(4 * 896), [1, 4, 896]));
    };
    make();
    gc();
    await new Promise((r) => setTimeout(r, 10));
    const before = memoryStats().wasmBytes;
    for (let i = 0; i < 25; i++) {
      make();
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    // 25 leaked models would need > 100 MB more
    expect(memoryStats().wasmBytes - before).toBeLessThan(24 * 1024 * 1024);
  });
});

describe('memory growth during build', () => {
  it('every layer is initialised even when binding a layer grows wasm memory (views re-taken)', () => {
    // Build models until one build grows memory; its later layers must still be initialised.
    let grew = false;
    for (let k = 0; k < 60 && !grew; k++) {
      const before = memoryStats().wasmBytes;
      const m = new Sequential([layers.lstm({ units: 64, inputShape: [4, 64] }), layers.dense({ name: `d${k}`, units: 3 })], { seed: k });
      m.build();
      grew = memoryStats().wasmBytes > before;
      const w = m.getWeights()[`d${k}.weight`].data;
      expect(
        Array.from(w).some((v) => v !== 0),
        `model ${k} (memory grew: ${grew})`,
      ).toBe(true);
    }
    expect(grew).toBe(true);
  });
});
