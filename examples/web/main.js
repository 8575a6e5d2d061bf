// The in-browser demo: build a char-LSTM, train it epoch by epoch in a Web
// Worker (ModelWorker) while the page draws the loss and samples text between
// epochs; save the model (a file the CLI can use too) or load one.
const lib = await import(/* @vite-ignore */ new URL('lib/index.js', document.baseURI).href);
const { init, Sequential, layers, optimizers, CharTokenizer, ModelWorker, generateText, loadModel, tensor, Random } = lib;

const $ = (id) => document.getElementById(id);
const SEQ = 64;
const BATCH = 32;
const STEPS_PER_EPOCH = 40;
const state = { model: null, tokenizer: null, ids: null, losses: [], epochs: 0, abort: null, worker: null };

function setStatus(s) {
  document.body.dataset.status = s;
  $('train').disabled = !state.ids || s === 'training';
  $('stop').disabled = s !== 'training';
  $('generate').disabled = !state.model || s === 'training';
  $('save').disabled = !state.model || s === 'training';
}

function info(s) {
  $('info').textContent = s;
}

/** Random windows of the text: x the ids, y the ids one step later. */
function batchData(rng, count) {
  const x = new Int32Array(count * SEQ);
  const y = new Int32Array(count * SEQ);
  for (let i = 0; i < count; i++) {
    const o = rng.int(state.ids.length - SEQ - 1);
    x.set(state.ids.subarray(o, o + SEQ), i * SEQ);
    y.set(state.ids.subarray(o + 1, o + SEQ + 1), i * SEQ);
  }
  return [tensor(x, [count, SEQ]), tensor(y, [count, SEQ])];
}

function newModel() {
  const V = state.tokenizer.vocabSize;
  const m = new Sequential(
    [
      layers.embedding({ inputDim: V, outputDim: 32, inputShape: [null] }),
      layers.lstm({ units: Number($('units').value), returnSequences: true }),
      layers.dense({ units: V, activation: 'softmax' }),
    ],
    { seed: 1, name: 'sonnets-lstm' },
  );
  m.compile({ optimizer: optimizers.adam({ learningRate: 0.01, clipNorm: 5 }), loss: 'sparseCategoricalCrossentropy' });
  // the metadata the CLI writes, so `recurrent-wasm generate` can use a model saved here
  Object.assign(m.metadata, { task: 'text', tokenizer: JSON.stringify(state.tokenizer.toJSON()), seq_len: String(SEQ), data: 'browser' });
  return m;
}

function drawLoss() {
  const c = $('loss');
  const g = c.getContext('2d');
  const W = c.width,
    H = c.height,
    pad = 36;
  g.clearRect(0, 0, W, H);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  const L = state.losses;
  g.fillStyle = '#555';
  g.font = '12px system-ui';
  g.fillText('training loss (cross-entropy) per step', pad, 16);
  if (L.length < 2) return;
  const hi = Math.max(...L),
    lo = Math.min(...L);
  const sx = (i) => pad + (i / (L.length - 1)) * (W - pad - 10);
  const sy = (v) => H - 24 - ((v - lo) / (hi - lo || 1)) * (H - 54);
  g.strokeStyle = '#ddd';
  g.beginPath();
  g.moveTo(pad, H - 24);
  g.lineTo(W - 10, H - 24);
  g.stroke();
  g.fillText(hi.toFixed(2), 2, sy(hi) + 4);
  g.fillText(lo.toFixed(2), 2, sy(lo) + 4);
  g.strokeStyle = '#1f77b4';
  g.lineWidth = 1.5;
  g.beginPath();
  let ema = L[0];
  L.forEach((v, i) => {
    ema = i ? 0.9 * ema + 0.1 * v : v;
    i ? g.lineTo(sx(i), sy(ema)) : g.moveTo(sx(i), sy(ema));
  });
  g.stroke();
}

async function sample() {
  const out = await generateText(state.model, {
    tokenizer: state.tokenizer,
    prompt: $('prompt').value || 'T',
    length: 200,
    temperature: Number($('temperature').value),
    seed: state.epochs + 1,
  });
  $('sample').textContent = ($('prompt').value || 'T') + out;
}

