// Streaming sessions: one wasm call per step, equal step by step to predict on
// the whole sequence; state readable, settable and JSON-serialisable; clear
// errors on bad input.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { Random, Sequential, ShapeError, ValueError, layers, memoryStats, tensor } from '../ts/index.js';

beforeAll(async () => {
  await initForTests();
});

const rng = new Random(5);
const charModel = () =>
  new Sequential(
    [
      layers.embedding({ inputDim: 11, outputDim: 6, inputShape: [null] }),
      layers.lstm({ units: 9, returnSequences: true, recurrentActivation: 'hardSigmoid' }),
      layers.gru({ units: 7, returnSequences: true }),
      layers.layerNormalization(),
      layers.gru({ units: 5, returnSequences: true, resetAfter: false }),
      layers.simpleRNN({ units: 4, returnSequences: true, activation: 'relu' }),
      layers.dense({ units: 11, activation: 'softmax' }),
    ],
    { seed: 2 },
  );

describe('session', () => {
  it('steps equal predict on the whole sequence (every cell kind, layer norm, softmax)', () => {
    const m = charModel();
    const T = 12;
    const ids = Int32Array.from({ length: T }, () => rng.int(11));
    const want = m.predict(tensor(ids, [1, T])).data;
    const s = m.session();
    for (let t = 0; t < T; t++) {
      const y = s.step(ids[t]);
      for (let j = 0; j < 11; j++) expect(Math.abs(y[j] - want[t * 11 + j])).toBeLessThan(1e-5);
    }
    s.dispose();
    m.dispose();
  });

  it('many-to-one: step t equals predict on the first t+1 steps; batches of several streams', () => {
    const m = new Sequential([layers.lstm({ units: 6, inputShape: [null, 3] }), layers.dense({ units: 2 })], { seed: 3 });
    const B = 3;
    const T = 5;
    const x = Float32Array.from({ length: B * T * 3 }, () => rng.uniform(-1, 1));
    const s = m.session({ batchSize: B });
    for (let t = 0; t < T; t++) {
      const xt = new Float32Array(B * 3);
      for (let b = 0; b < B; b++) xt.set(x.subarray((b * T + t) * 3, (b * T + t + 1) * 3), b * 3);
      const y = s.step(xt);
      const prefix = new Float32Array(B * (t + 1) * 3);
      for (let b = 0; b < B; b++) prefix.set(x.subarray(b * T * 3, (b * T + t + 1) * 3), b * (t + 1) * 3);
      const want = m.predict(tensor(prefix, [B, t + 1, 3])).data;
      for (let k = 0; k < B * 2; k++) expect(Math.abs(y[k] - want[k])).toBeLessThan(1e-5);
    }
    m.dispose();
  });

  it('state is JSON: save it, restore it in another session, continue identically; reset restarts', () => {
    const m = charModel();
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const a = m.session();
    for (const id of ids.slice(0, 4)) a.step(id);
    const saved = JSON.parse(JSON.stringify(a.state));
    const rest = ids.slice(4).map((id) => Array.from(a.step(id)));
    const b = m.session();
    b.state = saved;
    for (const [k, id] of ids.slice(4).entries()) expect(Array.from(b.step(id))).toEqual(rest[k]);
    b.reset();
    const c = m.session();
    expect(Array.from(b.step(7))).toEqual(Array.from(c.step(7)));
    for (const s of [a, b, c]) s.dispose();
    m.dispose();
  });

  it('a step allocates nothing: the same output view every time, flat wasm memory and JS heap', () => {
    const m = charModel();
    const s = m.session();
    const first = s.step(1);
    const before = memoryStats().wasmBytes;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    let same = true;
    for (let i = 0; i < 20000; i++) same &&= s.step(i % 11) === first;
    gc?.();
    expect(same).toBe(true);
    expect(memoryStats().wasmBytes).toBe(before);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(1024 * 1024);
    s.dispose();
    m.dispose();
  });

  it('re-packs after the weights change', async () => {
    const m = new Sequential([layers.gru({ units: 4, inputShape: [null, 2] }), layers.dense({ units: 1 })], { seed: 4 });
    m.compile({ optimizer: 'adam', loss: 'mse' });
    const s = m.session();
    const y0 = s.step([0.5, -0.5])[0];
    s.reset();
    await m.fit(tensor(new Float32Array(16).fill(0.3), [2, 4, 2]), tensor([[1], [1]]), { epochs: 3 });
    const y1 = s.step([0.5, -0.5])[0];
    expect(y1).not.toBe(y0);
    expect(Math.abs(y1 - m.predict(tensor([[[0.5, -0.5]]])).data[0])).toBeLessThan(1e-5);
    m.dispose();
  });

  it('refuses what a stream cannot do and bad input', () => {
    const bi = new Sequential([layers.bidirectional({ layer: layers.lstm({ units: 2 }), inputShape: [null, 2] })]);
    expect(() => bi.session()).toThrow(/bidirectional; a stream cannot see the future/);
    const back = new Sequential([layers.lstm({ units: 2, goBackwards: true, inputShape: [null, 2] })]);
    expect(() => back.session()).toThrow(/goBackwards/);
    const m = charModel();
    const s = m.session();
    expect(() => s.step(11)).toThrow(ValueError);
    expect(() => s.step(11)).toThrow('session.step: id 11 is outside [0, 11)');
    expect(() => s.step([1, 2])).toThrow(ShapeError);
    expect(() => (s.state = { ...s.state, batchSize: 2 })).toThrow(/batch size 2/);
    const st = s.state;
    st.layers[0].h[0] = NaN;
    expect(() => (s.state = st)).toThrow(/contains NaN/);
    expect(() => (s.state = {} as never)).toThrow(/not a recurrent-wasm session state/);
    const f = new Sequential([layers.simpleRNN({ units: 2, inputShape: [null, 2] })]);
    expect(() => f.session().step([1, NaN])).toThrow('session.step: input contains NaN at 1');
    s.dispose();
    expect(() => s.step(1)).toThrow(/after dispose/);
    for (const x of [bi, back, m, f]) x.dispose();
  });
});
