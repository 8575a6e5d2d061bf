// Gradient check through the wasm build: for every cell and configuration
// (stacked, bidirectional, variable lengths, with and without initial state),
// the kernels' analytic gradients match central finite differences of an
// independent float64 reference (helpers/reference.ts), relative error < 1e-3.
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { RecurrentKernel, type RecurrentConfig } from '../ts/index.js';
import { Random } from '../ts/util/random.js';
import { type RefCell, type RefLayer, gatesOf, refForward } from './helpers/reference.js';

interface Config {
  cell: RefCell;
  layers: number;
  D: number;
  batchFirst: boolean;
  withState: boolean;
  lengths?: number[];
}

const T = 4;
const B = 3;
const I = 3;
const H = 5;

function kernelConfig(cell: RefCell, inputSize: number, D: number): RecurrentConfig {
  const base = { inputSize, hiddenSize: H, bidirectional: D === 2 };
  switch (cell) {
    case 'rnn_tanh':
      return { ...base, cell: 'rnn', nonlinearity: 'tanh' };
    case 'rnn_relu':
      return { ...base, cell: 'rnn', nonlinearity: 'relu' };
    case 'lstm':
      return { ...base, cell: 'lstm' };
    case 'gru':
      return { ...base, cell: 'gru' };
    case 'gru_reset_before':
      return { ...base, cell: 'gru', resetAfter: false };
  }
}

interface Problem {
  params: Float64Array[]; // per layer
  x: Float64Array;
  h0: Float64Array; // [L·D, B, H]
  c0: Float64Array;
  wy: Float64Array;
  whn: Float64Array;
  wcn: Float64Array;
}

function makeProblem(c: Config, seed: number): Problem {
  const rng = new Random(seed);
  const vec = (n: number, s: number) => Float64Array.from({ length: n }, () => Math.fround(rng.uniform(-s, s)));
  const G = gatesOf(c.cell) * H;
  const params = Array.from({ length: c.layers }, (_, l) => vec(c.D * G * ((l === 0 ? I : c.D * H) + H + 2), 0.7));
  const sl = c.layers * c.D * B * H;
  return {
    params,
    x: vec(T * B * I, 1),
    h0: vec(sl, 0.8),
    c0: vec(sl, 0.8),
    wy: vec(T * B * c.D * H, 1),
    whn: vec(sl, 1),
    wcn: vec(sl, 1),
  };
}

function refLoss(c: Config, p: Problem): number {
  const sLen = c.D * B * H;
  let x = p.x;
  let loss = 0;
  for (let l = 0; l < c.layers; l++) {
    const layer: RefLayer = { cell: c.cell, I: l === 0 ? I : c.D * H, H, D: c.D, params: p.params[l] };
    const o = refForward(
      layer,
      x,
      T,
      B,
      c.batchFirst,
      c.withState ? p.h0.subarray(l * sLen, (l + 1) * sLen) : undefined,
      c.withState ? p.c0.subarray(l * sLen, (l + 1) * sLen) : undefined,
      c.lengths,
    );
    for (let k = 0; k < sLen; k++) loss += o.hn[k] * p.whn[l * sLen + k];
    if (c.cell === 'lstm') for (let k = 0; k < sLen; k++) loss += o.cn[k] * p.wcn[l * sLen + k];
    x = o.y;
  }
  for (let k = 0; k < x.length; k++) loss += x[k] * p.wy[k];
  return loss;
}

