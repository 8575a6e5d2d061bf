// Benchmark entry point.
//   npm run bench                    recurrent-wasm (relaxed and simd128 builds)
//   npm run bench -- --peers         … and every peer library, side by side
//   npm run bench -- --smoke         small sizes, a few repetitions (CI)
//   npm run bench -- --only=tfjs-wasm,ours
//   npm run bench -- cells           the kernels alone (bench/cells.mjs)
//   npm run bench -- quant           f32 / f16 / int8 weights: file size, µs per step (bench/quant.mjs)
//   npm run bench -- quant --threads=2   … on the threaded build with 2 threads
// Each library runs in its own child process, one after another (never
// concurrently: the machine has 2 cores), prints one JSON line; this prints the
// table (medians, min–max), ratios against recurrent-wasm and GFLOP/s as a
// fraction of the GEMM ceiling, and writes everything to bench/results.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootEnv, summary, table } from './util.mjs';
import { W, recurrentWeights } from './workloads.mjs';
import { recurrentOnnx } from './onnx-writer.mjs';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const peers = args.includes('--peers');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const out =
  args.find((a) => a.startsWith('--out='))?.slice(6) ?? new URL(smoke ? 'results-smoke.json' : 'results.json', import.meta.url).pathname;
const suites = args.filter((a) => !a.startsWith('--'));
const relaxedFlag = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const here = (p) => new URL(p, import.meta.url).pathname;

if (suites.includes('cells')) {
  const { init } = await import('../dist/index.js');
  const { benchCells } = await import('./cells.mjs');
  await benchCells({ smoke, info: await init({ simd: args.includes('--simd128') ? 'simd128' : 'auto' }) });
  process.exit(0);
}

