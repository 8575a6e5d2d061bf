// The Keras-style model API: tensors, layers, compile/fit/evaluate/predict,
// optimizers, callbacks, determinism, stateful truncated BPTT, masking,
// goBackwards, merge modes, memory over long runs, and clear errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import {
  input,
  model,
  Random,
  Sequential,
  type SymbolicTensor,
  ShapeError,
  ValueError,
  callbacks,
  layers,
  memoryStats,
  optimizers,
  schedules,
  tensor,
  type Tensor,
} from '../ts/index.js';

function randomData(n: number, T: number, I: number, seed: number): [Tensor, Tensor] {
  const rng = new Random(seed);
  const x = new Float32Array(n * T * I).map(() => rng.uniform(-1, 1));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += x[(i * T + t) * I];
    y[i] = Math.tanh(s);
  }
  return [tensor(x, [n, T, I]), tensor(y, [n, 1])];
}

function smallModel(seed = 1, extra: Partial<Parameters<typeof layers.lstm>[0]> = {}): Sequential {
  return new Sequential([layers.lstm({ units: 8, inputShape: [6, 2], ...extra }), layers.dense({ units: 1 })], { seed });
}

beforeAll(async () => {
  await initForTests();
});

describe('tensor', () => {
  it('accepts nested arrays and typed arrays, and round-trips with .array()', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.array()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const i = tensor(new Int32Array([1, 2, 3, 4]), [2, 2]);
    expect(i.dtype).toBe('int32');
    expect(i.array()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(tensor(new Float32Array(6), [1, 2, 3]).shape).toEqual([1, 2, 3]);
  });
  it('refuses ragged arrays and wrong sizes with the place and the sizes', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow('tensor: ragged nested array at [1]: expected length 2, got length 1');
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow('tensor: shape [2, 3] needs 6 values; got 5');
    expect(() => tensor([[1, 2]], [3])).toThrow(ShapeError);
  });
});

