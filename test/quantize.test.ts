// int8 and f16 models: the int8 kernels against an f32 model holding the
// dequantised weights (read back from the saved file, so the reference does
// not share the quantiser's or the kernels' code), sessions against predict,
// files, masking, errors.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  FormatError,
  Random,
  Sequential,
  generateText,
  init,
  layers,
  loadModel,
  loadQuantizedModel,
  quantize,
  readSafetensors,
  tensor,
  toFloat32,
  type Layer,
  type Tensor,
} from '../ts/index.js';

beforeAll(async () => {
  await init();
});

const rnd = (n: number, seed: number, scale = 1) => {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => (r.next() * 2 - 1) * scale);
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

/** An f32 model with the weights an int8 file holds (q · scale), read from the file's bytes. */
function dequantised(make: () => Layer[], file: Uint8Array): Sequential {
  const st = readSafetensors(file);
  const m = new Sequential(make(), { seed: 99 });
  m.build();
  // layer names are numbered per process: map the file's to this model's by position
  const fileLayers = (JSON.parse(st.metadata.config).layers as { config: { name: string } }[]).map((l) => l.config.name);
  const rename = (n: string) => `${m.layers[fileLayers.indexOf(n.slice(0, n.indexOf('.')))].name}${n.slice(n.indexOf('.'))}`;
  const w: Record<string, Float32Array> = {};
  for (const [fname, t] of st.tensors) {
    if (fname.endsWith('.scale')) continue;
    const name = rename(fname);
    if (t.dtype !== 'I8') {
      w[name] = toFloat32(t, name);
      continue;
    }
    const q = new Int8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    const s = toFloat32(st.tensors.get(`${fname}.scale`)!);
    const k = t.shape[1];
    w[name] = Float32Array.from(q, (v, i) => v * s[s.length === 1 ? 0 : Math.floor(i / k)]);
  }
  m.setWeights(w);
  return m;
}

