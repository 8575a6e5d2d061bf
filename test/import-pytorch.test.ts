// importPyTorch: state dicts saved with safetensors from real PyTorch modules
// (Embedding, multi-layer bidirectional LSTM, time-major GRU with output[-1],
// ReLU RNN, nested module names with h_n heads) reproduce PyTorch's outputs
// within 1e-5; what cannot be imported is refused with a clear error.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initForTests } from './helpers/init.js';
import { FormatError, importPyTorch, tensor, writeSafetensors, type PyTorchSpec } from '../ts/index.js';
import { expectClose } from './helpers/compare.js';
import { f32 } from './helpers/fixtures.js';

const dir = new URL('./fixtures/pytorch-import/', import.meta.url);
interface Case {
  name: string;
  spec: PyTorchSpec | null;
  xDtype: 'int32' | 'float32';
  xShape: number[];
  x: string;
  yShape: number[];
  y: string;
}

beforeAll(async () => {
  await initForTests();
});

describe('importPyTorch reproduces PyTorch outputs', () => {
  const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Case[] };
  for (const c of cases) {
    it(`${c.name}${c.spec ? '' : ' (module order inferred)'}`, () => {
      const model = importPyTorch(new Uint8Array(readFileSync(new URL(`${c.name}.safetensors`, dir))), c.spec ?? {});
      const raw = Buffer.from(c.x, 'base64');
      const x =
        c.xDtype === 'int32'
          ? tensor(new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), c.xShape)
          : tensor(f32(c.x), c.xShape);
      const y = model.predict(x);
      expect(y.shape).toEqual(c.yShape);
      expectClose(`${c.name} output`, y.data, f32(c.y), 1e-5, 1e-5);
      model.dispose();
    });
  }
});

describe('importPyTorch refuses what it cannot honour', () => {
  const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  it('proj_size, bias=False, unknown modules, ambiguous orders, shape mismatches', () => {
    const lstm = (extra: Record<string, ReturnType<typeof t>> = {}) => ({
      'rnn.weight_ih_l0': t([8, 3]),
      'rnn.weight_hh_l0': t([8, 2]),
      'rnn.bias_ih_l0': t([8]),
      'rnn.bias_hh_l0': t([8]),
      ...extra,
    });
    const file = (o: Record<string, ReturnType<typeof t>>) => writeSafetensors(Object.entries(o).map(([name, v]) => ({ name, ...v })));
    expect(() => importPyTorch(file(lstm({ 'rnn.weight_hr_l0': t([1, 2]) })))).toThrow(/proj_size > 0/);
    const noBias = lstm();
    delete (noBias as Record<string, unknown>)['rnn.bias_ih_l0'];
    delete (noBias as Record<string, unknown>)['rnn.bias_hh_l0'];
    expect(() => importPyTorch(file(noBias))).toThrow(/bias=False/);
    expect(() => importPyTorch(file({ ...lstm(), 'norm.running_mean': t([3]) }))).toThrow(/cannot tell what module "norm" is/);
    expect(() =>
      importPyTorch(file({ ...lstm(), 'a.weight': t([2, 2]), 'a.bias': t([2]), 'b.weight': t([2, 2]), 'b.bias': t([2]) })),
    ).toThrow(/ambiguous order of the linear modules/);
    expect(() => importPyTorch(file(lstm()), { layers: [{ module: 'rnn', type: 'gru' }] })).toThrow(/holds LSTM weights, not GRU/);
    expect(() => importPyTorch(file(lstm()), { layers: [{ module: 'lstm', type: 'lstm' }] })).toThrow(/no tensors for module "lstm"/);
    expect(() =>
      importPyTorch(file({ ...lstm(), 'fc.weight': t([4, 5]), 'fc.bias': t([4]) }), {
        layers: [
          { module: 'rnn', type: 'lstm' },
          { module: 'fc', type: 'linear' },
        ],
      }),
    ).toThrow(FormatError);
  });
});
