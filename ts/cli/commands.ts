/**
 * `generate`, `predict`, `inspect` and `bench`: the commands that use a
 * trained model file.
 */
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  CharTokenizer,
  generate,
  init,
  layers,
  loadModel,
  loadQuantizedModel,
  prune,
  quantize,
  QuantizedModel,
  readSafetensors,
  type Model,
  Sequential,
  tensor,
  type Tensor,
} from 'recurrent-wasm';
import { CliError, parseCsv, readFileChecked, scale, type Scaling } from './data.js';
import { lineChart } from './plot.js';

/** A model file: f32 (trainable) or quantised (inference only); a graph model only for `inspect` (`graphs`). */
export function openModel(path: string): { model: Sequential | QuantizedModel; bytes: Uint8Array };
export function openModel(path: string, opts: { graphs: true }): { model: Model | QuantizedModel; bytes: Uint8Array };
export function openModel(path: string, opts: { graphs?: boolean } = {}): { model: Model | QuantizedModel; bytes: Uint8Array } {
  const bytes = new Uint8Array(readFileChecked(path, 'model file'));
  let model: Model | QuantizedModel;
  try {
    const quantized = /"dtype"\s*:\s*"(int8|f16)"/.test(readSafetensors(bytes).metadata.quantization ?? '');
    model = quantized ? loadQuantizedModel(bytes) : loadModel(bytes);
  } catch (e) {
    throw new CliError(`${basename(path)}: ${(e as Error).message}`);
  }
  if (!opts.graphs && !(model instanceof Sequential || model instanceof QuantizedModel)) {
    model.dispose();
    throw new CliError(`${basename(path)}: a graph model; the CLI works with the Sequential models it trains`);
  }
  return { model, bytes };
}

/** Write `bytes` to `path` atomically (temporary file, then rename). */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** One-shot magnitude pruning of a model file, saved sparse; returns the summary line. */
export function pruneCmd(path: string, o: { sparsity: number; out?: string }): string {
  if (!(o.sparsity > 0 && o.sparsity < 1)) throw new CliError(`--sparsity must be in (0, 1); got ${o.sparsity}`);
  const { model } = openModel(path);
  if (model instanceof QuantizedModel)
    throw new CliError(`${basename(path)} is quantised (${model.dtype}); prune the f32 model, then quantise`);
  const dense = model.save().length;
  const report = prune(model, { sparsity: o.sparsity }).report();
  const out = o.out ?? path.replace(/(\.safetensors)?$/, `.pruned.safetensors`);
  const data = model.save({ sparse: true });
  writeAtomic(out, data);
  model.dispose();
  const zeros = Object.values(report);
  return (
    `${basename(out)}: ${zeros.length} weight matrices at ${(Math.min(...zeros) * 100).toFixed(1)}–${(Math.max(...zeros) * 100).toFixed(1)} % zeros, stored sparse; ` +
    `${(data.length / 1024).toFixed(1)} KiB (dense ${(dense / 1024).toFixed(1)} KiB, ×${(data.length / dense).toFixed(2)}). Fine-tune with: recurrent-wasm train --resume ${basename(out)} --prune ${o.sparsity} …\n`
  );
}

export interface QuantizeCliOptions {
  dtype: 'int8' | 'f16';
  perTensor: boolean;
  out?: string;
}

/** Write an int8 or f16 copy of a model file; returns the summary line. */
export async function quantizeCmd(path: string, o: QuantizeCliOptions): Promise<string> {
  const { model } = openModel(path);
  if (model instanceof QuantizedModel)
    throw new CliError(`${basename(path)} is already quantised (${model.dtype}); quantise the f32 model`);
  let q: QuantizedModel;
  try {
    q = quantize(model, { dtype: o.dtype, perChannel: !o.perTensor });
  } catch (e) {
    throw new CliError(`${basename(path)}: ${(e as Error).message}`);
  }
  const out = o.out ?? path.replace(/(\.safetensors)?$/, `.${o.dtype}.safetensors`);
  const data = q.save();
  const f32 = model.save().length; // the weights alone (the file may also hold optimizer state)
  writeAtomic(out, data);
  model.dispose();
  q.dispose();
  return `${basename(out)}: ${o.dtype}${o.dtype === 'int8' ? (o.perTensor ? ', one scale per matrix' : ', one scale per output row') : ''}; ${(data.length / 1024).toFixed(1)} KiB (f32 weights ${(f32 / 1024).toFixed(1)} KiB, ×${(data.length / f32).toFixed(2)})\n`;
}