const cells: [string, () => Layer[]][] = [
  [
    'LSTM',
    () => [layers.lstm({ units: 48, returnSequences: true, inputShape: [null, 6] }), layers.dense({ units: 5, activation: 'tanh' })],
  ],
  ['GRU (reset after)', () => [layers.gru({ units: 40, returnSequences: true, inputShape: [null, 6] }), layers.dense({ units: 5 })]],
  [
    'GRU (reset before)',
    () => [layers.gru({ units: 40, resetAfter: false, returnSequences: true, inputShape: [null, 6] }), layers.dense({ units: 5 })],
  ],
  [
    'SimpleRNN relu',
    () => [layers.simpleRNN({ units: 33, activation: 'relu', returnSequences: true, inputShape: [null, 6] }), layers.dense({ units: 5 })],
  ],
  [
    'stacked LSTM → GRU → last step',
    () => [
      layers.lstm({ units: 32, returnSequences: true, inputShape: [null, 6] }),
      layers.gru({ units: 24 }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ],
  ],
];

/** The int8 quantisation of a model from `make` against the f32 model on its
 *  file's dequantised weights (only the int16 rounding of the activations
 *  separates the two) and the f32 original; the file reloads to the same numbers. */
function checkInt8(make: () => Layer[], seed: number, x: ReturnType<typeof tensor>, batchSize?: number) {
  const m = new Sequential(make(), { seed });
  m.build();
  const q = quantize(m, { dtype: 'int8' });
  const file = q.save();
  const ref = dequantised(make, file);
  const y = q.predict(x, { batchSize });
  expect(y.shape).toEqual(ref.predict(x).shape);
  expect(maxDiff(y.data, ref.predict(x).data)).toBeLessThan(2e-3);
  expect(maxDiff(y.data, m.predict(x).data)).toBeLessThan(0.05);
  expect(Array.from(loadQuantizedModel(file).predict(x, { batchSize }).data)).toEqual(Array.from(y.data));
  ref.dispose();
  return { q, y };
}

describe('int8 models', () => {
  for (const [label, make] of cells) {
    it(`${label}: equal to the f32 model on the dequantised weights within 2e-3; sessions equal predict`, () => {
      const x = tensor(rnd(5 * 12 * 6, 1, 1.5), [5, 12, 6]);
      const { q, y } = checkInt8(make, 4, x);
      // the session runs the same kernels one step at a time: identical numbers
      const s = q.session({ batchSize: 5 });
      const O = s.outputSize;
      const T = 12;
      let last: Float32Array = new Float32Array(0);
      for (let t = 0; t < T; t++) {
        const xt = new Float32Array(5 * 6);
        for (let b = 0; b < 5; b++) xt.set(x.data.subarray((b * T + t) * 6, (b * T + t + 1) * 6), b * 6);
        last = s.step(xt).slice();
        if (y.rank === 3)
          for (let b = 0; b < 5; b++)
            expect(Array.from(last.subarray(b * O, (b + 1) * O))).toEqual(
              Array.from(y.data.subarray((b * T + t) * O, (b * T + t + 1) * O)),
            );
      }
      if (y.rank === 2) expect(Array.from(last)).toEqual(Array.from(y.data));
      s.dispose();
      q.dispose();
    });
  }

  it('rows longer than one 512-row integer chunk (K = 1100: three chunks), odd batch: equal to the f32 model on the dequantised weights', () => {
    const make = () => [layers.gru({ units: 40, returnSequences: true, inputShape: [null, 1100] }), layers.dense({ units: 3 })];
    const x = tensor(rnd(3 * 4 * 1100, 8, 1.5), [3, 4, 1100]);
    checkInt8(make, 5, x).q.dispose();
  });

  it('stores I8 weights with per-row F32 scales (a quarter of the f32 bytes), or one scale per matrix', () => {
    const make = cells[0][1];
    const m = new Sequential(make(), { seed: 2 });
    m.build();
    const q = quantize(m, { dtype: 'int8' });
    const st = readSafetensors(q.save());
    const w = st.tensors.get(`${m.layers[0].name}.weight_hh_l0`)!;
    expect(w.dtype).toBe('I8');
    expect(w.shape).toEqual([4 * 48, 48]);
    expect(st.tensors.get(`${m.layers[0].name}.weight_hh_l0.scale`)!.shape).toEqual([4 * 48]);
    expect(st.tensors.get(`${m.layers[0].name}.bias_ih_l0`)!.dtype).toBe('F32');
    expect(JSON.parse(st.metadata.quantization)).toEqual({ dtype: 'int8', perChannel: true, scheme: 'symmetric' });
    // int8 values use the whole range on every row
    const q8 = new Int8Array(w.bytes.buffer, w.bytes.byteOffset, w.bytes.byteLength);
    for (let r = 0; r < 4 * 48; r++) expect(Math.max(...Array.from(q8.subarray(r * 48, (r + 1) * 48), Math.abs))).toBe(127);
    const weights = 4 * 48 * (6 + 48) + 5 * 48;
    expect(q.weightBytes).toBe(weights + 4 * (2 * 4 * 48 + 5) + 4 * (2 * 4 * 48 + 5));
    const one = quantize(m, { dtype: 'int8', perChannel: false });
    const st1 = readSafetensors(one.save());
    expect(st1.tensors.get(`${m.layers[0].name}.weight_hh_l0.scale`)!.shape).toEqual([1]);
    const x = tensor(rnd(2 * 7 * 6, 3), [2, 7, 6]);
    expect(maxDiff(one.predict(x).data, dequantised(make, one.save()).predict(x).data)).toBeLessThan(2e-3);
  });

  it('masked many-to-one (maskZero embedding): each sample stops at its last real step, as the f32 model', () => {
    const make = () => [
      layers.embedding({ inputDim: 20, outputDim: 8, maskZero: true, inputShape: [10] }),
      layers.lstm({ units: 32 }),
      layers.dense({ units: 1, activation: 'sigmoid' }),
    ];
    const m = new Sequential(make(), { seed: 6 });
    m.build();
    const r = new Random(5);
    const ids = new Int32Array(9 * 10);
    for (let b = 0; b < 9; b++) {
      const len = 1 + ((b * 7) % 10);
      for (let t = 0; t < len; t++) ids[b * 10 + t] = 1 + r.int(19);
    }
    const x = tensor(ids, [9, 10]);
    const q = quantize(m, { dtype: 'int8' });
    const ref = dequantised(make, q.save());
    expect(maxDiff(q.predict(x, { batchSize: 4 }).data, ref.predict(x).data)).toBeLessThan(2e-3);
    // order and grouping do not change a sample's numbers
    expect(Array.from(q.predict(x, { batchSize: 4 }).data)).toEqual(Array.from(q.predict(x, { batchSize: 9 }).data));
    ids[5] = 0;
    ids[6] = 3; // padding then a real id
    expect(() => q.predict(tensor(ids, [9, 10]))).toThrow(/post|padding after/);
  });

  it('generates text from an int8 character model', async () => {
    const tok = CharTokenizer.fromText('the quick brown fox jumps over the lazy dog');
    const m = new Sequential(
      [
        layers.embedding({ inputDim: tok.vocabSize, outputDim: 8, inputShape: [null] }),
        layers.gru({ units: 32, returnSequences: true }),
        layers.dense({ units: tok.vocabSize, activation: 'softmax' }),
      ],
      { seed: 3 },
    );
    m.build();
    const q = quantize(m, { dtype: 'int8' });
    const a = await generateText(q, { tokenizer: tok, prompt: 'the', length: 30, seed: 4 });
    expect([...a].length).toBe(30);
    expect(await generateText(loadQuantizedModel(q.save()), { tokenizer: tok, prompt: 'the', length: 30, seed: 4 })).toBe(a);
  });

  // bidirectional and goBackwards layers need a sequence's end before its
  // start: predict runs them layer by layer, each backward direction over
  // the reversed steps of every sample
  const backwards: [string, () => Layer[]][] = [
    [
      'bidirectional LSTM (concat) → per-step dense',
      () => [
        layers.bidirectional({ layer: layers.lstm({ units: 24, returnSequences: true }), inputShape: [null, 6] }),
        layers.dense({ units: 4 }),
      ],
    ],
    [
      'bidirectional GRU (sum, last step) → dense',
      () => [
        layers.bidirectional({ layer: layers.gru({ units: 20 }), mergeMode: 'sum', inputShape: [null, 6] }),
        layers.dense({ units: 3 }),
      ],
    ],
    [
      'bidirectional SimpleRNN (ave) → LSTM → bidirectional GRU reset-before (mul)',
      () => [
        layers.bidirectional({ layer: layers.simpleRNN({ units: 16, returnSequences: true }), mergeMode: 'ave', inputShape: [null, 6] }),
        layers.lstm({ units: 12, returnSequences: true }),
        layers.bidirectional({ layer: layers.gru({ units: 10, resetAfter: false, returnSequences: true }), mergeMode: 'mul' }),
      ],
    ],
    [
      'goBackwards GRU (sequences) → dense',
      () => [layers.gru({ units: 20, goBackwards: true, returnSequences: true, inputShape: [null, 6] }), layers.dense({ units: 4 })],
    ],
    [
      'LSTM → goBackwards LSTM (last step) → dense',
      () => [
        layers.lstm({ units: 16, returnSequences: true, inputShape: [null, 6] }),
        layers.lstm({ units: 12, goBackwards: true }),
        layers.dense({ units: 2 }),
      ],
    ],
  ];
  for (const [label, make] of backwards) {
    it(`${label}: predict equals the f32 model on the dequantised weights within 2e-3`, () => {
      const { q } = checkInt8(make, 5, tensor(rnd(5 * 11 * 6, 2, 1.5), [5, 11, 6]), 3);
      // a stream cannot see the future
      expect(() => q.session()).toThrow(/bidirectional|backwards/);
      q.dispose();
    });
  }

  it('masked bidirectional tagging and goBackwards (maskZero embedding): reversed within each length, as the f32 model', () => {
    const make = () => [
      layers.embedding({ inputDim: 20, outputDim: 8, maskZero: true, inputShape: [10] }),
      layers.bidirectional({ layer: layers.lstm({ units: 16, returnSequences: true }) }),
      layers.gru({ units: 12, goBackwards: true, returnSequences: true }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ];
    const m = new Sequential(make(), { seed: 7 });
    m.build();
    const r = new Random(9);
    const ids = new Int32Array(7 * 10);
    const lens = Array.from({ length: 7 }, (_, b) => 2 + ((b * 3) % 9));
    for (let b = 0; b < 7; b++) for (let t = 0; t < lens[b]; t++) ids[b * 10 + t] = 1 + r.int(19);
    const x = tensor(ids, [7, 10]);
    const q = quantize(m, { dtype: 'int8' });
    const ref = dequantised(make, q.save());
    const [y, want] = [q.predict(x, { batchSize: 3 }).data, ref.predict(x).data];
    // the real steps (int8 leaves the padded ones zero; f32 runs the dense layer on them)
    const real = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => Math.floor(i / 3) % 10 < lens[Math.floor(i / 30)]);
    expect(maxDiff(real(y), real(want))).toBeLessThan(2e-3);
    expect(
      Array.from(y)
        .filter((_, i) => Math.floor(i / 3) % 10 >= lens[Math.floor(i / 30)])
        .every((v) => v === 0),
    ).toBe(true);
    expect(Array.from(y)).toEqual(Array.from(q.predict(x, { batchSize: 7 }).data));
  });

  it('predict keeps its sessions for the next call of the same shape: same numbers, any order of shapes', () => {
    const make = backwards[2][1];
    const m = new Sequential(make(), { seed: 3 });
    m.build();
    const q = quantize(m, { dtype: 'int8' });
    const [a, b] = [tensor(rnd(4 * 9 * 6, 5), [4, 9, 6]), tensor(rnd(2 * 5 * 6, 6), [2, 5, 6])];
    const ya = Array.from(q.predict(a).data);
    const yb = Array.from(q.predict(b).data);
    expect(Array.from(q.predict(a).data)).toEqual(ya);
    expect(Array.from(q.predict(a).data)).toEqual(ya);
    expect(Array.from(q.predict(b).data)).toEqual(yb);
    expect(Array.from(loadQuantizedModel(q.save()).predict(b).data)).toEqual(yb);
    q.dispose();
    expect(() => q.predict(a)).toThrow(/dispose/);
  });

  it('a session re-checks its step program when a word of it or of a weight descriptor changes', () => {
    // the wasm side skips the full check of a program equal to the last one
    // that passed; a changed pointer must still be refused, not followed
    const m = new Sequential(cells[0][1](), { seed: 2 });
    m.build();
    const q = quantize(m, { dtype: 'int8' });
    const s = q.session();
    const x = rnd(6, 3);
    const y0 = Array.from(s.step(x));
    const mem = new Uint32Array(s.program.viewI32().buffer);
    const rec = s.program.ptr / 4; // the int8 LSTM's record comes first
    expect(mem[rec]).toBe(5); // OP_RECUR_Q8
    const desc = mem[rec + 6] / 4;
    for (const at of [rec + 9, rec + 12, desc, desc + 2]) {
      const keep = mem[at];
      mem[at] = 0xfffffff0;
      expect(() => s.step(x), `word ${at}`).toThrow(/outside wasm memory/);
      mem[at] = keep;
    }
    const w = mem[rec + 13];
    mem[rec + 13] = mem[rec + 9]; // two outputs on one buffer
    expect(() => s.step(x)).toThrow(/overlaps/);
    mem[rec + 13] = w;
    s.reset();
    expect(Array.from(s.step(x))).toEqual(y0);
    s.dispose();
    q.dispose();
  });

  it('refuses what it cannot run, and malformed files, with clear errors', () => {
    const bi = new Sequential([layers.bidirectional({ layer: layers.lstm({ units: 8 }), inputShape: [5, 3] })], { seed: 1 });
    bi.build();
    expect(() => quantize(bi, { dtype: 'int4' as never })).toThrow(/dtype/);
    const m = new Sequential(cells[0][1](), { seed: 2 });
    m.build();
    const file = quantize(m, { dtype: 'int8' }).save();
    expect(() => loadModel(file)).toThrow(FormatError);
    expect(() => loadModel(file)).toThrow(/loadQuantizedModel/);
    expect(() => loadQuantizedModel(m.save())).toThrow(/not quantised/);
    // a negative scale
    const st = readSafetensors(file);
    const name = `${m.layers[0].name}.weight_ih_l0.scale`;
    const t = st.tensors.get(name)!;
    const bad = file.slice();
    const at = t.bytes.byteOffset - file.byteOffset;
    new DataView(bad.buffer).setFloat32(at, -1, true);
    expect(() => loadQuantizedModel(bad)).toThrow(/positive/);
    // a quantised model checks its input
    const q = loadQuantizedModel(file);
    expect(() => q.predict(tensor(rnd(2 * 3 * 4, 1), [2, 3, 4]))).toThrow(/features/);
    expect(() => q.predict(tensor([[[NaN, 0, 0, 0, 0, 0]]]))).toThrow(/NaN/);
  });
});

describe('f16 models', () => {
  it('store F16 (half the bytes), predict within 1e-3 of f32, and load as f32 models too', () => {
    const m = new Sequential(cells[0][1](), { seed: 8 });
    m.build();
    const x = tensor(rnd(3 * 9 * 6, 2), [3, 9, 6]);
    const h = quantize(m, { dtype: 'f16' });
    const file = h.save();
    const st = readSafetensors(file);
    for (const [, t] of st.tensors) expect(t.dtype).toBe('F16');
    expect(file.length).toBeLessThan(m.save().length * 0.52);
    expect(maxDiff(h.predict(x).data, m.predict(x).data)).toBeLessThan(1e-3);
    const back = loadQuantizedModel(file);
    expect(back.dtype).toBe('f16');
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(h.predict(x).data));
    expect(Array.from((loadModel(file).predict(x) as Tensor).data)).toEqual(Array.from(h.predict(x).data));
  });

  it('keeps bidirectional models (they run on the f32 kernels)', () => {
    const bi = new Sequential([layers.bidirectional({ layer: layers.gru({ units: 8 }), inputShape: [5, 3] }), layers.dense({ units: 2 })], {
      seed: 1,
    });
    bi.build();
    const x = tensor(rnd(2 * 5 * 3, 7), [2, 5, 3]);
    expect(maxDiff(quantize(bi, { dtype: 'f16' }).predict(x).data, bi.predict(x).data)).toBeLessThan(1e-3);
  });
});
