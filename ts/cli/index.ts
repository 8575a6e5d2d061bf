/**
 * The `recurrent-wasm` command line: train, generate, predict, inspect,
 * bench, demo. Errors are one line and exit code 1 (`--verbose` for the stack).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import { RecurrentWasmError, init } from 'recurrent-wasm';
import { benchCmd, generateCmd, inspectCmd, predictCmd, pruneCmd, quantizeCmd } from './commands.js';
import { CliError } from './data.js';
import { demo } from './demo.js';
import { train, type TrainIo } from './train.js';

// Node 20 validates relaxed SIMD (a fused multiply-add: ~15 % faster here)
// only behind a flag; set it before the core is compiled. Node ≥ 22 has it on.
if (Number(process.versions.node.split('.')[0]) < 22) {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    /* the simd128 build is the fallback */
  }
}

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
const verbose = process.argv.includes('--verbose');

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
const threadsArg = (v: string) => {
  if (v !== 'auto' && !(/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 256)) {
    throw new InvalidArgumentError("--threads must be a number from 1 to 256 or 'auto'");
  }
  return v;
};
const io: TrainIo = { log: (s) => process.stderr.write(`${s}\n`), bar: !!process.stderr.isTTY };

function fail(e: unknown): never {
  const known = e instanceof CliError || e instanceof RecurrentWasmError;
  const msg = (e as Error)?.message ?? String(e);
  process.stderr.write(`error: ${msg}${!known && !verbose ? ' (run with --verbose for details)' : ''}\n`);
  if (verbose && (e as Error)?.stack) process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(e instanceof CliError ? e.exitCode : 1);
}

function action<A extends unknown[]>(fn: (...a: A) => Promise<void> | void) {
  return async (...a: A) => {
    try {
      const t = program.opts().threads as string;
      await init({ threads: t === 'auto' ? 'auto' : Number(t) });
      await fn(...a);
    } catch (e) {
      fail(e);
    }
  };
}

const program = new Command()
  .name('recurrent-wasm')
  .description('Recurrent neural networks (LSTM, GRU, SimpleRNN) on a WebAssembly SIMD core: train, generate, predict.')
  .version(pkg.version)
  .option('--verbose', 'print stack traces on errors')
  .option(
    '--threads <n>',
    "threads for the matrix products: a number or 'auto' (every CPU, up to 8); results do not depend on it",
    threadsArg,
    'auto',
  )
  .showHelpAfterError('(run with --help for usage)');

program
  .command('train')
  .description('train a character language model (text file) or a next-row forecaster (CSV of numbers)')
  .requiredOption('--data <file>', 'a UTF-8 text file, or a .csv of numbers (header optional)')
  .addOption(new Option('--model <cell>', 'recurrent cell').choices(['lstm', 'gru', 'rnn']).default('lstm'))
  .option('--units <n>', 'hidden units per layer', int('--units'), 128)
  .option('--layers <n>', 'stacked recurrent layers', int('--layers'), 1)
  .option('--seq-len <n>', 'time steps per training window (default 64 for text, 32 for CSV)', int('--seq-len'))
  .option('--epochs <n>', 'epochs to train (more epochs when resuming)', int('--epochs'), 10)
  .option('--batch-size <n>', 'windows per step', int('--batch-size'), 32)
  .option('--lr <rate>', 'Adam learning rate', num('--lr'), 0.003)
  .option('--out <file>', 'model file (default: <data name>.safetensors); checkpointed after every epoch')
  .option('--val-split <fraction>', 'fraction of the windows (from the end) for validation', num('--val-split'), 0.1)
  .option('--resume <checkpoint>', 'continue training a model written by this command (weights and optimizer state)')
  .option('--max-time <seconds>', 'stop after this long (the epoch in progress ends early)', num('--max-time'))
  .option('--target <columns>', 'CSV: columns to forecast, by name or 1-based index (default: all)')
  .option('--embedding <n>', 'text: embedding size', int('--embedding'), 32)
  .option('--dropout <rate>', 'input dropout of the recurrent layers', num('--dropout'), 0)
  .option('--seed <n>', 'seed for initialisation and shuffling', int('--seed'), 1)
  .option('--sample <chars>', 'text: characters sampled after each epoch (0 = none)', int('--sample'), 160)
  .option('--plot', 'CSV: also write a forecast-vs-truth chart (<out>.forecast.svg)', false)
  .option(
    '--prune <sparsity>',
    'magnitude-prune the weight matrices to this fraction of zeros during the run (saved sparse)',
    num('--prune'),
  )
  .action(
    action(async (o) => {
      const r = await train(o, io);
      io.log(
        `saved ${r.out} after ${r.epochs} epochs (${r.seconds.toFixed(1)} s); loss curve ${r.lossSvg}${r.forecastSvg ? `; forecast ${r.forecastSvg}` : ''}`,
      );
      r.model.dispose();
      if (r.stopped === 'interrupt') process.exit(130);
    }),
  );

