// brain.js (1.6.1, from .tools/peers): LSTMTimeStep / GRUTimeStep. Its
// recurrent nets process one sequence at a time (no batch dimension) and
// update the weights after every sequence (RMSprop-style), so a "training step"
// here is its train() over the same 32 sequences, and batch inference is 32
// run() calls. It predicts the next vector at every step (output size = input
// size), a little more output work than the others' dense(1) on the last step.
// It has no streaming (carried-state) API, so W1 one-call-per-step is n/a.
import { createRequire } from 'node:module';
import { config, emit, reps } from './common.mjs';
import { W, SMOKE, time, floats, forwardFlops, trainFlops } from '../workloads.mjs';

const cfg = config();
const require = createRequire(new URL('../../.tools/peers/package.json', import.meta.url));
const brain = require('brain.js');
const w = cfg.smoke ? SMOKE : W;
const out = [];
const push = (id, label, t, flops, extra = {}) => out.push({ id, label, ...t, gflops: flops ? flops / t.median / 1e6 : null, ...extra });

function sequences(s, seed) {
  const x = floats(s.B * s.T * s.I, seed);
  return Array.from({ length: s.B }, (_, b) =>
    Array.from({ length: s.T }, (_, t) => Array.from(x.subarray((b * s.T + t) * s.I, (b * s.T + t + 1) * s.I))),
  );
}
const Net = { lstm: brain.recurrent.LSTMTimeStep, gru: brain.recurrent.GRUTimeStep };
function net(s) {
  return new Net[s.cell]({ inputSize: s.I, hiddenLayers: [s.H], outputSize: s.I });
}

{
  const s = w.W1;
  const n = net(s);
  const data = sequences({ ...s, B: 1 }, 11);
  n.train(data, { iterations: 1 }); // initialises the model
  const t = await time(() => n.run(data[0]), { reps: reps(cfg), warmup: 2 });
  push('W1b', `W1 LSTM B=1, ${s.T} steps in one call`, t, forwardFlops(s), { perStepUs: (t.median * 1000) / s.T });
}
for (const id of ['W2', 'W4']) {
  const s = w[id];
  const n = net(s);
  const data = sequences(s, 12);
  n.train(data.slice(0, 1), { iterations: 1 });
  const t = await time(
    () => {
      for (const seq of data) n.run(seq);
    },
    { reps: reps(cfg, true), warmup: 1 },
  );
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} inference`, t, forwardFlops(s));
}
for (const id of ['W3', 'W3g']) {
  const s = w[id];
  const n = net(s);
  const data = sequences(s, 13);
  n.train(data.slice(0, 1), { iterations: 1 });
  const t = await time(() => n.train(data, { iterations: 1, errorThresh: -1 }), { reps: cfg.smoke ? 2 : 3, warmup: 1 });
  push(id, `${id} ${s.cell.toUpperCase()} B=${s.B} T=${s.T} training step`, t, trainFlops(s));
}
emit('brain.js', out);