export interface GenerateCliOptions {
  prompt?: string;
  length: number;
  temperature: number;
  topK?: number;
  seed?: number;
}

/** Stream sampled text to `write` (stdout), token by token. */
export async function generateCmd(path: string, o: GenerateCliOptions, write: (s: string) => void): Promise<void> {
  const { model } = openModel(path);
  const tok = model.metadata.tokenizer;
  if (model.metadata.task !== 'text' || !tok)
    throw new CliError(`${basename(path)} is not a text model (train one with \`recurrent-wasm train --data file.txt\`)`);
  const tokenizer = CharTokenizer.fromJSON(JSON.parse(tok));
  const prompt = o.prompt ?? tokenizer.tokens[2 + Math.floor(Math.random() * (tokenizer.vocabSize - 2))];
  if (!Number.isInteger(o.length) || o.length < 0) throw new CliError(`--length must be a non-negative integer; got ${o.length}`);
  if (!(o.temperature >= 0)) throw new CliError(`--temperature must be ≥ 0; got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1))
    throw new CliError(`--top-k must be a positive integer; got ${o.topK}`);
  write(prompt);
  for await (const t of generate(model, { tokenizer, prompt, length: o.length, temperature: o.temperature, topK: o.topK, seed: o.seed }))
    write(t);
  write('\n');
  model.dispose();
}

export interface PredictCliOptions {
  input: string;
  format: 'csv' | 'json';
  /** forecast this many rows past the end (series models whose targets are all columns) */
  horizon: number;
  plot?: string;
}

function toCsv(columns: string[], rows: number[][]): string {
  return `${[columns.join(','), ...rows.map((r) => r.map((v) => String(Number(v.toPrecision(7)))).join(','))].join('\n')}\n`;
}

/**
 * Series models (from `train --data file.csv`): one-step forecasts for every
 * window of the input, then `horizon` rows past its end. Other models: the
 * input (JSON nested arrays, or CSV rows reshaped to the model's input) → the
 * outputs.
 */
export function predictCmd(path: string, o: PredictCliOptions): string {
  const { model } = openModel(path);
  const md = model.metadata;
  const raw = readFileChecked(o.input, 'input file').toString('utf8');
  const name = basename(o.input);
  if (md.task === 'series') {
    const columns: string[] = JSON.parse(md.columns);
    const targets: number[] = JSON.parse(md.targets);
    const sc: Scaling = JSON.parse(md.scaling);
    const seqLen = Number(md.seq_len);
    const csv = parseCsv(raw, name);
    if (csv.columns.length !== columns.length)
      throw new CliError(`${name} has ${csv.columns.length} columns; the model was trained on ${columns.length} (${columns.join(', ')})`);
    if (csv.rows < seqLen) throw new CliError(`${name} has ${csv.rows} rows; the model reads windows of ${seqLen}`);
    if (o.horizon > 0 && targets.length !== columns.length)
      throw new CliError('--horizon needs a model that forecasts every column (trained without --target)');
    const C = columns.length;
    const x = scale(csv, sc);
    const n = csv.rows - seqLen + 1;
    const xs = new Float32Array(n * seqLen * C);
    for (let i = 0; i < n; i++) xs.set(x.subarray(i * C, (i + seqLen) * C), i * seqLen * C);
    const pred = model.predict(tensor(xs, [n, seqLen, C]), { batchSize: 256 }).data;
    const un = (v: number, t: number) => v * sc.std[t] + sc.mean[t];
    const rows: { row: number; values: number[] }[] = [];
    for (let i = 0; i < n; i++) rows.push({ row: i + seqLen + 1, values: targets.map((t, k) => un(pred[i * targets.length + k], t)) });
    // rows[n-1] forecasts the row after the input; more rows: feed each forecast back as the next row
    if (o.horizon < 1) rows.pop();
    const window = Array.from(x.subarray((csv.rows - seqLen) * C));
    let next = Array.from(pred.subarray((n - 1) * C, n * C));
    for (let h = 2; h <= o.horizon; h++) {
      window.splice(0, C);
      window.push(...next);
      const p = model.predict(tensor(Float32Array.from(window), [1, seqLen, C])).data;
      next = Array.from(p);
      rows.push({ row: csv.rows + h, values: targets.map((t, k) => un(p[k], t)) });
    }
    if (o.plot) {
      const t = targets[0];
      writeFileSync(
        o.plot,
        lineChart(
          [
            {
              name: `${columns[t]} (input)`,
              y: Array.from({ length: csv.rows }, (_, i) => csv.values[i * C + t]),
              x: Array.from({ length: csv.rows }, (_, i) => i + 1),
            },
            { name: 'forecast', y: rows.map((r) => r.values[0]), x: rows.map((r) => r.row), dashed: true },
          ],
          { title: `${basename(path)} on ${name}`, xLabel: 'row', yLabel: columns[t] },
        ),
      );
    }
    model.dispose();
    const cols = targets.map((t) => columns[t]);
    return o.format === 'json'
      ? `${JSON.stringify(rows.map((r) => ({ row: r.row, ...Object.fromEntries(cols.map((c, k) => [c, r.values[k]])) })))}\n`
      : toCsv(
          ['row', ...cols],
          rows.map((r) => [r.row, ...r.values]),
        );
  }
  if (md.task === 'text') throw new CliError(`${basename(path)} is a text model: use \`recurrent-wasm generate\``);
  // a model trained through the API: JSON [batch, time, features] (or [batch, features]), or CSV rows reshaped
  let x: Tensor;
  try {
    if (/\.json$/i.test(o.input)) x = tensor(JSON.parse(raw));
    else {
      const csv = parseCsv(raw, name);
      const inShape = model.builtInputShape;
      const per = inShape.reduce<number>((a, d) => a * (d ?? NaN), 1);
      if (!Number.isInteger(per))
        throw new CliError(
          `the model's input shape [${inShape.map((d) => d ?? 'None')}] has a free dimension: pass --input as JSON nested arrays`,
        );
      if (csv.columns.length !== per)
        throw new CliError(`${name} has ${csv.columns.length} values per row; the model takes [${inShape}] = ${per}`);
      x = tensor(Float32Array.from(csv.values), [csv.rows, ...(inShape as number[])]);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${name}: ${(e as Error).message}`);
  }
  let y: Tensor;
  try {
    y = model.predict(x, { batchSize: 256 });
  } catch (e) {
    throw new CliError(`${name} does not fit the model: ${(e as Error).message}`);
  }
  model.dispose();
  if (o.format === 'json') return `${JSON.stringify(y.array())}\n`;
  const width = y.size / y.shape[0];
  const rows = Array.from({ length: y.shape[0] }, (_, i) => Array.from(y.data.subarray(i * width, (i + 1) * width)));
  return toCsv(
    Array.from({ length: width }, (_, i) => `y${i}`),
    rows,
  );
}

/** Layers, parameter counts, tensors and dtypes, file size and training metadata. */
export function inspectCmd(path: string): string {
  const { model, bytes } = openModel(path, { graphs: true });
  const file = readSafetensors(bytes);
  const lines: string[] = [];
  const size = statSync(path).size;
  lines.push(`${basename(path)}: ${(size / 1024).toFixed(1)} KiB, ${model.countParams().toLocaleString('en-US')} parameters`);
  lines.push('');
  if (model instanceof QuantizedModel) lines.push(model.summary());
  else model.summary((s) => lines.push(s));
  lines.push('');
  const dtypes = new Map<string, number>();
  let opt = 0;
  for (const [n, t] of file.tensors) {
    if (n.startsWith('optimizer.')) opt++;
    dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
  }
  lines.push(
    `tensors: ${[...dtypes].map(([d, c]) => `${c} × ${d}`).join(', ')}${opt ? ` (${opt} optimizer-state tensors: training can resume exactly)` : ''}`,
  );
  const md = model.metadata;
  if (md.task) {
    const h = md.history ? (JSON.parse(md.history) as { loss: number[]; val_loss: number[] }) : null;
    lines.push(
      `trained by the CLI on ${md.data ?? '?'}: ${md.task === 'text' ? 'character language model' : 'time-series forecaster'}, windows of ${md.seq_len}, ${md.epochs ?? 0} epochs`,
    );
    if (h?.loss.length)
      lines.push(
        `last epoch: loss ${h.loss[h.loss.length - 1].toFixed(4)}${h.val_loss.length ? `, val_loss ${h.val_loss[h.val_loss.length - 1].toFixed(4)}` : ''}`,
      );
    if (md.task === 'text') lines.push(`vocabulary: ${JSON.parse(md.tokenizer).tokens.length - 2} characters`);
    if (md.task === 'series')
      lines.push(
        `columns: ${JSON.parse(md.columns).join(', ')}; forecasts: ${(JSON.parse(md.targets) as number[]).map((t) => JSON.parse(md.columns)[t]).join(', ')}`,
      );
  }
  const other = Object.keys(md).filter(
    (k) => !['task', 'data', 'seq_len', 'tokenizer', 'columns', 'targets', 'scaling', 'history', 'epochs'].includes(k),
  );
  if (other.length) lines.push(`metadata: ${other.join(', ')}`);
  model.dispose();
  return `${lines.join('\n')}\n`;
}

/** A quick in-process benchmark (the full comparison with peers: `npm run bench -- --peers` in the repository). */
export async function benchCmd(log: (s: string) => void, quick: boolean): Promise<void> {
  const info = await init();
  const I = 64,
    H = 256,
    T = quick ? 20 : 100,
    B = 32;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const time = async (fn: () => unknown, reps: number) => {
    await fn();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      t.push(performance.now() - t0);
    }
    return t.sort((a, b) => a - b)[reps >> 1];
  };
  log(
    `recurrent-wasm (${info.simd} build, ${info.threads} thread${info.threads > 1 ? 's' : ''}, Node ${process.versions.node}): LSTM I=${I}, H=${H}; medians` +
      (info.threadsNote ? ` (${info.threadsNote})` : ''),
  );
  const m = new Sequential([layers.lstm({ units: H, returnSequences: true, inputShape: [null, I] })], { seed: 1 });
  const s = m.session();
  const steps = Array.from({ length: T }, (_, t) => rnd(I).map((v) => v * (t + 1) * 0.01));
  const w1 = await time(() => {
    s.reset();
    for (const x of steps) s.step(x);
  }, 10);
  log(`  streaming, batch 1, one call per step: ${((w1 * 1000) / T).toFixed(1)} µs/step`);
  const x = tensor(rnd(B * T * I), [B, T, I]);
  const w2 = await time(() => m.predict(x, { batchSize: B }), quick ? 3 : 7);
  log(`  inference B=${B} T=${T}: ${w2.toFixed(1)} ms (${((2 * T * B * 4 * H * (I + H)) / w2 / 1e6).toFixed(1)} GFLOP/s)`);
  const t2 = new Sequential([layers.lstm({ units: H, inputShape: [null, I] }), layers.dense({ units: 1 })], { seed: 1 });
  t2.compile({ optimizer: 'adam', loss: 'mse' });
  const xt = tensor(rnd(B * (T >> 1) * I), [B, T >> 1, I]);
  const yt = tensor(rnd(B), [B, 1]);
  const w3 = await time(() => t2.fit(xt, yt, { epochs: 1, batchSize: B, yieldEveryMs: 1e9 }), quick ? 3 : 7);
  log(`  training step B=${B} T=${T >> 1} (forward + backward + Adam): ${w3.toFixed(1)} ms`);
  s.dispose();
  m.dispose();
  t2.dispose();
}
