// The command line (dist/cli.js) run as users run it: child processes, files
// on disk, exit codes, stdout and stderr.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { init, input, layers, loadModel, model as graphModel, type SymbolicTensor } from '../ts/index.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'rw-cli-'));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });

beforeAll(async () => {
  await init();
  // a text with structure an LSTM picks up within two epochs
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran'];
  let s = '';
  for (let i = 0; s.length < 6000; i++) s += words[(i * 7 + (i >> 2)) % words.length] + (i % 11 === 10 ? '.\n' : ' ');
  writeFileSync(join(dir, 'words.txt'), s);
  // two columns: a sine and a cosine of a slowly varying phase, with a header
  const rows = ['sin,cos'];
  for (let t = 0; t < 400; t++) rows.push(`${Math.sin(t * 0.2).toFixed(5)},${Math.cos(t * 0.2).toFixed(5)}`);
  writeFileSync(join(dir, 'wave.csv'), `${rows.join('\n')}\n`);
  writeFileSync(join(dir, 'bad.csv'), 'a,b\n1,2\n3,x\n');
});

const model = (f: string) => loadModel(new Uint8Array(readFileSync(join(dir, f))));

describe('recurrent-wasm CLI', () => {
  it('trains a character model with checkpoints, a loss curve and samples', () => {
    const r = run(
      'train',
      '--data',
      'words.txt',
      '--units',
      '32',
      '--seq-len',
      '24',
      '--epochs',
      '3',
      '--lr',
      '0.01',
      '--sample',
      '40',
      '--out',
      'words.safetensors',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 1\/3 {2}loss [\d.]+ {2}val_loss [\d.]+/);
    expect(r.stderr).toMatch(/epoch 3\/3/);
    expect(r.stderr).toContain('┆ '); // the samples
    expect(r.stderr).toContain('saved words.safetensors after 3 epochs');
    const m = model('words.safetensors');
    const h = JSON.parse(m.metadata.history);
    expect(h.loss.length).toBe(3);
    expect(h.loss[2]).toBeLessThan(h.loss[0]);
    expect(m.metadata.task).toBe('text');
    expect(readFileSync(join(dir, 'words.loss.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<path d="M/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('generates text, streamed and reproducible with a seed', () => {
    const a = run('generate', 'words.safetensors', '--prompt', 'the cat', '--length', '60', '--seed', '3');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout.startsWith('the cat')).toBe(true);
    expect([...a.stdout.trimEnd()].length).toBeGreaterThanOrEqual(60);
    expect(run('generate', 'words.safetensors', '--prompt', 'the cat', '--length', '60', '--seed', '3').stdout).toBe(a.stdout);
  });

  it('resumes from a checkpoint: epochs and history continue', () => {
    const r = run(
      'train',
      '--data',
      'words.txt',
      '--resume',
      'words.safetensors',
      '--epochs',
      '1',
      '--sample',
      '0',
      '--out',
      'words2.safetensors',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('resuming after epoch 3');
    expect(r.stderr).toMatch(/epoch 4\/4/);
    const m = model('words2.safetensors');
    expect(m.metadata.epochs).toBe('4');
    expect(JSON.parse(m.metadata.history).loss.length).toBe(4);
  });

  it('trains a forecaster on a CSV, plots it and predicts past the end', () => {
    const r = run(
      'train',
      '--data',
      'wave.csv',
      '--units',
      '16',
      '--seq-len',
      '12',
      '--epochs',
      '4',
      '--lr',
      '0.01',
      '--plot',
      '--out',
      'wave.safetensors',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'wave.forecast.svg'))).toBe(true);
    const p = run('predict', 'wave.safetensors', '--input', 'wave.csv', '--horizon', '5');
    expect(p.status, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines[0]).toBe('row,sin,cos');
    expect(lines.length).toBe(1 + (400 - 12) + 5);
    const last = lines[lines.length - 1].split(',').map(Number);
    expect(last[0]).toBe(405);
    // one-step forecasts track the wave: row 100 (1-based) is t = 99
    const row100 = lines
      .find((l) => l.startsWith('100,'))!
      .split(',')
      .map(Number);
    expect(Math.abs(row100[1] - Math.sin(99 * 0.2))).toBeLessThan(0.25);
    const j = run('predict', 'wave.safetensors', '--input', 'wave.csv', '--format', 'json', '--horizon', '0');
    const rows = JSON.parse(j.stdout);
    expect(rows.length).toBe(400 - 12);
    expect(Object.keys(rows[0])).toEqual(['row', 'sin', 'cos']);
  });

  it('quantizes a model to int8 and f16; the copies generate and inspect', () => {
    const r = run('quantize', 'words.safetensors');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^words\.int8\.safetensors: int8, one scale per output row; [\d.]+ KiB \(f32 weights [\d.]+ KiB, ×0\.[0-4]\d\)/,
    );
    expect(run('quantize', 'words.safetensors', '--dtype', 'f16', '--out', 'w16.safetensors').stdout).toMatch(/×0\.5\d/);
    const g = run('generate', 'words.int8.safetensors', '--prompt', 'the cat', '--length', '40', '--seed', '3');
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout.startsWith('the cat')).toBe(true);
    expect(run('inspect', 'words.int8.safetensors').stdout).toMatch(/QuantizedModel[\s\S]*\[int8, f32\][\s\S]*I8/);
    const again = run('quantize', 'words.int8.safetensors');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^error: words\.int8\.safetensors is already quantised/);
  });

  it('prunes a model (one shot, sparse file) and trains with gradual pruning', () => {
    const r = run('prune', 'words.safetensors', '--sparsity', '0.6');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^words\.pruned\.safetensors: 3 weight matrices at (59|60)\.\d–60\.\d % zeros, stored sparse; [\d.]+ KiB \(dense [\d.]+ KiB, ×0\.[0-7]\d\)/,
    );
    expect(run('generate', 'words.pruned.safetensors', '--prompt', 'the', '--length', '20', '--seed', '1').status).toBe(0);
    const t = run(
      'train',
      '--data',
      'words.txt',
      '--resume',
      'words.safetensors',
      '--epochs',
      '2',
      '--prune',
      '0.5',
      '--sample',
      '0',
      '--out',
      'wp.safetensors',
    );
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/pruning to 50 % zeros by step \d+/);
    const w = model('wp.safetensors').getWeights();
    for (const [n, v] of Object.entries(w).filter(([n]) => /weight_(ih|hh)|dense.*weight/.test(n))) {
      expect(Array.from(v.data).filter((x) => x === 0).length / v.data.length, n).toBeGreaterThanOrEqual(0.49);
    }
    expect(run('prune', 'words.safetensors', '--sparsity', '1').stderr).toMatch(/^error: --sparsity must be in \(0, 1\)/);
  });

  it('bench runs the repository benchmark suite', () => {
    const r = spawnSync(process.execPath, [CLI, 'bench', '--suite', 'quant', '--quick'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LSTM I=64 H=64 +int8 +\d+ +0\.\d\d×/);
  }, 120_000);

  it('inspects a model file', () => {
    const r = run('inspect', 'wave.safetensors');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/parameters/);
    expect(r.stdout).toContain('optimizer-state tensors');
    expect(r.stdout).toContain('time-series forecaster');
    expect(r.stdout).toContain('columns: sin, cos');
    // a graph model: its applications and what each reads; other commands say they want a Sequential
    const x = input({ shape: [4, 3], name: 'x' });
    const v = input({ shape: [2], name: 'v' });
    const a = layers.lstm({ name: 'enc', units: 4, returnSequences: true }).apply(x) as SymbolicTensor;
    const att = layers.attention({ name: 'att' }).apply([a, a]) as SymbolicTensor;
    const pooled = layers.globalAveragePooling1d({ name: 'pool' }).apply(att) as SymbolicTensor;
    const out = layers.concatenate({ name: 'cat' }).apply([pooled, v]) as SymbolicTensor;
    const g = graphModel({ inputs: [x, v], outputs: out });
    writeFileSync(join(dir, 'graph.safetensors'), g.save());
    g.dispose();
    const gi = run('inspect', 'graph.safetensors');
    expect(gi.status, gi.stderr).toBe(0);
    expect(gi.stdout).toMatch(/Connected to/);
    expect(gi.stdout).toMatch(/att \(Attention\).*enc, enc/);
    expect(gi.stdout).toMatch(/cat \(Concatenate\).*pool, v/);
    const gen = run('generate', 'graph.safetensors');
    expect(gen.status).not.toBe(0);
    expect(gen.stderr).toMatch(/a graph model; the CLI works with the Sequential models it trains/);
  });

  it('--threads: training on 2 threads writes the same weights as on 1', () => {
    const train = (t: string) => {
      const r = run(
        '--threads',
        t,
        'train',
        '--data',
        'words.txt',
        '--units',
        '48',
        '--seq-len',
        '24',
        '--epochs',
        '1',
        '--sample',
        '0',
        '--out',
        `t${t}.safetensors`,
      );
      expect(r.status, r.stderr).toBe(0);
      return model(`t${t}.safetensors`).getWeightsFlat();
    };
    const one = train('1');
    expect(Buffer.from(train('2').buffer)).toEqual(Buffer.from(one.buffer));
  });

  it('reports bad input as one line and a non-zero exit code', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', 'missing.txt'], /^error: data file not found: missing\.txt\n$/],
      [['train', '--data', 'bad.csv'], /^error: bad\.csv line 3, column 2: "x" is not a number\n$/],
      [['train', '--data', 'words.txt', '--units', 'abc'], /--units must be a non-negative integer/],
      [['train', '--data', 'words.txt', '--model', 'transformer'], /Allowed choices are lstm, gru, rnn/],
      [['generate', 'wave.safetensors'], /^error: wave\.safetensors is not a text model/],
      [['predict', 'words.safetensors', '--input', 'wave.csv'], /^error: words\.safetensors is a text model/],
      [['inspect', 'words.txt'], /^error: words\.txt: safetensors/],
      [['--threads', '0', 'inspect', 'words.safetensors'], /--threads must be a number from 1 to 256 or 'auto'/],
    ];
    for (const [args, re] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    const v = run('inspect', 'words.txt', '--verbose');
    expect(v.stderr).toMatch(/\n\s+at /);
  });

  it('Ctrl-C saves a loadable checkpoint and exits 130', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'train',
        '--data',
        'words.txt',
        '--units',
        '64',
        '--seq-len',
        '32',
        '--epochs',
        '500',
        '--sample',
        '0',
        '--out',
        'int.safetensors',
      ],
      { cwd: dir },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/epoch 1\/500/.test(err)) {
          clearInterval(t);
          child.kill('SIGINT');
          resolve();
        }
      }, 50);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(130);
    expect(err).toContain('interrupted');
    const m = model('int.safetensors');
    expect(Number(m.metadata.epochs)).toBeGreaterThanOrEqual(1);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 120_000);

  it('runs the demo within its time budget', () => {
    const t0 = Date.now();
    const r = run('demo', '--seconds', '4', '--units', '32', '--out', 'demo.safetensors');
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/trained \d+ epochs in [\d.]+ s: loss [\d.]+ → [\d.]+/);
    expect(r.stderr).toContain('generate:  npx recurrent-wasm generate demo.safetensors');
    expect(model('demo.safetensors').metadata.task).toBe('text');
  }, 60_000);
});
