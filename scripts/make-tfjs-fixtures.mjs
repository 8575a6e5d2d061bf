// Fixtures for importTfjs from real @tensorflow/tfjs (npm, cpu backend):
// models built with tfjs' own layers and defaults (LSTM/GRU recurrentActivation
// 'hardSigmoid', GRU resetAfter false), weights set from a seeded generator,
// saved in the layers format exactly as tfjs writes it (model.json with
// weightsManifest + one weights.bin), and tfjs' own predict() outputs.
//
//   node scripts/make-tfjs-fixtures.mjs      → test/fixtures/tfjs/
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { rng } from './seeded.mjs';

await tf.setBackend('cpu');
const out = new URL('../test/fixtures/tfjs/', import.meta.url);
mkdirSync(out, { recursive: true });

const cases = [
  {
    name: 'lstm_default_seq',
    about: 'LSTM with tfjs defaults (recurrentActivation hardSigmoid), returnSequences',
    build: () => tf.sequential({ layers: [tf.layers.lstm({ units: 4, returnSequences: true, inputShape: [5, 3] })] }),
    input: [2, 5, 3],
  },
  {
    name: 'lstm_sigmoid_last',
    about: "LSTM recurrentActivation 'sigmoid', last output → dense",
    build: () =>
      tf.sequential({
        layers: [tf.layers.lstm({ units: 5, recurrentActivation: 'sigmoid', inputShape: [6, 2] }), tf.layers.dense({ units: 3 })],
      }),
    input: [3, 6, 2],
  },
  {
    name: 'gru_default',
    about: 'GRU with tfjs defaults (hardSigmoid, resetAfter false)',
    build: () => tf.sequential({ layers: [tf.layers.gru({ units: 4, returnSequences: true, inputShape: [5, 3] })] }),
    input: [2, 5, 3],
  },
  {
    name: 'simple_rnn_relu',
    about: 'SimpleRNN relu → dense softmax',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.simpleRNN({ units: 6, activation: 'relu', inputShape: [4, 3] }),
          tf.layers.dense({ units: 4, activation: 'softmax' }),
        ],
      }),
    input: [2, 4, 3],
  },
  {
    name: 'bidirectional_concat',
    about: 'Bidirectional(LSTM) returnSequences, mergeMode concat',
    build: () =>
      tf.sequential({
        layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true }), inputShape: [5, 2] })],
      }),
    input: [2, 5, 2],
  },
  {
    name: 'bidirectional_gru_sum_last',
    about: 'Bidirectional(GRU) last outputs, mergeMode sum → dense sigmoid',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.bidirectional({ layer: tf.layers.gru({ units: 4 }), mergeMode: 'sum', inputShape: [6, 3] }),
          tf.layers.dense({ units: 1, activation: 'sigmoid' }),
        ],
      }),
    input: [3, 6, 3],
  },
  {
    name: 'lstm_go_backwards',
    about: 'LSTM goBackwards, returnSequences (outputs in reversed time order)',
    build: () => tf.sequential({ layers: [tf.layers.lstm({ units: 3, goBackwards: true, returnSequences: true, inputShape: [5, 2] })] }),
    input: [2, 5, 2],
  },
  {
    name: 'embedding_gru_dense',
    about: 'Embedding → GRU → dense softmax per step (timeDistributed-free 3-D dense)',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.embedding({ inputDim: 11, outputDim: 4, inputLength: 6 }),
          tf.layers.gru({ units: 5, returnSequences: true }),
          tf.layers.dense({ units: 11, activation: 'softmax' }),
        ],
      }),
    input: [2, 6],
    ids: 11,
  },
  {
    name: 'stacked_lstm_layernorm',
    about: 'LSTM → LayerNormalization → LSTM → dense',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.lstm({ units: 4, returnSequences: true, inputShape: [5, 3] }),
          tf.layers.layerNormalization(),
          tf.layers.lstm({ units: 3 }),
          tf.layers.dense({ units: 2 }),
        ],
      }),
    input: [2, 5, 3],
  },
  {
    name: 'embedding_mask_lstm',
    about: 'Embedding maskZero → LSTM last output (post-padded ids)',
    build: () =>
      tf.sequential({
        layers: [tf.layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true, inputLength: 6 }), tf.layers.lstm({ units: 4 })],
      }),
    input: [3, 6],
    ids: 9,
    padded: [6, 3, 1],
  },
];

const index = [];
let seed = 1;
for (const c of cases) {
  const model = c.build();
  const next = rng(seed++ * 7919);
  model.setWeights(
    model.getWeights().map((w) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (next() * 2 - 1) * 0.8),
        w.shape,
      ),
    ),
  );
  const n = c.input.reduce((a, b) => a * b, 1);
  let x;
  if (c.ids) {
    const ids = Int32Array.from({ length: n }, () => 1 + Math.floor(next() * (c.ids - 1)));
    if (c.padded) {
      const [B, T] = c.input;
      for (let b = 0; b < B; b++) for (let t = c.padded[b]; t < T; t++) ids[b * T + t] = 0;
    }
    x = tf.tensor(ids, c.input, 'int32');
  } else {
    x = tf.tensor(
      Float32Array.from({ length: n }, () => next() * 2 - 1),
      c.input,
    );
  }
  const y = model.predict(x);
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
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
  index.push({
    name: c.name,
    about: c.about,
    xDtype: c.ids ? 'int32' : 'float32',
    xShape: c.input,
    x: Buffer.from((await x.data()).buffer).toString('base64'),
    yShape: y.shape,
    y: Buffer.from((await y.data()).buffer).toString('base64'),
  });
}
writeFileSync(new URL('cases.json', out), JSON.stringify({ tfjs: tf.version.tfjs, cases: index }, null, 1));
console.log(`wrote ${index.length} tfjs cases to ${out.pathname} with @tensorflow/tfjs ${tf.version.tfjs}`);
