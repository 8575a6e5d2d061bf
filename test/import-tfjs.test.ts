// importTfjs: models built and saved by real @tensorflow/tfjs
// (scripts/make-tfjs-fixtures.mjs: tfjs defaults — hardSigmoid, GRU
// resetAfter false — goBackwards, Bidirectional merges, Embedding, masking,
// LayerNormalization, stacks) reproduce tfjs' own predict() within 1e-5, and
// Keras 3 models (scripts/make-keras-fixtures.py: hard_sigmoid x/6 + 0.5, GRU
// reset_after True and False) reproduce Keras 3's predict().
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { FormatError, importTfjs, type Tensor, tensor } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';
import { f32 } from './helpers/fixtures.js';

const dir = new URL('./fixtures/tfjs/', import.meta.url);
interface Case {
  name: string;
  about: string;
  xDtype: 'int32' | 'float32';
  xShape: number[];
  x: string;
  yShape: number[];
  y: string;
}

beforeAll(async () => {
  await initForTests();
});

for (const [source, where] of [
  ['@tensorflow/tfjs predict()', dir],
  ['Keras 3 predict() (scripts/make-keras-fixtures.py)', new URL('./fixtures/keras3/', import.meta.url)],
] as const)
  describe(`importTfjs reproduces ${source}`, () => {
    const { cases } = JSON.parse(readFileSync(new URL('cases.json', where), 'utf8')) as { cases: Case[] };
    for (const c of cases) {
      it(`${c.name}: ${c.about}`, () => {
        const modelJson = readFileSync(new URL(`${c.name}/model.json`, where), 'utf8');
        const bin = readFileSync(new URL(`${c.name}/weights.bin`, where));
        const model = importTfjs(modelJson, bin);
        const raw = Buffer.from(c.x, 'base64');
        const x =
          c.xDtype === 'int32'
            ? tensor(new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), c.xShape)
            : tensor(f32(c.x), c.xShape);
        const y = model.predict(x) as Tensor;
        expect(y.shape).toEqual(c.yShape);
        expectClose(`${c.name}`, y.data, f32(c.y), 1e-5, 1e-5);
        model.dispose();
      });
    }
  });

describe('importTfjs refuses what it cannot reproduce', () => {
  const base = () => JSON.parse(readFileSync(new URL('lstm_default_seq/model.json', dir), 'utf8'));
  const bin = () => readFileSync(new URL('lstm_default_seq/weights.bin', dir));
  const lstmConfig = (mj: { modelTopology: { config: { layers: { config: Record<string, unknown> }[] } } }) =>
    mj.modelTopology.config.layers[0].config;
  it('unsupported options are named, and weights must match the manifest', () => {
    let mj = base();
    lstmConfig(mj).recurrent_activation = 'relu';
    expect(() => importTfjs(mj, bin())).toThrow(/recurrent_activation "relu" is not supported/);
    mj = base();
    // return_state makes states outputs (graph models); a Sequential holds single-output layers, as Keras
    lstmConfig(mj).return_state = true;
    expect(() => importTfjs(mj, bin())).toThrow(/lstm_LSTM1 has 3 outputs \(returnState\); a Sequential layer has one/);
    mj = base();
    mj.modelTopology.config.layers[0].class_name = 'ConvLSTM2D';
    expect(() => importTfjs(mj, bin())).toThrow(/layer class "ConvLSTM2D" is not supported/);
    expect(() => importTfjs(base(), bin().subarray(0, 100))).toThrow(/runs past the end/);
    expect(() => importTfjs(base(), Buffer.concat([bin(), Buffer.alloc(8)]))).toThrow(/8 bytes more than the manifest/);
    expect(() => importTfjs('{"modelTopology":', bin())).toThrow(FormatError);
    expect(() => importTfjs({ ...base(), format: 'graph-model' }, bin())).toThrow(/not a layers model/);
  });
  it('Keras 3 files use the Keras 3 hard_sigmoid (x/6 + 0.5), tfjs and Keras 2 files 0.2x + 0.5', () => {
    const mj = base();
    const x = tensor(
      Float32Array.from({ length: 30 }, (_, i) => Math.sin(i) * 3),
      [2, 5, 3],
    );
    const tfjs = (importTfjs(mj, bin()).predict(x) as Tensor).data;
    mj.modelTopology.keras_version = '3.6.0';
    const k3 = (importTfjs(mj, bin()).predict(x) as Tensor).data;
    let diff = 0;
    for (let i = 0; i < tfjs.length; i++) diff = Math.max(diff, Math.abs(tfjs[i] - k3[i]));
    expect(diff).toBeGreaterThan(1e-3);
  });
});

interface GraphCase {
  name: string;
  about: string;
  inputs: { name: string; dtype: 'int32' | 'float32'; shape: number[]; data: string }[];
  outputs: { shape: number[]; data: string }[];
}

for (const [source, sub] of [
  ['@tensorflow/tfjs functional models (scripts/make-tfjs-functional-fixtures.mjs)', 'tfjs-functional'],
  ['Keras 3 functional models (scripts/make-keras-functional-fixtures.py)', 'keras3-functional'],
] as const) {
  const where = new URL(`./fixtures/${sub}/`, import.meta.url);
  if (!existsSync(new URL('cases.json', where))) continue;
  describe(`importTfjs reproduces ${source}`, () => {
    const { cases } = JSON.parse(readFileSync(new URL('cases.json', where), 'utf8')) as { cases: GraphCase[] };
    for (const c of cases) {
      it(`${c.name}: ${c.about}`, () => {
        const model = importTfjs(
          readFileSync(new URL(`${c.name}/model.json`, where), 'utf8'),
          readFileSync(new URL(`${c.name}/weights.bin`, where)),
        );
        const xs = c.inputs.map((i) => {
          const raw = Buffer.from(i.data, 'base64');
          const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
          return tensor(i.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes), i.shape);
        });
        const got = model.predict(xs);
        const outs = Array.isArray(got) ? got : [got];
        expect(outs.length).toBe(c.outputs.length);
        c.outputs.forEach((o, i) => {
          expect(outs[i].shape).toEqual(o.shape);
          expectClose(`${c.name} output ${i}`, outs[i].data, f32(o.data), 1e-5, 1e-5);
        });
        model.dispose();
      });
    }
  });
}
