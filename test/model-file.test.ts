// The model file: safetensors with the config in __metadata__. Round trips are
// bit-exact (weights and optimizer state: training resumes exactly), files
// written by the Python safetensors package are read, and hostile files —
// truncated, bit-flipped, oversized, inconsistent — give a FormatError every
// time (property-based, fast-check): no crash, no hang, no wasm trap.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import {
  FormatError,
  Random,
  Sequential,
  importOnnx,
  importPyTorch,
  importTfjs,
  layers,
  loadModel,
  optimizers,
  readSafetensors,
  tensor,
  toFloat32,
  writeSafetensors,
  type Tensor,
} from '../ts/index.js';
import { readFileSync } from 'node:fs';

beforeAll(async () => {
  await initForTests();
});

function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function everyLayerModel(): Sequential {
  return new Sequential(
    [
      layers.embedding({ name: 'emb', inputDim: 12, outputDim: 5, maskZero: true, inputShape: [7] }),
      layers.bidirectional({ name: 'bi', layer: layers.gru({ units: 4, returnSequences: true, resetAfter: false }), mergeMode: 'sum' }),
      layers.layerNormalization({ name: 'ln' }),
      layers.dropout({ rate: 0.1 }),
      layers.lstm({ name: 'lstm', units: 6, returnSequences: true, recurrentActivation: 'hardSigmoid' }),
      layers.simpleRNN({ name: 'rnn', units: 3, activation: 'relu', goBackwards: true }),
      layers.dense({ name: 'out', units: 4, activation: 'softmax', kernelRegularizer: { l2: 0.01 } }),
    ],
    { seed: 3, name: 'everything' },
  );
}

const ids = () => tensor(new Int32Array([1, 2, 3, 4, 5, 0, 0, 7, 8, 9, 10, 11, 3, 2]), [2, 7]);

