/**
 * `recurrent-wasm train`: a character language model from a text file, or a
 * next-row forecaster from a CSV of numbers. A progress bar per epoch,
 * validation loss, a checkpoint after every epoch written atomically (with the
 * optimizer state, so `--resume` continues exactly), Ctrl-C saves and exits,
 * and the loss curve as an SVG next to the model.
 */
import { writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import cliProgress from 'cli-progress';
import {
  CharTokenizer,
  Sequential,
  generateText,
  layers,
  loadModelFile,
  optimizers,
  prune,
  saveModelFile,
  type Layer,
  type Pruner,
} from 'recurrent-wasm';
import {
  CliError,
  fitScaling,
  readDataset,
  resolveColumns,
  scale,
  seriesWindows,
  textWindows,
  type Dataset,
  type Scaling,
} from './data.js';
import { lineChart } from './plot.js';

export interface TrainOptions {
  data: string;
  model: 'lstm' | 'gru' | 'rnn';
  units: number;
  layers: number;
  seqLen?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  out?: string;
  valSplit: number;
  resume?: string;
  maxTime?: number;
  target?: string;
  embedding: number;
  dropout: number;
  seed: number;
  plot: boolean;
  /** characters sampled after each epoch (text models; 0 = none) */
  sample: number;
  /** prompt for those samples (default: the start of the text) */
  samplePrompt?: string;
  /** magnitude-prune the weight matrices to this sparsity over the first 3/4 of the run */
  prune?: number;
}

export interface TrainIo {
  /** human-readable progress (stderr) */
  log(line: string): void;
  /** show a live progress bar (a TTY) */
  bar: boolean;
}

export interface TrainResult {
  out: string;
  model: Sequential;
  epochs: number;
  history: { loss: number[]; val_loss: number[] };
  stopped: 'done' | 'time' | 'interrupt';
  seconds: number;
  lossSvg: string;
  forecastSvg?: string;
}

const stem = (p: string) => (extname(p) === '.safetensors' ? p.slice(0, -'.safetensors'.length) : p);

function buildModel(o: TrainOptions, ds: Dataset, inFeatures: number, outFeatures: number): Sequential {
  const rnn = { lstm: layers.lstm, gru: layers.gru, rnn: layers.simpleRNN }[o.model];
  const stack: Layer[] = [];
  if (ds.kind === 'text') stack.push(layers.embedding({ inputDim: ds.tokenizer.vocabSize, outputDim: o.embedding, inputShape: [null] }));
  for (let l = 0; l < o.layers; l++) {
    stack.push(
      rnn({
        units: o.units,
        returnSequences: ds.kind === 'text' || l < o.layers - 1,
        ...(l === 0 && ds.kind === 'series' ? { inputShape: [null, inFeatures] } : {}),
        ...(o.dropout > 0 ? { dropout: o.dropout } : {}),
      }),
    );
  }
  stack.push(layers.dense({ units: outFeatures, ...(ds.kind === 'text' ? { activation: 'softmax' as const } : {}) }));
  const m = new Sequential(stack, { seed: o.seed, name: `${o.model}-${ds.kind}` });
  m.compile({
    optimizer: optimizers.adam({ learningRate: o.lr, clipNorm: 5 }),
    loss: ds.kind === 'text' ? 'sparseCategoricalCrossentropy' : 'mse',
  });
  m.build(); // the input shape is known: initialise now, so the log can count parameters
  return m;
}

function checkPositive(name: string, v: number, integer = true): void {
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new CliError(`--${name} must be a positive ${integer ? 'integer' : 'number'}; got ${v}`);
}

export async function train(o: TrainOptions, io: TrainIo): Promise<TrainResult> {
  for (const k of ['units', 'layers', 'epochs', 'batchSize', 'embedding'] as const)
    checkPositive(
      k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      o[k],
    );
  checkPositive('lr', o.lr, false);
  if (o.seqLen !== undefined) checkPositive('seq-len', o.seqLen);
  if (!(o.valSplit >= 0 && o.valSplit < 0.5)) throw new CliError(`--val-split must be in [0, 0.5); got ${o.valSplit}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new CliError(`--dropout must be in [0, 1); got ${o.dropout}`);
  if (!['lstm', 'gru', 'rnn'].includes(o.model)) throw new CliError(`--model must be lstm, gru or rnn; got ${o.model}`);

  const ds = readDataset(o.data);
  const out = o.out ?? `${stem(basename(o.data, extname(o.data)))}.safetensors`;
  let model: Sequential;
  let history = { loss: [] as number[], val_loss: [] as number[] };
  let done = 0;
  let seqLen = o.seqLen ?? (ds.kind === 'text' ? 64 : 32);
  let scaling: Scaling | undefined;
  let targets: number[] = [];

  if (o.resume) {
    try {
      const loaded = await loadModelFile(o.resume);
      if (!(loaded instanceof Sequential)) throw new CliError('it holds a graph model; the CLI trains the Sequential models it makes');
      model = loaded;
    } catch (e) {
      throw new CliError(`--resume ${o.resume}: ${(e as Error).message}`);
    }
    const md = model.metadata;
    if (md.task !== ds.kind)
      throw new CliError(
        `--resume: ${o.resume} is a ${md.task ?? 'non-CLI'} model but ${ds.file} is ${ds.kind === 'text' ? 'text' : 'a CSV series'}`,
      );
    seqLen = o.seqLen ?? Number(md.seq_len);
    history = JSON.parse(md.history ?? '{"loss":[],"val_loss":[]}');
    done = Number(md.epochs ?? 0);
    if (ds.kind === 'text') ds.tokenizer = CharTokenizer.fromJSON(JSON.parse(md.tokenizer));
    else {
      if (md.columns !== JSON.stringify(ds.csv.columns))
        throw new CliError(`--resume: the model was trained on columns ${md.columns}; ${ds.file} has ${JSON.stringify(ds.csv.columns)}`);
      scaling = JSON.parse(md.scaling);
      targets = JSON.parse(md.targets);
    }
    if (!model.metadata.task) throw new CliError(`--resume: ${o.resume} was not written by \`recurrent-wasm train\``);
  } else {
    if (ds.kind === 'series') {
      scaling = fitScaling(ds.csv);
      targets = resolveColumns(o.target, ds.csv.columns);
    }
    model = buildModel(
      o,
      ds,
      ds.kind === 'series' ? ds.csv.columns.length : 0,
      ds.kind === 'text' ? ds.tokenizer.vocabSize : targets.length,
    );
  }

  const data =
    ds.kind === 'text'
      ? textWindows(ds.tokenizer.encode(ds.text), seqLen)
      : seriesWindows(scale(ds.csv, scaling!), ds.csv.rows, ds.csv.columns.length, seqLen, targets);
  const nVal = Math.floor(data.n * o.valSplit);
  if (o.valSplit > 0 && nVal < 1)
    throw new CliError(`--val-split ${o.valSplit} of ${data.n} windows leaves no validation windows; use more data or --val-split 0`);
  Object.assign(model.metadata, {
    task: ds.kind,
    data: ds.file,
    seq_len: String(seqLen),
    ...(ds.kind === 'text'
      ? { tokenizer: JSON.stringify(ds.tokenizer.toJSON()) }
      : { columns: JSON.stringify(ds.csv.columns), targets: JSON.stringify(targets), scaling: JSON.stringify(scaling) }),
  });

  const stepsPerEpoch = Math.ceil((data.n - nVal) / o.batchSize);
  const prompt = o.samplePrompt ?? (ds.kind === 'text' ? [...ds.text.replace(/^\s+/, '')].slice(0, 24).join('') : '');
  io.log(
    `${ds.file}: ${ds.kind === 'text' ? `${[...ds.text].length} characters, ${ds.tokenizer.vocabSize - 2} distinct` : `${ds.csv.rows} rows × ${ds.csv.columns.length} columns`}; ` +
      `${data.n - nVal} training / ${nVal} validation windows of ${seqLen}; ${model.layers.map((l) => l.className).join(' → ')}, ` +
      `${model.countParams().toLocaleString('en-US')} parameters${done ? `; resuming after epoch ${done}` : ''}`,
  );

  let stopped: TrainResult['stopped'] = 'done';
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) {
      io.log('\ninterrupted again: exiting without saving (the last checkpoint is intact)');
      process.exit(130);
    }
    stopped = 'interrupt';
    model.stopTraining = true;
    io.log('\ninterrupted: finishing this batch, then saving…');
  };
  process.on('SIGINT', onSigint);
  const t0 = performance.now();
  const bar = io.bar
    ? new cliProgress.SingleBar(
        {
          format: ' epoch {epoch} |{bar}| {value}/{total} steps | {speed} steps/s | loss {loss} | ETA {eta_formatted}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let epochStart = 0;
  let lastLine = 0;
  const save = async (epochs: number) => {
    model.metadata.epochs = String(epochs);
    model.metadata.history = JSON.stringify(history);
    await saveModelFile(model, out, { includeOptimizer: true, sparse: pruner !== null });
  };
  let pruner: Pruner | null = null;
  if (o.prune !== undefined) {
    if (!(o.prune > 0 && o.prune < 1)) throw new CliError(`--prune must be in (0, 1); got ${o.prune}`);
    const endStep = Math.max(1, Math.floor(0.75 * stepsPerEpoch * o.epochs));
    pruner = prune(model, { sparsity: o.prune, schedule: { startStep: 0, endStep, frequency: Math.max(1, Math.floor(endStep / 10)) } });
    io.log(`pruning to ${(o.prune * 100).toFixed(0)} % zeros by step ${endStep} (cubic schedule); checkpoints are stored sparse`);
  }
  try {
    await model.fit(data.x, data.y, {
      epochs: done + o.epochs,
      initialEpoch: done,
      batchSize: o.batchSize,
      ...(nVal ? { validationSplit: nVal / data.n } : {}),
      seed: o.seed + done,
      shuffle: true,
      yieldEveryMs: 100,
      callbacks: [
        ...(pruner ? [pruner] : []),
        {
          onEpochBegin: (epoch) => {
            epochStart = performance.now();
            bar?.start(stepsPerEpoch, 0, { epoch: `${epoch + 1}/${done + o.epochs}`, speed: '–', loss: '–' });
          },
          onBatchEnd: (b, logs) => {
            const secs = (performance.now() - epochStart) / 1000;
            bar?.update(b + 1, { speed: ((b + 1) / secs).toFixed(1), loss: logs.loss.toFixed(4) });
            if (!bar && performance.now() - lastLine > 5000) {
              lastLine = performance.now();
              io.log(`  step ${b + 1}/${stepsPerEpoch}  loss ${logs.loss.toFixed(4)}  ${((b + 1) / secs).toFixed(1)} steps/s`);
            }
            if (o.maxTime && (performance.now() - t0) / 1000 > o.maxTime && !model.stopTraining) {
              stopped = 'time';
              model.stopTraining = true;
            }
          },
          onEpochEnd: async (epoch, logs) => {
            bar?.stop();
            history.loss.push(logs.loss);
            if (logs.val_loss !== undefined) history.val_loss.push(logs.val_loss);
            const secs = (performance.now() - epochStart) / 1000;
            io.log(
              `epoch ${epoch + 1}/${done + o.epochs}  loss ${logs.loss.toFixed(4)}${logs.val_loss !== undefined ? `  val_loss ${logs.val_loss.toFixed(4)}` : ''}  ` +
                `(${secs.toFixed(1)} s${stopped === 'done' ? '' : `, stopped early: ${stopped === 'time' ? '--max-time reached' : 'interrupted'}`})`,
            );
            await save(epoch + 1);
            if (ds.kind === 'text' && o.sample > 0) {
              const s = await generateText(model, { tokenizer: ds.tokenizer, prompt, length: o.sample, temperature: 0.7, seed: o.seed });
              io.log(`  ┆ ${(prompt + s).replace(/\n/g, '\n  ┆ ')}`);
            }
          },
        },
      ],
    });
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
  const total = Number(model.metadata.epochs ?? done);
  const lossSvg = `${stem(out)}.loss.svg`;
  writeFileSync(
    lossSvg,
    lineChart(
      [
        { name: 'training loss', y: history.loss, x: history.loss.map((_, i) => i + 1) },
        ...(history.val_loss.length
          ? [{ name: 'validation loss', y: history.val_loss, x: history.val_loss.map((_, i) => i + 1), dashed: true }]
          : []),
      ],
      {
        title: `${basename(out)}: loss per epoch`,
        xLabel: 'epoch',
        yLabel: ds.kind === 'text' ? 'cross-entropy' : 'MSE (scaled)',
        logY: ds.kind === 'text',
      },
    ),
  );
  let forecastSvg: string | undefined;
  if (o.plot && ds.kind === 'series') {
    forecastSvg = `${stem(out)}.forecast.svg`;
    const t = targets[0];
    const pred = model.predict(data.x, { batchSize: 256 }).data;
    const truth = data.y.data;
    const k = targets.length;
    const sc = scaling!;
    const un = (v: number) => v * sc.std[t] + sc.mean[t];
    const x = Array.from({ length: data.n }, (_, i) => i + seqLen);
    writeFileSync(
      forecastSvg,
      lineChart(
        [
          { name: `${ds.csv.columns[t]} (truth)`, y: Array.from({ length: data.n }, (_, i) => un(truth[i * k])), x },
          { name: 'forecast (one step ahead)', y: Array.from({ length: data.n }, (_, i) => un(pred[i * k])), x, dashed: true },
        ],
        { title: `${ds.file}: one-step forecast (validation: the last ${nVal} rows)`, xLabel: 'row', yLabel: ds.csv.columns[t] },
      ),
    );
  }
  return { out, model, epochs: total, history, stopped, seconds: (performance.now() - t0) / 1000, lossSvg, forecastSvg };
}