function analytic(c: Config, p: Problem) {
  const sLen = c.D * B * H;
  const lstm = c.cell === 'lstm';
  const f = (a: Float64Array) => Float32Array.from(a);
  const layers = p.params.map((params, l) => new RecurrentKernel(kernelConfig(c.cell, l === 0 ? I : c.D * H, c.D), { params: f(params) }));
  let x: Float32Array = f(p.x);
  for (let l = 0; l < c.layers; l++) {
    x = layers[l].forward({
      x,
      seqLen: T,
      batchSize: B,
      batchFirst: c.batchFirst,
      lengths: c.lengths,
      training: true,
      h0: c.withState ? f(p.h0.subarray(l * sLen, (l + 1) * sLen)) : undefined,
      c0: c.withState && lstm ? f(p.c0.subarray(l * sLen, (l + 1) * sLen)) : undefined,
    }).y;
  }
  let dy: Float32Array = f(p.wy);
  const dh0 = new Float32Array(c.layers * sLen);
  const dc0 = new Float32Array(c.layers * sLen);
  const grads: Float32Array[] = [];
  let dx: Float32Array = new Float32Array(0);
  for (let l = c.layers - 1; l >= 0; l--) {
    const g = layers[l].backward({
      dy,
      dhn: f(p.whn.subarray(l * sLen, (l + 1) * sLen)),
      dcn: lstm ? f(p.wcn.subarray(l * sLen, (l + 1) * sLen)) : undefined,
    });
    dh0.set(g.dh0, l * sLen);
    if (g.dc0) dc0.set(g.dc0, l * sLen);
    grads[l] = layers[l].getGradients();
    dx = g.dx!;
    dy = g.dx!;
  }
  for (const k of layers) k.dispose();
  return { grads, dx, dh0, dc0 };
}

function numeric(c: Config, p: Problem, v: Float64Array): Float64Array {
  const eps = 1e-6;
  const out = new Float64Array(v.length);
  for (let k = 0; k < v.length; k++) {
    const orig = v[k];
    v[k] = orig + eps;
    const lp = refLoss(c, p);
    v[k] = orig - eps;
    const lm = refLoss(c, p);
    v[k] = orig;
    out[k] = (lp - lm) / (2 * eps);
  }
  return out;
}

/** Worst |a − n| / max(|a|, |n|, 1e-2), and where. */
function worst(a: ArrayLike<number>, n: Float64Array): { err: number; at: number } {
  let w = { err: 0, at: -1 };
  for (let k = 0; k < n.length; k++) {
    const e = Math.abs(a[k] - n[k]) / Math.max(Math.abs(a[k]), Math.abs(n[k]), 1e-2);
    if (e > w.err || Number.isNaN(e)) w = { err: e, at: k };
  }
  return w;
}

const CELLS: RefCell[] = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_reset_before'];
const CONFIGS: Omit<Config, 'cell'>[] = [
  { layers: 1, D: 1, batchFirst: false, withState: false },
  { layers: 1, D: 1, batchFirst: true, withState: true, lengths: [4, 2, 0] },
  { layers: 1, D: 2, batchFirst: false, withState: true, lengths: [3, 4, 1] },
  { layers: 2, D: 2, batchFirst: true, withState: true, lengths: [4, 1, 3] },
  { layers: 2, D: 1, batchFirst: false, withState: false },
];

describe('analytic gradients (wasm) vs float64 finite differences', () => {
  beforeAll(async () => {
    await initForTests();
  });
  let seed = 10;
  for (const cell of CELLS) {
    for (const cfg of CONFIGS) {
      const c: Config = { cell, ...cfg };
      const s = seed++;
      const name = `${cell} L${c.layers} D${c.D} bf${+c.batchFirst} state${+c.withState} lengths ${c.lengths ? c.lengths.join(',') : 'full'}`;
      it(name, () => {
        const p = makeProblem(c, s);
        const a = analytic(c, p);
        const checks: [string, ArrayLike<number>, Float64Array][] = [['dx', a.dx, p.x]];
        for (const [l, v] of p.params.entries()) checks.push([`dparams[layer ${l}]`, a.grads[l], v]);
        if (c.withState) {
          checks.push(['dh0', a.dh0, p.h0]);
          if (cell === 'lstm') checks.push(['dc0', a.dc0, p.c0]);
        }
        for (const [what, got, v] of checks) {
          const n = numeric(c, p, v);
          expect(got.length, what).toBe(n.length);
          const w = worst(got, n);
          expect(w.err, `${name} ${what}[${w.at}]: analytic ${got[w.at]} numeric ${n[w.at]}`).toBeLessThan(1e-3);
        }
      });
    }
  }
});