describe('Sequential training', () => {
  it('fits, evaluates and predicts; history has loss and metrics per epoch', async () => {
    const [x, y] = randomData(64, 6, 2, 1);
    const m = smallModel();
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.02 }), loss: 'mse', metrics: ['mae'] });
    const h = await m.fit(x, y, { epochs: 8, batchSize: 16, seed: 1, validationSplit: 0.25 });
    expect(h.epoch).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'mae', 'val_loss', 'val_mae']);
    expect(h.history.loss[7]).toBeLessThan(h.history.loss[0] * 0.5);
    const ev = m.evaluate(x, y);
    expect(ev.loss).toBeLessThan(h.history.loss[0]);
    const p = m.predict(x);
    expect(p.shape).toEqual([64, 1]);
    // predict agrees with evaluate's loss
    let mse = 0;
    for (let i = 0; i < 64; i++) mse += (p.data[i] - y.data[i]) ** 2 / 64;
    expect(Math.abs(mse - ev.loss)).toBeLessThan(1e-6);
    m.dispose();
  });

  it('every optimizer and a schedule reduce the loss', async () => {
    const [x, y] = randomData(64, 6, 2, 2);
    const opts = [
      optimizers.sgd({ learningRate: 0.1 }),
      optimizers.sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
      optimizers.adam({ learningRate: 0.01 }),
      optimizers.adamw({ learningRate: 0.01, weightDecay: 0.01 }),
      optimizers.rmsprop({ learningRate: 0.005 }),
      optimizers.adam({
        learningRate: schedules.exponentialDecay({ initialLearningRate: 0.02, decaySteps: 10, decayRate: 0.9 }),
        clipNorm: 1,
      }),
      optimizers.sgd({ learningRate: 0.1, clipValue: 0.01 }),
    ];
    for (const opt of opts) {
      const m = smallModel(3);
      m.compile({ optimizer: opt, loss: 'mse' });
      const before = m.evaluate(x, y).loss;
      await m.fit(x, y, { epochs: 5, batchSize: 16, seed: 1 });
      const after = m.evaluate(x, y).loss;
      expect(after, JSON.stringify(opt.getConfig())).toBeLessThan(before);
      m.dispose();
    }
  });

  it('clipNorm bounds the update: one SGD step moves the weights by at most lr·clipNorm', async () => {
    const [x, y] = randomData(16, 6, 2, 3);
    const m = smallModel(4);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1, clipNorm: 0.01 }), loss: 'mse' });
    const w0 = m.getWeightsFlat();
    await m.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false });
    const w1 = m.getWeightsFlat();
    let d = 0;
    for (let i = 0; i < w0.length; i++) d += (w1[i] - w0[i]) ** 2;
    expect(Math.sqrt(d)).toBeLessThanOrEqual(0.01 * 1.0001);
    expect(Math.sqrt(d)).toBeGreaterThan(0.009);
    m.dispose();
  });

  it('the same seed gives bit-identical training (with dropout and shuffling)', async () => {
    const [x, y] = randomData(48, 6, 2, 4);
    const train = async () => {
      const m = new Sequential(
        [
          layers.gru({ units: 8, inputShape: [6, 2], dropout: 0.2, recurrentDropout: 0.2 }),
          layers.dropout({ rate: 0.3 }),
          layers.dense({ units: 1 }),
        ],
        { seed: 7 },
      );
      m.compile({ optimizer: 'adam', loss: 'mse' });
      await m.fit(x, y, { epochs: 3, batchSize: 8, seed: 11 });
      const w = m.getWeightsFlat();
      m.dispose();
      return w;
    };
    const a = await train();
    const b = await train();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('dropout is active only while training', () => {
    const m = new Sequential([layers.dense({ units: 4, inputShape: [3] }), layers.dropout({ rate: 0.5 })], { seed: 1 });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = tensor([[1, 2, 3]]);
    expect(Array.from(m.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    m.dispose();
  });

  it('callbacks: hooks run in order, early stopping stops and restores the best weights', async () => {
    const [x, y] = randomData(32, 6, 2, 5);
    const m = smallModel(5);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 0.5 }), loss: 'mse' });
    const events: string[] = [];
    let bestSeen = Infinity;
    const es = callbacks.earlyStopping({ monitor: 'loss', patience: 1, restoreBestWeights: true });
    const h = await m.fit(x, y, {
      epochs: 50,
      batchSize: 8,
      seed: 1,
      callbacks: [
        {
          onTrainBegin: () => void events.push('begin'),
          onEpochEnd: (e, logs) => {
            events.push(`epoch${e}`);
            bestSeen = Math.min(bestSeen, logs.loss);
          },
          onTrainEnd: () => void events.push('end'),
        },
        es,
      ],
    });
    expect(events[0]).toBe('begin');
    expect(events.at(-1)).toBe('end');
    expect(h.epoch.length).toBeLessThan(50);
    expect(es.stoppedEpoch).toBe(h.epoch.at(-1));
    expect(h.history.loss[es.bestEpoch]).toBe(bestSeen);
    m.dispose();
  });

  it('a callback can stop training', async () => {
    const [x, y] = randomData(32, 6, 2, 6);
    const m = smallModel(6);
    m.compile({ optimizer: 'adam', loss: 'mse' });
    const h = await m.fit(x, y, {
      epochs: 10,
      batchSize: 8,
      callbacks: [
        {
          onBatchEnd: (b) => {
            if (b === 1) m.stopTraining = true;
          },
        },
      ],
    });
    expect(h.epoch).toEqual([0]);
    m.dispose();
  });

  it('NaN loss: a clear error, or skip the batch, or stop', async () => {
    const [x, y] = randomData(32, 6, 2, 7);
    const blowUp = () => {
      const m = smallModel(8, { activation: 'tanh' });
      m.compile({ optimizer: optimizers.sgd({ learningRate: 1e30 }), loss: 'mse' });
      return m;
    };
    const a = blowUp();
    await expect(a.fit(x, y, { epochs: 5, batchSize: 8 })).rejects.toThrow(/the loss became (NaN|Infinity) at epoch \d+, batch \d+/);
    const b = blowUp();
    const hb = await b.fit(x, y, { epochs: 2, batchSize: 8, onNanLoss: 'stop' });
    expect(hb.epoch.length).toBeLessThanOrEqual(2);
    const c = blowUp();
    await expect(c.fit(x, y, { epochs: 2, batchSize: 8, onNanLoss: 'skip' })).resolves.toBeDefined();
    for (const m of [a, b, c]) m.dispose();
  });

  it('getWeights/setWeights use PyTorch names and layouts; computeGradients matches a finite difference', () => {
    const m = new Sequential([layers.lstm({ name: 'enc', units: 3, inputShape: [4, 2] }), layers.dense({ name: 'out', units: 1 })], {
      seed: 2,
    });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const w = m.getWeights();
    expect(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.shape]))).toEqual({
      'enc.weight_ih_l0': [12, 2],
      'enc.weight_hh_l0': [12, 3],
      'enc.bias_ih_l0': [12],
      'enc.bias_hh_l0': [12],
      'out.weight': [1, 3],
      'out.bias': [1],
    });
    // unitForgetBias: the forget block (rows 3..5) of bias_ih starts at 1
    expect(Array.from(w['enc.bias_ih_l0'].data)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    const [x, y] = randomData(5, 4, 2, 9);
    const { loss, grads } = m.computeGradients(x, y);
    expect(Object.keys(grads)).toEqual(Object.keys(w));
    // perturb one weight by ±h through setWeights and difference evaluate's loss
    const k = 'enc.weight_hh_l0';
    const h = 1e-2;
    const base = w[k].data;
    const at = 7;
    const lossWith = (delta: number) => {
      const d = base.slice();
      d[at] += delta;
      m.setWeights({ [k]: tensor(d, w[k].shape) });
      return m.evaluate(x, y).loss;
    };
    const numeric = (lossWith(h) - lossWith(-h)) / (2 * h);
    expect(Math.abs(grads[k].data[at] - numeric)).toBeLessThan(1e-3 * Math.max(1, Math.abs(numeric)) + 1e-4);
    expect(loss).toBeGreaterThan(0);
    m.dispose();
  });

  it('setWeights refuses unknown names, wrong shapes and NaN', () => {
    const m = smallModel(9);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const name = Object.keys(m.getWeights())[0];
    expect(() => m.setWeights({ nope: [1] })).toThrow(/no parameter "nope"/);
    expect(() => m.setWeights({ [name]: [1, 2, 3] })).toThrow(/expects shape \[32, 2\]; got \[3\]/);
    const w = m.getWeights()[name];
    const bad = w.data.slice();
    bad[0] = NaN;
    expect(() => m.setWeights({ [name]: tensor(bad, w.shape) })).toThrow(/contains NaN at index 0/);
    // all-or-nothing: a good tensor set in the same call is rolled back too
    const names = Object.keys(m.getWeights());
    const before = m.getWeightsFlat();
    const late = m.getWeights()[names[1]].data.map((v) => v + 1);
    late[late.length - 1] = -Infinity;
    expect(() => m.setWeights({ [name]: w.data.map((v) => v + 1), [names[1]]: late })).toThrow(
      `"${names[1]}" contains -Infinity at index ${late.length - 1}`,
    );
    expect(m.getWeightsFlat()).toEqual(before);
    m.dispose();
  });

  it('summary lists layers, output shapes and parameter counts', () => {
    const m = new Sequential([
      layers.embedding({ inputDim: 10, outputDim: 4, inputShape: [7] }),
      layers.gru({ units: 5, returnSequences: true }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    const lines: string[] = [];
    const s = m.summary((t) => lines.push(t));
    expect(s).toContain('(Embedding)');
    expect(s).toContain('[None, 7, 5]');
    expect(s).toContain(`Total params: ${10 * 4 + 15 * (4 + 5 + 2) + 3 * 5 + 3}`);
    expect(lines).toHaveLength(1);
    m.dispose();
  });
});

describe('recurrent layer options', () => {
  it('goBackwards equals a forward layer on the time-reversed input, outputs reversed', () => {
    const [x] = randomData(3, 6, 2, 10);
    const back = new Sequential([layers.lstm({ units: 4, inputShape: [6, 2], goBackwards: true, returnSequences: true })], { seed: 3 });
    const fwd = new Sequential([layers.lstm({ units: 4, inputShape: [6, 2], returnSequences: true })], { seed: 4 });
    const wb = back.getWeights();
    fwd.setWeights(Object.fromEntries(Object.entries(fwd.getWeights()).map(([k], i) => [k, Object.values(wb)[i]])));
    const xr = new Float32Array(x.size);
    for (let b = 0; b < 3; b++)
      for (let t = 0; t < 6; t++) xr.set(x.data.subarray((b * 6 + t) * 2, (b * 6 + t + 1) * 2), (b * 6 + 5 - t) * 2);
    const yb = back.predict(x).data;
    const yf = fwd.predict(tensor(xr, [3, 6, 2])).data;
    // Keras: go_backwards output step s = forward-on-reversed output step s
    for (let i = 0; i < yb.length; i++) expect(yb[i]).toBeCloseTo(yf[i], 6);
    back.dispose();
    fwd.dispose();
  });

  it("bidirectional merge modes combine the two directions' outputs", () => {
    const [x] = randomData(2, 5, 3, 11);
    const outs: Record<string, Float32Array> = {};
    let weights: Record<string, Tensor> | null = null;
    for (const mode of ['concat', 'sum', 'mul', 'ave'] as const) {
      const m = new Sequential(
        [layers.bidirectional({ layer: layers.gru({ units: 4, returnSequences: true }), mergeMode: mode, inputShape: [5, 3] })],
        { seed: 5 },
      );
      if (weights) m.setWeights(Object.fromEntries(Object.keys(m.getWeights()).map((k, i) => [k, Object.values(weights!)[i]])));
      else weights = m.getWeights();
      outs[mode] = m.predict(x).data as Float32Array;
      m.dispose();
    }
    const c = outs.concat;
    for (let r = 0; r < 10; r++)
      for (let j = 0; j < 4; j++) {
        const f = c[r * 8 + j];
        const b = c[r * 8 + 4 + j];
        expect(outs.sum[r * 4 + j]).toBeCloseTo(f + b, 6);
        expect(outs.mul[r * 4 + j]).toBeCloseTo(f * b, 6);
        expect(outs.ave[r * 4 + j]).toBeCloseTo((f + b) / 2, 6);
      }
  });

  it('masking from maskZero: padded steps do not change the result', () => {
    const m = new Sequential(
      [
        layers.embedding({ inputDim: 6, outputDim: 3, maskZero: true, inputShape: [null] }),
        layers.lstm({ units: 4 }),
        layers.dense({ units: 1 }),
      ],
      { seed: 6 },
    );
    const short = m.predict(tensor(new Int32Array([3, 1, 4]), [1, 3])).data[0];
    const padded = m.predict(tensor(new Int32Array([3, 1, 4, 0, 0, 0]), [1, 6])).data[0];
    expect(padded).toBeCloseTo(short, 6);
    expect(() => m.predict(tensor(new Int32Array([0, 0, 3, 1]), [1, 4]))).toThrow(/post-padding/);
    m.dispose();
  });

  it('masked many-to-many loss ignores padded steps', () => {
    const m = new Sequential(
      [
        layers.embedding({ inputDim: 6, outputDim: 3, maskZero: true, inputShape: [4] }),
        layers.simpleRNN({ units: 4, returnSequences: true }),
        layers.dense({ units: 6, activation: 'softmax' }),
      ],
      { seed: 7 },
    );
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const x = tensor(new Int32Array([2, 3, 0, 0]), [1, 4]);
    const a = m.evaluate(x, tensor(new Int32Array([1, 2, 0, 0]), [1, 4])).loss;
    const b = m.evaluate(x, tensor(new Int32Array([1, 2, 5, 4]), [1, 4])).loss;
    expect(a).toBe(b);
    m.dispose();
  });

  it('stateful layers carry state across batches (truncated BPTT): the first step of a window uses the previous window', async () => {
    // B parallel streams of random ±1 inputs cut into windows of 4 steps; the
    // target at every step is whether the *previous* input was positive. At
    // step 0 of a window that input is in the previous batch: only a stateful
    // model can know it.
    const B = 8;
    const W = 4;
    const windows = 60;
    const rng = new Random(3);
    const stream = Array.from({ length: B }, () => Array.from({ length: windows * W + 1 }, () => (rng.next() < 0.5 ? -1 : 1)));
    const x = new Float32Array(windows * B * W);
    const y = new Float32Array(windows * B * W);
    for (let k = 0; k < windows; k++)
      for (let b = 0; b < B; b++)
        for (let t = 0; t < W; t++) {
          const i = (k * B + b) * W + t;
          const pos = 1 + k * W + t; // stream[b][0] is a lead-in value
          x[i] = stream[b][pos];
          y[i] = stream[b][pos - 1] > 0 ? 1 : 0;
        }
    const run = async (stateful: boolean) => {
      const m = new Sequential(
        [
          layers.lstm({ units: 8, inputShape: [W, 1], stateful, batchSize: B, returnSequences: true }),
          layers.dense({ units: 1, activation: 'sigmoid' }),
        ],
        { seed: 9 },
      );
      m.compile({ optimizer: optimizers.adam({ learningRate: 0.02 }), loss: 'binaryCrossentropy' });
      await m.fit(tensor(x, [windows * B, W, 1]), tensor(y, [windows * B, W, 1]), { epochs: 15, batchSize: B, shuffle: false });
      m.resetStates();
      const p = m.predict(tensor(x, [windows * B, W, 1]), { batchSize: B }).data;
      let first = 0;
      let later = 0;
      for (let k = 1; k < windows; k++)
        for (let b = 0; b < B; b++)
          for (let t = 0; t < W; t++) {
            const i = (k * B + b) * W + t;
            const ok = p[i] > 0.5 === y[i] > 0.5 ? 1 : 0;
            if (t === 0) first += ok;
            else later += ok;
          }
      m.dispose();
      return { first: first / ((windows - 1) * B), later: later / ((windows - 1) * B * (W - 1)) };
    };
    const s = await run(true);
    const n = await run(false);
    expect(s.first).toBeGreaterThan(0.95);
    expect(s.later).toBeGreaterThan(0.95);
    expect(n.later).toBeGreaterThan(0.95);
    expect(n.first).toBeLessThan(0.7); // a fresh state cannot know the previous window
  });

  it('returnState outputs the final states: h is the last output, c the LSTM cell state; Sequential refuses it', () => {
    const l = layers.lstm({ units: 4, returnSequences: true, returnState: true });
    const xin = input({ shape: [5, 2] });
    const outs = l.apply(xin) as SymbolicTensor[];
    expect(outs.map((t) => t.shape)).toEqual([[5, 4], [4], [4]]);
    const m = model({ inputs: xin, outputs: outs, seed: 8 });
    const [x] = randomData(3, 5, 2, 13);
    const [yt, ht, ct] = m.predict(x) as Tensor[];
    const [y, h, c] = [yt.data, ht.data, ct.data];
    expect(() => new Sequential([layers.gru({ units: 4, returnState: true, inputShape: [5, 2] })]).build()).toThrow(
      /gru_\d+ has 2 outputs \(returnState\); a Sequential layer has one/,
    );
    for (let b = 0; b < 3; b++) for (let j = 0; j < 4; j++) expect(h[b * 4 + j]).toBe(y[(b * 5 + 4) * 4 + j]);
    // h = o ⊙ tanh(c) with o ∈ (0, 1): |h| < |tanh(c)|
    for (let k = 0; k < 12; k++) expect(Math.abs(h[k])).toBeLessThan(Math.abs(Math.tanh(c[k])) + 1e-7);
    m.dispose();
  });

  it('refuses unsupported options instead of ignoring them', () => {
    expect(() => layers.lstm({ units: 4, recurrentActivation: 'hard_sigmoid' as never })).toThrow(
      /recurrentActivation 'hard_sigmoid' is not supported/,
    );
    expect(() => layers.simpleRNN({ units: 4, recurrentActivation: 'sigmoid' })).toThrow(/SimpleRNN has no recurrentActivation/);
    expect(() => layers.gru({ units: 4, activation: 'relu' })).toThrow(/activation 'relu' is not supported for GRU/);
    expect(() => layers.lstm({ units: 0 })).toThrow(/units must be a positive integer/);
    expect(() => layers.lstm({ units: 4, stateful: true })).toThrow(/needs batchSize/);
    expect(() => layers.bidirectional({ layer: layers.dense({ units: 2 }) as never })).toThrow(/must be a simpleRNN, lstm or gru/);
  });
});

describe('errors name the layer and the shapes', () => {
  it('use before compile, wrong input shapes, labels out of range, NaN in data', async () => {
    const m = new Sequential([
      layers.lstm({ name: 'enc', units: 4, inputShape: [5, 3] }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    await expect(m.fit(tensor(new Float32Array(15), [1, 5, 3]), tensor([[0]]))).rejects.toThrow(
      /call compile\(\{ optimizer, loss \}\) before fit/,
    );
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await expect(m.fit(tensor(new Float32Array(16), [1, 4, 4]), tensor([0]))).rejects.toThrow(
      'fit: x has samples of shape [4, 4] but enc expects [5, 3] (-1 = any)',
    );
    await expect(m.fit(tensor(new Float32Array(15), [1, 5, 3]), tensor([3]))).rejects.toThrow(
      'fit: label 3 at flat index 0 is not a class index in [0, 3)',
    );
    await expect(m.fit(tensor(new Float32Array(30), [2, 5, 3]), tensor([1]))).rejects.toThrow('fit: x has 2 samples but y has 1');
    const bad = new Float32Array(15);
    bad[4] = NaN;
    await expect(m.fit(tensor(bad, [1, 5, 3]), tensor([1]))).rejects.toThrow('fit: x contains NaN at flat index 4');
    expect(() => m.compile({ optimizer: 'adam', loss: 'hinge' as never })).toThrow(/unknown loss "hinge"/);
    expect(() => m.compile({ optimizer: 'adagrad' as never, loss: 'mse' })).toThrow(/unknown optimizer "adagrad"/);
    expect(() => m.compile({ optimizer: 'adam', loss: 'mse', metrics: ['accuracy'] })).toThrow(/needs a classification loss/);
    m.dispose();
    expect(() => m.predict(tensor(new Float32Array(15), [1, 5, 3]))).toThrow(ValueError);
    const e = new Sequential([layers.embedding({ name: 'emb', inputDim: 5, outputDim: 2, inputShape: [3] })]);
    expect(() => e.predict(tensor(new Int32Array([1, 7, 2]), [1, 3]))).toThrow('emb: id 7 at [0, 1] is outside [0, 5)');
    e.dispose();
  });
});

describe('memory', () => {
  it('10,000 training steps keep wasm memory and the JS heap flat after warm-up', async () => {
    const [x, y] = randomData(64, 5, 2, 12);
    const m = new Sequential([layers.gru({ units: 8, inputShape: [5, 2] }), layers.dense({ units: 1 })], { seed: 1 });
    m.compile({ optimizer: 'adam', loss: 'mse' });
    await m.fit(x, y, { epochs: 20, batchSize: 8 }); // warm-up: 160 steps
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const wasm0 = memoryStats().wasmBytes;
    const heap0 = process.memoryUsage().heapUsed;
    let steps = 0;
    await m.fit(x, y, { epochs: 1250, batchSize: 8, callbacks: [{ onBatchEnd: () => void steps++ }] });
    expect(steps).toBe(10_000);
    gc?.();
    const wasm1 = memoryStats().wasmBytes;
    const heap1 = process.memoryUsage().heapUsed;
    expect(wasm1).toBe(wasm0);
    expect(heap1 - heap0).toBeLessThan(8 * 1024 * 1024);
    m.dispose();
  }, 180_000);
});
