/** Loading the committed PyTorch fixtures (scripts/make-fixtures.py). */
import { readFileSync } from 'node:fs';

const DIR = new URL('../fixtures/', import.meta.url);

export function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, DIR), 'utf8')) as T;
}

export interface CellCase {
  name: string;
  cell: 'rnn' | 'lstm' | 'gru';
  nonlinearity: 'tanh' | 'relu';
  inputSize: number;
  hiddenSize: number;
  seqLen: number;
  batchSize: number;
  numLayers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  withState: boolean;
  lengths: number[] | null;
  torch: string;
  params: Record<string, { shape: number[]; data: string }>;
  x: string;
  h0: string;
  c0: string;
  wy: string;
  whn: string;
  wcn: string;
  expected: {
    y: string;
    hn: string;
    cn: string | null;
    loss: number;
    dx: string;
    dh0: string | null;
    dc0: string | null;
    grads: Record<string, string>;
  };
}

export function cellCases(): CellCase[] {
  const index = readJson<{ cases: string[] }>('cells/index.json');
  return index.cases.map((n) => readJson<CellCase>(`cells/${n}.json`));
}
