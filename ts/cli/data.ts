/**
 * Training data for the CLI: a text file (character language model) or a CSV
 * of numbers (time series: forecast the next row from a window of rows).
 * Every problem is reported as a `CliError` naming the file, line and column.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { CharTokenizer, tensor, type Tensor } from 'recurrent-wasm';

/** An error meant for the user: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function readFileChecked(path: string, what = 'file'): Buffer {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`${what} not found: ${path}`);
  }
  if (!st.isFile()) throw new CliError(`${what} is not a file: ${path}`);
  return readFileSync(path);
}

export interface Csv {
  columns: string[];
  rows: number;
  /** row-major [rows, columns] */
  values: Float64Array;
}

/**
 * Numbers separated by commas (or semicolons/tabs), one row per line; a first
 * line with any non-number is a header. Blank lines are skipped.
 */
export function parseCsv(text: string, file: string): Csv {
  const lines = text.split(/\r?\n/);
  const sep = /[;\t]/.test(lines[0] ?? '') && !lines[0].includes(',') ? (lines[0].includes('\t') ? '\t' : ';') : ',';
  let columns: string[] | null = null;
  const vals: number[] = [];
  let width = -1;
  let rows = 0;
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (!line) continue;
    const cells = line.split(sep).map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (columns === null && rows === 0 && cells.some((c) => c === '' || !Number.isFinite(Number(c)))) {
      columns = cells.map((c, i) => c || `col${i + 1}`);
      width = cells.length;
      continue;
    }
    if (width < 0) width = cells.length;
    if (cells.length !== width) throw new CliError(`${file} line ${ln + 1}: ${cells.length} values; expected ${width}`);
    for (let c = 0; c < cells.length; c++) {
      const v = Number(cells[c]);
      if (cells[c] === '' || !Number.isFinite(v))
        throw new CliError(`${file} line ${ln + 1}, column ${c + 1}: ${JSON.stringify(cells[c])} is not a number`);
      vals.push(v);
    }
    rows++;
  }
  if (rows === 0) throw new CliError(`${file}: no data rows`);
  return { columns: columns ?? Array.from({ length: width }, (_, i) => `col${i + 1}`), rows, values: Float64Array.from(vals) };
}

export interface Scaling {
  mean: number[];
  std: number[];
}

export function fitScaling(csv: Csv): Scaling {
  const C = csv.columns.length;
  const mean = new Array(C).fill(0),
    std = new Array(C).fill(0);
  for (let r = 0; r < csv.rows; r++) for (let c = 0; c < C; c++) mean[c] += csv.values[r * C + c] / csv.rows;
  for (let r = 0; r < csv.rows; r++) for (let c = 0; c < C; c++) std[c] += (csv.values[r * C + c] - mean[c]) ** 2 / csv.rows;
  return { mean, std: std.map((v) => Math.sqrt(v) || 1) };
}

export function scale(csv: Csv, s: Scaling): Float32Array {
  const C = csv.columns.length;
  const out = new Float32Array(csv.values.length);
  for (let i = 0; i < out.length; i++) out[i] = (csv.values[i] - s.mean[i % C]) / s.std[i % C];
  return out;
}

/** Windows of `seqLen` rows (all columns) → the next row's `targets`. */
export function seriesWindows(
  x: Float32Array,
  rows: number,
  C: number,
  seqLen: number,
  targets: number[],
): { x: Tensor; y: Tensor; n: number } {
  const n = rows - seqLen;
  if (n < 2) throw new CliError(`the series has ${rows} rows; --seq-len ${seqLen} needs at least ${seqLen + 2}`);
  const xs = new Float32Array(n * seqLen * C);
  const ys = new Float32Array(n * targets.length);
  for (let i = 0; i < n; i++) {
    xs.set(x.subarray(i * C, (i + seqLen) * C), i * seqLen * C);
    for (const [k, t] of targets.entries()) ys[i * targets.length + k] = x[(i + seqLen) * C + t];
  }
  return { x: tensor(xs, [n, seqLen, C]), y: tensor(ys, [n, targets.length]), n };
}

/** Windows of `seqLen` ids (overlapping by half) and the same windows one step later (the targets). */
export function textWindows(ids: Int32Array, seqLen: number): { x: Tensor; y: Tensor; n: number } {
  const stride = Math.max(1, seqLen >> 1);
  const n = Math.floor((ids.length - seqLen - 1) / stride) + 1;
  if (ids.length < seqLen + 2 || n < 2)
    throw new CliError(`the text has ${ids.length} characters; --seq-len ${seqLen} needs at least ${seqLen * 2 + 2}`);
  const x = new Int32Array(n * seqLen),
    y = new Int32Array(n * seqLen);
  for (let i = 0; i < n; i++) {
    x.set(ids.subarray(i * stride, i * stride + seqLen), i * seqLen);
    y.set(ids.subarray(i * stride + 1, i * stride + seqLen + 1), i * seqLen);
  }
  return { x: tensor(x, [n, seqLen]), y: tensor(y, [n, seqLen]), n };
}

export type Dataset = { kind: 'text'; file: string; text: string; tokenizer: CharTokenizer } | { kind: 'series'; file: string; csv: Csv };

export function readDataset(path: string): Dataset {
  const bytes = readFileChecked(path, 'data file');
  const file = basename(path);
  if (extname(path).toLowerCase() === '.csv') return { kind: 'series', file, csv: parseCsv(bytes.toString('utf8'), file) };
  const text = bytes.toString('utf8');
  if (text.includes('\u0000')) throw new CliError(`${file} looks binary; --data takes a UTF-8 text file or a .csv of numbers`);
  if ([...text].length < 100) throw new CliError(`${file} has fewer than 100 characters: too little to learn from`);
  return { kind: 'text', file, text, tokenizer: CharTokenizer.fromText(text) };
}

/** Column names or 1-based indices → 0-based indices. */
export function resolveColumns(spec: string | undefined, columns: string[]): number[] {
  if (!spec) return columns.map((_, i) => i);
  return spec.split(',').map((s) => {
    const t = s.trim();
    const byName = columns.indexOf(t);
    if (byName >= 0) return byName;
    const k = Number(t);
    if (Number.isInteger(k) && k >= 1 && k <= columns.length) return k - 1;
    throw new CliError(`--target: no column ${JSON.stringify(t)} (columns: ${columns.join(', ')})`);
  });
}
