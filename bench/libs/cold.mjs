// Cold start: a fresh process that loads one library, builds the W1 model (LSTM
// I=64, H=256) from files the orchestrator wrote (our .safetensors model, the
// .onnx model, raw float32 weights for tf.js) and computes the first step's
// output. Prints milliseconds since process start (performance.now() counts
// from the process's time origin, so Node's own boot is included).
// Node modules come through process.getBuiltinModule where the runtime has it:
// a static `import … from 'node:fs'` builds fs's ES-module facade, which
// evaluates every lazy getter of fs and so loads the whole streams stack —
// 10–12 ms of harness in every library's figure (measured with --cpu-prof).
const builtin = async (name) => globalThis.process?.getBuiltinModule?.(name) ?? (await import(name));
const { createRequire } = await builtin('node:module');
const { readFileSync } = await builtin('node:fs');

const [lib, dir] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const I = 64,
  H = 256;
const x = new Float32Array(I).fill(0.5);
let first;
if (lib === 'ours' || lib === 'ours-simd128') {
  const rw = await import(new URL('../../dist/index.js', import.meta.url).href);
  await rw.init(lib === 'ours-simd128' ? { simd: 'simd128' } : {});
  const model = rw.loadModel(new Uint8Array(readFileSync(`${dir}/w1.safetensors`)));
  first = model.session().step(x)[0];
} else if (lib.startsWith('onnxruntime')) {
  const ort = lib === 'onnxruntime-node' ? await import('onnxruntime-node') : await import(require.resolve('onnxruntime-web'));
  if (lib !== 'onnxruntime-node') ort.env.wasm.numThreads = 1;
  const sess = await ort.InferenceSession.create(readFileSync(`${dir}/w1-step.onnx`));
  const z = () => new ort.Tensor('float32', new Float32Array(H), [1, 1, H]);
  const r = await sess.run({ X: new ort.Tensor('float32', x, [1, 1, I]), H0: z(), C0: z() });
  first = r.Y_h.data[0];
} else if (lib.startsWith('tfjs')) {
  const tf = require('@tensorflow/tfjs');
  if (lib === 'tfjs-wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
  }
  await tf.setBackend(lib === 'tfjs-wasm' ? 'wasm' : 'cpu');
  const raw = new Float32Array(readFileSync(`${dir}/w1-keras.f32`).buffer.slice(0));
  const layer = tf.layers.lstm({
    units: H,
    stateful: true,
    batchInputShape: [1, 1, I],
    recurrentActivation: 'sigmoid',
    kernelInitializer: 'zeros',
    recurrentInitializer: 'zeros',
  });
  const m = tf.sequential({ layers: [layer] });
  const G = 4 * H;
  layer.setWeights([
    tf.tensor(raw.subarray(0, I * G), [I, G]),
    tf.tensor(raw.subarray(I * G, (I + H) * G), [H, G]),
    tf.tensor(raw.subarray((I + H) * G), [G]),
  ]);
  first = m.predict(tf.tensor(x, [1, 1, I])).dataSync()[0];
} else if (lib === 'brain.js') {
  const brain = createRequire(new URL('../../.tools/peers/package.json', import.meta.url))('brain.js');
  const net = new brain.recurrent.LSTMTimeStep({ inputSize: I, hiddenLayers: [H], outputSize: I });
  net.fromJSON(JSON.parse(readFileSync(`${dir}/w1-brain.json`, 'utf8')));
  first = net.run([Array.from(x)])[0];
} else throw new Error(`unknown library ${lib}`);
const ms = performance.now();
console.log(JSON.stringify({ ms, first }));
if (lib === 'onnxruntime-web') process.exit(0);
