// The same work in every runtime: load a saved char model, predict on fixed
// ids, generate text with a fixed seed. `lib` is the package as each runtime
// loads it; the result is compared with Node's (runtimes.test.ts).
export async function scenario(lib, modelBytes, initOptions) {
  const info = await lib.init(initOptions);
  const model = lib.loadModel(modelBytes);
  const tok = lib.CharTokenizer.fromText('the quick brown fox jumps over the lazy dog.');
  const ids = Int32Array.from(tok.encode('the lazy fox jumps over the quick dog'));
  const T = 9;
  const x = lib.tensor(ids.slice(0, 3 * T), [3, T]);
  const y = model.predict(x);
  const text = await lib.generateText(model, { tokenizer: tok, prompt: 'the ', length: 40, temperature: 0.8, topK: 10, seed: 42 });
  const s = model.session();
  const steps = [];
  for (const id of ids.slice(0, 5)) steps.push(...Array.from(s.step(id)));
  s.dispose();
  model.dispose();
  return { simd: info.simd, shape: y.shape, y: Array.from(y.data), steps, text };
}