async function train() {
  if (!state.model) state.model = newModel();
  // on a cross-origin-isolated page the worker's core uses every CPU (up to 8)
  state.worker ??= new ModelWorker(new Worker(new URL('lib/worker.js', document.baseURI), { type: 'module' }), {
    threads: self.crossOriginIsolated ? 'auto' : 1,
  });
  state.abort = new AbortController();
  setStatus('training');
  const rng = new Random(Date.now() % 1e9);
  while (!state.abort.signal.aborted) {
    const [x, y] = batchData(rng, STEPS_PER_EPOCH * BATCH);
    const t0 = performance.now();
    const r = await state.worker.fit(
      state.model,
      x,
      y,
      { epochs: 1, batchSize: BATCH, seed: state.epochs + 1 },
      {
        progressEvery: 'batch',
        signal: state.abort.signal,
        onProgress: (p) => {
          if (p.batch === null) return;
          state.losses.push(p.logs.loss);
          drawLoss();
          const perStep = (performance.now() - t0) / (p.batch + 1);
          const threads = document.body.dataset.threads ? ` · ${document.body.dataset.threads} thread(s)` : '';
          $('stats').textContent =
            `epoch ${state.epochs + 1}, step ${p.batch + 1}/${STEPS_PER_EPOCH}: loss ${p.logs.loss.toFixed(3)} · ${perStep.toFixed(0)} ms/step (batch ${BATCH} × ${SEQ} characters)${threads}`;
        },
      },
    );
    state.model.dispose();
    state.model = r.model;
    document.body.dataset.threads = String(r.threads);
    if (r.cancelled) break;
    state.epochs++;
    document.body.dataset.epochs = String(state.epochs);
    document.body.dataset.firstLoss = String(state.losses[0]);
    document.body.dataset.lastLoss = String(state.losses.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, state.losses.length));
    await sample();
  }
  setStatus('idle');
}

async function useText(text, name) {
  state.tokenizer = CharTokenizer.fromText(text);
  state.ids = state.tokenizer.encode(text);
  state.model?.dispose();
  state.model = null;
  state.losses = [];
  state.epochs = 0;
  drawLoss();
  info(`${name}: ${state.ids.length.toLocaleString()} characters, ${state.tokenizer.vocabSize - 2} distinct`);
}

$('train').onclick = () =>
  train().catch((e) => {
    info(`error: ${e.message}`);
    setStatus('idle');
  });
$('stop').onclick = () => state.abort?.abort();
$('generate').onclick = () => sample().catch((e) => info(`error: ${e.message}`));
$('temperature').oninput = () => ($('temp-out').textContent = $('temperature').value);
$('text-file').onchange = async (e) => {
  const f = e.target.files[0];
  if (f) await useText(await f.text(), f.name);
  setStatus('idle');
};
$('model-file').onchange = async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  try {
    const m = loadModel(new Uint8Array(await f.arrayBuffer()));
    if (m.metadata.task !== 'text' || !m.metadata.tokenizer)
      throw new Error('not a character model (train one here or with `recurrent-wasm train --data file.txt`)');
    state.model?.dispose();
    state.model = m;
    state.tokenizer = CharTokenizer.fromJSON(JSON.parse(m.metadata.tokenizer));
    state.epochs = 0;
    state.losses = [];
    drawLoss();
    info(`loaded ${f.name}: ${m.countParams().toLocaleString('en-US')} parameters`);
    setStatus('idle');
    await sample();
    document.body.dataset.loaded = f.name;
  } catch (err) {
    info(`could not load ${f.name}: ${err.message}`);
  }
};
$('save').onclick = () => {
  const url = URL.createObjectURL(new Blob([state.model.save({ includeOptimizer: true })], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: 'sonnets-lstm.safetensors' });
  a.click();
  URL.revokeObjectURL(url);
};

const rt = await init();
await useText(await (await fetch(new URL('sonnets.txt', document.baseURI))).text(), 'Sonnets');
info(`${$('info').textContent} · ${rt.simd} build`);
drawLoss();
setStatus('idle');
