// Fixtures for importTfjs on FUNCTIONAL models from real @tensorflow/tfjs (npm,
// cpu backend): graphs built with tf.model({ inputs, outputs }) — several
// inputs and outputs, shared layers, merges, recurrent layers with
// initialState and returnState, Bidirectional returnState, TimeDistributed,
// RepeatVector, Conv1D / pooling, Embedding maskZero — with tfjs' own layer
// defaults (LSTM/GRU recurrentActivation 'hardSigmoid', GRU resetAfter false),
// weights set from a seeded generator, saved in the layers format exactly as
// tfjs writes it (model.json with weightsManifest + one weights.bin), and tfjs'
// own predict() outputs.
//
//   node scripts/make-tfjs-functional-fixtures.mjs   → test/fixtures/tfjs-functional/
//
// cases.json: { cases: [ { name, about, inputs: [ { name, dtype, shape, data } ],
// outputs: [ { shape, data } ] } ] }, inputs and outputs in the model's order,
// data base64 of little-endian float32 (int32 for integer inputs).
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { rng } from './seeded.mjs';

await tf.setBackend('cpu');
const out = new URL('../test/fixtures/tfjs-functional/', import.meta.url);
mkdirSync(out, { recursive: true });

const L = tf.layers;

// Each case: build() → { model, feeds }, where feeds (in the model's input
// order) say how to make each input: { shape (with batch), ids?, padded? }.
const cases = [
  {
    name: 'two_inputs_shared_dense',
    about: 'seq [5,3] → LSTM, vec [4]; one Dense shared by both branches; add + concatenate; regression and softmax outputs',
    build: () => {
      const seq = tf.input({ shape: [5, 3], name: 'seq' });
      const vec = tf.input({ shape: [4], name: 'vec' });
      const h = L.lstm({ units: 4 }).apply(seq);
      const shared = L.dense({ units: 5, activation: 'tanh', name: 'shared_proj' });
      const a = shared.apply(h); // node 0
      const b = shared.apply(vec); // node 1
      const sum = L.add().apply([a, b]);
      const cat = L.concatenate().apply([a, b, vec]);
      const reg = L.dense({ units: 2, name: 'regression' }).apply(cat);
      const cls = L.dense({ units: 3, activation: 'softmax', name: 'classes' }).apply(sum);
      return { model: tf.model({ inputs: [seq, vec], outputs: [reg, cls] }), feeds: [{ shape: [3, 5, 3] }, { shape: [3, 4] }] };
    },
  },
  {
    name: 'lstm_encoder_decoder',
    about: 'encoder LSTM returnState → [h, c] as initialState of a decoder LSTM (returnSequences) → TimeDistributed(Dense softmax)',
    build: () => {
      const enc = tf.input({ shape: [5, 3], name: 'encoder_in' });
      const dec = tf.input({ shape: [4, 2], name: 'decoder_in' });
      const [, h, c] = L.lstm({ units: 4, returnState: true, name: 'encoder' }).apply(enc);
      const seq = L.lstm({ units: 4, returnSequences: true, name: 'decoder' }).apply(dec, { initialState: [h, c] });
      const y = L.timeDistributed({ layer: L.dense({ units: 6, activation: 'softmax' }) }).apply(seq);
      return { model: tf.model({ inputs: [enc, dec], outputs: y }), feeds: [{ shape: [2, 5, 3] }, { shape: [2, 4, 2] }] };
    },
  },
  {
    name: 'bigru_states_repeat_decoder',
    about: 'Bidirectional(GRU returnSequences returnState) → [seq, fwd h, bwd h]; concat(h) → RepeatVector(3) → GRU decoder; 2 outputs',
    build: () => {
      const x = tf.input({ shape: [6, 3], name: 'frames' });
      const [seq, fh, bh] = L.bidirectional({ layer: L.gru({ units: 3, returnSequences: true, returnState: true }) }).apply(x);
      const state = L.concatenate({ name: 'states' }).apply([fh, bh]);
      const rep = L.repeatVector({ n: 3 }).apply(state);
      const decoded = L.gru({ units: 4, returnSequences: true, name: 'decoder' }).apply(rep);
      const tagged = L.timeDistributed({ layer: L.dense({ units: 2 }) }).apply(seq);
      return { model: tf.model({ inputs: x, outputs: [decoded, tagged] }), feeds: [{ shape: [2, 6, 3] }] };
    },
  },
  {
    // tfjs 4.22 Conv1D throws NotImplementedError for padding 'causal'
    // (conv1dWithBias); the causal case is in the Keras 3 fixtures.
    name: 'conv1d_embedding_merges',
    about:
      "Conv1D('valid', dilationRate 2) → MaxPooling1D → Conv1D('same', strides 2) → GAP1D → Dense; Embedding(maskZero) → LSTM; multiply/average/maximum/minimum",
    build: () => {
      const sig = tf.input({ shape: [12, 2], name: 'signal' });
      const ids = tf.input({ shape: [6], dtype: 'int32', name: 'ids' });
      let s = L.conv1d({ filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu' }).apply(sig);
      s = L.maxPooling1d({ poolSize: 2 }).apply(s);
      s = L.conv1d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' }).apply(s);
      s = L.globalAveragePooling1d().apply(s);
      const a = L.dense({ units: 4, activation: 'tanh' }).apply(s);
      const e = L.embedding({ inputDim: 10, outputDim: 3, maskZero: true }).apply(ids);
      const b = L.lstm({ units: 4 }).apply(e);
      const merged = L.concatenate().apply([
        L.multiply().apply([a, b]),
        L.average().apply([a, b]),
        L.maximum().apply([a, b]),
        L.minimum().apply([a, b]),
      ]);
      const y = L.dense({ units: 3, activation: 'softmax' }).apply(merged);
      return {
        model: tf.model({ inputs: [sig, ids], outputs: [y, s] }),
        feeds: [{ shape: [3, 12, 2] }, { shape: [3, 6], ids: 10, padded: [6, 4, 2] }],
      };
    },
  },
];

const b64 = async (t) => Buffer.from((await t.data()).buffer).toString('base64');
const index = [];
let seed = 101;
for (const c of cases) {
  const { model, feeds } = c.build();
  const next = rng(seed++ * 7919);
  model.setWeights(
    model.getWeights().map((w) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (next() * 2 - 1) * 0.8),
        w.shape,
      ),
    ),
  );
  const xs = feeds.map((f) => {
    const n = f.shape.reduce((a, b) => a * b, 1);
    if (!f.ids)
      return tf.tensor(
        Float32Array.from({ length: n }, () => next() * 2 - 1),
        f.shape,
      );
    const ids = Int32Array.from({ length: n }, () => 1 + Math.floor(next() * (f.ids - 1)));
    if (f.padded) {
      const [B, T] = f.shape;
      for (let b = 0; b < B; b++) for (let t = f.padded[b]; t < T; t++) ids[b * T + t] = 0;
    }
    return tf.tensor(ids, f.shape, 'int32');
  });
  // saved before predict(), though predict() leaves the topology as it was
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const ys = [model.predict(xs.length === 1 ? xs[0] : xs)].flat();
  // what tfjs-core's getModelJSONForModelArtifacts writes (io_utils.ts)
  const modelJson = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  };
  const dir = new URL(`${c.name}/`, out);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('model.json', dir), JSON.stringify(modelJson));
  writeFileSync(new URL('weights.bin', dir), Buffer.from(artifacts.weightData));
  const inputs = [];
  for (let i = 0; i < xs.length; i++)
    inputs.push({ name: model.inputNames[i], dtype: xs[i].dtype, shape: xs[i].shape, data: await b64(xs[i]) });
  const outputs = [];
  for (const y of ys) outputs.push({ shape: y.shape, data: await b64(y) });
  index.push({ name: c.name, about: c.about, inputs, outputs });
}
writeFileSync(new URL('cases.json', out), JSON.stringify({ tfjs: tf.version.tfjs, cases: index }, null, 1));
console.log(`wrote ${index.length} tfjs functional cases to ${out.pathname} with @tensorflow/tfjs ${tf.version.tfjs}`);