const threadsArg = Number(args.find((a) => a.startsWith('--threads='))?.slice(10) ?? 1);
if (suites.includes('quant')) {
  // the relaxed build needs a flag before Node 22: re-run this suite in a child that has it
  if (relaxedFlag.length && !process.execArgv.includes(relaxedFlag[0]) && !args.includes('--simd128')) {
    const r = spawnSync(process.execPath, [...relaxedFlag, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const { init } = await import('../dist/index.js');
  const { benchQuant } = await import('./quant.mjs');
  await benchQuant({ smoke, info: await init({ simd: args.includes('--simd128') ? 'simd128' : 'auto', threads: threadsArg }) });
  process.exit(0);
}

// name → how to run it; `cold` names the cold-start variant (bench/libs/cold.mjs)
const LIBS = [
  { name: 'ours', label: 'recurrent-wasm relaxed', script: 'libs/ours.mjs', node: relaxedFlag, cfg: { simd: 'relaxed' }, cold: 'ours' },
  {
    name: 'ours-2t',
    label: 'recurrent-wasm relaxed 2 threads',
    script: 'libs/ours.mjs',
    node: relaxedFlag,
    cfg: { simd: 'relaxed', threads: 2 },
  },
  {
    name: 'ours-2w',
    label: 'recurrent-wasm relaxed 2 workers',
    script: 'libs/ours.mjs',
    node: relaxedFlag,
    cfg: { simd: 'relaxed', workers: 2 },
  },
  { name: 'ours-simd128', label: 'recurrent-wasm simd128', script: 'libs/ours.mjs', cfg: { simd: 'simd128' }, cold: 'ours-simd128' },
  { name: 'tfjs-wasm', label: 'tfjs wasm', peer: true, script: 'libs/tfjs.mjs', cfg: { backend: 'wasm' }, cold: 'tfjs-wasm' },
  { name: 'tfjs-cpu', label: 'tfjs cpu', peer: true, script: 'libs/tfjs.mjs', cfg: { backend: 'cpu' }, cold: 'tfjs-cpu' },
  { name: 'ort-web-1t', label: 'ort-web 1t', peer: true, script: 'libs/ort.mjs', cfg: { threads: 1 }, cold: 'onnxruntime-web' },
  { name: 'ort-web-2t', label: 'ort-web 2t', peer: true, script: 'libs/ort.mjs', cfg: { threads: 2 } },
  {
    name: 'ort-node-1t',
    label: 'ort-node 1t',
    peer: true,
    script: 'libs/ort.mjs',
    cfg: { flavor: 'node', threads: 1 },
    cold: 'onnxruntime-node',
  },
  { name: 'brain.js', label: 'brain.js', peer: true, script: 'libs/brain.mjs', cold: 'brain.js', needs: 'brain' },
];
const chosen = LIBS.filter((l) => (only ? only.includes(l.name) : peers || !l.peer));
if (chosen.some((l) => l.needs === 'brain')) execFileSync('bash', [here('../scripts/install-peers.sh')], { stdio: 'inherit' });
if (!existsSync(here('../dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');

function child(args, timeout, exe = process.execPath, env = process.env) {
  const r = spawnSync(exe, args, { encoding: 'utf8', timeout, maxBuffer: 1 << 26, env });
  const line = r.stdout
    ?.trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (r.status !== 0 || !line)
    return { error: (r.error?.message ?? r.stderr?.trim().split('\n').slice(-3).join(' | ')) || `exit ${r.status}` };
  return JSON.parse(line);
}

const results = {};
for (const l of chosen) {
  process.stderr.write(`[bench] ${l.label} …`);
  const t0 = performance.now();
  const r = child([...(l.node ?? []), here(l.script), JSON.stringify({ ...l.cfg, smoke })], 30 * 60e3);
  process.stderr.write(r.error ? ` failed: ${r.error}\n` : ` ${((performance.now() - t0) / 1e3).toFixed(0)} s\n`);
  results[l.name] = r.error ? { error: r.error } : Object.fromEntries(r.results.map((x) => [x.id, x]));
}

// cold start: fresh processes, process start → first W1 output
{
  const dir = mkdtempSync(join(tmpdir(), 'rw-bench-'));
  const s = W.W1;
  const wt = recurrentWeights('lstm', s.I, s.H);
  const rw = await import('../dist/index.js');
  await rw.init();
  const m = new rw.Sequential([rw.layers.lstm({ name: 'rnn', units: s.H, returnSequences: true, inputShape: [null, s.I] })], { seed: 1 });
  m.setWeights({ 'rnn.weight_ih_l0': wt.w_ih, 'rnn.weight_hh_l0': wt.w_hh, 'rnn.bias_ih_l0': wt.b_ih, 'rnn.bias_hh_l0': wt.b_hh });
  writeFileSync(join(dir, 'w1.safetensors'), m.save());
  writeFileSync(join(dir, 'w1-step.onnx'), recurrentOnnx('lstm', s.I, s.H, wt, { step: true }));
  const G = 4 * s.H;
  const keras = new Float32Array((s.I + s.H + 1) * G);
  for (let g = 0; g < G; g++) {
    for (let i = 0; i < s.I; i++) keras[i * G + g] = wt.w_ih[g * s.I + i];
    for (let h = 0; h < s.H; h++) keras[(s.I + h) * G + g] = wt.w_hh[g * s.H + h];
    keras[(s.I + s.H) * G + g] = wt.b_ih[g] + wt.b_hh[g];
  }
  writeFileSync(join(dir, 'w1-keras.f32'), keras);
  if (chosen.some((l) => l.cold === 'brain.js')) {
    // brain.js loads a model only from its own JSON, which only a trained net writes
    const { createRequire } = await import('node:module');
    const brain = createRequire(here('../.tools/peers/package.json'))('brain.js');
    const net = new brain.recurrent.LSTMTimeStep({ inputSize: s.I, hiddenLayers: [s.H], outputSize: s.I });
    net.train([[Array(s.I).fill(0.1), Array(s.I).fill(0.2)]], { iterations: 1 });
    writeFileSync(join(dir, 'w1-brain.json'), JSON.stringify(net.toJSON()));
  }
  const runs = smoke ? 3 : 7;
  // Node ≤ 22 reads and parses every certificate of NODE_EXTRA_CA_CERTS while
  // it boots, before any script runs: with the system bundle this machine's
  // environment names (~140 certificates) an empty `node -e 0` takes 110–120 ms
  // instead of 30–40. The cold starts run without it (bootEnv), for every
  // library alike; ours is also timed with the environment as given (row coldCa).
  const caBundle = process.env.NODE_EXTRA_CA_CERTS;
  const cleanEnv = bootEnv();
  const coldRuns = (args, exe, env) => {
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const r = child(args, 120e3, exe, env);
      if (r.error) return { error: r.error };
      ms.push(r.ms);
    }
    return summary(ms);
  };
  for (const l of chosen.filter((l) => l.cold)) {
    const args = [...(l.node ?? []), here('libs/cold.mjs'), l.cold, dir];
    results[l.name] ??= {};
    results[l.name].cold = { id: 'cold', ...coldRuns(args, process.execPath, cleanEnv) };
    if (caBundle && l.name === 'ours')
      results.ours.coldCa = { id: 'coldCa', ...coldRuns(args, process.execPath, process.env), env: `NODE_EXTRA_CA_CERTS=${caBundle}` };
  }
  // ours in the other server runtimes where scripts/install-runtimes.sh put them
  // (their boot is 10–40 ms, like Node's without the CA bundle); same script, same model
  // and environment
  if (results.ours) {
    for (const [id, exe, pre] of [
      ['coldBun', 'bun', []],
      ['coldDeno', 'deno', ['run', '-A']],
    ]) {
      const bin = here(`../.tools/runtimes/node_modules/.bin/${exe}`);
      if (!existsSync(bin)) continue;
      const r = coldRuns([...pre, here('libs/cold.mjs'), 'ours', dir], bin, cleanEnv);
      if (!r.error) results.ours[id] = { id, ...r };
    }
  }
}

// ---- report ----
const ROWS = [
  ['W1', 'W1 streaming LSTM B=1, 1 call/step', 'µs/step'],
  ['W1b', 'W1 LSTM B=1, 100 steps in 1 call', 'µs/step'],
  ['W2', 'W2 LSTM inference B=32 T=100', 'ms'],
  ['W4', 'W4 GRU inference B=32 T=100', 'ms'],
  ['W3', 'W3 LSTM training step B=32 T=50', 'ms'],
  ['W3g', 'W3 GRU training step B=32 T=50', 'ms'],
  ['W5', 'W5 char-LM training step', 'ms'],
  ['W6', 'W6 LSTM → 4-head attention training step', 'ms'],
  ['W6a', 'W6a 4-head attention forward + backward', 'ms'],
  ['W7', 'W7 date translation training step B=64', 'ms'],
  ['cold', 'cold start → first W1 output', 'ms'],
  ['coldCa', '… Node with NODE_EXTRA_CA_CERTS set', 'ms'],
  ['coldBun', 'cold start in Bun', 'ms'],
  ['coldDeno', 'cold start in Deno', 'ms'],
];
const val = (r, unit) => (unit === 'µs/step' ? r.perStepUs : r.median);
const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const libs = chosen.filter((l) => !results[l.name]?.error);
const rows = ROWS.map(([id, label, unit]) => {
  const row = { workload: label, unit };
  for (const l of libs) {
    const r = results[l.name]?.[id];
    const k = unit === 'µs/step' ? r?.perStepUs / r?.median : 1;
    row[l.label] = r && !r.error ? `${fmt(val(r, unit))} (${fmt(r.min * k)}–${fmt(r.max * k)})` : r?.error ? 'failed' : '—';
  }
  return row;
});
const head = smoke ? 'SMOKE sizes (not the workload sizes above)' : 'medians (min–max)';
console.log(
  `\nrecurrent-wasm benchmarks — ${head}; ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}\n`,
);
table(rows, ['workload', 'unit', ...libs.map((l) => l.label)]);

// ratios: each peer's median ÷ ours (relaxed, else simd128); >1 means we are faster
const ours = libs.find((l) => l.name === 'ours') ?? libs.find((l) => l.name === 'ours-simd128');
if (ours && libs.some((l) => l.peer)) {
  const ratioRows = ROWS.map(([id, label, unit]) => {
    const row = { workload: label };
    const o = results[ours.name]?.[id];
    for (const l of libs.filter((l) => l !== ours)) {
      const r = results[l.name]?.[id];
      row[l.label] = o && r && !r.error && !o.error ? `${(val(r, unit) / val(o, unit)).toFixed(2)}×` : '—';
    }
    return row;
  });
  console.log(`\nspeed-up of ${ours.label} over each (their median ÷ ours)\n`);
  table(ratioRows, ['workload', ...libs.filter((l) => l !== ours).map((l) => l.label)]);
}

// GFLOP/s and the fraction of the GEMM ceilings (best GEMM shape of each)
const ceiling = (name) =>
  Math.max(
    0,
    ...Object.entries(results[name] ?? {})
      .filter(([k]) => k.startsWith('GEMM'))
      .map(([, v]) => v.gflops),
  );
const wasmCeil = ceiling('ours') || ceiling('ours-simd128');
const nativeCeil = ceiling('ort-node-1t');
const gRows = ROWS.filter(([id]) => !id.startsWith('cold')).map(([id, label]) => {
  const row = { workload: label };
  for (const l of libs) {
    const r = results[l.name]?.[id];
    row[l.label] = r?.gflops ? `${r.gflops.toFixed(1)}${wasmCeil ? ` (${Math.round((100 * r.gflops) / wasmCeil)}%)` : ''}` : '—';
  }
  return row;
});
const shapes = [...new Set(libs.flatMap((l) => Object.keys(results[l.name] ?? {}).filter((k) => k.startsWith('GEMM'))))];
gRows.push(
  ...shapes.map((id) => {
    const row = { workload: `S${id}` };
    for (const l of libs) row[l.label] = results[l.name]?.[id]?.gflops?.toFixed(1) ?? '—';
    return row;
  }),
);
console.log(
  `\nGFLOP/s (2·T·B·G·H·(I+H) forward, ×3 for training, plus the output layer); (%) of the wasm SIMD GEMM ceiling ${wasmCeil.toFixed(1)} GFLOP/s${nativeCeil ? `; native (MLAS, 1 thread) ceiling ${nativeCeil.toFixed(1)} GFLOP/s` : ''}\n`,
);
table(gRows, ['workload', ...libs.map((l) => l.label)]);

writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      smoke,
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      node: process.versions.node,
      libs: chosen.map((l) => ({ name: l.name, label: l.label })),
      results,
    },
    null,
    1,
  ),
);
console.log(`\nwritten ${out}`);