program
  .command('generate <model>')
  .description('sample text from a character model, streamed to stdout')
  .option('--prompt <text>', 'text the model reads first (default: a random character)')
  .option('--length <n>', 'characters to generate', int('--length'), 400)
  .option('--temperature <t>', 'lower is more conservative; 0 is greedy', num('--temperature'), 0.8)
  .option('--top-k <k>', 'sample among the k most likely characters only', int('--top-k'))
  .option('--seed <n>', 'seed (the same seed gives the same text)', int('--seed'))
  .action(action((model: string, o) => generateCmd(model, o, (s) => process.stdout.write(s))));

program
  .command('predict <model>')
  .description('run a model on a CSV or JSON file: one-step forecasts (and --horizon more) for series models')
  .requiredOption('--input <file>', 'CSV with the training columns (series models), or JSON nested arrays')
  .addOption(new Option('--format <fmt>', 'output format').choices(['csv', 'json']).default('csv'))
  .option('--horizon <n>', 'series: rows to forecast past the end of the input', int('--horizon'), 1)
  .option('--plot <file.svg>', 'series: chart of the input and the forecasts')
  .action(action((model: string, o) => void process.stdout.write(predictCmd(model, o))));

program
  .command('inspect <model>')
  .description('layers, parameter counts, tensor dtypes, file size and training metadata')
  .action(action((model: string) => void process.stdout.write(inspectCmd(model))));

program
  .command('quantize <model>')
  .description('write an int8 (a quarter of the weight bytes, integer kernels) or f16 (half) copy of a model file')
  .addOption(new Option('--dtype <type>', 'weight type').choices(['int8', 'f16']).default('int8'))
  .option('--per-tensor', 'int8: one scale per matrix instead of one per output row', false)
  .option('--out <file>', 'output file (default: <model>.<dtype>.safetensors)')
  .action(action(async (model: string, o) => void process.stdout.write(await quantizeCmd(model, o))));

program
  .command('prune <model>')
  .description('zero the smallest weights of every weight matrix (one shot) and save the model sparse')
  .requiredOption('--sparsity <fraction>', 'fraction of zeros per matrix, e.g. 0.5', num('--sparsity'))
  .option('--out <file>', 'output file (default: <model>.pruned.safetensors)')
  .action(action((model: string, o) => void process.stdout.write(pruneCmd(model, o))));

program
  .command('bench')
  .description(
    'benchmarks: in a repository checkout the full suite (bench/run.mjs; --peers adds TF.js, ONNX Runtime, brain.js), otherwise a quick in-process one',
  )
  .option('--quick', 'smaller sizes', false)
  .option('--peers', 'suite: compare with the peer libraries side by side', false)
  .option('--suite <name>', 'suite: cells (kernels alone) or quant (f32/f16/int8)')
  .action(
    action(async (o) => {
      const suite = fileURLToPath(new URL('../bench/run.mjs', import.meta.url));
      if (!existsSync(suite)) return benchCmd((s) => process.stdout.write(`${s}\n`), o.quick);
      const args = [suite, ...(o.suite ? [o.suite] : []), ...(o.peers ? ['--peers'] : []), ...(o.quick ? ['--smoke'] : [])];
      const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
      if (r.status !== 0) throw new CliError(`the benchmark suite exited with ${r.status ?? r.signal}`);
    }),
  );

program
  .command('demo')
  .description('train a character LSTM on the Sonnets for a bounded time, with samples after every epoch')
  .option('--seconds <s>', 'training time budget', num('--seconds'), 40)
  .option('--units <n>', 'LSTM units', int('--units'), 128)
  .option('--out <file>', 'model file', 'sonnets-lstm.safetensors')
  .action(action((o) => demo(o, io)));

program.parseAsync().catch(fail);
