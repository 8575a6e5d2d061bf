// Parity with PyTorch: every fixture from scripts/make-fixtures.py (torch.nn.RNN,
// LSTM, GRU; stacked, bidirectional, batch-first, packed sequences, odd sizes,
// T = 500) is run through the wasm kernels, layer by layer as PyTorch stacks
// them, forward and backward. Outputs within 1e-5, gradients within 1e-4 (abs + rel).
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { RecurrentKernel } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';
import { type CellCase, cellCases, f32 } from './helpers/fixtures.js';

const OUT_TOL = 1e-5;
const GRAD_TOL = 1e-4;

function runStack(c: CellCase) {
  const D = c.bidirectional ? 2 : 1;
  const { hiddenSize: H, batchSize: B, seqLen: T, numLayers: L } = c;
  const sLen = D * B * H;
  const h0 = f32(c.h0);
  const c0 = f32(c.c0);
  const whn = f32(c.whn);
  const wcn = f32(c.wcn);
  const lstm = c.cell === 'lstm';
  const layers: RecurrentKernel[] = [];
  for (let l = 0; l < L; l++) {
    const k = new RecurrentKernel({
      cell: c.cell,
      inputSize: l === 0 ? c.inputSize : D * H,
      hiddenSize: H,
      bidirectional: c.bidirectional,
      nonlinearity: c.nonlinearity,
    });
    const named: Record<string, Float32Array> = {};
    for (const { name } of k.parameterShapes(l)) named[name] = f32(c.params[name].data);
    k.setNamedParameters(named, l);
    layers.push(k);
  }
  // forward, layer by layer
  let x = f32(c.x);
  const hn = new Float32Array(L * sLen);
  const cn = new Float32Array(L * sLen);
  for (let l = 0; l < L; l++) {
    const out = layers[l].forward({
      x,
      seqLen: T,
      batchSize: B,
      batchFirst: c.batchFirst,
      h0: c.withState ? h0.subarray(l * sLen, (l + 1) * sLen) : undefined,
      c0: c.withState && lstm ? c0.subarray(l * sLen, (l + 1) * sLen) : undefined,
      lengths: c.lengths ?? undefined,
      training: true,
    });
    hn.set(out.hn, l * sLen);
    if (out.cn) cn.set(out.cn, l * sLen);
    x = out.y;
  }
  const y = x;
  // backward, in reverse
  let dy: Float32Array = f32(c.wy);
  const dh0 = new Float32Array(L * sLen);
  const dc0 = new Float32Array(L * sLen);
  const grads: Record<string, Float32Array> = {};
  let dx: Float32Array | undefined;
  for (let l = L - 1; l >= 0; l--) {
    const g = layers[l].backward({
      dy,
      dhn: whn.subarray(l * sLen, (l + 1) * sLen),
      dcn: lstm ? wcn.subarray(l * sLen, (l + 1) * sLen) : undefined,
    });
    dh0.set(g.dh0, l * sLen);
    if (g.dc0) dc0.set(g.dc0, l * sLen);
    for (const [name, t] of Object.entries(layers[l].getNamedGradients(l))) grads[name] = t.data;
    dx = g.dx!;
    dy = g.dx!;
  }
  for (const k of layers) k.dispose();
  return { y, hn, cn, dx: dx!, dh0, dc0, grads };
}

describe('cells match PyTorch', () => {
  beforeAll(async () => {
    await initForTests();
  });
  const cases = cellCases();

  it('has the fixtures the cells issue asks for', () => {
    const names = cases.map((c) => c.name);
    for (const want of [
      'rnn_tanh_basic',
      'rnn_relu_basic',
      'lstm_basic',
      'gru_basic',
      'lstm_l2_bidi_bf1',
      'gru_packed_bidi',
      'lstm_T500',
      'gru_I7_H130_T3_B3',
      'rnn_I1_H1_T3_B2',
      'lstm_I3_H3_T1_B1',
    ]) {
      expect(names).toContain(want);
    }
    expect(cases.length).toBeGreaterThanOrEqual(38);
  });

  for (const c of cases) {
    it(`${c.name}: outputs within ${OUT_TOL}, gradients within ${GRAD_TOL}`, () => {
      const r = runStack(c);
      const e = c.expected;
      expectClose(`${c.name} y`, r.y, f32(e.y), OUT_TOL, OUT_TOL);
      expectClose(`${c.name} h_n`, r.hn, f32(e.hn), OUT_TOL, OUT_TOL);
      if (e.cn) expectClose(`${c.name} c_n`, r.cn, f32(e.cn), OUT_TOL, OUT_TOL);
      expectClose(`${c.name} dx`, r.dx, f32(e.dx), GRAD_TOL, GRAD_TOL);
      if (e.dh0) expectClose(`${c.name} dh0`, r.dh0, f32(e.dh0), GRAD_TOL, GRAD_TOL);
      if (e.dc0) expectClose(`${c.name} dc0`, r.dc0, f32(e.dc0), GRAD_TOL, GRAD_TOL);
      for (const [name, g] of Object.entries(e.grads)) {
        expectClose(`${c.name} d${name}`, r.grads[name], f32(g), GRAD_TOL, GRAD_TOL);
      }
    });
  }
});