describe('model file round trip', () => {
  it('save → load is bit-exact for every layer type, and predictions match', () => {
    const m = everyLayerModel();
    m.compile({ optimizer: optimizers.rmsprop({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const bytes = m.save();
    const back = loadModel(bytes);
    const a = m.getWeights();
    const b = back.getWeights();
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(bytesEqual(a[k].data, b[k].data), k).toBe(true);
    expect(bytesEqual(m.predict(ids()).data, (back.predict(ids()) as Tensor).data)).toBe(true);
    expect(back.toConfig()).toEqual(m.toConfig());
    expect(bytesEqual(back.save(), bytes)).toBe(true); // saving the loaded model reproduces the file
    m.dispose();
    back.dispose();
  });

  it('with the optimizer state, training resumes exactly where it stopped', async () => {
    const rng = new Random(4);
    const x = tensor(
      Float32Array.from({ length: 32 * 5 * 3 }, () => rng.uniform(-1, 1)),
      [32, 5, 3],
    );
    const y = tensor(
      Float32Array.from({ length: 32 * 2 }, () => rng.uniform(-1, 1)),
      [32, 2],
    );
    const mk = () => {
      const m = new Sequential([layers.gru({ units: 6, inputShape: [5, 3] }), layers.dense({ units: 2 })], { seed: 5 });
      m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'mse' });
      return m;
    };
    const straight = mk();
    await straight.fit(x, y, { epochs: 2, batchSize: 8, seed: 1 });
    await straight.fit(x, y, { epochs: 2, batchSize: 8, seed: 2 });
    const first = mk();
    await first.fit(x, y, { epochs: 2, batchSize: 8, seed: 1 });
    const resumed = loadModel(first.save({ includeOptimizer: true }));
    await resumed.fit(x, y, { epochs: 2, batchSize: 8, seed: 2 });
    expect(bytesEqual(resumed.getWeightsFlat(), straight.getWeightsFlat())).toBe(true);
    // without the optimizer state, Adam restarts and the result differs
    const fresh = loadModel(first.save());
    await fresh.fit(x, y, { epochs: 2, batchSize: 8, seed: 2 });
    expect(bytesEqual(fresh.getWeightsFlat(), straight.getWeightsFlat())).toBe(false);
    for (const m of [straight, first, resumed, fresh]) m.dispose();
  });

  it('reads a file written by the Python safetensors package (header padding, dtypes F32/F16/BF16/I64/F64)', () => {
    const file = readSafetensors(new Uint8Array(readFileSync(new URL('./fixtures/safetensors/python.safetensors', import.meta.url))));
    const want = JSON.parse(readFileSync(new URL('./fixtures/safetensors/python.json', import.meta.url), 'utf8')) as Record<
      string,
      { shape: number[]; values: number[] }
    >;
    expect([...file.tensors.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, w] of Object.entries(want)) {
      const t = file.tensors.get(name)!;
      expect(t.shape).toEqual(w.shape);
      expect(Array.from(toFloat32(t, name))).toEqual(w.values.map((v) => Math.fround(v)));
    }
    expect(file.metadata).toEqual({ written_by: 'safetensors.torch.save_file' });
  });
});

describe('hostile files', () => {
  const good = (() => {
    const t = [
      { name: 'a', dtype: 'F32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dtype: 'F32' as const, shape: [4], data: Float32Array.from([7, 8, 9, 10]) },
    ];
    return writeSafetensors(t, { format: 'x' });
  })();

  function onlyFormatErrors(bytes: Uint8Array): void {
    try {
      readSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof FormatError)) throw new Error(`not a FormatError: ${(e as Error).stack}`);
    }
  }

  it('reads the well-formed file', () => {
    const f = readSafetensors(good);
    expect(Array.from(toFloat32(f.tensors.get('a')!))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.metadata).toEqual({ format: 'x' });
  });

  it('every truncation is a FormatError', () => {
    for (let n = 0; n < good.byteLength; n++) expect(() => readSafetensors(good.subarray(0, n)), `length ${n}`).toThrow(FormatError);
  });

  it('random bit flips never escape as anything but a FormatError or a valid file', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.nat(7)), { minLength: 1, maxLength: 6 }), (flips) => {
        const b = good.slice();
        for (const [i, bit] of flips) b[i] ^= 1 << bit;
        onlyFormatErrors(b);
      }),
      { numRuns: 3000 },
    );
  });

  it('random headers never escape as anything but a FormatError', () => {
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'I64', 'BOOL', 'X9'), fc.string()),
      shape: fc.oneof(fc.array(fc.oneof(fc.nat(10), fc.integer(), fc.constant(2 ** 40), fc.double())), fc.string()),
      data_offsets: fc.oneof(fc.tuple(fc.nat(200), fc.nat(200)), fc.array(fc.integer()), fc.constant(null)),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(entry, fc.anything())), fc.nat(256), (hdr, dataLen) => {
        const json = new TextEncoder().encode(JSON.stringify(hdr));
        const b = new Uint8Array(8 + json.byteLength + dataLen);
        new DataView(b.buffer).setUint32(0, json.byteLength, true);
        b.set(json, 8);
        onlyFormatErrors(b);
      }),
      { numRuns: 3000 },
    );
  });

  it('specific violations have specific messages', () => {
    const withHeader = (h: unknown, data = 0, lenOverride?: number) => {
      const json = new TextEncoder().encode(typeof h === 'string' ? h : JSON.stringify(h));
      const b = new Uint8Array(8 + json.byteLength + data);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, lenOverride ?? json.byteLength, true);
      b.set(json, 8);
      return b;
    };
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(() => readSafetensors(huge)).toThrow(/header length 4294967296 exceeds the limit/);
    expect(() => readSafetensors(withHeader({}, 0, 999))).toThrow(/runs past the end/);
    expect(() => readSafetensors(withHeader('[1,2]'))).toThrow(/does not start with "\{"/);
    expect(() => readSafetensors(withHeader('{"a":'))).toThrow(/not valid JSON/);
    expect(() => readSafetensors(withHeader({ __metadata__: { a: 1 } }))).toThrow(/__metadata__\["a"\] is not a string/);
    expect(() => readSafetensors(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(
      /needs 8 bytes but its offsets span 4/,
    );
    expect(() => readSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8))).toThrow(
      /starts at byte 4 .* \(gap\)/,
    );
    expect(() =>
      readSafetensors(
        withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8),
      ),
    ).toThrow(/overlap/);
    expect(() => readSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12))).toThrow(
      /cover 4 bytes but the data section has 12/,
    );
    expect(() => readSafetensors(withHeader({ a: { dtype: 'F32', shape: [65536, 65536], data_offsets: [0, 4] } }, 4))).toThrow(
      /above the limit/,
    );
    expect(() => readSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4), { maxHeaderBytes: 8 })).toThrow(
      /exceeds the limit of 8/,
    );
  });

  it('a model file whose config lies about the weights is refused', () => {
    const m = new Sequential([layers.dense({ name: 'd', units: 2, inputShape: [3] })]);
    const bytes = m.save();
    const file = readSafetensors(bytes);
    const config = JSON.parse(file.metadata.config);
    config.layers[0].config.units = 5;
    const tensors = [...file.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.bytes }));
    expect(() => loadModel(writeSafetensors(tensors, { ...file.metadata, config: JSON.stringify(config) }))).toThrow(
      /"d.weight" has shape \[2,3\]; the config needs \[5,3\]/,
    );
    expect(() =>
      loadModel(
        writeSafetensors(tensors, { ...file.metadata, config: '{"class":"Sequential","layers":[{"className":"Eval","config":{}}]}' }),
      ),
    ).toThrow(/unknown layer class "Eval"/);
    expect(() => loadModel(writeSafetensors(tensors, { format: 'other' }))).toThrow(/not a recurrent-wasm model/);
    m.dispose();
  });

  it('random corruptions of a real model file: loadModel gives a FormatError or a working model', () => {
    const m = new Sequential([layers.lstm({ name: 'l', units: 3, inputShape: [4, 2] }), layers.dense({ name: 'd', units: 1 })]);
    const bytes = m.save();
    fc.assert(
      fc.property(fc.nat(bytes.byteLength - 1), fc.nat(255), fc.nat(bytes.byteLength), (i, v, cut) => {
        const b = bytes.slice(0, Math.max(cut, 8));
        if (i < b.byteLength) b[i] = v;
        try {
          const back = loadModel(b);
          back.predict(tensor(new Float32Array(8), [1, 4, 2]));
          back.dispose();
        } catch (e) {
          if (!(e instanceof FormatError)) throw new Error(`not a FormatError: ${(e as Error).stack}`);
        }
      }),
      { numRuns: 500 },
    );
    m.dispose();
  });
});

describe('hostile files for the importers', () => {
  const onlyFormat = (f: () => unknown) => {
    try {
      const m = f() as { dispose?: () => void } | undefined;
      m?.dispose?.();
    } catch (e) {
      if (!(e instanceof FormatError)) throw new Error(`not a FormatError: ${(e as Error).stack}`);
    }
  };
  const fix = (p: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${p}`, import.meta.url)));

  it('importPyTorch: truncated and bit-flipped state dicts', () => {
    const good = fix('pytorch-import/charlm.safetensors');
    fc.assert(
      fc.property(fc.nat(good.byteLength), fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.nat(7)), { maxLength: 4 }), (cut, flips) => {
        const b = good.slice(0, Math.max(cut, 1));
        for (const [i, bit] of flips) if (i < b.byteLength) b[i] ^= 1 << bit;
        onlyFormat(() => importPyTorch(b));
      }),
      { numRuns: 300 },
    );
  });

  it('importTfjs: corrupted model.json values and weight bytes', () => {
    const json = readFileSync(new URL('./fixtures/tfjs/bidirectional_gru_sum_last/model.json', import.meta.url), 'utf8');
    const bin = fix('tfjs/bidirectional_gru_sum_last/weights.bin');
    fc.assert(
      fc.property(fc.nat(json.length - 1), fc.string({ maxLength: 3 }), fc.nat(bin.byteLength), (at, junk, cut) => {
        onlyFormat(() => importTfjs(json.slice(0, at) + junk + json.slice(at + junk.length), bin));
        onlyFormat(() => importTfjs(json, bin.slice(0, cut)));
      }),
      { numRuns: 300 },
    );
    // numbers that would make huge layers
    const mj = JSON.parse(json);
    mj.modelTopology.config.layers[0].config.layer.config.units = 1e9;
    onlyFormat(() => importTfjs(mj, bin));
  });

  it('importOnnx: truncated and bit-flipped graphs never escape as anything but a FormatError', () => {
    const good = fix('onnx/torch_gru_last.onnx');
    const x = tensor(new Int32Array([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5]), [3, 5]);
    fc.assert(
      fc.property(fc.nat(good.byteLength), fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.nat(7)), { maxLength: 3 }), (cut, flips) => {
        const b = good.slice(0, Math.max(cut, 1));
        for (const [i, bit] of flips) if (i < b.byteLength) b[i] ^= 1 << bit;
        onlyFormat(() => {
          const m = importOnnx(b, { maxElements: 1 << 20 });
          try {
            m.run({ [m.inputs[0]?.name ?? 'x']: x });
          } finally {
            m.dispose();
          }
        });
      }),
      { numRuns: 400 },
    );
  });
});
